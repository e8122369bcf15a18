"""Tax pushed: the taxed scenario's final invoices (tests/support/tax_scenario.py, a real dbt
build) to the fake Stripe, Sequence and webhook receiver on 127.0.0.1. Stripe gets each rate
once as a tax rate and computes the tax itself, checked against the marts before finalizing;
Sequence gets the tax as line items; the webhook carries the tax lines and figures."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import replace
from decimal import Decimal
from pathlib import Path

import duckdb
import pytest

from tests.support.api_specs import STRIPE_2023, STRIPE_CURRENT, stripe_validator
from tests.support.billing_fakes import FakeBilling, serve
from tests.support.sync_harness import settings_for
from tests.support.tax_scenario import EXCLUSIVE, EXEMPT, INCLUSIVE, REVERSE, build_taxed
from tests.support.warehouse_scenario import MARTS_SCHEMA
from usage_billing.errors import FiguresDifferError
from usage_billing.marts.model import InvoiceVersion
from usage_billing.marts.reader import MartsReader
from usage_billing.marts.relations import MartRelations
from usage_billing.push.documents import Document, idempotency_key
from usage_billing.push.targets.base import Job
from usage_billing.push.targets.registry import make_target
from usage_billing.push.targets.stripe import invoice_params, item_params
from usage_billing.push.targets.webhook import payload
from usage_billing.warehouse.duckdb import DuckDBWarehouse

D = Decimal


@pytest.fixture(scope="module")
def versions(tmp_path_factory: pytest.TempPathFactory) -> dict[str, InvoiceVersion]:
    scenario = build_taxed(Path(tmp_path_factory.mktemp("taxed")))
    with duckdb.connect(str(scenario.database), read_only=True) as connection:
        invoices = MartsReader(
            DuckDBWarehouse(connection), MartRelations.in_schema(MARTS_SCHEMA)
        ).final_invoices()
    found = {version.invoice_id: version for version in invoices}
    assert set(found) == {EXCLUSIVE, INCLUSIVE, REVERSE, EXEMPT}
    return found


@pytest.fixture
def server() -> Iterator[tuple[FakeBilling, str]]:
    fake = FakeBilling()
    with serve(fake) as base_url:
        yield fake, base_url


def _document(target: str, version: InvoiceVersion) -> Document:
    key = idempotency_key(target, version.invoice_id, version.content_hash, 0)
    return Document(target, 0, version, key=key)


def _push(base_url: str, target: str, document: Document, external: str | None = None) -> str:
    client = make_target(target, settings_for(base_url))
    try:
        pushed = client.push(Job(document, "cus_1", external is not None, external, lambda _: None))
    finally:
        client.close()
    assert pushed is not None
    return pushed


def test_the_version_carries_the_marts_tax(versions: dict[str, InvoiceVersion]) -> None:
    taxed = versions[EXCLUSIVE]
    assert (taxed.total, taxed.tax_amount, taxed.tax_included) == (D("107.25"), D("7.25"), 0)
    assert [(line.line_type, line.tax_rate_id, line.amount) for line in taxed.tax_lines] == [
        ("tax", "county", D(1)),
        ("tax", "state", D("6.25")),
    ]
    assert versions[INCLUSIVE].tax_included == D(12)
    assert versions[REVERSE].tax_status == "reverse_charge"
    # What the ledger keeps reads back the same.
    assert InvoiceVersion.from_json(taxed.to_json()) == taxed


def test_stripe_creates_each_rate_once_and_computes_our_tax(
    versions: dict[str, InvoiceVersion], server: tuple[FakeBilling, str]
) -> None:
    fake, base_url = server
    pushed = {
        invoice_id: _push(base_url, "stripe", _document("stripe", version))
        for invoice_id, version in versions.items()
    }
    rates = {
        rate["metadata"]["usage_billing_tax_rate_id"]: rate
        for rate in fake.stripe_tax_rates.values()
    }
    assert {
        name: (rate["display_name"], rate["percentage"], rate["inclusive"])
        for name, rate in rates.items()
    } == {
        "county": ("County sales tax", "1", False),
        "state": ("State sales tax", "6.25", False),
        "vat": ("VAT", "20", True),
    }
    for invoice_id, external in pushed.items():
        version = versions[invoice_id]
        items = [item for item in fake.stripe_items.values() if item["invoice"] == external]
        # The charges as items, tax as none of them: Stripe adds it from the rates.
        assert sorted(item["amount"] for item in items) == sorted(
            int(line.amount * 100) for line in version.charge_lines
        )
        wanted = {rates[line.tax_rate_id]["id"] for line in version.tax_lines}  # type: ignore[index]
        assert all(set(item["tax_rates"]) == wanted for item in items)
        invoice = fake.stripe_invoices[external]
        assert invoice["status"] == "open"
        amounts = fake._stripe_amounts(external)
        assert amounts["total"] == int(version.total * 100)
        assert sum(tax["amount"] for tax in amounts["total_taxes"]) == int(
            (version.tax_amount + version.tax_included) * 100
        )
    # A later run (a new client; Stripe has forgotten the keys) finds the rates, creates none.
    fake.forget_idempotency_keys()
    again = replace(versions[EXCLUSIVE], invoice_id="s_c1/2024-04-01", content_hash="april")
    _push(base_url, "stripe", _document("stripe", again))
    assert len(fake.stripe_tax_rates) == 3


def test_stripe_tax_that_differs_is_not_finalized(
    versions: dict[str, InvoiceVersion], server: tuple[FakeBilling, str]
) -> None:
    """Two $50 charges at 6.25%: Stripe rounds each item's 3.125 to 3.13, the marts round the
    invoice's 6.25 once. The push fails naming both figures, and the invoice stays a draft."""
    fake, base_url = server
    version = versions[EXCLUSIVE]
    calls, fee = version.charge_lines
    halves = replace(
        version,
        lines=(replace(calls, amount=D(50)), replace(fee, amount=D(50)), *version.tax_lines),
    )
    document = _document("stripe", halves)
    with pytest.raises(FiguresDifferError) as failed:
        _push(base_url, "stripe", document)
    message = str(failed.value)
    assert "total 107.26 USD at Stripe, 107.25 USD in the marts" in message
    assert "tax 7.26 USD at Stripe, 7.25 USD in the marts" in message
    (external,) = fake.stripe_invoices
    assert fake.stripe_invoices[external]["status"] == "draft"
    # The next run resumes the same draft, adds nothing, and refuses again.
    with pytest.raises(FiguresDifferError):
        _push(base_url, "stripe", document, external)
    assert len(fake.stripe_items) == 2
    assert fake.stripe_invoices[external]["status"] == "draft"


