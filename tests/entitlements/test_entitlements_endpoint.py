"""The entitlements endpoint (issue 26, docs/entitlements.md) on a real dbt build and the real
server on 127.0.0.1, with events ingested through the API after the build; every figure is
worked out here.

The scenario (USD, UTC, billing clock 2024-03-15 00:00, so March is the live period). Plan
`pro` prices calls (count), eur_volume (sum of amount, EUR payments only) and users (distinct
user ids); exports (count) is limited but priced nowhere. Plan limits: calls 100, eur_volume
1000, users 3, exports 10; c2's own calls limit of 500 replaces the plan's.
- Built: c1 (aliases c1 and acme) made 60 calls in March (and 40 in February, another period),
  paid EUR 700.50 and USD 999, and 2 users logged in (u1 twice, u2). c2 made 200 calls.
- Ingested after the build, timestamped after the clock: acme 50 calls (one sent twice, which
  counts once), EUR 250.25 and EUR "0.25" (a text amount), USD 5000 (not EUR), users u3 and u4
  (distinct counts do not add: the build's figure, flagged); one call timestamped before the
  clock (the next build counts it) and one in April (another period). c2: 10 calls.
- So c1: calls 60 + 50 = 110 of 100 (over, remaining 0), eur_volume 700.50 + 250.25 + 0.25 =
  951 of 1000 (49 remaining), users 2 of 3 from the build alone. c2: calls 210 of 500.
"""

from __future__ import annotations

import fcntl
import json
import time
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import duckdb
import pytest

from tests.support.ingest_server import IngestServer, make_server
from tests.support.warehouse_scenario import Pricing, build, failing_rows, run_dbt, write_table
from usage_billing.pricing_tables import PRICING_TABLES

D = Decimal
KEY = "entitlements-test-key"
CHECK = "assert_usage_limits_are_valid"
VARS: dict[str, Any] = {
    "usage_billing_metrics": [
        {"name": "calls", "event_type": "call", "aggregation": "count"},
        {
            "name": "eur_volume",
            "event_type": "payment",
            "aggregation": "sum",
            "property": "amount",
            "filter": {"currency": "EUR"},
        },
        {
            "name": "users",
            "event_type": "login",
            "aggregation": "count_distinct",
            "property": "user",
        },
        {"name": "exports", "event_type": "export", "aggregation": "count"},
    ],
    "usage_billing_as_of": "2024-03-15 00:00:00",
    "usage_billing_pricing_schema": "pricing",
}
LATER_CLOCK = "2024-03-25 00:00:00"


def pricing() -> Pricing:
    tables = Pricing()
    tables.plans.append({"plan_id": "pro", "name": "Pro"})
    for customer in ("c1", "c2"):
        tables.customers.append({"customer_id": customer, "name": customer})
        tables.customer_aliases.append({"alias": customer, "customer_id": customer})
        tables.subscriptions.append(
            {"subscription_id": f"s_{customer}", "customer_id": customer, "plan_id": "pro"}
            | {"currency": "USD", "start_date": "2024-01-01"}
        )
    tables.customer_aliases.append({"alias": "acme", "customer_id": "c1"})
    # A customer without a subscription: known, with nothing to limit.
    tables.customers.append({"customer_id": "c3", "name": "c3"})
    tables.customer_aliases.append({"alias": "c3", "customer_id": "c3"})
    common = {"plan_id": "pro", "currency": "USD", "effective_from": "2024-01-01"}
    tables.prices += [
        {"price_id": f"p_{metric}", "pricing_model": "per_unit", "metric": metric}
        | {"unit_price": price, **common}
        for metric, price in [("calls", D("0.01")), ("eur_volume", D(0)), ("users", D(1))]
    ]
    tables.usage_limits += [
        {"limit_id": "pro_calls", "plan_id": "pro", "metric": "calls", "limit_quantity": D(100)}
        | {"description": "API calls a month"},
        {"limit_id": "pro_eur", "plan_id": "pro", "metric": "eur_volume"}
        | {"limit_quantity": D(1000)},
        {"limit_id": "pro_users", "plan_id": "pro", "metric": "users", "limit_quantity": D(3)},
        {"limit_id": "pro_exports", "plan_id": "pro", "metric": "exports"}
        | {"limit_quantity": D(10)},
        {"limit_id": "c2_calls", "customer_id": "c2", "metric": "calls"}
        | {"limit_quantity": D(500)},
    ]
    return tables


def raw(event_id: str, alias: str, event_type: str, at: str, **properties: Any) -> tuple[Any, ...]:
    return (event_id, alias, event_type, at, json.dumps(properties), None)


