"""Load benchmark of the ingestion API: `usage-billing serve` on 127.0.0.1 and a load generator
(asyncio, keep-alive connections, plain HTTP/1.1 on sockets so the generator costs little CPU)
posting single events, then batches, each for a fixed time. Reports requests/s, events/s and
p50/p99 latency, then stops the server and checks that the raw table holds every event that
got a 201.

The machine is shared, so besides the rates it reports the CPU seconds the server process
(all its threads) spent per request and per event, from /proc: requests or events per
server-CPU-second is what one core would carry, whatever else the machine was doing.

    .venv/bin/python bench/ingest_load.py [--seconds 10] [--connections 64] [--batch 500]
        [--batch-connections 8] [--load-interval 1.0]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import duckdb
import uvloop

PROJECT_DIR = Path(__file__).resolve().parents[1]
BIN_DIR = Path(sys.executable).parent
KEY = "bench_key_not_secret"


@dataclass
class Result:
    requests: int = 0
    events: int = 0
    errors: int = 0
    latencies: list[float] = field(default_factory=list)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


async def _read_response(reader: asyncio.StreamReader) -> bytes:
    """One HTTP/1.1 response off a keep-alive connection: its head, the body read and dropped."""
    head = await reader.readuntil(b"\r\n\r\n")
    length = 0
    for line in head.split(b"\r\n"):
        if line.lower().startswith(b"content-length:"):
            length = int(line.split(b":", 1)[1])
    await reader.readexactly(length)
    return head


def _request(port: int, body: bytes) -> bytes:
    return (
        f"POST /api/usage-events HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
        f"Authorization: Bearer {KEY}\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\n\r\n"
    ).encode() + body


def _event(name: str) -> dict[str, object]:
    return {
        "customerEventId": name,
        "customerAlias": "acme_corp",
        "eventType": "api_request",
        "eventTimestamp": "2022-10-05T12:00:00Z",
        "eventProperties": {"endpoint": "/v1/charges", "bytes": 5120},
    }


async def _connection(port: int, number: int, batch: int, until: float, result: Result) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    sent = 0
    try:
        while time.perf_counter() < until:
            names = [f"c{number}_{sent}_{batch}_{i}" for i in range(batch)]
            events = [_event(name) for name in names]
            body = json.dumps(events if batch > 1 else events[0]).encode()
            started = time.perf_counter()
            writer.write(_request(port, body))
            head = await _read_response(reader)
            result.latencies.append(time.perf_counter() - started)
            result.requests += 1
            sent += 1
            if head.startswith(b"HTTP/1.1 201"):
                result.events += batch
            else:
                result.errors += 1
    finally:
        writer.close()


async def _run(port: int, connections: int, batch: int, seconds: float) -> tuple[Result, float]:
    result = Result()
    started = time.perf_counter()
    until = started + seconds
    await asyncio.gather(
        *(_connection(port, number, batch, until, result) for number in range(connections))
    )
    return result, time.perf_counter() - started


def _cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of a process, all threads (fields 14 and 15 of stat)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _report(name: str, result: Result, elapsed: float, server_cpu: float) -> None:
    latencies = sorted(result.latencies)
    p50 = statistics.median(latencies) * 1000
    p99 = latencies[int(len(latencies) * 0.99) - 1] * 1000
    print(
        f"{name:>14}: {result.requests / elapsed:>9,.0f} requests/s"
        f" {result.events / elapsed:>9,.0f} events/s  p50 {p50:6.1f} ms  p99 {p99:6.1f} ms"
        f"  ({result.requests:,} requests, {result.errors} not 201)\n{'':>16}server CPU"
        f" {server_cpu / elapsed:.2f} cores: {result.requests / server_cpu:,.0f} requests and"
        f" {result.events / server_cpu:,.0f} events per server-CPU-second"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--batch", type=int, default=500)
    parser.add_argument("--batch-connections", type=int, default=8)
    parser.add_argument(
        "--load-interval", default="1.0", help="the server's --load-interval (seconds)"
    )
    options = parser.parse_args()
    with tempfile.TemporaryDirectory() as directory:
        database = Path(directory) / "bench.duckdb"
        port = _free_port()
        environment = {
            **os.environ,
            "USAGE_BILLING_DUCKDB_PATH": str(database),
            "USAGE_BILLING_API_KEYS": KEY,
        }
        server = subprocess.Popen(
            [
                str(BIN_DIR / "usage-billing"),
                "serve",
                "--port",
                str(port),
                "--profiles-dir",
                str(PROJECT_DIR),
                "--project-dir",
                str(PROJECT_DIR),
                "--load-interval",
                options.load_interval,
            ],
            env=environment,
            stderr=subprocess.DEVNULL,
        )
        try:
            deadline = time.monotonic() + 30
            while True:
                try:
                    socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                    break
                except OSError:
                    if time.monotonic() > deadline:
                        raise
                    time.sleep(0.1)
            cpu = _cpu_seconds(server.pid)
            single, single_seconds = uvloop.run(_run(port, options.connections, 1, options.seconds))
            _report("single", single, single_seconds, _cpu_seconds(server.pid) - cpu)
            cpu = _cpu_seconds(server.pid)
            batched, batch_seconds = uvloop.run(
                _run(port, options.batch_connections, options.batch, options.seconds)
            )
            _report(
                f"batch of {options.batch}", batched, batch_seconds, _cpu_seconds(server.pid) - cpu
            )
        finally:
            stopping = time.perf_counter()
            server.send_signal(signal.SIGTERM)
            server.wait(timeout=600)
        with duckdb.connect(str(database), read_only=True) as connection:
            row = connection.execute("select count(*) from raw.usage_events").fetchone()
        stored = int(row[0]) if row else 0
        print(
            f"stored {stored:,} of {single.events + batched.events:,} acknowledged events"
            f" (last load at shutdown {time.perf_counter() - stopping:.1f} s)"
        )


if __name__ == "__main__":
    main()
