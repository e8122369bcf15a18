"""`usage-billing push` killed with SIGKILL at random points and re-run: each document still
exists exactly once at the server, amendments included, and the ledger (a DuckDB file that the
killed process was writing) agrees with the server."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import duckdb
import pytest

from tests.support.billing_fakes import FakeBilling, Faults, serve
from tests.support.sync_harness import (
    check_exactly_once,
    environment_for,
    external_customer,
    mutate,
    random_invoices,
    write_marts,
)
from tests.support.warehouse_scenario import BIN_DIR, REPO_DIR
from usage_billing.push.ledger import Ledger
from usage_billing.warehouse.duckdb import DuckDBWarehouse


@pytest.fixture(scope="module")
def server() -> Iterator[tuple[FakeBilling, str]]:
    fake = FakeBilling()
    with serve(fake) as base_url:
        yield fake, base_url


def _push(
    fake: FakeBilling, database: Path, target: str, base_url: str, kill_after: int | None
) -> int | None:
    """Run one push; SIGKILL it once the server has seen `kill_after` of its requests.

    Counting requests, not seconds, kills it mid-push however fast the machine is."""
    environment = {
        **os.environ,
        **environment_for(base_url),
        "USAGE_BILLING_DUCKDB_PATH": str(database),
    }
    seen_before = len(fake.log)
    process = subprocess.Popen(
        [
            str(BIN_DIR / "usage-billing"),
            "push",
            "--to",
            target,
            "--profiles-dir",
            str(REPO_DIR),
        ],
        env=environment,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    if kill_after is None:
        return process.wait(120)
    deadline = time.monotonic() + 120
    while process.poll() is None:
        if len(fake.log) - seen_before >= kill_after or time.monotonic() > deadline:
            process.send_signal(signal.SIGKILL)
            process.wait()
            return None
        time.sleep(0.002)
    return process.returncode


@pytest.mark.parametrize("target", ["stripe", "sequence", "webhook"])
def test_killed_pushes_resume_without_billing_twice(
    server: tuple[FakeBilling, str], target: str, tmp_path: Path
) -> None:
    fake, base_url = server
    rng = random.Random(f"kill-{target}")
    fake.reset()
    fake.faults = Faults(random.Random(7), {"429": 0.03, "500": 0.03, "drop": 0.03, "lost": 0.05})
    fake.latency = 0.02
    database = tmp_path / "warehouse.duckdb"
    invoices = random_invoices(rng, target) + random_invoices(random.Random(99), target)
    invoices = [
        (
            version.__class__(
                **{**version.__dict__, "invoice_id": f"{version.invoice_id}-{number}"}
            ),
            q,
        )
        for number, (version, q) in enumerate(invoices)
    ]
    with duckdb.connect(str(database)) as connection:
        ledger = Ledger(DuckDBWarehouse(connection), "billing")
        ledger.ensure_tables()
        if target != "webhook":
            ledger.map_customers(
                target, [(c, external_customer(target, c)) for c in ("cust_1", "cust_2")]
            )
    kills = 0
    for phase in range(2):
        if phase:
            invoices = mutate(rng, invoices)
        write_marts(database, [version for version, _ in invoices])
        for _ in range(3):
            kills += _push(fake, database, target, base_url, rng.randint(1, 3)) is None
        for _ in range(10):
            if _push(fake, database, target, base_url, None) == 0:
                break
        else:
            raise AssertionError("push never succeeded")
    fake.faults = None
    fake.latency = 0.0
    assert kills >= 2, "the pushes ended before they could be killed"
    with duckdb.connect(str(database), read_only=True) as connection:
        check_exactly_once(
            fake,
            Ledger(DuckDBWarehouse(connection), "billing"),
            target,
            [version for version, _ in invoices],
        )
