"""One-time charges (issue 25, docs/pricing.md "One-time charges") on real dbt builds: a fee
billed once, on the subscription's first period or on the period holding its date; the rules
that keep one from billing wrongly or never; and a prices table made before the columns existed.

The scenario (USD, UTC, billing clock 2024-04-10 00:00, three days' grace, so every period
ending by 7 April is final):
- plan `starter`: a $10 platform fee every period (in arrears), a $100 setup fee once (in
  arrears, undated: the first period), and a $30 migration fee once on 2024-02-10 (in advance).
- `s1` on starter from 2024-01-15; `s2` on starter from 2024-03-01 (after the migration date);
  s1's own $55 onboarding fee once on 2024-03-20 (in arrears).
- plan `advance`: a $20 activation fee once, in advance; `s3` on it from 2024-04-05, whose first
  period is still live.
Expected:
- s1/2024-01-15: platform 10 + setup 100. s1/2024-02-01: platform 10 + migration 30.
  s1/2024-03-01: platform 10 + onboarding 55. s1/2024-04-01 (live): nothing (all in arrears or
  dated elsewhere).
- s2/2024-03-01: platform 10 + setup 100 (the migration date precedes s2). s2/2024-04-01: nothing.
- s3/2024-04-05 (live): activation 20, shown from the period's first day.
"""

from __future__ import annotations

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

D = Decimal
CHECK = "assert_one_time_charges_are_valid"
VARS: dict[str, Any] = {
    "usage_billing_metrics": [{"name": "calls", "event_type": "call", "aggregation": "count"}],
    "usage_billing_as_of": "2024-04-10 00:00:00",
    "usage_billing_grace_days": 3,
    "usage_billing_pricing_schema": "pricing",
}
COMMON = {"currency": "USD", "pricing_model": "flat", "effective_from": "2024-01-01"}


def pricing() -> Pricing:
    tables = Pricing()
    tables.customers.append({"customer_id": "c1", "name": "C1"})
    tables.customer_aliases.append({"alias": "c1", "customer_id": "c1"})
    tables.plans += [{"plan_id": "starter", "name": "Starter"}, {"plan_id": "advance"}]
    for subscription_id, plan_id, start in [
        ("s1", "starter", "2024-01-15"),
        ("s2", "starter", "2024-03-01"),
        ("s3", "advance", "2024-04-05"),
    ]:
        tables.subscriptions.append(
            {
                "subscription_id": subscription_id,
                "customer_id": "c1",
                "plan_id": plan_id,
                "currency": "USD",
                "start_date": start,
            }
        )
    tables.prices += [
        {"price_id": "platform", "plan_id": "starter", "description": "Platform fee"}
        | {"flat_amount": D(10), **COMMON},
        {"price_id": "setup", "plan_id": "starter", "description": "Setup fee"}
        | {"flat_amount": D(100), "cadence": "one_time", **COMMON},
        {"price_id": "migration", "plan_id": "starter", "description": "Migration fee"}
        | {"flat_amount": D(30), "cadence": "one_time", "charge_date": "2024-02-10"}
        | {"billing_timing": "in_advance", **COMMON},
        {"price_id": "onboarding", "subscription_id": "s1", "description": "Onboarding"}
        | {"flat_amount": D(55), "cadence": "one_time", "charge_date": "2024-03-20", **COMMON},
        {"price_id": "activation", "plan_id": "advance", "description": "Activation fee"}
        | {"flat_amount": D(20), "cadence": "one_time", "billing_timing": "in_advance", **COMMON},
    ]
    return tables


def lines_by_invoice(scenario: Scenario) -> dict[str, list[tuple[str, Decimal]]]:
    """Every invoice, even one without lines, with its (description, amount) lines."""
    invoices = scenario.rows(f"select invoice_id from {MARTS_SCHEMA}.usage_billing__invoices")
    found: dict[str, list[tuple[str, Decimal]]] = {invoice_id: [] for (invoice_id,) in invoices}
    for invoice_id, description, amount in scenario.rows(
        f"select invoice_id, description, amount from {MARTS_SCHEMA}.usage_billing__invoice_lines"
        " order by invoice_id, line_number"
    ):
        found[invoice_id].append((description, amount))
    return found


