"""unbilled_usage on a real `dbt build`, against rows worked out by hand: usage before a
subscription starts, after it ends, of a customer without one, of a metric or group the plan does
not price, after the billing clock, a gauge's levels, events that count toward no metric; the
billed events on their invoices; and the reconciliation test failing when the account does not
balance."""

from __future__ import annotations

import shutil
from datetime import date, datetime
from decimal import Decimal
from functools import partial
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
    run_dbt,
)

D = Decimal
LOADED = "2024-03-10 00:00:00"
AS_OF = "2024-03-15 00:00:00"
RECONCILIATION = "assert_every_event_is_billed_rejected_or_unbilled"

METRICS: list[dict[str, Any]] = [
    {"name": "api_calls", "event_type": "api_call", "aggregation": "count"},
    # Priced by no plan.
    {"name": "storage_gb", "event_type": "storage", "aggregation": "max", "property": "gb"},
    {
        "name": "eur_volume",
        "event_type": "payment",
        "aggregation": "sum",
        "property": "amount",
        "filter": {"currency": "EUR"},
        "group_by": ["method"],
    },
    {
        "name": "seats",
        "event_type": "seats",
        "aggregation": "time_weighted",
        "property": "seats",
        "time_unit": "day",
    },
]


def _event(
    event_id: str, alias: str, event_type: str, at: str, properties: str = "{}"
) -> tuple[Any, ...]:
    return (event_id, alias, event_type, at, properties, LOADED)


# cus_a (UTC): sub_a from 10 January to 1 March 2024 (exclusive), periods [Jan 10, Feb 1) and
# [Feb 1, Mar 1). cus_b: no subscription. cus_c (Europe/Berlin): sub_c from 1 February local,
# open-ended: [Jan 31 23:00Z, Feb 29 23:00Z) and the live [Feb 29 23:00Z, Mar 31 22:00Z).
# The billing clock is 15 March.
EVENTS = [
    _event("a1", "a", "api_call", "2024-01-09T23:59:59Z"),  # a second before sub_a starts
    _event("a2", "a", "api_call", "2024-01-10T00:00:00Z"),  # billed, January
    _event("a3", "a", "api_call", "2024-01-20T12:00:00Z"),  # billed, January
    _event("a4", "a", "api_call", "2024-02-29T23:59:59Z"),  # billed, February
    _event("a5", "a", "api_call", "2024-03-01T00:00:00Z"),  # the instant sub_a ends
    _event("a6", "a", "api_call", "2024-03-01T08:00:00Z"),  # after the end, same day
    _event("a7", "a", "api_call", "2024-03-20T00:00:00Z"),  # after the clock, no period
    _event("s1", "a", "storage", "2024-01-15T01:00:00Z", '{"gb": 10}'),
    _event("s2", "a", "storage", "2024-01-15T02:00:00Z", '{"gb": 40}'),
    _event("s3", "a", "storage", "2024-01-16T00:00:00Z", '{"gb": 5}'),
    _event("s4", "a", "storage", "2024-01-05T00:00:00Z", '{"gb": 99}'),  # before sub_a too
    _event(
        "p1",
        "a",
        "payment",
        "2024-01-12T00:00:00Z",
        '{"amount": 100, "currency": "EUR", "method": "card"}',
    ),
    # bank has no price of its own: pooled into the default price, billed.
    _event(
        "p2",
        "a",
        "payment",
        "2024-01-12T01:00:00Z",
        '{"amount": 50.25, "currency": "EUR", "method": "bank"}',
    ),
    # US dollars: the euro metric filters them out, no other metric reads payments.
    _event(
        "p3",
        "a",
        "payment",
        "2024-01-12T02:00:00Z",
        '{"amount": 70, "currency": "USD", "method": "card"}',
    ),
    _event(
        "p4",
        "a",
        "payment",
        "2024-01-13T00:00:00Z",
        '{"amount": 30, "currency": "USD", "method": "bank"}',
    ),
    _event(
        "p5",
        "a",
        "payment",
        "2024-03-02T00:00:00Z",
        '{"amount": 20, "currency": "EUR", "method": "card"}',
    ),
    _event("o1", "a", "page_view", "2024-01-12T03:00:00Z"),  # a type no metric reads
    # Gauge: 3 seats replaced before sub_a starts; 5 carried into January; 7 from 25 January
    # to 5 March; 9 from 5 March, after sub_a ended.
    _event("g1", "a", "seats", "2024-01-01T00:00:00Z", '{"seats": 3}'),
    _event("g2", "a", "seats", "2024-01-08T00:00:00Z", '{"seats": 5}'),
    _event("g3", "a", "seats", "2024-01-25T00:00:00Z", '{"seats": 7}'),
    _event("g4", "a", "seats", "2024-03-05T00:00:00Z", '{"seats": 9}'),
    _event("b1", "b", "api_call", "2024-02-10T00:00:00Z"),
    _event("b2", "b", "api_call", "2024-02-10T05:00:00Z"),
    # One UTC day, 31 January: a second before Berlin's midnight, then at it.
    _event("c1", "c", "api_call", "2024-01-31T22:59:59Z"),
    _event("c2", "c", "api_call", "2024-01-31T23:00:00Z"),
    # After the clock but in the live period: a live invoice counts it.
    _event("c3", "c", "api_call", "2024-03-20T00:00:00Z"),
    # card_only prices card and has no default price: bank is billed nowhere.
    _event(
        "c4",
        "c",
        "payment",
        "2024-02-05T00:00:00Z",
        '{"amount": 80, "currency": "EUR", "method": "bank"}',
    ),
    _event(
        "c5",
        "c",
        "payment",
        "2024-02-05T01:00:00Z",
        '{"amount": 60, "currency": "EUR", "method": "card"}',
    ),
    _event("c6", "c", "seats", "2024-02-02T00:00:00Z", '{"seats": 2}'),
    # Two reports at the live period's first instant: c9a (the smaller id) is replaced at once.
    _event("c9a", "c", "seats", "2024-02-29T23:00:00Z", '{"seats": 6}'),
    _event("c9b", "c", "seats", "2024-02-29T23:00:00Z", '{"seats": 8}'),
    # A level reported after the clock is not held yet, though its period prices seats.
    _event("c7", "c", "seats", "2024-03-16T00:00:00Z", '{"seats": 4}'),
    _event("x1", "nobody", "api_call", "2024-01-20T00:00:00Z"),  # rejected: unknown_customer
]