BUILT_EVENTS = [
    *[raw(f"c1_mar_{n}", "c1", "call", f"2024-03-{1 + n % 14:02d}T08:00:00Z") for n in range(60)],
    *[raw(f"c1_feb_{n}", "c1", "call", "2024-02-10T08:00:00Z") for n in range(40)],
    raw("pay_1", "acme", "payment", "2024-03-02T09:00:00Z", amount=700.50, currency="EUR"),
    raw("pay_2", "c1", "payment", "2024-03-03T09:00:00Z", amount=999, currency="USD"),
    raw("login_1", "c1", "login", "2024-03-04T09:00:00Z", user="u1"),
    raw("login_2", "c1", "login", "2024-03-05T09:00:00Z", user="u1"),
    raw("login_3", "c1", "login", "2024-03-06T09:00:00Z", user="u2"),
    *[raw(f"c2_mar_{n}", "c2", "call", "2024-03-07T08:00:00Z") for n in range(200)],
]


def event(event_id: str, alias: str, event_type: str, at: str, **properties: Any) -> dict[str, Any]:
    return {
        "customerEventId": event_id,
        "customerAlias": alias,
        "eventType": event_type,
        "eventTimestamp": at,
        "eventProperties": properties,
    }


INGESTED = [
    *[event(f"late_call_{n}", "acme", "call", "2024-03-20T10:00:00Z") for n in range(50)],
    event("late_call_0", "acme", "call", "2024-03-20T10:00:00Z"),  # sent again: counts once
    event("early_call", "acme", "call", "2024-03-10T10:00:00Z"),  # before the clock
    event("april_call", "acme", "call", "2024-04-02T10:00:00Z"),  # the next period
    event("late_pay_1", "acme", "payment", "2024-03-16T10:00:00Z", amount=250.25, currency="EUR"),
    event("late_pay_2", "c1", "payment", "2024-03-16T11:00:00Z", amount="0.25", currency="EUR"),
    event("late_pay_3", "c1", "payment", "2024-03-16T12:00:00Z", amount=5000, currency="USD"),
    event("late_login_1", "c1", "login", "2024-03-16T09:00:00Z", user="u3"),
    event("late_login_2", "c1", "login", "2024-03-16T09:30:00Z", user="u4"),
    *[event(f"c2_late_{n}", "c2", "call", "2024-03-18T10:00:00Z") for n in range(10)],
]


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[IngestServer]:
    directory = tmp_path_factory.mktemp("entitlements")
    build(directory, BUILT_EVENTS, pricing(), VARS)
    running = make_server(directory, KEY).start()
    try:
        yield running
    finally:
        running.stop()


def entitlements(server: IngestServer, alias: str) -> dict[str, Any]:
    with server.client(KEY) as client:
        deadline = time.monotonic() + 30
        while True:  # 503 until the server's first copy of the marts is read
            response = client.get(f"/api/customers/{alias}/entitlements")
            if response.status_code != 503 or time.monotonic() > deadline:
                break
            time.sleep(0.2)
    assert response.status_code == 200, response.text
    answer: dict[str, Any] = json.loads(response.text, parse_float=Decimal, parse_int=Decimal)
    return answer


def by_metric(answer: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {limit["metric"]: limit for limit in answer["limits"]}


def figures(limit: dict[str, Any]) -> tuple[Any, ...]:
    return (
        limit["used"],
        limit["limit"],
        limit["remaining"],
        limit["within_limit"],
        limit["includes_events_since_build"],
    )


def test_build_alone_then_events_since_the_build(server: IngestServer) -> None:
    before = entitlements(server, "c1")
    assert before["customer_id"] == "c1"
    assert before["as_of"] == "2024-03-15T00:00:00Z"
    limits = by_metric(before)
    assert figures(limits["calls"]) == (D(60), D(100), D(40), True, True)
    assert limits["calls"]["limit_id"] == "pro_calls"
    assert limits["calls"]["description"] == "API calls a month"
    assert limits["calls"]["period_start"] == "2024-03-01T00:00:00Z"
    assert limits["calls"]["period_end"] == "2024-04-01T00:00:00Z"
    assert figures(limits["eur_volume"]) == (D("700.5"), D(1000), D("299.5"), True, True)
    assert figures(limits["users"]) == (D(2), D(3), D(1), True, False)
    # A limit on a metric the period does not price: nothing measured, nothing claimed.
    assert limits["exports"]["measured"] is False
    assert figures(limits["exports"]) == (None, D(10), None, None, False)

    with server.client(KEY) as client:
        response = client.post("/api/usage-events", json=INGESTED)
    assert response.status_code == 201, response.text

    after = by_metric(entitlements(server, "acme"))
    assert figures(after["calls"]) == (D(110), D(100), D(0), False, True)
    assert after["calls"]["added_since_build"] == D(50)
    assert figures(after["eur_volume"]) == (D(951), D(1000), D(49), True, True)
    assert after["eur_volume"]["added_since_build"] == D("250.5")
    # Distinct users do not add event by event: the build's 2, said to be the build's alone.
    assert figures(after["users"]) == (D(2), D(3), D(1), True, False)
    assert after["users"]["added_since_build"] is None

    # The same customer by its other alias; c2's own limit replaces the plan's.
    assert by_metric(entitlements(server, "c1")) == after
    c2 = by_metric(entitlements(server, "c2"))
    assert figures(c2["calls"]) == (D(210), D(500), D(290), True, True)
    assert c2["calls"]["limit_id"] == "c2_calls"
    assert figures(c2["eur_volume"]) == (D(0), D(1000), D(1000), True, True)

    # The loader moves the events into the warehouse, the server copies the marts again: the
    # figures stay (the build's clock has not moved).
    server.wait_for(
        "select count(*) from raw.usage_events where event_id like 'late_%'",
        lambda rows: rows[0][0] >= 57,
    )
    time.sleep(3)  # the copy is taken once the file has been quiet for 2 s
    assert by_metric(entitlements(server, "acme")) == after

    # A new build with its clock on 2024-03-25 counts the loaded events itself; the server
    # forgets them, so nothing counts twice: c1 made 60 + 50 + the early call = 111 calls, and
    # 4 distinct users, now over the limit of 3.
    with Path(f"{server.database}.lock").open("a") as lock:  # the loader waits, as it must
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            run_dbt(["build"], server.database, VARS | {"usage_billing_as_of": LATER_CLOCK})
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)
    deadline = time.monotonic() + 30
    while (rebuilt := entitlements(server, "c1"))["as_of"] != "2024-03-25T00:00:00Z":
        assert time.monotonic() < deadline, rebuilt
        time.sleep(0.5)
    limits = by_metric(rebuilt)
    assert figures(limits["calls"]) == (D(111), D(100), D(0), False, True)
    assert limits["calls"]["added_since_build"] == D(0)
    assert figures(limits["eur_volume"]) == (D(951), D(1000), D(49), True, True)
    assert figures(limits["users"]) == (D(4), D(3), D(0), False, False)
    assert figures(by_metric(entitlements(server, "c2"))["calls"]) == (
        D(210),
        D(500),
        D(290),
        True,
        True,
    )


