"""Parent accounts (issue 26, docs/pricing.md "Parent accounts") on real dbt builds: children's
usage pooled into the parent's tiers, or priced apart per child on the parent's invoice, and
the data tests that keep a child's usage from being billed twice or by a parent of a parent.

The scenario (USD, UTC, billing clock 2024-02-10, three days' grace: January is final). One
metric, `calls` (a count). Graduated tiers: 1 – 10 at $1.00, 11 and above at $0.50.
- `p1` on plan `pooled` (child_usage pooled): p1 makes 2 calls, its children `a1` (Acme EU) 6
  and `b1` (Beta Ltd) 5. Pooled: 13 calls, tier 1: 10 × $1.00 = $10.00, tier 2: 3 × $0.50 =
  $1.50; total $11.50. Neither child alone (6, 5) would reach tier 2.
- `p2` on plan `separate` (child_usage separate; the price has a $3.00 minimum and a $5.50
  cap, each set of lines on its own): p2 makes 2 calls, its children `a2` (Acme EU) 6 and `b2`
  (Beta Ltd) 5. p2's own: tier 1 2 × $1 = $2.00, under its minimum: +$1.00. a2: tier 1 6 × $1
  = $6.00, over its cap: -$0.50. b2: tier 1 $5.00. Total $13.50. (Applied to the price
  overall, $13.00 would need neither.)
- `q` on plan `pooled` with child_usage none; its child `c` (no subscription of its own) makes
  3 calls: billed nowhere, so unbilled usage with the reason no_subscription.
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
from usage_billing.line_text import line_label
from usage_billing.marts.model import InvoiceLine
from usage_billing.marts.reader import MartsReader
from usage_billing.marts.relations import MartRelations
from usage_billing.warehouse.duckdb import DuckDBWarehouse

D = Decimal
VARS: dict[str, Any] = {
    "usage_billing_metrics": [
        {"name": "calls", "event_type": "call", "aggregation": "count"}
        | {"display_name": "API calls", "unit": "calls"}
    ],
    "usage_billing_as_of": "2024-02-10 00:00:00",
    "usage_billing_grace_days": 3,
}
# customer: (name, parent)
CUSTOMERS = {
    "p1": ("Parent One", None),
    "a1": ("Acme EU", "p1"),
    "b1": ("Beta Ltd", "p1"),
    "p2": ("Parent Two", None),
    "a2": ("Acme EU", "p2"),
    "b2": ("Beta Ltd", "p2"),
    "q": ("Quiet Parent", None),
    "c": ("Cee Child", "q"),
}
CALLS = {"p1": 2, "a1": 6, "b1": 5, "p2": 2, "a2": 6, "b2": 5, "c": 3}


def pricing() -> Pricing:
    tables = Pricing()
    for customer_id, (name, parent) in CUSTOMERS.items():
        tables.customers.append(
            {"customer_id": customer_id, "name": name, "parent_customer_id": parent}
        )
        tables.customer_aliases.append({"alias": customer_id, "customer_id": customer_id})
    tables.plans += [{"plan_id": "pooled"}, {"plan_id": "separate"}]
    for subscription_id, customer_id, plan_id, child_usage in [
        ("s_p1", "p1", "pooled", "pooled"),
        ("s_p2", "p2", "separate", "separate"),
        ("s_q", "q", "pooled", None),
    ]:
        tables.subscriptions.append(
            {"subscription_id": subscription_id, "customer_id": customer_id, "plan_id": plan_id}
            | {"currency": "USD", "start_date": "2024-01-01", "child_usage": child_usage}
        )
    limits = [("calls_pooled", "pooled", None, None), ("calls_apart", "separate", D(3), D("5.5"))]
    for price_id, plan_id, minimum, cap in limits:
        tables.prices.append(
            {"price_id": price_id, "plan_id": plan_id, "metric": "calls", "currency": "USD"}
            | {"pricing_model": "graduated", "description": "API calls"}
            | {"minimum_amount": minimum, "maximum_amount": cap}
            | {"effective_from": "2024-01-01"}
        )
        tables.price_tiers += [
            {"price_id": price_id, "tier": 1, "up_to": D(10), "unit_price": D(1)},
            {"price_id": price_id, "tier": 2, "up_to": None, "unit_price": D("0.5")},
        ]
    return tables


def events() -> list[tuple[Any, ...]]:
    rows = []
    for customer_id, count in CALLS.items():
        for number in range(count):
            timestamp = f"2024-01-{10 + number:02d}T12:00:00Z"
            rows.append((f"{customer_id}-{number}", customer_id, "call", timestamp, "{}", None))
    return rows


@pytest.fixture(scope="module")
def scenario(tmp_path_factory: pytest.TempPathFactory) -> Scenario:
    return build(Path(tmp_path_factory.mktemp("parent_accounts")), events(), pricing(), VARS)


LINE_COLUMNS = """line_number, line_type, description, tier, quantity, unit_price, flat_amount,
    amount, is_percentage, metric_name, group_value, tier_first_unit, tier_last_unit,
    metric_display_name, metric_unit, tax_rate_id, tax_amount, child_customer_id,
    child_customer_name"""


def lines(scenario: Scenario, invoice_id: str) -> list[tuple[Any, ...]]:
    return scenario.rows(
        "select child_customer_id, description, quantity, amount"
        f" from {MARTS_SCHEMA}.usage_billing__invoice_lines"
        " where invoice_id = ? order by line_number",
        [invoice_id],
    )


def total(scenario: Scenario, invoice_id: str) -> Decimal:
    [(amount,)] = scenario.rows(
        f"select total from {MARTS_SCHEMA}.usage_billing__invoices where invoice_id = ?",
        [invoice_id],
    )
    return Decimal(amount)


def test_pooled_children_reach_the_parents_second_tier(scenario: Scenario) -> None:
    assert lines(scenario, "s_p1/2024-01-01") == [
        (None, "Tier 1 - API calls", D(10), D(10)),
        (None, "Tier 2 - API calls", D(3), D("1.5")),
    ]
    assert total(scenario, "s_p1/2024-01-01") == D("11.50")


def test_separate_children_are_priced_apart_each_with_its_own_minimum_and_cap(
    scenario: Scenario,
) -> None:
    assert lines(scenario, "s_p2/2024-01-01") == [
        (None, "Tier 1 - API calls", D(2), D(2)),
        (None, "Minimum charge true-up - API calls", D(1), D(1)),
        ("a2", "Tier 1 - API calls — Acme EU", D(6), D(6)),
        ("a2", "Maximum charge discount - API calls — Acme EU", D(1), D("-0.5")),
        ("b2", "Tier 1 - API calls — Beta Ltd", D(5), D(5)),
    ]
    assert total(scenario, "s_p2/2024-01-01") == D("13.50")


def test_a_childs_tier_reads_with_the_childs_name(scenario: Scenario) -> None:
    """What the page, the PDF and the push show for a tier line: metric, child and range."""
    rows = scenario.dicts(
        f"select {LINE_COLUMNS} from {MARTS_SCHEMA}.usage_billing__invoice_lines"
        " where invoice_id = 's_p2/2024-01-01' and line_type = 'usage' order by line_number"
    )
    labels = [line_label(InvoiceLine(**row)) for row in rows]
    assert labels == [
        "API calls, 1 – 10 calls",
        "API calls — Acme EU, 1 – 10 calls",
        "API calls — Beta Ltd, 1 – 10 calls",
    ]


def test_billable_usage_shows_the_pooled_and_the_per_child_usage(scenario: Scenario) -> None:
    usage = scenario.rows(
        "select invoice_id, child_customer_id, quantity, amount"
        f" from {MARTS_SCHEMA}.usage_billing__billable_usage"
        " where customer_id in ('p1', 'p2') and invoice_id like '%/2024-01-01'"
        " order by invoice_id, child_customer_id nulls first"
    )
    assert usage == [
        ("s_p1/2024-01-01", None, D(13), D("11.5")),
        ("s_p2/2024-01-01", None, D(2), D(3)),
        ("s_p2/2024-01-01", "a2", D(6), D("5.5")),
        ("s_p2/2024-01-01", "b2", D(5), D(5)),
    ]


def test_the_invoice_names_each_childs_usage_and_final_lines(scenario: Scenario) -> None:
    """As the page, the CLI and the PDF read the invoice (usage), and the push (final lines)."""
    with duckdb.connect(str(scenario.database), read_only=True) as connection:
        reader = MartsReader(DuckDBWarehouse(connection), MartRelations.in_schema(MARTS_SCHEMA))
        [invoice] = reader.invoices(invoice_id="s_p2/2024-01-01")
        [version] = [v for v in reader.final_invoices() if v.invoice_id == "s_p2/2024-01-01"]
    usage = [
        (invoice.metric_label(m.metric_name, m.group_value, m.child_customer_name), m.quantity)
        for m in invoice.usage
    ]
    assert usage == [
        ("API calls", D(2)),
        ("API calls — Acme EU", D(6)),
        ("API calls — Beta Ltd", D(5)),
    ]
    assert [(line.child_customer_id, line.child_customer_name) for line in version.lines] == [
        (None, None),
        (None, None),
        ("a2", "Acme EU"),
        ("a2", "Acme EU"),
        ("b2", "Beta Ltd"),
    ]


def test_a_child_its_parent_does_not_bill_is_unbilled_usage(scenario: Scenario) -> None:
    unbilled = scenario.rows(
        "select customer_id, reason, sum(quantity)"
        f" from {MARTS_SCHEMA}.usage_billing__unbilled_usage"
        " group by customer_id, reason order by customer_id"
    )
    assert unbilled == [("c", "no_subscription", D(3))]
    assert lines(scenario, "s_q/2024-01-01") == [(None, "Tier 1 - API calls", D(0), D(0))]


def test_a_change_in_a_childs_lines_changes_the_invoice_hash(
    scenario: Scenario, tmp_path: Path
) -> None:
    """One more call of a2 (7 instead of 6) leaves the invoice's total as it was (a2 is at its
    $5.50 cap either way) but changes a2's lines, so the content_hash changes."""
    query = (
        f"select total, content_hash from {MARTS_SCHEMA}.usage_billing__invoices"
        " where invoice_id = 's_p2/2024-01-01'"
    )
    [(before_total, before_hash)] = scenario.rows(query)
    more = [*events(), ("a2-extra", "a2", "call", "2024-01-25T12:00:00Z", "{}", None)]
    [(after_total, after_hash)] = build(tmp_path, more, pricing(), VARS).rows(query)
    assert after_total == before_total == D("13.5")
    assert after_hash != before_hash