def _price(
    price_id: str, plan_id: str, metric: str, unit_price: str, group: str | None = None
) -> dict[str, Any]:
    return {
        "price_id": price_id,
        "plan_id": plan_id,
        "metric": metric,
        "pricing_model": "per_unit",
        "description": price_id,
        "unit_price": D(unit_price),
        "group_value": group,
        "effective_from": "2020-01-01",
    }


PRICING = Pricing(
    customers=[
        {"customer_id": "cus_a", "name": "A", "timezone": "UTC"},
        {"customer_id": "cus_b", "name": "B", "timezone": "UTC"},
        {"customer_id": "cus_c", "name": "C", "timezone": "Europe/Berlin"},
    ],
    customer_aliases=[
        {"alias": "a", "customer_id": "cus_a"},
        {"alias": "b", "customer_id": "cus_b"},
        {"alias": "c", "customer_id": "cus_c"},
    ],
    plans=[
        {"plan_id": "metered", "name": "Metered"},
        {"plan_id": "card_only", "name": "Card only"},
    ],
    subscriptions=[
        {
            "subscription_id": "sub_a",
            "customer_id": "cus_a",
            "plan_id": "metered",
            "currency": "EUR",
            "start_date": "2024-01-10",
            "end_date": "2024-03-01",
        },
        {
            "subscription_id": "sub_c",
            "customer_id": "cus_c",
            "plan_id": "card_only",
            "currency": "EUR",
            "start_date": "2024-02-01",
        },
    ],
    prices=[
        _price("api", "metered", "api_calls", "0.10"),
        _price("volume_card", "metered", "eur_volume", "0.01", "card"),
        _price("volume_other", "metered", "eur_volume", "0.02"),
        _price("seats", "metered", "seats", "1"),
        _price("c_api", "card_only", "api_calls", "0.10"),
        _price("c_volume_card", "card_only", "eur_volume", "0.01", "card"),
        _price("c_seats", "card_only", "seats", "1"),
    ],
)

