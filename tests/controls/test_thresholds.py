"""Usage thresholds and their crossings (issue 26, docs/usage-controls.md) on real dbt builds,
every figure worked out here.

The scenario (USD, UTC, billing clock 2024-03-15, three days' grace: January and February final,
March live). Plan `api`: API calls at $0.10 with 100 free (price api_calls), a $20 platform fee.
- c1 on `api` from 2024-01-01 with a $40 minimum; prepaid credit g1 of $50. Calls, one a second
  from 12:00:00: January 60 on the 5th and 90 on the 20th, February 50 on the 10th, March 130 on
  the 5th. Charges so far: January 20 + 5 (50 over the free 100) = 25, February 20 (the true-up
  to 40 is not spending), March 3 (a fee in arrears is charged when the period ends).
- c2 on `api` from 2024-03-01: 30 calls on 2024-03-02; no minimum, no credit.

Thresholds:
- t80: c1, 80% of the included calls = 80 calls. January: the 20th call of the 20th (12:00:19).
  February's 50 do not reach it. March: the 80th call of the 5th (12:01:19).
- t120: every customer, 120 calls. c1 January: the 60th call of the 20th (12:00:59); March: the
  120th call of the 5th (12:01:59). c2's 30 do not reach it.
- spend24: c1, $24 of charges. January's 25 only; crossed_at is January's last call (12:01:29),
  not exact.
- commit55: c1, 55% of the $40 minimum = $22: January (25), not February (20) nor March (3).
- credit10: c1's calls amount, 10% of the $50 credit = $5: January's calls cost exactly 5.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import duckdb
import pytest

from tests.support.warehouse_scenario import (
    MARTS_SCHEMA,
    Pricing,
    Scenario,
    build,
    failing_rows,
    run_dbt,
    write_table,
)
from usage_billing.pricing_tables import PRICING_TABLES

D = Decimal
CHECK = "assert_usage_thresholds_are_valid"
VARS: dict[str, Any] = {
    "usage_billing_metrics": [{"name": "calls", "event_type": "call", "aggregation": "count"}],
    "usage_billing_as_of": "2024-03-15 00:00:00",
    "usage_billing_grace_days": 3,
    "usage_billing_pricing_schema": "pricing",
}
THRESHOLDS: list[dict[str, Any]] = [
    {"threshold_id": "t80", "customer_id": "c1", "metric": "calls"}
    | {"description": "80% of included calls", "percentage": D(80), "percent_of": "included_units"},
    {"threshold_id": "t120", "metric": "calls", "quantity": D(120)},
    {"threshold_id": "spend24", "customer_id": "c1", "amount": D(24)},
    {"threshold_id": "commit55", "customer_id": "c1", "percentage": D(55)}
    | {"percent_of": "minimum_commitment"},
    {"threshold_id": "credit10", "customer_id": "c1", "metric": "calls", "percentage": D(10)}
    | {"percent_of": "credit_balance"},
]


def pricing() -> Pricing:
    tables = Pricing()
    tables.plans.append({"plan_id": "api", "name": "API"})
    for customer, start, minimum in [("c1", "2024-01-01", D(40)), ("c2", "2024-03-01", None)]:
        tables.customers.append({"customer_id": customer, "name": customer})
        tables.customer_aliases.append({"alias": customer, "customer_id": customer})
        tables.subscriptions.append(
            {"subscription_id": f"s_{customer}", "customer_id": customer, "plan_id": "api"}
            | {"currency": "USD", "start_date": start, "minimum_amount": minimum}
        )
    common = {"plan_id": "api", "currency": "USD", "effective_from": "2024-01-01"}
    tables.prices += [
        {"price_id": "api_calls", "pricing_model": "per_unit", "metric": "calls"}
        | {"description": "API calls", "unit_price": D("0.10"), "free_units": D(100), **common},
        {"price_id": "platform", "pricing_model": "flat", "description": "Platform fee"}
        | {"flat_amount": D(20), **common},
    ]
    tables.credit_grants.append(
        {"grant_id": "g1", "customer_id": "c1", "currency": "USD", "amount": D(50)}
        | {"granted_at": datetime(2023, 12, 1)}
    )
    tables.usage_thresholds += THRESHOLDS
    return tables


def calls(customer: str, day: str, count: int, first: int = 0) -> list[tuple[Any, ...]]:
    """`count` calls one a second from 12:00:00 (plus `first` seconds) on `day`."""
    return [
        (
            f"{customer}_{day}_{first + number:04d}",
            customer,
            "call",
            f"{day}T12:{(first + number) // 60:02d}:{(first + number) % 60:02d}Z",
            "{}",
            None,
        )
        for number in range(count)
    ]


EVENTS = calls("c1", "2024-01-05", 60) + calls("c1", "2024-01-20", 90)
EVENTS += calls("c1", "2024-02-10", 50) + calls("c1", "2024-03-05", 130)
EVENTS += calls("c2", "2024-03-02", 30)


def crossings(database: Path) -> dict[str, tuple[Any, ...]]:
    """crossing_id → (level_kind, level_value, crossed_at, is_crossed_at_exact,
    value_at_crossing)."""
    with duckdb.connect(str(database), read_only=True) as connection:
        rows = connection.execute(
            "select crossing_id, level_kind, level_value, crossed_at, is_crossed_at_exact,"
            f" value_at_crossing from {MARTS_SCHEMA}.usage_billing__threshold_crossings"
        ).fetchall()
    return {crossing_id: tuple(rest) for crossing_id, *rest in rows}


def at(day: str, seconds: int) -> datetime:
    """The time of the call `seconds` after 12:00:00 on `day`."""
    return datetime.fromisoformat(day) + timedelta(hours=12, seconds=seconds)


EXPECTED: dict[str, tuple[Any, ...]] = {
    "t80|s_c1/2024-01-01": ("quantity", D(80), at("2024-01-20", 19), True, D(80)),
    "t80|s_c1/2024-03-01": ("quantity", D(80), at("2024-03-05", 79), True, D(80)),
    "t120|s_c1/2024-01-01": ("quantity", D(120), at("2024-01-20", 59), True, D(120)),
    "t120|s_c1/2024-03-01": ("quantity", D(120), at("2024-03-05", 119), True, D(120)),
    "spend24|s_c1/2024-01-01": ("amount", D(24), at("2024-01-20", 89), False, D(25)),
    "commit55|s_c1/2024-01-01": ("amount", D(22), at("2024-01-20", 89), False, D(25)),
    "credit10|s_c1/2024-01-01": ("amount", D(5), at("2024-01-20", 89), False, D(5)),
}


@pytest.fixture(scope="module")
def scenario(tmp_path_factory: pytest.TempPathFactory) -> Scenario:
    return build(Path(tmp_path_factory.mktemp("thresholds")), EVENTS, pricing(), VARS)


def test_each_threshold_is_crossed_once_per_period_at_the_event_that_reached_it(
    scenario: Scenario,
) -> None:
    assert crossings(scenario.database) == EXPECTED


def copy_of(scenario: Scenario, directory: Path) -> Path:
    database = directory / "warehouse.duckdb"
    database.write_bytes(scenario.database.read_bytes())
    return database


def test_late_usage_moves_a_crossing_earlier_and_leaves_the_others(
    scenario: Scenario, tmp_path: Path
) -> None:
    """Ten late calls on 2024-01-03: January's 80th call is now the 10th of the 20th; the
    crossings no late call touches are reported as before, none disappears."""
    database = copy_of(scenario, tmp_path)
    late = calls("c1", "2024-01-03", 10)
    with duckdb.connect(str(database)) as connection:
        connection.executemany(
            "insert into raw.usage_events values (?, ?, ?, ?, ?, now())", [row[:5] for row in late]
        )
    run_dbt(["build"], database, VARS)
    expected = dict(EXPECTED)
    expected["t80|s_c1/2024-01-01"] = ("quantity", D(80), at("2024-01-20", 9), True, D(80))
    expected["t120|s_c1/2024-01-01"] = ("quantity", D(120), at("2024-01-20", 49), True, D(120))
    # 160 calls: 6 over the free 100, so January's charges are 26.
    expected["spend24|s_c1/2024-01-01"] = ("amount", D(24), at("2024-01-20", 89), False, D(26))
    expected["commit55|s_c1/2024-01-01"] = ("amount", D(22), at("2024-01-20", 89), False, D(26))
    expected["credit10|s_c1/2024-01-01"] = ("amount", D(5), at("2024-01-20", 89), False, D(6))
    assert crossings(database) == expected


def test_a_correction_below_the_level_removes_the_crossing(
    scenario: Scenario, tmp_path: Path
) -> None:
    """March's last 11 calls corrected (a later version of each) to 2024-02-11: March holds 119
    calls, below t120's 120, and its crossing goes from the mart; t80's, reached at the 80th
    call, stays. February's 61 reach neither level."""
    database = copy_of(scenario, tmp_path)
    corrected = [
        (event_id, customer, event_type, timestamp.replace("2024-03-05", "2024-02-11"), properties)
        for event_id, customer, event_type, timestamp, properties, _ in calls(
            "c1", "2024-03-05", 11, first=119
        )
    ]
    with duckdb.connect(str(database)) as connection:
        connection.executemany(
            "insert into raw.usage_events values (?, ?, ?, ?, ?, now())", corrected
        )
    run_dbt(["build"], database, VARS)
    expected = dict(EXPECTED)
    del expected["t120|s_c1/2024-03-01"]
    assert crossings(database) == expected