@pytest.fixture(scope="module")
def scenario(tmp_path_factory: pytest.TempPathFactory) -> Scenario:
    return build(Path(tmp_path_factory.mktemp("one_time")), [], pricing(), VARS)


def test_each_one_time_fee_is_billed_once_on_its_period(scenario: Scenario) -> None:
    assert lines_by_invoice(scenario) == {
        "s1/2024-01-15": [("Platform fee", D(10)), ("Setup fee", D(100))],
        "s1/2024-02-01": [("Migration fee", D(30)), ("Platform fee", D(10))],
        "s1/2024-03-01": [("Onboarding", D(55)), ("Platform fee", D(10))],
        "s1/2024-04-01": [],
        "s2/2024-03-01": [("Platform fee", D(10)), ("Setup fee", D(100))],
        "s2/2024-04-01": [],
        "s3/2024-04-05": [("Activation fee", D(20))],
    }


def test_a_prices_table_without_the_columns_still_builds(
    scenario: Scenario, tmp_path: Path
) -> None:
    """A prices table made before cadence and charge_date existed: every price recurs, as it
    did then, so the setup fee (in arrears) is on every final invoice of the plan."""
    database = tmp_path / "warehouse.duckdb"
    database.write_bytes(scenario.database.read_bytes())
    with duckdb.connect(str(database)) as connection:
        connection.execute("alter table pricing.prices drop column cadence")
        connection.execute("alter table pricing.prices drop column charge_date")
        connection.execute("delete from pricing.prices where price_id <> 'setup'")
    run_dbt(["build"], database, VARS)
    with duckdb.connect(str(database), read_only=True) as connection:
        billed = connection.execute(
            f"select invoice_id, amount from {MARTS_SCHEMA}.usage_billing__invoice_lines"
            " where price_id = 'setup' order by invoice_id"
        ).fetchall()
    assert billed == [
        ("s1/2024-01-15", D(100)),
        ("s1/2024-02-01", D(100)),
        ("s1/2024-03-01", D(100)),
        ("s2/2024-03-01", D(100)),
    ]


def test_a_one_time_fee_that_would_bill_wrongly_or_never_fails_the_build(tmp_path: Path) -> None:
    tables = pricing()
    tables.subscriptions.append(
        {"subscription_id": "s4", "customer_id": "c1", "plan_id": "starter", "currency": "USD"}
        | {"start_date": "2024-01-01", "end_date": "2024-03-01"}
    )
    flat = {"flat_amount": D(1), "plan_id": "starter", **COMMON}
    tables.prices += [
        {"price_id": "bad_cadence", "cadence": "monthly", **flat},
        {"price_id": "usage_once", "cadence": "one_time", **flat}
        | {"pricing_model": "per_unit", "metric": "calls", "unit_price": D(1), "flat_amount": None},
        {"price_id": "prorated_once", "cadence": "one_time", "prorate": True, **flat},
        {"price_id": "dated_recurring", "charge_date": "2024-02-01", **flat},
        {"price_id": "dated_before_version", "cadence": "one_time", **flat}
        | {"charge_date": "2023-12-31"},
        {"price_id": "dated_after_subscription", "cadence": "one_time", **flat}
        | {"plan_id": None, "subscription_id": "s4", "charge_date": "2024-03-01"},
    ]
    with pytest.raises(DbtFailedError, match=f"{CHECK}: fail"):
        build(tmp_path, [], tables, VARS)
    failures = failing_rows(tmp_path / "warehouse.duckdb", CHECK, VARS)
    assert failures == [
        ("bad_cadence", "cadence must be every_period or one_time"),
        (
            "dated_after_subscription",
            "charge_date outside its subscription: no invoice would bill it",
        ),
        (
            "dated_before_version",
            "charge_date is for one_time prices, inside effective_from and effective_to",
        ),
        (
            "dated_recurring",
            "charge_date is for one_time prices, inside effective_from and effective_to",
        ),
        ("prorated_once", "a one_time price must be a flat fee, not prorated"),
        ("usage_once", "a one_time price must be a flat fee, not prorated"),
    ]
