"""`usage-billing pdf` on the demo: real PDFs printed by headless Chromium, read back with pypdf,
every figure compared with the marts."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import duckdb
import pytest
from pypdf import PdfReader

from tests.support.warehouse_scenario import BIN_DIR, MARTS_SCHEMA, REPO_DIR, Scenario
from usage_billing import formatting
from usage_billing.errors import ConfigError
from usage_billing.invoice_pdf import find_chromium
from usage_billing.line_text import line_label
from usage_billing.marts.model import InvoiceLine

try:
    find_chromium()
except ConfigError:  # no browser: skipped, saying what to do
    pytest.skip("no Chromium to print with: `make browser`", allow_module_level=True)


def _pdf(database: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(BIN_DIR / "usage-billing"), "pdf", *args, "--profiles-dir", str(REPO_DIR)],
        env={**os.environ, "USAGE_BILLING_DUCKDB_PATH": str(database)},
        capture_output=True,
        text=True,
        check=False,
    )


def _rows(database: Path, sql: str, parameters: list[object]) -> list[dict[str, object]]:
    with duckdb.connect(str(database), read_only=True) as connection:
        cursor = connection.execute(sql, parameters)
        names = [column[0] for column in cursor.description]
        return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]


@pytest.fixture(scope="module")
def printed(demo_warehouse: Scenario, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("pdf") / "invoices"
    result = _pdf(demo_warehouse.database, "--period", "2022-10", "--out", str(out))
    assert result.returncode == 0, result.stderr
    return out


def test_a_period_writes_one_pdf_per_invoice(demo_warehouse: Scenario, printed: Path) -> None:
    invoices = _rows(
        demo_warehouse.database,
        f"select invoice_id from {MARTS_SCHEMA}.usage_billing__invoices"
        " where strftime(period_start_date, '%Y-%m') = ?",
        ["2022-10"],
    )
    expected = sorted(str(row["invoice_id"]).replace("/", "_") + ".pdf" for row in invoices)
    assert sorted(path.name for path in printed.iterdir()) == expected
    assert len(expected) == 3


def test_every_figure_of_the_pdf_equals_the_marts(demo_warehouse: Scenario, printed: Path) -> None:
    database = demo_warehouse.database
    invoices = _rows(
        database,
        f"select invoice_id, total, currency, customer_name from {MARTS_SCHEMA}."
        "usage_billing__invoices order by invoice_id",
        [],
    )
    for invoice in invoices:
        invoice_id = str(invoice["invoice_id"])
        reader = PdfReader(printed / (invoice_id.replace("/", "_") + ".pdf"))
        assert len(reader.pages) == 1  # three to five lines fit one A4 page
        text = " ".join(page.extract_text() for page in reader.pages).replace("\xa0", " ")
        currency = str(invoice["currency"])
        assert invoice_id in text
        assert str(invoice["customer_name"]) in text
        assert f"Total {formatting.money(invoice['total'], currency)}".replace("\xa0", " ") in text
        lines = [
            InvoiceLine(**row)  # type: ignore[arg-type]
            for row in _rows(
                database,
                "select line_number, line_type, description, tier, quantity, unit_price,"
                " flat_amount, amount, is_percentage, metric_name, group_value, tier_first_unit,"
                " tier_last_unit, metric_display_name, metric_unit"
                f" from {MARTS_SCHEMA}.usage_billing__invoice_lines where invoice_id = ?"
                " order by line_number",
                [invoice_id],
            )
        ]
        assert lines
        for line in lines:
            quantity = formatting.quantity(
                line.quantity, line.metric_unit if line.is_percentage else None
            )
            amount = formatting.money(line.amount, currency).replace("\xa0", " ")
            # One text line of the PDF per invoice line: its label, quantity, rate and amount.
            assert f"{line_label(line)} {quantity} " in text, (line_label(line), text)
            assert f" {amount}" in text
        for raw in ["api_requests", "payment_volume", "Tier 1"]:
            assert raw not in text
        assert "All invoices" not in text  # the page's navigation is not printed


def test_one_invoice_by_its_id(demo_warehouse: Scenario, tmp_path: Path) -> None:
    result = _pdf(demo_warehouse.database, "sub_acme_api/2022-10-01", "--out", str(tmp_path))
    assert result.returncode == 0, result.stderr
    assert [path.name for path in tmp_path.iterdir()] == ["sub_acme_api_2022-10-01.pdf"]


def test_an_unknown_invoice_fails_saying_which(demo_warehouse: Scenario, tmp_path: Path) -> None:
    result = _pdf(
        demo_warehouse.database,
        "sub_acme_api/2022-10-01",
        "nope/2022-10-01",
        "--out",
        str(tmp_path),
    )
    assert result.returncode != 0
    assert "no invoice 'nope/2022-10-01'" in result.stderr
    assert list(tmp_path.iterdir()) == []


def test_without_chromium_the_error_says_what_to_install(
    demo_warehouse: Scenario, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("USAGE_BILLING_CHROMIUM", str(tmp_path / "no-such-browser"))
    result = _pdf(demo_warehouse.database, "--period", "2022-10", "--out", str(tmp_path))
    assert result.returncode != 0
    assert "USAGE_BILLING_CHROMIUM" in result.stderr
    monkeypatch.delenv("USAGE_BILLING_CHROMIUM")
    monkeypatch.setenv("PATH", str(tmp_path))  # no browser on PATH either
    result = _pdf(demo_warehouse.database, "--period", "2022-10", "--out", str(tmp_path))
    assert result.returncode != 0
    assert "apt-get install chromium" in result.stderr