def test_unknown_alias_is_404(server: IngestServer) -> None:
    assert entitlements(server, "c3")["limits"] == []
    with server.client(KEY) as client:
        response = client.get("/api/customers/nobody/entitlements")
    assert response.status_code == 404
    assert response.json() == {
        "error": "unknown_customer",
        "message": "no customer has the alias 'nobody'",
    }


@pytest.mark.parametrize("key", [None, "wrong-key"])
def test_needs_an_api_key(server: IngestServer, key: str | None) -> None:
    with server.client(key) as client:
        response = client.get("/api/customers/c1/entitlements")
    assert response.status_code == 401
    assert "c1" not in response.text
    assert response.headers["www-authenticate"].startswith("Bearer")


def test_bad_limits_are_rejected_with_a_reason(tmp_path: Path) -> None:
    tables = pricing()
    tables.usage_limits += [
        {"limit_id": "both", "customer_id": "c1", "plan_id": "pro", "metric": "calls"}
        | {"limit_quantity": D(1)},
        {"limit_id": "neither", "metric": "calls", "limit_quantity": D(1)},
        {"limit_id": "negative", "customer_id": "c1", "metric": "exports"}
        | {"limit_quantity": D(-1)},
        {"limit_id": "no_plan", "plan_id": "gold", "metric": "calls", "limit_quantity": D(1)},
        {"limit_id": "no_customer", "customer_id": "c9", "metric": "calls"}
        | {"limit_quantity": D(1)},
        {"limit_id": "no_metric", "plan_id": "pro", "metric": "bytes", "limit_quantity": D(1)},
        {"limit_id": "second", "plan_id": "pro", "metric": "calls", "limit_quantity": D(7)},
    ]
    good = pricing()
    scenario = build(tmp_path, BUILT_EVENTS[:1], good, VARS)
    with duckdb.connect(str(scenario.database)) as connection:
        write_table(
            connection,
            "pricing",
            "usage_limits",
            PRICING_TABLES["usage_limits"],
            tables.usage_limits,
        )
    assert failing_rows(scenario.database, CHECK, VARS) == [
        ("both", "exactly one of customer_id and plan_id"),
        ("negative", "limit_quantity must be 0 or more"),
        ("neither", "exactly one of customer_id and plan_id"),
        ("no_customer", "unknown customer_id"),
        ("no_metric", "metric is not declared in usage_billing_metrics"),
        ("no_plan", "unknown plan_id"),
        ("second", "more than one limit on this metric for the customer (or plan)"),
    ]


def test_without_the_table_nobody_has_a_limit(tmp_path: Path) -> None:
    tables = pricing()
    scenario = build(tmp_path, BUILT_EVENTS[:1], tables, VARS)
    count = "select count(*) from billing_usage_billing.usage_billing__entitlements"
    assert scenario.rows(count) == [(8,)]  # 4 limits for each of c1 and c2
    with duckdb.connect(str(scenario.database)) as connection:
        connection.execute("drop table pricing.usage_limits")
    run_dbt(["build", "--select", "+usage_billing__entitlements"], scenario.database, VARS)
    assert scenario.rows(count) == [(0,)]
