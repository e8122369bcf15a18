"""Latency and throughput of `GET /api/customers/{alias}/entitlements`: a warehouse of
bench/generate.py's customers (10,000, four plans) and events, with usage limits on every
plan, built by `dbt build` with the billing clock inside March; then `usage-billing serve` on
127.0.0.1, events ingested through the API after the clock (so answers add them), and
GET requests for random aliases, first on one connection (latency alone), then on many (the
server's throughput). Reports requests/s, p50 and p99, and the server's CPU per request.

    .venv/bin/python bench/entitlements_load.py [--events 500000] [--seconds 10]
        [--connections 32] [--recent-events 20000]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path

import duckdb
import httpx
import uvloop
from generate import (
    CUSTOMERS,
    METRICS,
    PERIOD_SECONDS,
    PERIOD_START,
    Batch,
    create_tables,
    insert_events,
    insert_pricing,
)
from ingest_load import Result, _cpu_seconds, _free_port, _read_response

PROJECT_DIR = Path(__file__).resolve().parents[1]
BIN_DIR = Path(sys.executable).parent
KEY = "bench_key_not_secret"
AS_OF = "2024-03-20 00:00:00"  # March is the live period, two thirds gone

LIMITS = """
insert into pricing.usage_limits values
    ('starter_requests', null, 'api_starter', 'api_requests', 50000, 'Requests a month'),
    ('scale_requests', null, 'api_scale', 'api_requests', 500000, 'Requests a month'),
    ('scale_refunds', null, 'api_scale', 'refunds', 100, null),
    ('payments_volume', null, 'payments', 'payment_volume', 1000000, 'Euro volume a month'),
    ('payments_cards', null, 'payments', 'card_payment_volume', 500000, null),
    ('platform_requests', null, 'platform', 'api_requests', 2000000, null);
insert into pricing.usage_limits
    select 'own_' || i, 'cus_' || i, null, 'api_requests', 1000, 'Trial allowance'
    from range(0, 10000, 100) as t(i);
"""


def _warehouse(work: Path, events: int) -> Path:
    database = work / "bench.duckdb"
    with duckdb.connect(str(database)) as connection:
        connection.execute("set enable_progress_bar = false")
        create_tables(connection)
        insert_pricing(connection)
        connection.execute(LIMITS)
        insert_events(connection, Batch(0, events, PERIOD_START, PERIOD_SECONDS))
    return database


def _environment(database: Path) -> dict[str, str]:
    return {
        **os.environ,
        "USAGE_BILLING_TARGET": "duckdb",
        "USAGE_BILLING_DUCKDB_PATH": str(database),
        "USAGE_BILLING_SCHEMA": "billing",
        "USAGE_BILLING_API_KEYS": KEY,
    }


def _build(work: Path, database: Path) -> float:
    variables = {
        "usage_billing_metrics": METRICS,
        "usage_billing_pricing_schema": "pricing",
        "usage_billing_as_of": AS_OF,
    }
    command = [
        str(BIN_DIR / "dbt"), "build", "--quiet",
        "--project-dir", str(PROJECT_DIR), "--profiles-dir", str(work),
        "--target-path", str(work / "target"), "--log-path", str(work / "logs"),
        "--vars", json.dumps(variables),
    ]  # fmt: skip
    started = time.perf_counter()
    subprocess.run(command, env=_environment(database), check=True)
    return time.perf_counter() - started


def _recent_events(count: int) -> list[dict[str, object]]:
    """API requests after the clock, spread over the customers' first aliases."""
    return [
        {
            "customerEventId": f"recent_{number}",
            "customerAlias": f"c{number % CUSTOMERS}",
            "eventType": "api_request",
            "eventTimestamp": f"2024-03-{20 + number % 10}T12:00:00Z",
            "eventProperties": {"endpoint": "/v1/charges"},
        }
        for number in range(count)
    ]


