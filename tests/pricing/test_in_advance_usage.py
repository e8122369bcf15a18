"""In-advance usage (issue 25, docs/pricing.md "In-advance usage") on real dbt builds: a seat
price charges the level in force at the period's start from the period's first instant, and
trues up the period's peak once the period has ended.

Scenario (USD, UTC, billing clock 2024-04-10 00:00, three days' grace: periods ending by 7 April
are final). Metric `seats`: latest of the `seats` property. Price `seats` (graduated, in
advance): seats 1–10 at $10, 11 and above at $8.
- c1 on plan `team` from 2024-01-01, monthly: reports 10 seats on 2024-01-05, 14 on
  2024-02-10, 12 on 2024-02-20.
  - January: no report before it, so the in-advance line charges 0 seats (tier 1: 0 × $10 =
    $0; the line shows). Peak 10: 10 × $10 = $100, true-up $100 - $0 = $100.
  - February: 10 carried in: 10 × $10 = $100 in advance. Peak 14: 10 × $10 + 4 × $8 = $132,
    true-up $132 - $100 = $32. The drop to 12 is not refunded.
  - March: 12 carried in: $100 + 2 × $8 = $116 in advance; no report, peak 12, no true-up.
  - April (live): 12 in advance, $116, already on the live invoice; no true-up yet.
- c2 on `team` from 2024-04-01: reports 10 seats on 2024-03-25 and 14 on 2024-04-05. Its April
  period is live: the invoice shows the 10 in advance ($100) and no true-up for the 14.
- c3 on plan `team_prorated` (the same tiers, prorated) from 2024-01-16: reports 5 seats on
  2024-01-10 (before the subscription: carried in) and 8 on 2024-01-20. January is cut to 16
  of 31 days: in advance 5 × $10 × 16/31 = 25.806… → $25.81 "(prorated 16/31 days)"; peak 8:
  $80 × 16/31 = 41.290… → $41.29; true-up $41.29 - $25.81 = $15.48. A $30 grant scoped to
  `seats` pays the $25.81 and $4.19 of the true-up: total $41.29 - $30 = $11.29.
- c4 on plan `gauge` from 2024-02-01: price `gauge_seats` (per_unit $3, in advance) on the
  time_weighted metric `gauge_seats`, reported 4 on 2024-02-15 and 7 on 2024-03-10. February:
  0 in advance ($0), peak 4: true-up $12. March: 4 carried in, $12 in advance; peak 7: $21,
  true-up $9.
- c5 on plan `regional` from 2024-02-01: metric `licences` (latest of `count`, grouped by
  `region`, divided by 10 and rounded up: packs of ten), priced in advance per pack: $5 for
  the `eu` group's own price, $2 for the default price, which pools every other region. Reports:
  eu 25 (3 packs) on 2024-01-20, us 40 (4 packs) on 2024-01-25, apac 12 (2 packs) on
  2024-02-05, us 50 (5 packs) on 2024-02-10, eu 31 (4 packs) on 2024-02-12. February, default:
  the pool's last report before it, us 40: 4 packs, $8 in advance; its peak 5 (apac's 2 is
  lower): $10, true-up $2. eu: 3 packs, $15 in advance; peak 4: $20, true-up $5.
"""

from __future__ import annotations

import json
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
)
from usage_billing.marts.figures import LineCells, line_cells
from usage_billing.marts.reader import MartsReader
from usage_billing.marts.relations import MartRelations
from usage_billing.warehouse.duckdb import DuckDBWarehouse

D = Decimal
CHECK = "assert_price_fields_match_pricing_model"
SEATS = {"name": "seats", "event_type": "seats", "aggregation": "latest", "property": "seats"}
VARS: dict[str, Any] = {
    "usage_billing_metrics": [
        SEATS,
        {"name": "gauge_seats", "event_type": "gauge", "aggregation": "time_weighted"}
        | {"property": "seats"},
        {"name": "calls", "event_type": "call", "aggregation": "count"},
        {"name": "licences", "event_type": "licence", "aggregation": "latest"}
        | {"property": "count", "group_by": ["region"], "divide_by": 10, "round": "up"},
    ],
    "usage_billing_as_of": "2024-04-10 00:00:00",
    "usage_billing_grace_days": 3,
}
SEAT_PRICE = {
    "metric": "seats",
    "currency": "USD",
    "pricing_model": "graduated",
    "description": "Seats",
    "effective_from": "2024-01-01",
    "billing_timing": "in_advance",
}


def seats(event_id: str, customer: str, at: str, count: int) -> tuple[Any, ...]:
    return (event_id, customer, "seats", at, json.dumps({"seats": count}), None)


