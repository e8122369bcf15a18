"""De-duplication's scope: by default two customers' events with one event_id are two events
(ids from customers' own systems collide), while a re-send under another alias of the same
customer is still a repeat; with `usage_billing_dedup_scope: global` the id alone decides."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from tests.support.warehouse_scenario import MARTS_SCHEMA, Pricing, Scenario, build

D = Decimal
T1 = "2024-03-01 00:00:00"
T2 = "2024-03-01 06:00:00"

EVENTS = [
    # event_id, alias, type, timestamp, properties, loaded_at
    ("order-1", "shop_a", "order", "2024-01-10T08:00:00Z", '{"units": 5}', T1),
    ("order-1", "shop_b", "order", "2024-01-10T09:00:00Z", '{"units": 7}', T2),
    ("order-2", "shop_a", "order", "2024-01-11T08:00:00Z", '{"units": 3}', T1),
    ("order-2", "shop_a_eu", "order", "2024-01-11T08:00:00Z", '{"units": 4}', T2),
    ("order-3", "nobody", "order", "2024-01-12T08:00:00Z", '{"units": 1}', T1),
    ("order-3", "shop_b", "order", "2024-01-12T08:00:00Z", '{"units": 2}', T1),
]


def _build(directory: Path, scope: str | None) -> Scenario:
    customers = ["a", "b"]
    pricing = Pricing(
        customers=[{"customer_id": f"cus_{name}", "name": name} for name in customers],
        customer_aliases=[
            {"alias": "shop_a", "customer_id": "cus_a"},
            {"alias": "shop_a_eu", "customer_id": "cus_a"},
            {"alias": "shop_b", "customer_id": "cus_b"},
        ],
        plans=[{"plan_id": "metered", "name": "Metered"}],
        subscriptions=[
            {
                "subscription_id": f"sub_{name}",
                "customer_id": f"cus_{name}",
                "plan_id": "metered",
                "currency": "USD",
                "start_date": "2024-01-01",
            }
            for name in customers
        ],
        prices=[
            {
                "price_id": "per_unit",
                "plan_id": "metered",
                "metric": "units",
                "pricing_model": "per_unit",
                "description": "Units",
                "unit_price": D(1),
                "effective_from": "2024-01-01",
            }
        ],
    )
    variables: dict[str, Any] = {
        "usage_billing_metrics": [
            {"name": "units", "event_type": "order", "aggregation": "sum", "property": "units"}
        ],
        "usage_billing_as_of": "2024-03-02 12:00:00",
    }
    if scope is not None:
        variables["usage_billing_dedup_scope"] = scope
    return build(directory, EVENTS, pricing, variables)


def _billed(scenario: Scenario) -> dict[str, Decimal]:
    rows = scenario.rows(
        f"""
        select customer_id, sum(quantity)
        from {MARTS_SCHEMA}.usage_billing__billable_usage
        where period_start = date '2024-01-01'
        group by customer_id
        """
    )
    return {customer: D(quantity) for customer, quantity in rows}


def _rejected(scenario: Scenario) -> list[tuple[str, str, str]]:
    return scenario.rows(
        f"""
        select event_id, customer_alias, rejection_reason
        from {MARTS_SCHEMA}.usage_billing__usage_events_rejected
        order by all
        """
    )


@pytest.mark.parametrize("scope", [None, "customer"])
def test_by_default_each_customer_has_its_own_ids(tmp_path: Path, scope: str | None) -> None:
    scenario = _build(tmp_path, scope)
    # order-1 twice (a's 5 and b's 7); order-2 re-sent under a's other alias: the last, 4;
    # order-3 of an unknown alias does not hide b's.
    assert _billed(scenario) == {"cus_a": D(5 + 4), "cus_b": D(7 + 2)}
    assert _rejected(scenario) == [
        ("order-2", "shop_a", "duplicate"),
        ("order-3", "nobody", "unknown_customer"),
    ]


def test_global_scope_keeps_one_event_per_id(tmp_path: Path) -> None:
    scenario = _build(tmp_path, "global")
    # The last loaded row of each id wins wherever it came from: b's order-1, a's order-2 (4);
    # of order-3 the rows loaded together rank by timestamp, then properties: b's (units 2).
    assert _billed(scenario) == {"cus_a": D(4), "cus_b": D(7 + 2)}
    assert _rejected(scenario) == [
        ("order-1", "shop_a", "duplicate"),
        ("order-2", "shop_a", "duplicate"),
        ("order-3", "nobody", "duplicate"),
    ]