async def _connection(port: int, seed: int, until: float, result: Result) -> None:
    draw = random.Random(seed)  # noqa: S311 - which aliases are asked, repeatably
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        while time.perf_counter() < until:
            alias = f"c{draw.randrange(CUSTOMERS)}"
            started = time.perf_counter()
            writer.write(
                f"GET /api/customers/{alias}/entitlements HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                f"Authorization: Bearer {KEY}\r\n\r\n".encode()
            )
            head = await _read_response(reader)
            result.latencies.append(time.perf_counter() - started)
            result.requests += 1
            if not head.startswith(b"HTTP/1.1 200"):
                result.errors += 1
    finally:
        writer.close()


async def _run(port: int, connections: int, seconds: float) -> tuple[Result, float]:
    result = Result()
    started = time.perf_counter()
    until = started + seconds
    await asyncio.gather(*(_connection(port, n, until, result) for n in range(connections)))
    return result, time.perf_counter() - started


def _report(name: str, result: Result, elapsed: float, server_cpu: float) -> None:
    latencies = sorted(result.latencies)
    p50 = statistics.median(latencies) * 1000
    p99 = latencies[int(len(latencies) * 0.99) - 1] * 1000
    print(
        f"{name:>14}: {result.requests / elapsed:>7,.0f} requests/s  p50 {p50:5.2f} ms"
        f"  p99 {p99:5.2f} ms  ({result.requests:,} requests, {result.errors} not 200;"
        f" server CPU {server_cpu / elapsed:.2f} cores,"
        f" {result.requests / server_cpu:,.0f} requests per server-CPU-second)"
    )


def _serve(work: Path, database: Path, port: int) -> subprocess.Popen[bytes]:
    server = subprocess.Popen(
        [
            str(BIN_DIR / "usage-billing"), "serve", "--port", str(port),
            "--profiles-dir", str(work), "--project-dir", str(PROJECT_DIR),
        ],
        env=_environment(database),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )  # fmt: skip
    deadline = time.monotonic() + 60
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return server
        except OSError:
            if time.monotonic() > deadline or server.poll() is not None:
                raise
            time.sleep(0.1)


def _check_answer(client: httpx.Client, recent: int) -> None:
    """One customer's answer: the events sent since the build are in it (customer 0 got
    `recent / CUSTOMERS` of them, rounded up), so the benchmark measures the full path."""
    deadline = time.monotonic() + 60
    while True:
        response = client.get("/api/customers/c0/entitlements")
        if response.status_code != 503 or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    response.raise_for_status()
    limits = {limit["metric"]: limit for limit in response.json()["limits"]}
    expected = -(-recent // CUSTOMERS)
    added = limits["api_requests"]["added_since_build"]
    if added != expected:
        raise SystemExit(f"c0's answer added {added} events since the build, not {expected}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=500_000)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--recent-events", type=int, default=20_000)
    options = parser.parse_args()
    with tempfile.TemporaryDirectory() as directory:
        work = Path(directory)
        shutil.copy(PROJECT_DIR / "profiles.example.yml", work / "profiles.yml")
        database = _warehouse(work, options.events)
        built = _build(work, database)
        print(f"{options.events:,} events built in {built:.1f} s ({datetime.now():%H:%M})")
        port = _free_port()
        server = _serve(work, database, port)
        try:
            client = httpx.Client(
                base_url=f"http://127.0.0.1:{port}",
                headers={"Authorization": f"Bearer {KEY}"},
                trust_env=False,
                timeout=60,
            )
            events = _recent_events(options.recent_events)
            for first in range(0, len(events), 1000):
                client.post("/api/usage-events", json=events[first : first + 1000])
            _check_answer(client, options.recent_events)
            for name, connections in [("1 connection", 1), (f"{options.connections} conns", 0)]:
                connections = connections or options.connections
                cpu = _cpu_seconds(server.pid)
                result, elapsed = uvloop.run(_run(port, connections, options.seconds))
                _report(name, result, elapsed, _cpu_seconds(server.pid) - cpu)
            print(f"load average {' / '.join(f'{value:.1f}' for value in os.getloadavg())}")
        finally:
            server.send_signal(signal.SIGTERM)
            server.wait(timeout=600)


if __name__ == "__main__":
    main()