def test_a_stripe_amendment_sends_the_tax_difference_as_an_item(
    versions: dict[str, InvoiceVersion], server: tuple[FakeBilling, str]
) -> None:
    """100 more calls (+$10): the state tax goes from $6.25 to $6.88 (6.875 rounded half-up),
    the county tax from $1.00 to $1.10; the amendment bills the three differences as items,
    without tax rates, and Stripe's total is their sum."""
    fake, base_url = server
    first = versions[EXCLUSIVE]
    calls, fee = first.charge_lines
    county, state = first.tax_lines
    base = D(110)
    later = replace(
        first,
        lines=(
            replace(calls, quantity=calls.quantity + 100, amount=calls.amount + 10),
            fee,
            replace(county, quantity=base, amount=D("1.10"), tax_amount=D("1.10")),
            replace(state, quantity=base, amount=D("6.88"), tax_amount=D("6.88")),
        ),
        total=D("117.98"),
        tax_amount=D("7.98"),
        content_hash="more calls",
    )
    amendment = Document("stripe", 1, later, previous=first, key="ub_test_amendment")
    external = _push(base_url, "stripe", amendment)
    items = sorted(
        (item["description"], item["amount"], item["tax_rates"])
        for item in fake.stripe_items.values()
        if item["invoice"] == external
    )
    assert items == [
        ("API calls: quantity 400 → 500", 1000, []),
        ("County sales tax 1% on $110.00: quantity 100 → 110", 10, []),
        ("State sales tax 6.25% on $110.00: quantity 100 → 110", 63, []),
    ]
    assert fake.stripe_tax_rates == {}
    assert fake.stripe_invoices[external]["status"] == "open"
    assert fake._stripe_amounts(external)["total"] == int(amendment.amount * 100) == 1073


@pytest.mark.parametrize("spec", [STRIPE_2023, STRIPE_CURRENT], ids=["2023-08-16", "current"])
def test_stripe_items_with_rates_validate_against_the_spec(
    versions: dict[str, InvoiceVersion], spec: Path
) -> None:
    items = stripe_validator(spec, "/v1/invoiceitems")
    invoices = stripe_validator(spec, "/v1/invoices")
    document = _document("stripe", versions[EXCLUSIVE])
    invoices.validate(invoice_params(document, "cus_1"))
    params = item_params(document, "cus_1", "in_1", ("txr_1", "txr_2"))
    assert [item["tax_rates"] for item in params] == [["txr_1", "txr_2"]] * 2
    for item in params:
        items.validate(item)


def test_sequence_bills_the_tax_as_lines_and_totals_ours(
    versions: dict[str, InvoiceVersion], server: tuple[FakeBilling, str]
) -> None:
    fake, base_url = server
    for version in versions.values():
        _push(base_url, "sequence", _document("sequence", version))
    documents = {
        next(
            m["value"] for m in document["metadata"] if m["key"] == "usage_billing_invoice_id"
        ): document
        for document in fake.sequence["invoices"].values()
    }
    for invoice_id, version in versions.items():
        lines = documents[invoice_id]["lines"]
        total = sum(D(line["quantity"]) * D(line["rate"]) for line in lines)
        assert total == version.total
        assert {line["taxRate"] for line in lines} == {"0"}
    titles = [(line["title"], line["rate"]) for line in documents[EXCLUSIVE]["lines"]][-2:]
    assert titles == [
        ("County sales tax 1% on $100.00", "1"),
        ("State sales tax 6.25% on $100.00", "6.25"),
    ]
    included = documents[INCLUSIVE]["lines"][-1]
    assert (included["title"], included["rate"]) == ("VAT 20% (included) on $72.00", "0")
    assert "($12.00 included)" in included["description"]


def test_the_webhook_carries_tax_lines_and_figures(versions: dict[str, InvoiceVersion]) -> None:
    invoice = json.loads(json.dumps(payload(_document("webhook", versions[EXCLUSIVE]))))["data"][
        "invoice"
    ]
    figures = [D(invoice[name]) for name in ("total", "tax_amount", "tax_included")]
    assert figures == [D("107.25"), D("7.25"), 0]
    assert invoice["tax_status"] == "taxed"
    taxes = [
        (line["tax_rate_id"], D(line["quantity"]), D(line["unit_price"]), D(line["tax_amount"]))
        for line in invoice["lines"]
        if line["line_type"] == "tax"
    ]
    assert taxes == [("county", 100, D("0.01"), 1), ("state", 100, D("0.0625"), D("6.25"))]
    included = payload(_document("webhook", versions[INCLUSIVE]))["data"]["invoice"]
    assert D(included["tax_included"]) == 12
    assert included["lines"][-1]["line_type"] == "tax_included"
    reverse = payload(_document("webhook", versions[REVERSE]))["data"]["invoice"]
    assert reverse["tax_status"] == "reverse_charge"
