"""Discounts (issue 25, docs/pricing.md "Discounts") on real dbt builds, every figure worked
out here; the property tests (tests/pricing/test_pricing_properties.py) draw thousands more
against the oracle.

The scenario (USD, UTC, billing clock 2024-04-10, three days' grace: January to March final).
Plan `api`: API calls at $0.10 (price api_calls) and a $20 platform fee (price platform).
- c1 on `api` from 2024-01-01: 800 calls in January, 300 in February, 50 in March; prepaid
  credit g1 of $100. Discounts: d1 25% off the metric calls, for ever; d2 $10 off the whole
  invoice from 2024-02-01 for one period; d3 100% off the platform price for one period.
  - January: calls 80 + fee 20 = 100. d1 takes 25% of 80 = 20, d3 100% of 20 = 20 (d2 starts in
    February). 60 owed; g1 pays 60 (40 left). Total 0.
  - February: 30 + 20 = 50. d1 25% of 30 = 7.50, d2 10 (d3's one period is spent). 32.50
    owed; g1 pays 32.50 (7.50 left). Total 0.
  - March: 5 + 20 = 25. d1 1.25. 23.75 owed; g1 pays its last 7.50. Total 16.25.
- c2 on `api` from 2024-03-01, no calls: March is the $20 fee. d4 $50 off takes 20 (never more
  than the charges; the other 30 is not carried over), d5 10% off the whole invoice would take 2
  but nothing is left, d6 EUR 5 off applies to no USD invoice. March total 0.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import duckdb
import pytest

from tests.support.warehouse_scenario import (
    MARTS_SCHEMA,
    DbtFailedError,
    Pricing,
    Scenario,
    build,
    failing_rows,
    run_dbt,
)
from usage_billing.marts.figures import LineCells, line_cells
from usage_billing.marts.reader import MartsReader
from usage_billing.marts.relations import MartRelations
from usage_billing.warehouse.duckdb import DuckDBWarehouse

D = Decimal
CHECK = "assert_discounts_are_valid"
VARS: dict[str, Any] = {
    "usage_billing_metrics": [{"name": "calls", "event_type": "call", "aggregation": "count"}],
    "usage_billing_as_of": "2024-04-10 00:00:00",
    "usage_billing_grace_days": 3,
    "usage_billing_pricing_schema": "pricing",
}


def pricing() -> Pricing:
    tables = Pricing()
    tables.plans.append({"plan_id": "api", "name": "API"})
    for customer, start in [("c1", "2024-01-01"), ("c2", "2024-03-01")]:
        tables.customers.append({"customer_id": customer, "name": customer})
        tables.customer_aliases.append({"alias": customer, "customer_id": customer})
        tables.subscriptions.append(
            {"subscription_id": f"s_{customer}", "customer_id": customer, "plan_id": "api"}
            | {"currency": "USD", "start_date": start}
        )
    common = {"plan_id": "api", "currency": "USD", "effective_from": "2024-01-01"}
    tables.prices += [
        {"price_id": "api_calls", "pricing_model": "per_unit", "metric": "calls"}
        | {"description": "API calls", "unit_price": D("0.10"), **common},
        {"price_id": "platform", "pricing_model": "flat", "description": "Platform fee"}
        | {"flat_amount": D(20), **common},
    ]
    tables.credit_grants.append(
        {"grant_id": "g1", "customer_id": "c1", "currency": "USD", "amount": D(100)}
        | {"granted_at": datetime(2023, 12, 1)}
    )
    tables.discounts += [
        {"discount_id": "d1", "customer_id": "c1", "description": "25% off API calls"}
        | {"percent_off": D(25), "metric": "calls"},
        {"discount_id": "d2", "customer_id": "c1", "description": "Welcome"}
        | {"amount_off": D(10), "currency": "USD", "starts_on": "2024-02-01"}
        | {"duration_periods": 1},
        {"discount_id": "d3", "customer_id": "c1", "description": "Free platform month"}
        | {"percent_off": D(100), "price_id": "platform", "duration_periods": 1},
        {"discount_id": "d4", "customer_id": "c2", "description": "Fifty off"}
        | {"amount_off": D(50), "currency": "USD"},
        {"discount_id": "d5", "customer_id": "c2", "percent_off": D(10)},
        {"discount_id": "d6", "customer_id": "c2", "amount_off": D(5), "currency": "EUR"},
    ]
    return tables


def calls(customer: str, day: str, count: int) -> list[tuple[Any, ...]]:
    return [
        (f"{customer}_{day}_{number}", customer, "call", f"{day}T12:00:00Z", "{}", None)
        for number in range(count)
    ]


EVENTS = calls("c1", "2024-01-10", 800) + calls("c1", "2024-02-10", 300)
EVENTS += calls("c1", "2024-03-10", 50)


def invoice_lines(database: Path) -> dict[str, list[tuple[Any, ...]]]:
    """(line_type, description, quantity, unit_price, amount) of each invoice's lines."""
    found: dict[str, list[tuple[Any, ...]]] = {}
    with duckdb.connect(str(database), read_only=True) as connection:
        for invoice_id, *line in connection.execute(
            "select invoice_id, line_type, description, quantity, unit_price, amount"
            f" from {MARTS_SCHEMA}.usage_billing__invoice_lines order by invoice_id, line_number"
        ).fetchall():
            found.setdefault(invoice_id, []).append(tuple(line))
    return found