EVENTS = [
    seats("e1", "c1", "2024-01-05T09:00:00Z", 10),
    seats("e2", "c1", "2024-02-10T09:00:00Z", 14),
    seats("e3", "c1", "2024-02-20T09:00:00Z", 12),
    seats("e4", "c2", "2024-03-25T09:00:00Z", 10),
    seats("e5", "c2", "2024-04-05T09:00:00Z", 14),
    seats("e6", "c3", "2024-01-10T09:00:00Z", 5),
    seats("e7", "c3", "2024-01-20T09:00:00Z", 8),
    ("e8", "c4", "gauge", "2024-02-15T09:00:00Z", json.dumps({"seats": 4}), None),
    ("e9", "c4", "gauge", "2024-03-10T09:00:00Z", json.dumps({"seats": 7}), None),
    *[
        (f"l{number}", "c5", "licence", at, json.dumps({"count": count, "region": region}), None)
        for number, (at, region, count) in enumerate(
            [
                ("2024-01-20T09:00:00Z", "eu", 25),
                ("2024-01-25T09:00:00Z", "us", 40),
                ("2024-02-05T09:00:00Z", "apac", 12),
                ("2024-02-10T09:00:00Z", "us", 50),
                ("2024-02-12T09:00:00Z", "eu", 31),
            ]
        )
    ],
]


def pricing() -> Pricing:
    tables = Pricing()
    for customer, plan, start in [
        ("c1", "team", "2024-01-01"),
        ("c2", "team", "2024-04-01"),
        ("c3", "team_prorated", "2024-01-16"),
        ("c4", "gauge", "2024-02-01"),
        ("c5", "regional", "2024-02-01"),
    ]:
        tables.customers.append({"customer_id": customer, "name": customer.upper()})
        tables.customer_aliases.append({"alias": customer, "customer_id": customer})
        tables.subscriptions.append(
            {"subscription_id": f"{customer}_sub", "customer_id": customer, "plan_id": plan}
            | {"currency": "USD", "start_date": start, "billing_anchor_day": 1}
        )
    tables.plans += [{"plan_id": "team"}, {"plan_id": "team_prorated"}, {"plan_id": "gauge"}]
    tables.plans.append({"plan_id": "regional"})
    tables.prices += [
        {"price_id": "seats", "plan_id": "team", **SEAT_PRICE},
        {"price_id": "seats_prorated", "plan_id": "team_prorated", "prorate": True, **SEAT_PRICE},
        {"price_id": "gauge_seats", "plan_id": "gauge", **SEAT_PRICE}
        | {"metric": "gauge_seats", "pricing_model": "per_unit", "unit_price": D(3)}
        | {"description": "Gauge seats"},
    ]
    licences = {
        **SEAT_PRICE,
        "plan_id": "regional",
        "metric": "licences",
        "pricing_model": "per_unit",
    }
    tables.prices += [
        {"price_id": "licences_default", "unit_price": D(2), **licences}
        | {"description": "Licences"},
        {"price_id": "licences_eu", "unit_price": D(5), "group_value": "eu", **licences}
        | {"description": "Licences EU"},
    ]
    for price_id in ["seats", "seats_prorated"]:
        tables.price_tiers += [
            {"price_id": price_id, "tier": 1, "up_to": D(10), "unit_price": D(10)},
            {"price_id": price_id, "tier": 2, "up_to": None, "unit_price": D(8)},
        ]
    tables.credit_grants.append(
        {"grant_id": "seat_credit", "customer_id": "c3", "currency": "USD", "amount": D(30)}
        | {"granted_at": "2024-01-01 00:00:00", "metric": "seats"}
    )
    return tables


@pytest.fixture(scope="module")
def scenario(tmp_path_factory: pytest.TempPathFactory) -> Scenario:
    return build(Path(tmp_path_factory.mktemp("in_advance_usage")), EVENTS, pricing(), VARS)


def lines(scenario: Scenario, invoice_id: str) -> list[tuple[Any, ...]]:
    return scenario.rows(
        "select line_type, billing_timing, description, tier, quantity, amount"
        f" from {MARTS_SCHEMA}.usage_billing__invoice_lines where invoice_id = ?"
        " order by line_number",
        [invoice_id],
    )


def test_a_first_period_charges_zero_in_advance_and_trues_up_its_peak(scenario: Scenario) -> None:
    assert lines(scenario, "c1_sub/2024-01-01") == [
        ("usage", "in_advance", "Tier 1 - Seats", 1, D(0), D(0)),
        ("usage_true_up", "in_arrears", "Seats increase true-up", None, D(1), D(100)),
    ]


def test_a_period_charges_its_carried_in_level_and_trues_up_the_increase(
    scenario: Scenario,
) -> None:
    assert lines(scenario, "c1_sub/2024-02-01") == [
        ("usage", "in_advance", "Tier 1 - Seats", 1, D(10), D(100)),
        ("usage_true_up", "in_arrears", "Seats increase true-up", None, D(1), D(32)),
    ]


