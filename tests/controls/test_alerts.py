"""Threshold alerts (docs/usage-controls.md, "Alerts"): each crossing sent once as a signed
`usage.threshold_crossed` webhook through the push ledger. The receiver is the fake billing
server on 127.0.0.1, which verifies every Standard Webhooks signature (400 otherwise) and
de-duplicates by webhook-id, as the specification asks of receivers."""

from __future__ import annotations

import contextlib
import json
import random
from collections.abc import Iterator
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import duckdb
import pytest

from tests.controls.test_thresholds import EVENTS, EXPECTED, VARS, pricing
from tests.support.billing_fakes import FakeBilling, Faults, serve
from tests.support.sync_harness import (
    Crash,
    CrashingTransport,
    CrashingWarehouse,
    push_to_webhook,
    settings_for,
)
from tests.support.warehouse_scenario import MARTS_SCHEMA, build
from usage_billing.marts.relations import MartRelations
from usage_billing.push.alerts import (
    ALERT_KIND,
    EVENT_TYPE,
    alert_key,
    plan_alerts,
    push_alerts,
    read_crossings,
)
from usage_billing.push.ledger import Ledger
from usage_billing.push.targets.registry import make_target
from usage_billing.push.targets.webhook import WebhookTarget
from usage_billing.warehouse.duckdb import DuckDBWarehouse

CROSSINGS_DDL = (
    "crossing_id varchar, threshold_id varchar, description varchar, customer_id varchar,"
    " subscription_id varchar, invoice_id varchar, period_start timestamp,"
    " period_end timestamp, currency varchar, metric_name varchar,"
    " percentage decimal(38, 10), percent_of varchar, level_kind varchar,"
    " level_value decimal(38, 10), crossed_at timestamp, is_crossed_at_exact boolean,"
    " crossing_event_id varchar, value_at_crossing decimal(38, 10)"
)


@pytest.fixture(scope="module")
def server() -> Iterator[tuple[FakeBilling, str]]:
    fake = FakeBilling()
    with serve(fake) as base_url:
        yield fake, base_url


def alerts_received(fake: FakeBilling) -> dict[str, dict[str, Any]]:
    """crossing_id → the event's data, of every alert the receiver accepted."""
    return {
        body["data"]["crossing_id"]: body["data"]
        for body in fake.deliveries.values()
        if body["type"] == EVENT_TYPE
    }


def test_push_sends_each_crossing_of_a_build_once_signed(
    server: tuple[FakeBilling, str], tmp_path: Path
) -> None:
    fake, base_url = server
    fake.reset()
    scenario = build(tmp_path / "build", EVENTS, pricing(), VARS)
    first = push_to_webhook(scenario.database, base_url)
    assert first.returncode == 0, first.stderr
    assert f"{len(EXPECTED)} threshold alerts sent, 0 failed, 0 already sent" in first.stdout
    received = alerts_received(fake)
    assert set(received) == set(EXPECTED)
    t80 = received["t80|s_c1/2024-01-01"]
    assert t80 == {
        "crossing_id": "t80|s_c1/2024-01-01",
        "threshold_id": "t80",
        "description": "80% of included calls",
        "customer_id": "c1",
        "subscription_id": "s_c1",
        "invoice_id": "s_c1/2024-01-01",
        "period_start": "2024-01-01T00:00:00+00:00",
        "period_end": "2024-02-01T00:00:00+00:00",
        "currency": "USD",
        "metric_name": "calls",
        "percentage": "80",
        "percent_of": "included_units",
        "level_kind": "quantity",
        "level_value": "80",
        "crossed_at": "2024-01-20T12:00:19+00:00",
        "is_crossed_at_exact": True,
        "crossing_event_id": "c1_2024-01-20_0019",
        "value_at_crossing": "80",
        "idempotency_key": alert_key("webhook", "t80|s_c1/2024-01-01"),
    }
    # The webhook-id is the key in the body, the event's timestamp the crossing.
    for message_id, body in fake.deliveries.items():
        if body["type"] == EVENT_TYPE:
            assert message_id == body["data"]["idempotency_key"]
            assert body["timestamp"] == body["data"]["crossed_at"]
    attempts = fake.delivery_attempts

    second = push_to_webhook(scenario.database, base_url)
    assert second.returncode == 0, second.stderr
    assert f"0 threshold alerts sent, 0 failed, {len(EXPECTED)} already sent" in second.stdout
    assert fake.delivery_attempts == attempts  # nothing posted again
    with duckdb.connect(str(scenario.database), read_only=True) as connection:
        rows = connection.execute(
            "select invoice_id, state from billing.invoice_sync_log where kind = ?", [ALERT_KIND]
        ).fetchall()
    assert sorted(rows) == sorted((crossing_id, "done") for crossing_id in EXPECTED)


