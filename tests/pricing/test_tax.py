"""Tax (issue 25, docs/invoices.md "Tax") on real dbt builds, every figure worked out here; the
property tests (tests/pricing/test_pricing_properties.py) draw many more against the oracle.

The scenario (USD, UTC, billing clock 2024-04-10, three days' grace: January to March final).
Plan `api`, three prices: API calls at $0.10 (tax code `saas`), a $20 platform fee (no tax
code) and a $30 training fee (tax code `education`). Rates:
- everyone, every code: county sales tax 1%; state sales tax 6.25% until 2024-03-01, 6.5% from
  then (the rate in force on a period's last day applies);
- everyone, code `education`: zero-rated 0% (more specific than the rates for every code, so
  training pays neither state nor county tax);
- c2, every code: VAT 20%, inclusive (a customer's own rates come before everyone's);
- c5, every code: 8.875%, rounded per line.

- c1, from January. January: calls 800 → 80 (saas), platform 20, training 30. State 6.25% of
  80 + 20 = 100 → 6.25, county 1.00, zero-rated 0 of 30. Total 130 + 7.25 = 137.25.
  February: 300 calls → 30, fees 50; discount d1 10% of the whole invoice takes 8, shared in
  proportion to the charges in code order ('' 20, education 30, saas 30): 2, 3, 3. State
  6.25% of 18 + 27 = 45 → 2.8125 → 2.81; county 0.45; total 80 - 8 + 3.26 = 75.26.
  March: 50 calls → 5, fees 50; prepaid credit g1 pays 10, shared 20 : 30 : 5 of 55 as 3.64,
  5.45, 0.91 (each cumulative share rounded: 10 x 20/55 = 3.64, 10 x 50/55 = 9.09). Bases
  '' 16.36, education 24.55, saas 4.09. State 6.5% of 20.45 = 1.32925 → 1.33; county 0.20.
  Total 55 - 10 + 1.53 = 46.53.
- c2 (March): calls 50 → 5, fees 50 = 55, VAT included 55 x 20/120 = 9.1666 → 9.17. Total 55.
- c3 reverse charge and c4 exempt (March): fees 50, no tax.
- c5 (March): calls 3 → 0.30, fees 50. Per line: 0.026625 → 0.03, 1.775 → 1.78, 2.6625 →
  2.66: 4.47 (rounded once on 50.30 it would be 4.46). Total 54.77.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

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

D = Decimal
CHECK = "assert_tax_rates_are_valid"
VARS: dict[str, Any] = {
    "usage_billing_metrics": [{"name": "calls", "event_type": "call", "aggregation": "count"}],
    "usage_billing_as_of": "2024-04-10 00:00:00",
    "usage_billing_grace_days": 3,
    "usage_billing_pricing_schema": "pricing",
}
STARTS = {"c1": "2024-01-01", "c2": "2024-03-01", "c3": "2024-03-01", "c4": "2024-03-01"}
STARTS |= {"c5": "2024-03-01"}


def pricing() -> Pricing:
    tables = Pricing()
    tables.plans.append({"plan_id": "api", "name": "API"})
    exemptions = {"c3": "reverse", "c4": "exempt"}
    for customer, start in STARTS.items():
        tables.customers.append(
            {"customer_id": customer, "name": customer, "tax_exempt": exemptions.get(customer)}
        )
        tables.customer_aliases.append({"alias": customer, "customer_id": customer})
        tables.subscriptions.append(
            {"subscription_id": f"s_{customer}", "customer_id": customer, "plan_id": "api"}
            | {"currency": "USD", "start_date": start}
        )
    common = {"plan_id": "api", "currency": "USD", "effective_from": "2024-01-01"}
    tables.prices += [
        {"price_id": "api_calls", "pricing_model": "per_unit", "metric": "calls"}
        | {"description": "API calls", "unit_price": D("0.10"), "tax_code": "saas", **common},
        {"price_id": "platform", "pricing_model": "flat", "description": "Platform fee"}
        | {"flat_amount": D(20), **common},
        {"price_id": "training", "pricing_model": "flat", "description": "Training"}
        | {"flat_amount": D(30), "tax_code": "education", **common},
    ]
    tables.tax_rates += [
        {"tax_rate_id": "county", "description": "County sales tax", "percentage": D(1)},
        {"tax_rate_id": "state", "description": "State sales tax", "percentage": D("6.25")}
        | {"effective_to": "2024-03-01"},
        {"tax_rate_id": "state_2024", "description": "State sales tax", "percentage": D("6.5")}
        | {"effective_from": "2024-03-01"},
        {"tax_rate_id": "zero", "tax_code": "education", "description": "Zero-rated"}
        | {"percentage": D(0)},
        {"tax_rate_id": "vat_c2", "customer_id": "c2", "description": "VAT", "percentage": D(20)}
        | {"inclusive": True},
        {"tax_rate_id": "ny_c5", "customer_id": "c5", "description": "Sales tax"}
        | {"percentage": D("8.875"), "calculation": "per_line"},
    ]
    tables.discounts.append(
        {"discount_id": "d1", "customer_id": "c1", "percent_off": D(10), "description": "Ten off"}
        | {"starts_on": "2024-02-01", "duration_periods": 1}
    )
    tables.credit_grants.append(
        {"grant_id": "g1", "customer_id": "c1", "currency": "USD", "amount": D(10)}
        | {"granted_at": datetime(2024, 3, 5)}
    )
    return tables


def calls(customer: str, day: str, count: int) -> list[tuple[Any, ...]]:
    return [
        (f"{customer}_{day}_{number}", customer, "call", f"{day}T12:00:00Z", "{}", None)
        for number in range(count)
    ]


EVENTS = calls("c1", "2024-01-10", 800) + calls("c1", "2024-02-10", 300)
EVENTS += calls("c1", "2024-03-10", 50) + calls("c2", "2024-03-10", 50)
EVENTS += calls("c5", "2024-03-10", 3)


def tax_lines(scenario: Scenario) -> dict[str, list[tuple[Any, ...]]]:
    """(line_type, tax_rate_id, description, base, rate, amount, tax_amount) of each invoice's
    tax lines, in line order."""
    found: dict[str, list[tuple[Any, ...]]] = {}
    for invoice_id, *line in scenario.rows(
        "select invoice_id, line_type, tax_rate_id, description, quantity, unit_price, amount,"
        f" tax_amount from {MARTS_SCHEMA}.usage_billing__invoice_lines"
        " where line_type like 'tax%' order by invoice_id, line_number"
    ):
        found.setdefault(invoice_id, []).append(tuple(line))
    return found


def totals(scenario: Scenario) -> dict[str, tuple[Any, ...]]:
    """(subtotal, credits_applied, tax_amount, tax_included, total, tax_status) per final invoice."""
    return {
        invoice_id: tuple(rest)
        for invoice_id, *rest in scenario.rows(
            "select invoice_id, subtotal, credits_applied, tax_amount, tax_included, total,"
            f" tax_status from {MARTS_SCHEMA}.usage_billing__invoices where status = 'final'"
        )
    }


@pytest.fixture(scope="module")
def scenario(tmp_path_factory: pytest.TempPathFactory) -> Scenario:
    return build(Path(tmp_path_factory.mktemp("tax")), EVENTS, pricing(), VARS)


def test_each_invoice_is_taxed_at_the_rates_of_its_tax_codes(scenario: Scenario) -> None:
    state, county, zero = "State sales tax", "County sales tax", "Zero-rated"
    assert tax_lines(scenario) == {
        "s_c1/2024-01-01": [
            ("tax", "county", county, D(100), D("0.01"), D(1), D(1)),
            ("tax", "state", state, D(100), D("0.0625"), D("6.25"), D("6.25")),
            ("tax", "zero", zero, D(30), D(0), D(0), D(0)),
        ],
        "s_c1/2024-02-01": [
            ("tax", "county", county, D(45), D("0.01"), D("0.45"), D("0.45")),
            ("tax", "state", state, D(45), D("0.0625"), D("2.81"), D("2.81")),
            ("tax", "zero", zero, D(27), D(0), D(0), D(0)),
        ],
        "s_c1/2024-03-01": [
            ("tax", "county", county, D("20.45"), D("0.01"), D("0.2"), D("0.2")),
            ("tax", "state_2024", state, D("20.45"), D("0.065"), D("1.33"), D("1.33")),
            ("tax", "zero", zero, D("24.55"), D(0), D(0), D(0)),
        ],
        "s_c2/2024-03-01": [
            ("tax_included", "vat_c2", "VAT", D(55), D("0.2"), D(0), D("9.17")),
        ],
        "s_c5/2024-03-01": [
            ("tax", "ny_c5", "Sales tax", D("50.3"), D("0.08875"), D("4.47"), D("4.47")),
        ],
    }


def test_totals_add_tax_after_discounts_and_credit(scenario: Scenario) -> None:
    assert totals(scenario) == {
        "s_c1/2024-01-01": (D(130), D(0), D("7.25"), D(0), D("137.25"), "taxed"),
        "s_c1/2024-02-01": (D(72), D(0), D("3.26"), D(0), D("75.26"), "taxed"),
        "s_c1/2024-03-01": (D(55), D(10), D("1.53"), D(0), D("46.53"), "taxed"),
        "s_c2/2024-03-01": (D(55), D(0), D(0), D("9.17"), D(55), "taxed"),
        "s_c3/2024-03-01": (D(50), D(0), D(0), D(0), D(50), "reverse_charge"),
        "s_c4/2024-03-01": (D(50), D(0), D(0), D(0), D(50), "exempt"),
        "s_c5/2024-03-01": (D("50.3"), D(0), D("4.47"), D(0), D("54.77"), "taxed"),
    }


def test_a_warehouse_without_tax_tables_or_columns_bills_untaxed(
    scenario: Scenario, tmp_path: Path
) -> None:
    database = tmp_path / "warehouse.duckdb"
    database.write_bytes(scenario.database.read_bytes())
    run_dbt(["build"], database, VARS)  # first on the copy: the same
    import duckdb

    with duckdb.connect(str(database)) as connection:
        connection.execute("drop table pricing.tax_rates")
        connection.execute("alter table pricing.customers drop column tax_exempt")
        connection.execute("alter table pricing.prices drop column tax_code")
    run_dbt(["build"], database, VARS)
    untaxed = Scenario(database)
    assert tax_lines(untaxed) == {}
    statuses = {row[-1] for row in totals(untaxed).values()}
    assert statuses == {"untaxed"}
    assert totals(untaxed)["s_c1/2024-01-01"][4] == D(130)


def test_a_tax_rate_that_would_tax_wrongly_fails_the_build(tmp_path: Path) -> None:
    tables = pricing()
    tables.tax_rates += [
        {"tax_rate_id": "negative", "percentage": D(-1), "tax_code": "x"},
        {"tax_rate_id": "over_100", "percentage": D(101), "tax_code": "x"},
        {"tax_rate_id": "no_percentage", "tax_code": "x"},
        {"tax_rate_id": "rounding", "percentage": D(1), "tax_code": "x", "calculation": "each"},
        {"tax_rate_id": "stranger", "percentage": D(1), "customer_id": "nobody"},
        {"tax_rate_id": "backwards", "percentage": D(1), "tax_code": "x"}
        | {"effective_from": "2024-02-01", "effective_to": "2024-01-01"},
        # c5's own inclusive rate for training beside its exclusive rate for every code.
        {"tax_rate_id": "mixed", "customer_id": "c5", "tax_code": "education"}
        | {"percentage": D(5), "inclusive": True},
    ]
    tables.customers[0]["tax_exempt"] = "sometimes"
    with pytest.raises(DbtFailedError, match=f"{CHECK}: fail"):
        build(tmp_path, EVENTS, tables, VARS)
    assert failing_rows(tmp_path / "warehouse.duckdb", CHECK, VARS) == [
        ("backwards", "effective_to must be after effective_from"),
        ("c1", "tax_exempt must be none, exempt or reverse"),
        ("negative", "percentage must be from 0 to 100"),
        ("no_percentage", "percentage must be from 0 to 100"),
        ("over_100", "percentage must be from 0 to 100"),
        ("rounding", "calculation must be per_invoice or per_line"),
        ("s_c5/2024-03-01", "an invoice is taxed by inclusive and exclusive rates at once"),
        ("stranger", "unknown customer_id"),
    ]
