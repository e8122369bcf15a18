"""Tax on the invoice page, in `usage-billing invoices` and in the PDF, over a real dbt build of
the taxed scenario (tests/support/tax_scenario.py): every tax figure shown equals the marts,
and the marts' figures are the ones worked out in the scenario's docstring."""

from __future__ import annotations

import os
import re
import subprocess
from collections.abc import Iterator
from decimal import Decimal
from html import unescape
from pathlib import Path

import httpx
import pytest
from pypdf import PdfReader

from tests.support.pages_server import serving
from tests.support.tax_scenario import (
    EXCLUSIVE,
    EXEMPT,
    INCLUSIVE,
    REVERSE,
    REVERSE_TAX_ID,
    build_taxed,
)
from tests.support.warehouse_scenario import BIN_DIR, MARTS_SCHEMA, REPO_DIR, Scenario
from usage_billing import formatting
from usage_billing.errors import ConfigError
from usage_billing.invoice_pdf import find_chromium

D = Decimal
REVERSE_NOTE = "Reverse charge: the customer accounts for the tax"


def _usd(amount: Decimal) -> str:
    return formatting.money(amount, "USD")


@pytest.fixture(scope="module")
def taxed(tmp_path_factory: pytest.TempPathFactory) -> Scenario:
    return build_taxed(tmp_path_factory.mktemp("taxed"))


@pytest.fixture(scope="module")
def site(taxed: Scenario) -> Iterator[str]:
    with serving(taxed.database) as url:
        yield url


def _invoice(taxed: Scenario, invoice_id: str) -> dict[str, object]:
    (row,) = taxed.dicts(
        f"select subtotal, credits_applied, tax_amount, tax_included, total, tax_status"
        f" from {MARTS_SCHEMA}.usage_billing__invoices where invoice_id = ?",
        [invoice_id],
    )
    return row


def _tax_lines(taxed: Scenario, invoice_id: str) -> list[tuple[object, ...]]:
    """(line_type, description, quantity, unit_price, amount, tax_amount) of the tax lines."""
    return taxed.rows(
        f"select line_type, description, quantity, unit_price, amount, tax_amount"
        f" from {MARTS_SCHEMA}.usage_billing__invoice_lines"
        f" where invoice_id = ? and tax_rate_id is not null order by line_number",
        [invoice_id],
    )


def test_the_marts_hold_the_worked_figures(taxed: Scenario) -> None:
    assert _tax_lines(taxed, EXCLUSIVE) == [  # by tax_rate_id
        ("tax", "County sales tax", D(100), D("0.01"), D(1), D(1)),
        ("tax", "State sales tax", D(100), D("0.0625"), D("6.25"), D("6.25")),
    ]
    assert _invoice(taxed, EXCLUSIVE) == {
        "subtotal": D(100),
        "credits_applied": D(0),
        "tax_amount": D("7.25"),
        "tax_included": D(0),
        "total": D("107.25"),
        "tax_status": "taxed",
    }
    assert _tax_lines(taxed, INCLUSIVE) == [("tax_included", "VAT", D(72), D("0.2"), D(0), D(12))]
    assert _invoice(taxed, INCLUSIVE)["total"] == D(72)
    assert _tax_lines(taxed, REVERSE) == []
    assert _invoice(taxed, REVERSE)["tax_status"] == "reverse_charge"


def _cli(taxed: Scenario, invoice_customer: str) -> str:
    return subprocess.run(
        [
            *(str(BIN_DIR / "usage-billing"), "invoices", "--status", "final"),
            *("--customer", invoice_customer, "--profiles-dir", str(REPO_DIR)),
        ],
        env={**os.environ, "USAGE_BILLING_DUCKDB_PATH": str(taxed.database), "COLUMNS": "120"},
        check=True,
        capture_output=True,
        text=True,
    ).stdout.replace("\xa0", " ")


def _row(text: str, label: str) -> list[str]:
    """The cells of the CLI table's row that starts with `label` (rich draws │ between)."""
    for line in text.splitlines():
        cells = [cell.strip() for cell in re.split(r"[│┃]", line)]
        cells = [cell for cell in cells if cell]
        if cells and cells[0] == label:
            return cells
    raise AssertionError(f"no row {label!r} in\n{text}")


def test_the_cli_prints_subtotal_a_row_per_rate_and_the_total(taxed: Scenario) -> None:
    text = _cli(taxed, "c1")
    invoice = _invoice(taxed, EXCLUSIVE)
    assert _row(text, "Subtotal") == ["Subtotal", _usd(invoice["subtotal"])]  # type: ignore[arg-type]
    for _, description, base, rate, amount, _ in _tax_lines(taxed, EXCLUSIVE):
        label = f"{description} {formatting.percent(rate)} on {_usd(base)}"  # type: ignore[arg-type]
        assert _row(text, label) == [label, _usd(amount)]  # type: ignore[arg-type]
    assert _row(text, "State sales tax 6.25% on $100.00") == [
        "State sales tax 6.25% on $100.00",
        "$6.25",
    ]
    assert _row(text, "Total") == ["Total", _usd(invoice["total"])]  # type: ignore[arg-type]
    assert "$107.25" in _row(text, "Total")
    # Tax rows are totals, not charges: they come after the subtotal.
    assert text.index("Subtotal") < text.index("State sales tax")