def totals(database: Path) -> dict[str, tuple[Decimal, Decimal, Decimal]]:
    with duckdb.connect(str(database), read_only=True) as connection:
        rows = connection.execute(
            f"select invoice_id, subtotal, credits_applied, total"
            f" from {MARTS_SCHEMA}.usage_billing__invoices where status = 'final'"
        ).fetchall()
    return {invoice_id: (subtotal, credits, total) for invoice_id, subtotal, credits, total in rows}


@pytest.fixture(scope="module")
def scenario(tmp_path_factory: pytest.TempPathFactory) -> Scenario:
    return build(Path(tmp_path_factory.mktemp("discounts")), EVENTS, pricing(), VARS)


def test_discounts_come_off_before_credit(scenario: Scenario) -> None:
    lines = invoice_lines(scenario.database)
    assert lines["s_c1/2024-01-01"] == [
        ("usage", "API calls", D(800), D("0.1"), D(80)),
        ("fee", "Platform fee", D(1), D(20), D(20)),
        ("discount", "25% off API calls", D(80), D("-0.25"), D(-20)),
        ("discount", "Free platform month", D(20), D(-1), D(-20)),
        ("credit", "Prepaid credit g1", D(1), D(-60), D(-60)),
    ]
    assert lines["s_c1/2024-02-01"] == [
        ("usage", "API calls", D(300), D("0.1"), D(30)),
        ("fee", "Platform fee", D(1), D(20), D(20)),
        ("discount", "25% off API calls", D(30), D("-0.25"), D("-7.5")),
        ("discount", "Welcome", D(1), D(-10), D(-10)),
        ("credit", "Prepaid credit g1", D(1), D("-32.5"), D("-32.5")),
    ]
    assert lines["s_c1/2024-03-01"] == [
        ("usage", "API calls", D(50), D("0.1"), D(5)),
        ("fee", "Platform fee", D(1), D(20), D(20)),
        ("discount", "25% off API calls", D(5), D("-0.25"), D("-1.25")),
        ("credit", "Prepaid credit g1", D(1), D("-7.5"), D("-7.5")),
    ]
    # d4 is capped at the $20 of charges, so it shows as an amount; d5 and d6 take nothing.
    assert lines["s_c2/2024-03-01"] == [
        ("usage", "API calls", D(0), D("0.1"), D(0)),
        ("fee", "Platform fee", D(1), D(20), D(20)),
        ("discount", "Fifty off", D(1), D(-20), D(-20)),
    ]
    assert totals(scenario.database) == {
        "s_c1/2024-01-01": (D(60), D(60), D(0)),
        "s_c1/2024-02-01": (D("32.5"), D("32.5"), D(0)),
        "s_c1/2024-03-01": (D("23.75"), D("7.5"), D("16.25")),
        "s_c2/2024-03-01": (D(0), D(0), D(0)),
    }


