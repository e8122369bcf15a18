"""Every metric option on a real `dbt build`, against hand-computed quantities: each
aggregation over whole periods, each kind of filter, a two-dimension matrix price with its
fallback, metrics read from relations that hold no events, conversions and bad values."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from tests.support.warehouse_scenario import MARTS_SCHEMA, Pricing, Scenario, build

D = Decimal
LOADED = "2024-03-01 00:00:00"
JANUARY = "sub_1/2024-01-01"
FEBRUARY = "sub_1/2024-02-01"


def _event(event_id: str, event_type: str, at: str, properties: str) -> tuple[Any, ...]:
    return (event_id, "c1", event_type, at, properties, LOADED)


EVENTS = [
    # count_distinct across days and periods.
    _event("u1", "login", "2024-01-01T10:00:00Z", '{"user": "a"}'),
    _event("u2", "login", "2024-01-02T10:00:00Z", '{"user": "a"}'),
    _event("u3", "login", "2024-01-02T11:00:00Z", '{"user": "b"}'),
    _event("u4", "login", "2024-01-31T23:00:00Z", '{"user": "c"}'),
    _event("u5", "login", "2024-02-01T00:00:00Z", '{"user": "a"}'),
    # max / min / avg / custom over the month, not over days.
    _event("g1", "storage", "2024-01-05T00:00:00Z", '{"gb": 10}'),
    _event("g2", "storage", "2024-01-06T00:00:00Z", '{"gb": 25}'),
    _event("g3", "storage", "2024-01-20T00:00:00Z", '{"gb": 8}'),
    # latest in the period, by timestamp (not load order).
    _event("l2", "plan", "2024-01-28T00:00:00Z", '{"seats": 8}'),
    _event("l1", "plan", "2024-01-03T00:00:00Z", '{"seats": 5}'),
    _event("l3", "plan", "2024-02-10T00:00:00Z", '{"seats": 6}'),
    # A gauge: 4 seats reported before the subscription, 10 from 11 January on.
    _event("s1", "seats", "2023-12-20T00:00:00Z", '{"seats": 4}'),
    _event("s2", "seats", "2024-01-11T00:00:00Z", '{"seats": 10}'),
    # latest skips a null value: January's last report has none, nor has February's only one.
    _event("q1", "quota", "2024-01-04T00:00:00Z", '{"limit": 7}'),
    _event("q2", "quota", "2024-01-25T08:00:00Z", '{"limit": 9}'),
    _event("q3", "quota", "2024-01-25T20:00:00Z", '{"limit": null}'),
    _event("q4", "quota", "2024-02-05T00:00:00Z", '{"limit": null}'),
    # Exact division rounds half-up at the 10th decimal: an average of 5/3, and a gauge of
    # 10 nodes reported before January and 18 from 12 January on.
    _event("c1", "cpu", "2024-01-02T00:00:00Z", '{"cores": 1}'),
    _event("c2", "cpu", "2024-01-03T00:00:00Z", '{"cores": 2}'),
    _event("c3", "cpu", "2024-01-04T00:00:00Z", '{"cores": 2}'),
    _event("n1", "nodes", "2023-12-20T00:00:00Z", '{"nodes": 10}'),
    _event("n2", "nodes", "2024-01-12T00:00:00Z", '{"nodes": 18}'),
    # Payments for filters and the matrix.
    _event(
        "p1",
        "payment",
        "2024-01-07T00:00:00Z",
        '{"amount": 50, "currency": "EUR", "method": "card", "card": {"brand": "visa"},'
        ' "coupon": "X", "env": "prod"}',
    ),
    _event(
        "p2",
        "payment",
        "2024-01-08T00:00:00Z",
        '{"amount": 100, "currency": "EUR", "method": "card", "card": {"brand": "mc"},'
        ' "env": "test"}',
    ),
    _event(
        "p3",
        "payment",
        "2024-01-09T00:00:00Z",
        '{"amount": 999.99, "currency": "GBP", "method": "card", "card": {"brand": "visa"}}',
    ),
    _event(
        "p4",
        "payment",
        "2024-01-10T00:00:00Z",
        '{"amount": 1000, "currency": "USD", "method": "bank", "env": "staging", "coupon": "Y"}',
    ),
    _event(
        "p5",
        "payment",
        "2024-01-11T00:00:00Z",
        '{"amount": 20, "currency": "EUR", "method": "bank"}',
    ),
    _event("p6", "payment", "2024-01-12T00:00:00Z", '{"amount": 5, "currency": "EUR"}'),
    # Bytes to convert; and a value that is not a number.
    _event("b1", "transfer", "2024-01-13T00:00:00Z", '{"bytes": 1250000000}'),
    _event("b2", "transfer", "2024-01-14T00:00:00Z", '{"bytes": 200000000}'),
    _event("b3", "transfer", "2024-01-15T00:00:00Z", '{"bytes": "lots"}'),
]

PAID_ORDERS_DESCRIPTION = "The shop's paid orders, from C:\\shop\\orders.csv"
METRICS: list[dict[str, Any]] = [
    {
        "name": "active_users",
        "event_type": "login",
        "aggregation": "count_distinct",
        "property": "user",
    },
    {"name": "peak_gb", "event_type": "storage", "aggregation": "max", "property": "gb"},
    {"name": "low_gb", "event_type": "storage", "aggregation": "min", "property": "gb"},
    {"name": "mean_gb", "event_type": "storage", "aggregation": "avg", "property": "gb"},
    {
        "name": "gb_range",
        "event_type": "storage",
        "aggregation": "custom",
        "property": "gb",
        "expression": "max(metric_value) - min(metric_value)",
    },
    {"name": "plan_seats", "event_type": "plan", "aggregation": "latest", "property": "seats"},
    {"name": "seats", "event_type": "seats", "aggregation": "time_weighted", "property": "seats"},
    {"name": "quota_limit", "event_type": "quota", "aggregation": "latest", "property": "limit"},
    {"name": "quota_total", "event_type": "quota", "aggregation": "sum", "property": "limit"},
    {"name": "mean_cores", "event_type": "cpu", "aggregation": "avg", "property": "cores"},
    {"name": "nodes", "event_type": "nodes", "aggregation": "time_weighted", "property": "nodes"},
    {
        "name": "seat_days",
        "event_type": "seats",
        "aggregation": "time_weighted",
        "property": "seats",
        "time_unit": "day",
    },
    {
        "name": "card_volume",
        "event_type": "payment",
        "aggregation": "sum",
        "property": "amount",
        "filter": {"method": "card", "currency": ["EUR", "GBP"]},
    },
    {
        "name": "not_test",
        "event_type": "payment",
        "aggregation": "count",
        "filter": {"env": {"not_in": ["test", "staging"]}},
    },
    {
        "name": "with_coupon",
        "event_type": "payment",
        "aggregation": "count",
        "filter": {"coupon": {"exists": True}},
    },
    {
        "name": "without_coupon",
        "event_type": "payment",
        "aggregation": "count",
        "filter": {"coupon": {"exists": False}},
    },
    {
        "name": "mid_payments",
        "event_type": "payment",
        "aggregation": "count",
        "filter": {"amount": {"gte": 100, "lt": 1000}},
    },
    {
        "name": "not_euro",
        "event_type": "payment",
        "aggregation": "count",
        "filter": {"currency": {"ne": "EUR"}},
    },
    {"name": "visa", "aggregation": "count", "filter": {"card.brand": "visa"}},
    {
        "name": "raw_where",
        "aggregation": "count",
        "where": "event_type = 'payment' and event_id in ('p1', 'p6')",
    },
    {
        "name": "volume_matrix",
        "event_type": "payment",
        "aggregation": "sum",
        "property": "amount",
        "group_by": ["currency", "method"],
    },
    {
        "name": "gb_up",
        "event_type": "transfer",
        "aggregation": "sum",
        "property": "bytes",
        "divide_by": 1000000000,
        "round": "up",
    },
    {
        "name": "gb_down",
        "event_type": "transfer",
        "aggregation": "sum",
        "property": "bytes",
        "divide_by": 1000000000,
        "round": "down",
    },
    {
        "name": "gb_half_up",
        "event_type": "transfer",
        "aggregation": "sum",
        "property": "bytes",
        "divide_by": 1000000000,
        "round": "half_up",
        "precision": 1,
    },
    {
        "name": "paid_orders",
        # A quote and a backslash: each engine spells them differently in a literal.
        "description": PAID_ORDERS_DESCRIPTION,
        "from": {"ref": ["usage_billing_integration_tests", "orders"]},
        "timestamp_column": "ordered_at",
        "id_column": "order_id",
        "aggregation": "sum",
        "property": "order_total",
        "filter": {"status": "paid"},
    },
    {
        "name": "raw_logins",
        "from": {"source": ["usage_billing", "usage_events"]},
        "timestamp_column": "event_timestamp",
        "aggregation": "count",
        "where": "event_type = 'login'",
    },
]

MATRIX_PRICES = [
    ("volume_matrix", None, D("0.01")),
    ("volume_matrix", "EUR|card", D("0.02")),
    ("volume_matrix", "GBP|card", D("0.03")),
]


def scenario_pricing() -> Pricing:
    """One customer on a plan pricing every metric at 1, and the matrix at its own rates."""
    prices = [
        {
            "price_id": f"price_{metric['name']}",
            "plan_id": "metered",
            "metric": metric["name"],
            "pricing_model": "per_unit",
            "description": metric["name"],
            "unit_price": D(1),
            "effective_from": "2020-01-01",
        }
        for metric in METRICS
        if metric["name"] != "volume_matrix"
    ]
    prices += [
        {
            "price_id": f"price_matrix_{group or 'default'}",
            "plan_id": "metered",
            "metric": metric,
            "pricing_model": "per_unit",
            "description": f"Volume {group or 'other'}",
            "unit_price": rate,
            "group_value": group,
            "effective_from": "2020-01-01",
        }
        for metric, group, rate in MATRIX_PRICES
    ]
    return Pricing(
        customers=[{"customer_id": "cus_1", "name": "One"}],
        # Two aliases for one customer: events say c1, the demo orders table says acme_corp.
        customer_aliases=[
            {"alias": "c1", "customer_id": "cus_1"},
            {"alias": "acme_corp", "customer_id": "cus_1"},
        ],
        plans=[{"plan_id": "metered", "name": "Metered"}],
        subscriptions=[
            {
                "subscription_id": "sub_1",
                "customer_id": "cus_1",
                "plan_id": "metered",
                "currency": "EUR",
                "start_date": "2022-10-01",
            }
        ],
        prices=prices,
    )


VARS = {"usage_billing_metrics": METRICS, "usage_billing_as_of": "2024-03-01 00:00:00"}


@pytest.fixture(scope="module")
def scenario(tmp_path_factory: pytest.TempPathFactory) -> Scenario:
    return build(Path(tmp_path_factory.mktemp("metrics")), EVENTS, scenario_pricing(), VARS)


def _quantities(scenario: Scenario, invoice_id: str) -> dict[str, Decimal]:
    return {
        metric: quantity
        for metric, group, quantity in scenario.rows(
            f"""
            select metric_name, group_value, quantity
            from {MARTS_SCHEMA}.usage_billing__billable_usage
            where invoice_id = ? and group_value is null
            """,
            [invoice_id],
        )
    }


EXPECTED_JANUARY = {
    "active_users": D(3),  # a, b, c; a twice counts once
    "peak_gb": D(25),  # the sum of daily maxes would be 43
    "low_gb": D(8),
    "mean_gb": D("14.3333333333"),  # 43 / 3, exact to 10 places
    "gb_range": D(17),
    "plan_seats": D(8),  # the report of the 28th, though loaded before the 3rd's
    "seats": D("8.0645161290"),  # (4 seats * 10 days + 10 * 21) / 31 days
    "seat_days": D(250),
    "quota_limit": D(9),  # the last report with a value (25th, 08:00), not the 20:00 null
    "quota_total": D(16),  # 7 + 9, the null skipped
    "mean_cores": D("1.6666666667"),  # (1 + 2 + 2) / 3 = 1.66666666666…, half-up, not cut
    "nodes": D("15.1612903226"),  # (10 nodes * 11 days + 18 * 20) / 31 = 15.16129032258…
    "card_volume": D("1149.99"),  # p1 + p2 + p3 (GBP is in the list)
    "not_test": D(4),  # p1 (prod), and p3, p5, p6 without env; not p2 (test), p4 (staging)
    "with_coupon": D(2),
    "without_coupon": D(4),
    "mid_payments": D(2),  # 100 and 999.99
    "not_euro": D(2),  # GBP and USD; missing currency would count too
    "visa": D(2),  # nested card.brand
    "raw_where": D(2),
    "gb_up": D("2"),  # 1.45 GB rounded up
    "gb_down": D("1"),
    "gb_half_up": D("1.5"),  # half-up, where half-even would give 1.4
    "raw_logins": D(4),
}


@pytest.mark.parametrize("metric", sorted(EXPECTED_JANUARY))
def test_january_quantity(scenario: Scenario, metric: str) -> None:
    assert _quantities(scenario, JANUARY)[metric] == EXPECTED_JANUARY[metric]


def test_non_additive_and_gauges_across_the_period_boundary(scenario: Scenario) -> None:
    february = _quantities(scenario, FEBRUARY)
    assert february["active_users"] == D(1)
    assert february["plan_seats"] == D(6)  # the period's own last report, nothing carried
    assert february["seats"] == D(10)  # carried over from January, held all of February
    assert february["seat_days"] == D(290)  # 10 seats * 29 days of February 2024
    assert february["peak_gb"] == D(0)  # no report in February
    assert february["nodes"] == D(18)  # held all of February


def test_latest_of_a_period_without_any_value_is_no_usage(scenario: Scenario) -> None:
    # February's one quota report has no value: latest measures 0 and prices 0, with the event
    # still counted, exactly as a sum of the same values does.
    rows = scenario.rows(
        f"""
        select metric_name, measured_quantity, quantity, event_count
        from {MARTS_SCHEMA}.usage_billing__billable_usage
        where invoice_id = ? and metric_name in ('quota_limit', 'quota_total')
        order by metric_name
        """,
        [FEBRUARY],
    )
    assert rows == [("quota_limit", D(0), D(0), 1), ("quota_total", D(0), D(0), 1)]


def test_daily_latest_skips_a_null_value(scenario: Scenario) -> None:
    # Each day's last report with a value: the 25th's is 9 (08:00), not the null of 20:00.
    days = scenario.rows(
        f"""
        select cast(usage_date as varchar), quantity
        from {MARTS_SCHEMA}.usage_billing__metric_usage_daily
        where metric_name = 'quota_limit' and usage_date < '2024-02-01' order by usage_date
        """
    )
    assert days == [("2024-01-04", D(7)), ("2024-01-25", D(9))]


def test_daily_values_are_per_day_not_period(scenario: Scenario) -> None:
    peaks = scenario.rows(
        f"""
        select usage_date, quantity from {MARTS_SCHEMA}.usage_billing__metric_usage_daily
        where metric_name = 'peak_gb' order by usage_date
        """
    )
    assert [quantity for _, quantity in peaks] == [D(10), D(25), D(8)]


def test_matrix_prices_groups_and_falls_back_to_default(scenario: Scenario) -> None:
    lines = scenario.rows(
        f"""
        select group_value, description, quantity, unit_price, amount
        from {MARTS_SCHEMA}.usage_billing__invoice_lines
        where invoice_id = ? and metric_name = 'volume_matrix'
        order by description
        """,
        [JANUARY],
    )
    assert lines == [
        ("EUR|card", "Volume EUR|card", D(150), D("0.02"), D("3.00")),
        ("GBP|card", "Volume GBP|card", D("999.99"), D("0.03"), D("30.00")),
        # USD|bank, EUR|bank and p6 without a method (null group) at the default rate.
        (None, "Volume other", D(1025), D("0.01"), D("10.25")),
    ]


def test_metric_on_a_relation_without_events(scenario: Scenario) -> None:
    orders = scenario.rows(
        f"""
        select invoice_id, quantity, event_count from {MARTS_SCHEMA}.usage_billing__billable_usage
        where metric_name = 'paid_orders' and quantity > 0 order by invoice_id
        """
    )
    # integration_tests/seeds/orders.csv: paid orders of October 2022 total 120 + 80.50 + 45.25
    # + 999.99, November's order falls in the next period; the refunded one is filtered out.
    assert orders == [
        ("sub_1/2022-10-01", D("1245.74"), 4),
        ("sub_1/2022-11-01", D(60), 1),
    ]


def test_metric_description_keeps_quotes_and_backslashes(scenario: Scenario) -> None:
    assert scenario.rows(
        f"select description from {MARTS_SCHEMA}.usage_billing__int_metric_definitions"
        " where metric_name = 'paid_orders'"
    ) == [("The shop's paid orders, from C:\\shop\\orders.csv",)]


def test_non_numeric_value_is_rejected_as_bad_value(scenario: Scenario) -> None:
    assert scenario.rows(
        "select event_id, rejection_reason from"
        f" {MARTS_SCHEMA}.usage_billing__usage_events_rejected"
    ) == [("b3", "bad_value")]


def test_relation_metrics_appear_in_lineage(scenario: Scenario) -> None:
    manifest = json.loads((scenario.database.parent / "target" / "manifest.json").read_text())
    parents = manifest["parent_map"][
        "model.usage_billing.usage_billing__int_usage_events_matched_to_metrics"
    ]
    assert "seed.usage_billing_integration_tests.orders" in parents
    assert "source.usage_billing.usage_billing.usage_events" in parents