def test_the_cli_shows_included_tax_as_included(taxed: Scenario) -> None:
    text = _cli(taxed, "c2")
    assert _row(text, "VAT 20% (included) on $72.00") == [
        "VAT 20% (included) on $72.00",
        "($12.00 included)",
    ]
    assert "Includes VAT $12.00" in text
    assert _row(text, "Total") == ["Total", "$72.00"]  # the included tax is not added
    assert REVERSE_NOTE not in text


def test_the_cli_notes_the_reverse_charge_and_the_exemption(taxed: Scenario) -> None:
    text = _cli(taxed, "c3")
    assert REVERSE_NOTE in text
    assert f"Tax ID {REVERSE_TAX_ID}" in text
    assert "tax" not in _row(text, "Total")[-1]
    assert "Sales tax" not in text  # everyone's 5% is not charged
    exempt = _cli(taxed, "c4")
    assert "Tax exempt" in exempt
    assert REVERSE_NOTE not in exempt
    assert _invoice(taxed, EXEMPT)["tax_status"] == "exempt"
    assert _row(exempt, "Total") == ["Total", "$60.00"]


def _page(site: str, invoice_id: str) -> str:
    answer = httpx.get(f"{site}/invoices/{invoice_id}")
    assert answer.status_code == 200
    return unescape(answer.text).replace("\xa0", " ")


def _field(page: str, name: str) -> list[str]:
    """The texts of the elements carrying data-field="name" (tags inside stripped)."""
    found = re.findall(rf'data-field="{name}"[^>]*>(.*?)</(?:td|th|p|dd)>', page, re.S)
    return [" ".join(re.sub(r"<[^>]+>", "", text).split()) for text in found]


def test_the_page_shows_each_rate_in_the_totals(taxed: Scenario, site: str) -> None:
    page = _page(site, EXCLUSIVE)
    invoice = _invoice(taxed, EXCLUSIVE)
    assert _field(page, "subtotal") == [_usd(invoice["subtotal"])]  # type: ignore[arg-type]
    assert sorted(_field(page, "tax")) == sorted(
        _usd(amount)  # type: ignore[arg-type]
        for *_, amount, _ in _tax_lines(taxed, EXCLUSIVE)
    )
    assert "State sales tax 6.25% on $100.00</th>" in page
    assert _field(page, "total") == ["$107.25"]
    assert _field(page, "tax-note") == []
    # The tax lines are in the totals, not among the charges.
    body = page[page.index("<tbody>") : page.index("</tbody>")]
    assert "sales tax" not in body


def test_the_page_shows_included_vat_reverse_charge_and_exemption(
    taxed: Scenario, site: str
) -> None:
    page = _page(site, INCLUSIVE)
    assert _field(page, "tax") == ["($12.00 included)"]
    assert _field(page, "includes-tax") == ["Includes VAT $12.00"]
    assert _field(page, "total") == ["$72.00"]
    page = _page(site, REVERSE)
    assert _field(page, "tax-note") == [f"{REVERSE_NOTE} · buyer's tax ID {REVERSE_TAX_ID}"]
    assert _field(page, "tax") == []
    assert _field(_page(site, EXEMPT), "tax-note") == ["Tax exempt"]


def test_the_pdf_prints_the_same_tax(taxed: Scenario, tmp_path: Path) -> None:
    try:
        find_chromium()
    except ConfigError:
        pytest.skip("no Chromium to print with: `make browser`")
    printed = subprocess.run(
        [
            *(str(BIN_DIR / "usage-billing"), "pdf", EXCLUSIVE, INCLUSIVE, REVERSE),
            *("--out", str(tmp_path), "--profiles-dir", str(REPO_DIR)),
        ],
        env={**os.environ, "USAGE_BILLING_DUCKDB_PATH": str(taxed.database)},
        capture_output=True,
        text=True,
        check=False,
    )
    assert printed.returncode == 0, printed.stderr

    def text(invoice_id: str) -> str:
        reader = PdfReader(tmp_path / (invoice_id.replace("/", "_") + ".pdf"))
        return " ".join(page.extract_text() for page in reader.pages).replace("\xa0", " ")

    exclusive = text(EXCLUSIVE)
    for _, description, base, rate, amount, _ in _tax_lines(taxed, EXCLUSIVE):
        label = f"{description} {formatting.percent(rate)} on {_usd(base)}"  # type: ignore[arg-type]
        assert f"{label} {_usd(amount)}" in exclusive  # type: ignore[arg-type]
    assert "Subtotal $100.00" in exclusive
    assert "Total $107.25" in exclusive
    inclusive = text(INCLUSIVE)
    assert "VAT 20% (included) on $72.00 ($12.00 included)" in inclusive
    assert "Includes VAT $12.00" in inclusive
    assert "Total $72.00" in inclusive
    assert REVERSE_NOTE in text(REVERSE)