def write_crossings(connection: duckdb.DuckDBPyConnection, count: int) -> list[str]:
    """`count` crossings in the mart, as dbt would leave it; their crossing_ids."""
    connection.execute(f"create schema if not exists {MARTS_SCHEMA}")
    connection.execute(
        f"create or replace table {MARTS_SCHEMA}.usage_billing__threshold_crossings"
        f" ({CROSSINGS_DDL})"
    )
    ids = []
    for number in range(count):
        crossing_id = f"t{number}|s_c{number % 3}/2024-01-01"
        ids.append(crossing_id)
        connection.execute(
            f"insert into {MARTS_SCHEMA}.usage_billing__threshold_crossings values"
            " (?, ?, null, ?, ?, ?, '2024-01-01', '2024-02-01', 'USD', 'calls', null, null,"
            " 'quantity', ?, ?, true, ?, ?)",
            [
                crossing_id,
                f"t{number}",
                f"c{number % 3}",
                f"s_c{number % 3}",
                f"s_c{number % 3}/2024-01-01",
                Decimal(number + 1),
                datetime(2024, 1, 2, number % 24),
                f"e{number}",
                Decimal(number + 1),
            ],
        )
    return ids


class CrashAfterSend:
    """The webhook sender, crashing the push right after the receiver accepted an alert and
    before the ledger records it `done`: the one window where a push could send twice."""

    def __init__(self, inner: WebhookTarget, crash_on: int) -> None:
        self.inner = inner
        self.crash_on = crash_on
        self.sent = 0

    def send_event(self, key: str, body: str) -> None:
        self.inner.send_event(key, body)
        self.sent += 1
        if self.sent == self.crash_on:
            raise Crash("after the send, before the ledger write")


def push_alerts_once(connection: duckdb.DuckDBPyConnection, ledger: Ledger, sender: Any) -> bool:
    """One push of the alerts; True when there was nothing left to send."""
    relations = MartRelations.in_schema(MARTS_SCHEMA)
    crossings = read_crossings(DuckDBWarehouse(connection), relations)
    steps, _ = plan_alerts("webhook", crossings, ledger.entries("webhook"))
    if not steps:
        return True
    with contextlib.suppress(Crash):
        push_alerts(ledger, "webhook", sender, steps)
    return False


def test_a_crash_between_send_and_ledger_write_resends_the_same_event_once(
    server: tuple[FakeBilling, str],
) -> None:
    fake, base_url = server
    fake.reset()
    with duckdb.connect() as connection:
        ids = write_crossings(connection, 3)
        ledger = Ledger(DuckDBWarehouse(connection), "billing")
        ledger.ensure_tables()
        target = make_target("webhook", settings_for(base_url))
        assert isinstance(target, WebhookTarget)
        try:
            assert not push_alerts_once(connection, ledger, CrashAfterSend(target, crash_on=2))
            # The second alert reached the receiver but its ledger row is still pending.
            states = {entry.invoice_id: entry.state for entry in ledger.entries("webhook")}
            assert states == {ids[0]: "done", ids[1]: "pending"}
            assert fake.delivery_attempts == 2
            first_body = fake.deliveries[alert_key("webhook", ids[1])]
            assert not push_alerts_once(connection, ledger, target)
            assert push_alerts_once(connection, ledger, target)
        finally:
            target.close()
        # Sent again under the same webhook-id with the same body: one delivery per crossing.
        assert fake.delivery_attempts == 4
        assert set(fake.deliveries) == {alert_key("webhook", crossing_id) for crossing_id in ids}
        assert fake.deliveries[alert_key("webhook", ids[1])] == first_body
        assert {entry.state for entry in ledger.entries("webhook")} == {"done"}


@pytest.mark.parametrize("seed", range(40))
def test_alerts_exactly_once_under_faults_and_crashes(
    server: tuple[FakeBilling, str], seed: int
) -> None:
    """Crashes before or after any request or ledger write, and a server that fails, drops
    connections and loses answers after committing: every alert delivered, each once, as the
    ledger recorded it."""
    fake, base_url = server
    fake.reset()
    rng = random.Random(seed)
    fake.faults = Faults(random.Random(seed + 1), {"500": 0.05, "drop": 0.05, "lost": 0.1})
    try:
        with duckdb.connect() as connection:
            ids = write_crossings(connection, 6)
            Ledger(DuckDBWarehouse(connection), "billing").ensure_tables()
            for runs in range(60):
                crash = 0.3 if runs < 30 else 0.0
                ledger = Ledger(CrashingWarehouse(connection, rng, crash), "billing")
                sender = make_target(
                    "webhook",
                    settings_for(base_url),
                    transport=CrashingTransport(rng, crash, fake),
                    sleep=lambda _: None,
                )
                try:
                    if push_alerts_once(connection, ledger, sender):
                        break
                finally:
                    sender.close()
            else:
                raise AssertionError("the alerts were never all sent")
            fake.settle()
            entries = Ledger(DuckDBWarehouse(connection), "billing").entries("webhook")
    finally:
        fake.faults = None
    keys = {alert_key("webhook", crossing_id) for crossing_id in ids}
    assert set(fake.deliveries) == keys
    assert {entry.state for entry in entries} == {"done"}
    for entry in entries:
        assert fake.deliveries[entry.idempotency_key] == json.loads(entry.payload)