def test_parents_must_be_one_level_deep_and_known(tmp_path: Path) -> None:
    tables = pricing()
    tables.customers += [
        {"customer_id": "grandchild", "parent_customer_id": "a1"},
        {"customer_id": "self", "parent_customer_id": "self"},
        {"customer_id": "orphan", "parent_customer_id": "nobody"},
        {"customer_id": "x", "parent_customer_id": "y"},
        {"customer_id": "y", "parent_customer_id": "x"},
    ]
    tables.subscriptions[0]["child_usage"] = "shared"
    with pytest.raises(DbtFailedError, match="assert_parent_accounts_are_valid: fail"):
        build(tmp_path, events(), tables, VARS)
    vars_ = {**VARS, "usage_billing_pricing_schema": "pricing"}
    database = tmp_path / "warehouse.duckdb"
    failures = failing_rows(database, "assert_parent_accounts_are_valid", vars_)
    assert failures == [
        ("grandchild", "the parent has a parent of its own (one level only)"),
        ("orphan", "parent_customer_id names no customer"),
        ("s_p1", "child_usage must be none, pooled or separate"),
        ("self", "a customer cannot be its own parent"),
        ("x", "the parent has a parent of its own (one level only)"),
        ("y", "the parent has a parent of its own (one level only)"),
    ]


