"""The money scenario (tests/support/money_scenario.py, where each figure is worked out) on
DuckDB: credit drawn in priority order with one grant expiring, periods at local midnight
across summer-time changes, clamped card fees, proration on a plan change, a price's minimum
and maximum, a commitment, percentage tiers in yen and dinars. The portability suite builds
the same rows on Spark, PostgreSQL and fakesnow and compares them with DuckDB's: together, the
figures below hold on every engine."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from tests.support import money_scenario
from tests.support.warehouse_scenario import MARTS_SCHEMA, Scenario, build

D = Decimal


@pytest.fixture(scope="module")
def scenario(tmp_path_factory: pytest.TempPathFactory) -> Scenario:
    return build(
        Path(tmp_path_factory.mktemp("money")),
        money_scenario.EVENTS,
        money_scenario.PRICING,
        money_scenario.VARS,
    )


def lines(scenario: Scenario, invoice_id: str) -> list[tuple[Any, ...]]:
    return scenario.rows(
        f"""
        select line_type, description, tier, quantity, unit_price, amount
        from {MARTS_SCHEMA}.usage_billing__invoice_lines where invoice_id = ? order by line_number
        """,
        [invoice_id],
    )


def test_every_invoice_total_to_the_minor_unit(scenario: Scenario) -> None:
    invoices = scenario.rows(
        f"""
        select invoice_id, status, currency, period_start, period_end, subtotal, credits_applied,
            total
        from {MARTS_SCHEMA}.usage_billing__invoices order by invoice_id
        """
    )
    assert invoices == [
        (
            "sub_berlin/2024-03-01",
            "final",
            "EUR",
            datetime(2024, 2, 29, 23),
            datetime(2024, 3, 31, 22),
            D("7.25"),
            D(0),
            D("7.25"),
        ),
        (
            "sub_commitment/2024-03-01",
            "final",
            "USD",
            datetime(2024, 3, 1),
            datetime(2024, 4, 1),
            D(150),
            D(0),
            D(150),
        ),
        (
            "sub_kuwait/2024-03-01",
            "final",
            "KWD",
            datetime(2024, 2, 29, 21),
            datetime(2024, 3, 31, 21),
            D("15.433"),
            D(0),
            D("15.433"),
        ),
        (
            "sub_la_basic/2024-03-01",
            "final",
            "USD",
            datetime(2024, 3, 1, 8),
            datetime(2024, 3, 13, 7),
            D(15),
            D(0),
            D(15),
        ),
        (
            "sub_la_pro/2024-03-13",
            "final",
            "USD",
            datetime(2024, 3, 13, 7),
            datetime(2024, 4, 1, 7),
            D(48),
            D(0),
            D(48),
        ),
        (
            "sub_maximum/2024-03-01",
            "final",
            "USD",
            datetime(2024, 3, 1),
            datetime(2024, 4, 1),
            D(150),
            D(0),
            D(150),
        ),
        (
            "sub_micro/2024-03-01",
            "final",
            "USD",
            datetime(2024, 3, 1),
            datetime(2024, 4, 1),
            D("1219.30"),
            D(0),
            D("1219.30"),
        ),
        (
            "sub_minimum/2024-03-01",
            "final",
            "USD",
            datetime(2024, 3, 1),
            datetime(2024, 4, 1),
            D(25),
            D(0),
            D(25),
        ),
        (
            "sub_ny/2024-02-01",
            "final",
            "USD",
            datetime(2024, 2, 1, 5),
            datetime(2024, 3, 1, 5),
            D("36.96"),
            D("36.96"),
            D(0),
        ),
        (
            "sub_ny/2024-03-01",
            "final",
            "USD",
            datetime(2024, 3, 1, 5),
            datetime(2024, 4, 1, 4),
            D("77.43"),
            D(75),
            D("2.43"),
        ),
        (
            "sub_tokyo/2024-03-01",
            "final",
            "JPY",
            datetime(2024, 2, 29, 15),
            datetime(2024, 3, 31, 15),
            D(505),
            D(0),
            D(505),
        ),
    ]


def test_seat_hours_across_the_change_to_summer_time(scenario: Scenario) -> None:
    assert lines(scenario, "sub_ny/2024-03-01")[:2] == [
        ("usage", "Units", None, D(70), D(1), D(70)),
        ("usage", "Seat hours", None, D(743), D("0.01"), D("7.43")),
    ]
    assert lines(scenario, "sub_ny/2024-02-01")[:2] == [
        ("usage", "Units", None, D(30), D(1), D(30)),
        ("usage", "Seat hours", None, D(696), D("0.01"), D("6.96")),
    ]


def test_credit_drawn_in_priority_order_and_the_expired_grant_left(scenario: Scenario) -> None:
    draws = scenario.rows(
        f"""
        select invoice_id, credit_grant_id, amount
        from {MARTS_SCHEMA}.usage_billing__invoice_lines where line_type = 'credit'
        order by invoice_id, line_number
        """
    )
    assert draws == [
        ("sub_ny/2024-02-01", "gB", D("-36.96")),
        ("sub_ny/2024-03-01", "gC", D(-50)),
        ("sub_ny/2024-03-01", "gA", D(-25)),
    ]
    balances = scenario.rows(
        f"""
        select grant_id, granted_amount, used_amount, expired_amount, remaining_amount, status
        from {MARTS_SCHEMA}.usage_billing__credit_balances order by grant_id
        """
    )
    assert balances == [
        ("gA", D(25), D(25), D(0), D(0), "used_up"),
        ("gB", D(45), D("36.96"), D("8.04"), D(0), "expired"),
        ("gC", D(50), D(50), D(0), D(0), "used_up"),
        ("gD", D(10), D(0), D(0), D(10), "active"),
    ]


def test_card_fees_clamped_per_payment(scenario: Scenario) -> None:
    assert lines(scenario, "sub_berlin/2024-03-01") == [
        ("usage", "Card fees (3 transactions)", None, D(1055), D("0.029"), D("7.25")),
    ]


def test_a_price_of_ten_places_times_a_quantity_of_ten_keeps_its_cent(scenario: Scenario) -> None:
    """Exactly $1,219.3049999685...: rounded to the cent from all 20 places of the product, not
    from 6 (1,219.305000, a cent more), and the quantity keeps its 10th place after the free
    units are subtracted (money_scenario.py)."""
    assert lines(scenario, "sub_micro/2024-03-01") == [
        (
            "usage",
            "Tokens (first 0.5 free)",
            None,
            D("987691373.0000000001"),
            D("0.0000012345"),
            D("1219.30"),
        ),
    ]


def test_plan_change_prorated_on_both_sides(scenario: Scenario) -> None:
    assert lines(scenario, "sub_la_basic/2024-03-01") == [
        ("fee", "Basic fee (prorated 12/31 days)", None, D(1), D(12), D(12)),
        ("usage", "Units", None, D(3), D(1), D(3)),
    ]
    assert lines(scenario, "sub_la_pro/2024-03-13") == [
        ("fee", "Pro fee (prorated 19/31 days)", None, D(1), D(38), D(38)),
        ("usage", "Units", None, D(5), D(2), D(10)),
    ]


def test_price_minimum_maximum_and_commitment(scenario: Scenario) -> None:
    assert lines(scenario, "sub_minimum/2024-03-01") == [
        ("usage", "API calls", None, D(73), D("0.25"), D("18.25")),
        ("minimum_true_up", "Minimum charge true-up - API calls", None, D(1), D("6.75"), D("6.75")),
    ]
    assert lines(scenario, "sub_maximum/2024-03-01") == [
        ("usage", "API calls", None, D(4321), D("0.04"), D("172.84")),
        (
            "maximum_discount",
            "Maximum charge discount - API calls",
            None,
            D(1),
            D("-22.84"),
            D("-22.84"),
        ),
    ]
    assert lines(scenario, "sub_commitment/2024-03-01") == [
        ("fee", "Platform fee", None, D(1), D(40), D(40)),
        ("usage", "API calls", None, D(37), D("0.5"), D("18.5")),
        ("commitment_true_up", "Minimum commitment true-up", None, D(1), D("91.5"), D("91.5")),
    ]


def test_percentage_tiers_in_yen_and_dinars(scenario: Scenario) -> None:
    assert lines(scenario, "sub_tokyo/2024-03-01") == [
        ("usage", "Tier 1 - Payments", 1, D(10000), D("0.03"), D(300)),
        ("usage", "Tier 2 - Payments", 2, D(10225), D("0.02"), D(205)),
    ]
    assert lines(scenario, "sub_kuwait/2024-03-01") == [
        ("usage", "Tier 2 - Payments", 2, D("1234.6"), D("0.0125"), D("15.433")),
    ]


def test_usage_outside_every_period_is_unbilled(scenario: Scenario) -> None:
    """Events a second either side of a subscription's local-midnight bounds, and a payment in
    a currency the customer has no price for, stay out of every invoice (UTC dates)."""
    unbilled = scenario.rows(
        f"""
        select customer_id, reason, metric_name, usage_date, quantity
        from {MARTS_SCHEMA}.usage_billing__unbilled_usage order by all
        """
    )
    assert unbilled == [
        ("berlin_fees", "no_subscription", "volume_eur", date(2024, 2, 29), D(100)),
        ("berlin_fees", "no_subscription", "volume_eur", date(2024, 3, 31), D(60)),
        ("ny_credits", "no_subscription", "units", date(2024, 2, 1), D(100)),
        ("ny_credits", "no_subscription", "units", date(2024, 4, 1), D(5)),
        ("tokyo_jpy", "metric_not_priced", "volume_eur", date(2024, 3, 20), D(500)),
        ("tokyo_jpy", "no_subscription", "volume_jpy", date(2024, 2, 29), D(999)),
    ]