def test_discount_lines_read_as_base_times_rate_or_as_an_amount(scenario: Scenario) -> None:
    """On the page, in the CLI and in the PDF (line_cells): a percentage taken whole shows its
    base in the invoice's currency and its rate; a fixed or capped one only its amount."""
    with duckdb.connect(str(scenario.database), read_only=True) as connection:
        reader = MartsReader(DuckDBWarehouse(connection), MartRelations.in_schema(MARTS_SCHEMA))
        february, capped = reader.invoice("s_c1/2024-02-01"), reader.invoice("s_c2/2024-03-01")
    assert february is not None and capped is not None
    cells = {
        line.description: line_cells(line, invoice)
        for invoice in (february, capped)
        for line in invoice.lines
        if line.line_type == "discount"
    }
    assert cells == {
        "25% off API calls": LineCells("25% off API calls", "$30.00", "-25%", "-$7.50"),
        "Welcome": LineCells("Welcome", "", "", "-$10.00"),
        "Fifty off": LineCells("Fifty off", "", "", "-$20.00"),
    }


def test_a_warehouse_without_the_discounts_table_bills_undiscounted(
    scenario: Scenario, tmp_path: Path
) -> None:
    database = tmp_path / "warehouse.duckdb"
    database.write_bytes(scenario.database.read_bytes())
    with duckdb.connect(str(database)) as connection:
        connection.execute("drop table pricing.discounts")
    run_dbt(["build"], database, VARS)
    assert not [
        line
        for lines in invoice_lines(database).values()
        for line in lines
        if line[0] == "discount"
    ]
    # January undiscounted: 100, all of it paid by g1.
    assert totals(database)["s_c1/2024-01-01"] == (D(100), D(100), D(0))


def test_a_discount_that_would_take_a_wrong_amount_fails_the_build(tmp_path: Path) -> None:
    tables = pricing()
    bad = {"customer_id": "c1", "percent_off": D(10)}
    tables.discounts += [
        {"discount_id": "both", **bad, "amount_off": D(1), "currency": "USD"},
        {"discount_id": "neither", "customer_id": "c1"},
        {"discount_id": "zero", **bad, "percent_off": D(0)},
        {"discount_id": "over_100", **bad, "percent_off": D(101)},
        {"discount_id": "no_currency", "customer_id": "c1", "amount_off": D(5)},
        {"discount_id": "price_and_metric", **bad, "price_id": "platform", "metric": "calls"},
        {"discount_id": "no_periods", **bad, "duration_periods": 0},
        {"discount_id": "stranger", **bad, "customer_id": "nobody"},
        {"discount_id": "other_subscription", **bad, "subscription_id": "s_c2"},
        {"discount_id": "no_price", **bad, "price_id": "nothing"},
        {"discount_id": "no_metric", **bad, "metric": "storage"},
    ]
    with pytest.raises(DbtFailedError, match=f"{CHECK}: fail"):
        build(tmp_path, EVENTS, tables, VARS)
    failures = failing_rows(tmp_path / "warehouse.duckdb", CHECK, VARS)
    one_of = (
        "exactly one of percent_off (above 0, at most 100) and amount_off (above 0, with currency)"
    )
    assert failures == [
        ("both", one_of),
        ("neither", one_of),
        ("no_currency", one_of),
        ("no_metric", "metric is not declared in usage_billing_metrics"),
        ("no_periods", "duration_periods must be at least 1 (empty: for ever)"),
        ("no_price", "unknown price_id"),
        ("other_subscription", "subscription_id is not a subscription of the customer"),
        ("over_100", one_of),
        ("price_and_metric", "a discount is on a price or on a metric, not both"),
        ("stranger", "unknown customer_id"),
        ("zero", one_of),
    ]