def test_a_decrease_is_not_refunded_but_lowers_the_next_period(scenario: Scenario) -> None:
    expected = [
        ("usage", "in_advance", "Tier 1 - Seats", 1, D(10), D(100)),
        ("usage", "in_advance", "Tier 2 - Seats", 2, D(2), D(16)),
    ]
    assert lines(scenario, "c1_sub/2024-03-01") == expected
    # April is live: the level carried in is already on its invoice.
    assert lines(scenario, "c1_sub/2024-04-01") == expected


def test_a_live_invoice_shows_the_start_level_and_no_true_up_yet(scenario: Scenario) -> None:
    assert lines(scenario, "c2_sub/2024-04-01") == [
        ("usage", "in_advance", "Tier 1 - Seats", 1, D(10), D(100)),
    ]
    (status,) = scenario.rows(
        f"select status from {MARTS_SCHEMA}.usage_billing__invoices where invoice_id = ?",
        ["c2_sub/2024-04-01"],
    )[0]
    assert status == "live"


def test_a_cut_period_is_prorated_and_metric_credit_pays_the_true_up(scenario: Scenario) -> None:
    assert lines(scenario, "c3_sub/2024-01-16") == [
        ("usage", "in_advance", "Tier 1 - Seats (prorated 16/31 days)", 1, D(5), D("25.81")),
        ("usage_true_up", "in_arrears", "Seats increase true-up", None, D(1), D("15.48")),
        ("credit", None, "Prepaid credit seat_credit (Seats only)", None, D(1), D(-30)),
    ]
    (total,) = scenario.rows(
        f"select total from {MARTS_SCHEMA}.usage_billing__invoices where invoice_id = ?",
        ["c3_sub/2024-01-16"],
    )[0]
    assert total == D("11.29")


def test_a_time_weighted_level_is_charged_in_advance_too(scenario: Scenario) -> None:
    assert lines(scenario, "c4_sub/2024-02-01") == [
        ("usage", "in_advance", "Gauge seats", None, D(0), D(0)),
        ("usage_true_up", "in_arrears", "Gauge seats increase true-up", None, D(1), D(12)),
    ]
    assert lines(scenario, "c4_sub/2024-03-01") == [
        ("usage", "in_advance", "Gauge seats", None, D(4), D(12)),
        ("usage_true_up", "in_arrears", "Gauge seats increase true-up", None, D(1), D(9)),
    ]


def test_levels_are_converted_and_grouped_as_the_metric_is(scenario: Scenario) -> None:
    true_up = ("usage_true_up", "in_arrears", "Licences increase true-up", None, D(1))
    assert lines(scenario, "c5_sub/2024-02-01") == [
        ("usage", "in_advance", "Licences", None, D(4), D(8)),
        (*true_up, D(2)),
        ("usage", "in_advance", "Licences EU", None, D(3), D(15)),
        (*true_up, D(5)),
    ]


def test_the_true_up_reads_as_an_amount_on_the_card(scenario: Scenario) -> None:
    """On the page, in the CLI and in the PDF (line_cells): the in-advance tier line as any tier
    line, the true-up as the amount it settles, without a quantity or rate to repeat it."""
    with duckdb.connect(str(scenario.database), read_only=True) as connection:
        reader = MartsReader(DuckDBWarehouse(connection), MartRelations.in_schema(MARTS_SCHEMA))
        february = reader.invoice("c1_sub/2024-02-01")
    assert february is not None
    [in_advance, true_up] = [line_cells(line, february) for line in february.lines]
    assert (in_advance.quantity, in_advance.amount) == ("10", "$100.00")
    assert true_up == LineCells("Seats increase true-up", "", "", "$32.00")


def test_in_advance_usage_needs_a_level_metric_and_a_unit_pricing_model(tmp_path: Path) -> None:
    tables = pricing()
    usage = {"currency": "USD", "effective_from": "2024-01-01", "plan_id": "team"}
    tables.prices += [
        {"price_id": "calls_in_advance", "metric": "calls", "pricing_model": "per_unit"}
        | {"unit_price": D(1), "billing_timing": "in_advance", **usage},
        {"price_id": "calls_prorated", "metric": "calls", "pricing_model": "per_unit"}
        | {"unit_price": D(1), "prorate": True, **usage},
    ]
    with pytest.raises(DbtFailedError, match=f"{CHECK}: fail"):
        build(tmp_path, EVENTS, tables, VARS)
    failures = failing_rows(tmp_path / "warehouse.duckdb", CHECK, VARS)
    problem = (
        "in_advance usage needs a per_unit, graduated, volume or package price on a latest or"
        " time_weighted metric; prorate needs in_advance"
    )
    assert failures == [("calls_in_advance", problem), ("calls_prorated", problem)]