def test_a_child_billed_by_its_own_and_its_parents_subscription_fails_the_build(
    tmp_path: Path,
) -> None:
    tables = pricing()
    tables.subscriptions.append(
        {"subscription_id": "s_a1", "customer_id": "a1", "plan_id": "pooled", "currency": "USD"}
        | {"start_date": "2024-01-15", "end_date": "2024-02-01"}
    )
    with pytest.raises(DbtFailedError, match="assert_child_usage_is_billed_once: fail"):
        build(tmp_path, events(), tables, VARS)
    vars_ = {**VARS, "usage_billing_pricing_schema": "pricing"}
    database = tmp_path / "warehouse.duckdb"
    failures = failing_rows(database, "assert_child_usage_is_billed_once", vars_)
    assert failures == [
        ("a1", "calls", "s_a1", "s_p1", datetime(2024, 1, 1)),
    ]


def test_an_incremental_build_adds_childrens_usage_as_a_full_build_does(tmp_path: Path) -> None:
    """The parents' own calls first, the children's in a later load: the incremental run adds
    them to the stored periods (pooled and per child) and ends where one build of all does."""
    own, children = [], []
    for row in events():
        (own if row[1] in {"p1", "p2", "q"} else children).append(row)
    first = [(*row[:5], datetime(2024, 2, 1)) for row in own]
    incremental = build(tmp_path, first, pricing(), VARS)
    with duckdb.connect(str(incremental.database)) as connection:
        connection.executemany(
            "insert into raw.usage_events values (?, ?, ?, ?, ?, ?)",
            [[*row[:5], datetime(2024, 2, 2)] for row in children],
        )
    run_dbt(["build"], incremental.database, {**VARS, "usage_billing_pricing_schema": "pricing"})
    assert total(incremental, "s_p1/2024-01-01") == D("11.50")
    assert total(incremental, "s_p2/2024-01-01") == D("13.50")
    assert [line[:2] for line in lines(incremental, "s_p2/2024-01-01")] == [
        (None, "Tier 1 - API calls"),
        (None, "Minimum charge true-up - API calls"),
        ("a2", "Tier 1 - API calls — Acme EU"),
        ("a2", "Maximum charge discount - API calls — Acme EU"),
        ("b2", "Tier 1 - API calls — Beta Ltd"),
    ]
    unbilled = incremental.rows(
        "select customer_id, reason, sum(quantity)"
        f" from {MARTS_SCHEMA}.usage_billing__unbilled_usage"
        " group by customer_id, reason"
    )
    assert unbilled == [("c", "no_subscription", D(3))]


