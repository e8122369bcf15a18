"""The entitlements endpoint across restarts of the server (docs/entitlements.md, "After a
restart"): the events accepted before a stop (SIGTERM) or a crash (SIGKILL) and timestamped at
or after the build's clock count, once each, without a new build. A real dbt build and the
real server on 127.0.0.1; the scenario is test_entitlements_endpoint.py's (clock 2024-03-15,
March live, calls limited to 100, EUR volume to 1000), every figure worked out here.

Rows another route put in the raw table before the first start are read by the event
contract, as the build reads them:
- other_route_late (2024-03-19T23:30-02:00, after the clock) and other_route_plain
  (2024-03-20 05:00, no offset: UTC) count as events since the build;
- other_route_early (2024-03-15T01:00+02:00, i.e. 2024-03-14 23:00 UTC) is before the clock:
  the build counts it (61 calls built), the server must not add it again;
- other_route_bad (hour 25) is refused by both.
So before any event is sent: 61 built + 2 added = 63 calls.
"""

from __future__ import annotations

import fcntl
import signal
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from tests.entitlements.test_entitlements_endpoint import (
    BUILT_EVENTS,
    KEY,
    VARS,
    by_metric,
    entitlements,
    event,
    figures,
    pricing,
    raw,
)
from tests.support.ingest_server import IngestServer, make_server
from tests.support.warehouse_scenario import build

D = Decimal
OTHER_ROUTE = [
    raw("other_route_late", "acme", "call", "2024-03-19T23:30:00-02:00"),
    raw("other_route_plain", "c1", "call", "2024-03-20 05:00:00"),
    raw("other_route_early", "c1", "call", "2024-03-15T01:00:00+02:00"),
    raw("other_route_bad", "c1", "call", "2024-03-20T25:00:00Z"),
]
BEFORE_STOP = [
    *[event(f"pre_{n}", "acme", "call", "2024-03-20T10:00:00Z") for n in range(20)],
    event("repeat", "acme", "call", "2024-03-20T11:00:00Z"),
    event("moved", "acme", "call", "2024-03-21T11:00:00Z"),
    event("pay_repeat", "acme", "payment", "2024-03-16T10:00:00Z", amount=100, currency="EUR"),
]
AFTER_START = [
    event("repeat", "acme", "call", "2024-03-20T11:00:00Z"),  # again: still once
    event("moved", "acme", "call", "2024-03-10T11:00:00Z"),  # now before the clock
    event("pay_repeat", "acme", "payment", "2024-03-16T10:00:00Z", amount=40, currency="EUR"),
]
BEFORE_CRASH = [
    *[event(f"crash_{n}", "c1", "call", "2024-03-22T10:00:00Z") for n in range(5)],
    event("pay_repeat", "acme", "payment", "2024-03-16T10:00:00Z", amount=60, currency="EUR"),
]


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[IngestServer]:
    directory = tmp_path_factory.mktemp("entitlements-restart")
    build(directory, [*BUILT_EVENTS, *OTHER_ROUTE], pricing(), VARS)
    running = make_server(directory, KEY).start()
    try:
        yield running
    finally:
        if running.process is not None:
            running.stop()


def send(server: IngestServer, events: list[dict[str, Any]]) -> None:
    with server.client(KEY) as client:
        response = client.post("/api/usage-events", json=events)
    assert response.status_code == 201, response.text


def usage(server: IngestServer) -> tuple[tuple[Any, ...], Any, tuple[Any, ...], Any]:
    """calls' and eur_volume's figures and added_since_build, by c1's other alias too."""
    limits = by_metric(entitlements(server, "acme"))
    assert by_metric(entitlements(server, "c1")) == limits
    calls, eur = limits["calls"], limits["eur_volume"]
    return figures(calls), calls["added_since_build"], figures(eur), eur["added_since_build"]


def test_events_accepted_before_a_stop_or_a_crash_count_once(server: IngestServer) -> None:
    # The first start: the other route's rows after the clock, read as the build reads them.
    assert usage(server) == (
        (D(63), D(100), D(37), True, True),
        D(2),
        (D("700.5"), D(1000), D("299.5"), True, True),
        D(0),
    )

    # 63 + 20 + repeat + moved = 85 calls; EUR 700.5 + 100.
    send(server, BEFORE_STOP)
    sent = (
        (D(85), D(100), D(15), True, True),
        D(24),
        (D("800.5"), D(1000), D("199.5"), True, True),
        D(100),
    )
    assert usage(server) == sent

    # A stop loads the journal; the memory goes with the process. No build in between.
    server.stop()
    server.start()
    assert usage(server) == sent

    # Sent again after the start: the repeat still once, moved now before the clock (the last
    # version wins, so it no longer counts), the payment's last amount 40 in place of 100.
    send(server, AFTER_START)
    resent = (
        (D(84), D(100), D(16), True, True),
        D(23),
        (D("740.5"), D(1000), D("259.5"), True, True),
        D(40),
    )
    assert usage(server) == resent

    # A crash: the events stay in the journal, and the next start loads them before serving.
    send(server, BEFORE_CRASH)
    crashed = (
        (D(89), D(100), D(11), True, True),
        D(28),
        (D("760.5"), D(1000), D("239.5"), True, True),
        D(60),
    )
    assert usage(server) == crashed
    server.stop(signal.SIGKILL)
    server.start()
    assert usage(server) == crashed


def test_a_start_while_the_warehouse_is_locked_seeds_from_the_first_copy_after(
    server: IngestServer,
) -> None:
    """The first copy of the marts can come after the start (a build held the lock file then):
    the seed waits for it, and a version accepted meanwhile is the one that counts."""
    paid = {"amount": 10, "currency": "EUR"}
    send(server, [event("pay_late", "acme", "payment", "2024-03-17T10:00:00Z", **paid)])
    server.stop()
    with Path(f"{server.database}.lock").open("a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            server.start()
            with server.client(KEY) as client:
                answer = client.get("/api/customers/acme/entitlements")
            assert answer.status_code == 503, answer.text  # no copy yet
            # In USD now: the last version adds nothing to the EUR volume.
            paid["currency"] = "USD"
            send(server, [event("pay_late", "acme", "payment", "2024-03-17T10:00:00Z", **paid)])
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)
    assert usage(server) == (
        (D(89), D(100), D(11), True, True),
        D(28),
        (D("760.5"), D(1000), D("239.5"), True, True),
        D(60),
    )
