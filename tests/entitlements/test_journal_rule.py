"""The server's share of an event (usage_billing/entitlements/journal_rule.py) agrees with the
warehouse: a real build measures the same events with the same metrics, one per filter
operator, and each metric's built usage must equal the sum of the shares the rule from that
build gives. Where the warehouse's answer is not certain outside it, the rule says so."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from tests.support.warehouse_scenario import MARTS_SCHEMA, Pricing, build
from usage_billing.entitlements.journal_rule import JournalRule, NotExactError, parse_properties

D = Decimal


def metric(name: str, **fields: Any) -> dict[str, Any]:
    return {"name": name, "event_type": "job", **fields}


METRICS = [
    metric("jobs", aggregation="count"),
    metric("eu_jobs", aggregation="count", filter={"region": "eu"}),
    metric("not_eu", aggregation="count", filter={"region": {"ne": "eu"}}),
    metric("eu_or_us", aggregation="count", filter={"region": ["eu", "us"]}),
    metric("not_listed", aggregation="count", filter={"region": {"not_in": ["eu", "us"]}}),
    metric("tagged", aggregation="count", filter={"tag": {"exists": True}}),
    metric("untagged", aggregation="count", filter={"tag": {"exists": False}}),
    metric("big", aggregation="count", filter={"size": {"gte": 10}}),
    metric("small", aggregation="count", filter={"size": {"lt": 10.5}}),
    metric("urgent", aggregation="count", filter={"urgent": True}),
    metric("eu_seconds", aggregation="sum", property="run.seconds", filter={"region": "eu"}),
    {"name": "other_jobs", "event_type": "other", "aggregation": "count"},
]

PROPERTIES: list[dict[str, Any]] = [
    {"region": "eu", "size": 10, "run": {"seconds": 1.25}, "urgent": True},
    {"region": "us", "size": 9.5, "tag": "a", "run": {"seconds": "2.5"}},
    {"region": "apac", "size": "12", "tag": None, "urgent": False},
    {"size": 3, "run": {"seconds": 7}},
    {"region": "eu", "tag": "b", "run": {"seconds": None}, "urgent": "true"},
    {"region": "eu", "size": 100, "run": {}},
]

EVENTS = [
    (f"e{number}", "c1", "job", f"2024-03-0{number + 1}T10:00:00Z", json.dumps(properties), None)
    for number, properties in enumerate(PROPERTIES)
] + [("o1", "c1", "other", "2024-03-02T10:00:00Z", "{}", None)]


def pricing() -> Pricing:
    tables = Pricing()
    tables.plans.append({"plan_id": "p", "name": "P"})
    tables.customers.append({"customer_id": "c1", "name": "c1"})
    tables.customer_aliases.append({"alias": "c1", "customer_id": "c1"})
    tables.subscriptions.append(
        {"subscription_id": "s1", "customer_id": "c1", "plan_id": "p", "currency": "USD"}
        | {"start_date": "2024-01-01"}
    )
    for item in METRICS:
        tables.prices.append(
            {"price_id": item["name"], "plan_id": "p", "metric": item["name"]}
            | {"pricing_model": "per_unit", "unit_price": D(0), "currency": "USD"}
            | {"effective_from": "2024-01-01"}
        )
        tables.usage_limits.append(
            {"limit_id": item["name"], "plan_id": "p", "metric": item["name"]}
            | {"limit_quantity": D(1)}
        )
    return tables


def test_shares_add_up_to_what_the_build_measures(tmp_path: Path) -> None:
    scenario = build(
        tmp_path,
        EVENTS,
        pricing(),
        {"usage_billing_metrics": METRICS, "usage_billing_as_of": "2024-03-15 00:00:00"},
    )
    rows = scenario.rows(
        f"select metric_name, used_quantity, journal_rule"
        f" from {MARTS_SCHEMA}.usage_billing__entitlements"
    )
    assert len(rows) == len(METRICS)
    built = {name: (used, rule) for name, used, rule in rows}
    for name, (used, rule_text) in built.items():
        rule = JournalRule.parse(rule_text)
        shares = sum(
            (
                rule.share(event_type, parse_properties(properties.encode()))
                for _, _, event_type, _, properties, _ in EVENTS
            ),
            D(0),
        )
        assert shares == used, name
    # Worked out by hand, so that agreeing on nothing cannot pass.
    assert {name: used for name, (used, _) in built.items()} == {
        "jobs": 6,
        "eu_jobs": 3,
        "not_eu": 3,
        "eu_or_us": 4,
        "not_listed": 2,
        "tagged": 2,
        "untagged": 4,
        "big": 3,
        "small": 3,
        "urgent": 2,
        "eu_seconds": D("1.25"),
        "other_jobs": 1,
    }


@pytest.mark.parametrize(
    ("rule", "properties"),
    [
        # A number compared as text: the warehouse's text of a JSON number is not ours to guess.
        ({"filters": [["region", "eq", "1"]]}, {"region": 1.0}),
        # A value with more decimals than decimal(38, 10) keeps.
        ({"aggregation": "sum", "property": "seconds"}, {"seconds": 0.00000000001}),
        # A text that is no plain number: the build would reject the event as bad_value.
        ({"aggregation": "sum", "property": "seconds"}, {"seconds": "lots"}),
    ],
)
def test_an_uncertain_share_is_not_guessed(
    rule: dict[str, Any], properties: dict[str, Any]
) -> None:
    text = json.dumps({"aggregation": "count", "event_type": None, "property": None} | rule)
    with pytest.raises(NotExactError):
        JournalRule.parse(text).share("job", parse_properties(json.dumps(properties).encode()))