def test_bad_thresholds_are_rejected_with_the_reason(scenario: Scenario, tmp_path: Path) -> None:
    database = copy_of(scenario, tmp_path)
    bad = [
        {"threshold_id": "two_levels", "metric": "calls", "quantity": D(1), "amount": D(1)},
        {"threshold_id": "no_level", "customer_id": "c1"},
        {"threshold_id": "pct_alone", "percent_of": "credit_balance"},
        {"threshold_id": "over_100", "percentage": D(150), "percent_of": "minimum_commitment"},
        {"threshold_id": "of_what", "percentage": D(50), "percent_of": "revenue"},
        {"threshold_id": "no_metric", "quantity": D(10)},
        {"threshold_id": "negative", "amount": D(-5)},
        {"threshold_id": "stranger", "customer_id": "c9", "amount": D(5)},
        {"threshold_id": "unknown_metric", "metric": "bytes", "amount": D(5)},
        {"threshold_id": "twice", "amount": D(5)},
        {"threshold_id": "twice", "amount": D(6)},
    ]
    with duckdb.connect(str(database)) as connection:
        write_table(
            connection, "pricing", "usage_thresholds", PRICING_TABLES["usage_thresholds"], bad
        )
    one_level = "exactly one level: quantity, amount, or percentage with percent_of"
    assert failing_rows(database, CHECK, VARS) == sorted(
        [
            ("two_levels", one_level),
            ("no_level", one_level),
            ("pct_alone", one_level),
            ("over_100", "percentage must be above 0 and at most 100"),
            ("of_what", "percent_of must be included_units, minimum_commitment or credit_balance"),
            (
                "no_metric",
                "a quantity or included_units level needs a count or sum metric of events",
            ),
            ("negative", "the level must be above 0"),
            ("stranger", "unknown customer_id"),
            ("unknown_metric", "metric is not declared in usage_billing_metrics"),
            ("twice", "threshold_id must be unique"),
        ]
    )


def test_a_warehouse_without_the_thresholds_table_reports_no_crossing(
    scenario: Scenario, tmp_path: Path
) -> None:
    database = copy_of(scenario, tmp_path)
    with duckdb.connect(str(database)) as connection:
        connection.execute("drop table pricing.usage_thresholds")
    run_dbt(["build"], database, VARS)
    assert crossings(database) == {}