VARS = {"usage_billing_metrics": METRICS, "usage_billing_as_of": AS_OF}


@pytest.fixture(scope="module")
def scenario(tmp_path_factory: pytest.TempPathFactory) -> Scenario:
    # The build runs every data test, the reconciliation too: it passing is the first check.
    return build(Path(tmp_path_factory.mktemp("unbilled")), EVENTS, PRICING, VARS)


def _row(
    customer: str,
    reason: str,
    metric: str | None,
    group: str | None,
    event_type: str | None,
    day: str,
    event_count: int,
    quantity: int | None,
    first_at: str,
    last_at: str | None = None,
) -> tuple[Any, ...]:
    """An unbilled_usage row; the first and last event are at these times (UTC) of `day`."""
    return (
        customer,
        reason,
        metric,
        group,
        event_type,
        date.fromisoformat(day),
        event_count,
        None if quantity is None else D(quantity),
        datetime.fromisoformat(f"{day} {first_at}"),
        datetime.fromisoformat(f"{day} {last_at or first_at}"),
    )


def test_unbilled_rows(scenario: Scenario) -> None:
    rows = scenario.rows(
        f"""
        select customer_id, reason, metric_name, group_value, event_type, usage_date,
            event_count, quantity, first_event_at, last_event_at
        from {MARTS_SCHEMA}.usage_billing__unbilled_usage
        order by customer_id, usage_date, reason, metric_name, event_type
        """
    )
    a, b, c = (partial(_row, customer) for customer in ["cus_a", "cus_b", "cus_c"])
    # fmt: off
    assert rows == [
        # g1: 3 seats, replaced by g2 before sub_a starts (g2 carries into January: billed).
        a("no_subscription", "seats", None, None, "2024-01-01", 1, 3, "00:00"),
        # s4, 99 GB before sub_a starts: no period holds it, so not metric_not_priced.
        a("no_subscription", "storage_gb", None, None, "2024-01-05", 1, 99, "00:00"),
        # a1, a second before the start.
        a("no_subscription", "api_calls", None, None, "2024-01-09", 1, 1, "23:59:59"),
        # p3 (USD) and o1 (page_view) on 12 January: one row per event type; p4 the next day.
        a("matches_no_metric", None, None, "page_view", "2024-01-12", 1, None, "03:00"),
        a("matches_no_metric", None, None, "payment", "2024-01-12", 1, None, "02:00"),
        a("matches_no_metric", None, None, "payment", "2024-01-13", 1, None, "00:00"),
        # s1 and s2: the day's max is 40 GB, not 10 + 40; s3, 5 GB the next day.
        a("metric_not_priced", "storage_gb", None, None, "2024-01-15", 2, 40, "01:00", "02:00"),
        a("metric_not_priced", "storage_gb", None, None, "2024-01-16", 1, 5, "00:00"),
        # a5 at the very instant sub_a ends (the end is exclusive) and a6 that morning.
        a("no_subscription", "api_calls", None, None, "2024-03-01", 2, 2, "00:00", "08:00"),
        # p5, 20 EUR by card the day after the end, in the event's own group.
        a("no_subscription", "eur_volume", "card", None, "2024-03-02", 1, 20, "00:00"),
        # g4: 9 seats from 5 March, held in no period of sub_a.
        a("no_subscription", "seats", None, None, "2024-03-05", 1, 9, "00:00"),
        # a7 on 20 March, after the clock of 15 March: no period started by then holds it.
        a("after_billing_clock", "api_calls", None, None, "2024-03-20", 1, 1, "00:00"),
        # b1 and b2: cus_b has no subscription at all.
        b("no_subscription", "api_calls", None, None, "2024-02-10", 2, 2, "00:00", "05:00"),
        # c1 a second before midnight in Berlin (23:00 UTC); c2 on the same UTC day is billed.
        c("no_subscription", "api_calls", None, None, "2024-01-31", 1, 1, "22:59:59"),
        # c4, 80 EUR by bank: card_only prices card alone and has no default price to pool it.
        c("group_not_priced", "eur_volume", "bank", None, "2024-02-05", 1, 80, "00:00"),
        # c9a, 6 seats at 23:00 UTC on 29 February, replaced at once by c9b's 8.
        c("replaced_at_same_instant", "seats", None, None, "2024-02-29", 1, 6, "23:00"),
        # c7, 4 seats on 16 March: in the live period, which prices seats, but after the clock.
        c("after_billing_clock", "seats", None, None, "2024-03-16", 1, 4, "00:00"),
    ]
    # fmt: on