def test_a_child_that_gains_a_parent_is_billed_there_on_the_next_build(tmp_path: Path) -> None:
    """b1's calls were stored before it had a parent (unbilled, no subscription); naming p1 as
    its parent bills them on p1's pooled invoice at the next incremental build: 2 + 6 + 5 = 13
    calls, $11.50 as in the pooled example."""
    tables = pricing()
    [b1] = [row for row in tables.customers if row["customer_id"] == "b1"]
    b1["parent_customer_id"] = None
    loaded = [(*row[:5], datetime(2024, 2, 1)) for row in events()]
    scenario = build(tmp_path, loaded, tables, VARS)
    assert total(scenario, "s_p1/2024-01-01") == D(8)  # p1 2 + a1 6 calls, all in tier 1
    with duckdb.connect(str(scenario.database)) as connection:
        connection.execute(
            "update pricing.customers set parent_customer_id = 'p1' where customer_id = 'b1'"
        )
    run_dbt(["build"], scenario.database, {**VARS, "usage_billing_pricing_schema": "pricing"})
    assert total(scenario, "s_p1/2024-01-01") == D("11.50")
    unbilled = scenario.rows(
        f"select distinct customer_id from {MARTS_SCHEMA}.usage_billing__unbilled_usage"
    )
    assert unbilled == [("c",)]