def test_billed_events_are_on_their_invoices(scenario: Scenario) -> None:
    usage = scenario.rows(
        f"""
        select invoice_id, metric_name, group_value, quantity, event_count
        from {MARTS_SCHEMA}.usage_billing__billable_usage
        order by invoice_id, metric_name, group_value nulls first
        """
    )
    assert [row for row in usage if row[1] != "seats" or row[0].startswith("sub_a")] == [
        ("sub_a/2024-01-10", "api_calls", None, D(2), 2),  # a2, a3
        ("sub_a/2024-01-10", "eur_volume", None, D("50.25"), 1),  # p2, bank pooled
        ("sub_a/2024-01-10", "eur_volume", "card", D(100), 1),  # p1
        # 5 seats (g2, carried in) 10 to 25 January, 7 (g3) to 1 February: 75 + 49.
        ("sub_a/2024-01-10", "seats", None, D(124), 2),
        ("sub_a/2024-02-01", "api_calls", None, D(1), 1),  # a4
        ("sub_a/2024-02-01", "eur_volume", None, D(0), 0),
        ("sub_a/2024-02-01", "eur_volume", "card", D(0), 0),
        ("sub_a/2024-02-01", "seats", None, D(203), 1),  # 7 seats, 29 days
        ("sub_c/2024-02-01", "api_calls", None, D(1), 1),  # c2
        ("sub_c/2024-02-01", "eur_volume", "card", D(60), 1),  # c5; c4 (bank) nowhere
        ("sub_c/2024-03-01", "api_calls", None, D(1), 1),  # c3, after the clock, live
        ("sub_c/2024-03-01", "eur_volume", "card", D(0), 0),
    ]
    # Gauge levels per period: c6 in February; c9b (not c9a, nor c7 after the clock) in March.
    assert [
        (row[0], row[4]) for row in usage if row[1] == "seats" and row[0].startswith("sub_c")
    ] == [
        ("sub_c/2024-02-01", 1),
        ("sub_c/2024-03-01", 1),
    ]
    lines = scenario.rows(
        f"""
        select metric_name, group_value, quantity, amount
        from {MARTS_SCHEMA}.usage_billing__invoice_lines
        where invoice_id = 'sub_a/2024-01-10' order by line_number
        """
    )
    assert lines == [
        ("api_calls", None, D(2), D("0.20")),
        ("seats", None, D(124), D("124.00")),
        ("eur_volume", "card", D(100), D("1.00")),
        ("eur_volume", None, D("50.25"), D("1.01")),  # 1.005 rounded half-up
    ]


def test_every_event_is_accounted_for(scenario: Scenario) -> None:
    """33 raw rows: x1 rejected; of the 32 accepted, 3 match no metric, the rest are billed or
    unbilled per metric."""
    (rejected,) = scenario.rows(
        f"select count(*) from {MARTS_SCHEMA}.usage_billing__usage_events_rejected"
    )
    assert rejected == (1,)
    by_metric = dict(
        scenario.rows(
            f"""
            select coalesce(metric_name, '-'), sum(event_count)
            from {MARTS_SCHEMA}.usage_billing__unbilled_usage
            group by metric_name
            """
        )
    )
    # api_calls: a1, a5, a6, a7, b1, b2, c1 of 12 (a2, a3, a4, c2, c3 billed); storage_gb all 4;
    # eur_volume: p5 and c4 of 5 (p1, p2, c5 billed); seats: g1, g4, c9a, c7 of 8.
    assert by_metric == {"api_calls": 7, "storage_gb": 4, "eur_volume": 2, "seats": 4, "-": 3}


def _broken_copy(scenario: Scenario, directory: Path, statement: str) -> Path:
    directory.mkdir()
    database = directory / "warehouse.duckdb"
    shutil.copy(scenario.database, database)
    with duckdb.connect(str(database)) as connection:
        changed = connection.execute(statement).fetchall()
    assert changed == [(1,)], "the statement should change exactly one row"
    return database


RAW = "raw rows = accepted + rejected"
ACCEPTED = "accepted events = matched + matches_no_metric"
METRIC = "metric rows = billed + unbilled"
GAUGE = "gauge period event_count = levels held in it"


@pytest.mark.parametrize(
    ("statement", "unbalanced"),
    [
        pytest.param(
            f"delete from {MARTS_SCHEMA}.usage_billing__unbilled_usage where usage_date ="
            " '2024-01-09'",
            # 12 api_calls matched - 5 billed - 6 still listed.
            [(METRIC, "cus_a", "api_calls", None, 1)],
            id="a1-unbilled-row-lost",
        ),
        pytest.param(
            f"delete from {MARTS_SCHEMA}.usage_billing__unbilled_usage where usage_date ="
            " '2024-01-13'",
            # cus_a: 21 accepted - 18 matched to a metric - 2 left listed as matching none.
            [(ACCEPTED, "cus_a", None, None, 1)],
            id="p4-matching-no-metric-lost",
        ),
        pytest.param(
            f"update {MARTS_SCHEMA}.usage_billing__billable_usage set event_count = 3"
            " where invoice_id = 'sub_a/2024-01-10' and metric_name = 'api_calls'",
            # 12 - (3 + 1 billed) - 7 unbilled: one event too many on the invoices.
            [(METRIC, "cus_a", "api_calls", None, -1)],
            id="billed-twice",
        ),
        pytest.param(
            f"update {MARTS_SCHEMA}.usage_billing__billable_usage set event_count = 2"
            " where invoice_id = 'sub_a/2024-02-01' and metric_name = 'seats'",
            # February holds one level, g3's.
            [(GAUGE, None, "seats", "sub_a/2024-02-01", -1)],
            id="gauge-level-counted-twice",
        ),
        pytest.param(
            f"delete from {MARTS_SCHEMA}.usage_billing__int_usage_events_validated where"
            " event_key = 'a2'",
            # 33 raw - 31 accepted - 1 rejected; cus_a: 20 accepted - 18 matched - 3.
            [(ACCEPTED, "cus_a", None, None, -1), (RAW, None, None, None, 1)],
            id="accepted-event-lost",
        ),
    ],
)
def test_reconciliation_fails_when_the_account_does_not_balance(
    scenario: Scenario, tmp_path: Path, statement: str, unbalanced: list[tuple[Any, ...]]
) -> None:
    database = _broken_copy(scenario, tmp_path / "broken", statement)
    test_vars = {**VARS, "usage_billing_pricing_schema": "pricing"}
    with pytest.raises(DbtFailedError, match=f"{RECONCILIATION}: fail"):
        run_dbt(["test", "--select", RECONCILIATION, "--store-failures"], database, test_vars)
    with duckdb.connect(str(database), read_only=True) as connection:
        failures = connection.execute(
            f"select * from billing_dbt_test__audit.{RECONCILIATION} order by account_name"
        ).fetchall()
    assert failures == unbalanced


def test_reconciliation_passes_on_the_untouched_copy(scenario: Scenario, tmp_path: Path) -> None:
    """The failures above come from the change, not from running the test on a copy."""
    database = _broken_copy(
        scenario,
        tmp_path / "copy",
        f"update {MARTS_SCHEMA}.usage_billing__unbilled_usage set event_count = event_count"
        " where usage_date = '2024-01-09'",
    )
    run_dbt(
        ["test", "--select", RECONCILIATION],
        database,
        {**VARS, "usage_billing_pricing_schema": "pricing"},
    )
