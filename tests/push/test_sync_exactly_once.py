"""Exactly once, under faults: over 200 randomized runs per target against a fault-injecting
server (429, 500, 409, dropped connections, slow answers past the timeout, answers lost after
the server committed, requests the server does only after the client's next one), with client
crashes at random points (before or after any request or
ledger write) and late usage that changes invoices between runs, every document exists exactly
once at the server, amendments included, and the ledger agrees with the server."""

from __future__ import annotations

import random
from collections.abc import Iterator

import pytest

from tests.support.billing_fakes import FakeBilling, Faults, serve
from tests.support.sync_harness import randomized_run

RUNS = 200
FAULT_RATES = {
    "429": 0.04,
    "500": 0.04,
    "409": 0.02,
    "drop": 0.04,
    "slow": 0.01,
    "lost": 0.05,
    "late": 0.02,
}


@pytest.fixture(scope="module")
def server() -> Iterator[tuple[FakeBilling, str]]:
    fake = FakeBilling()
    with serve(fake) as base_url:
        yield fake, base_url


def _faults(rng: random.Random) -> Faults:
    return Faults(rng, FAULT_RATES, slow_seconds=0.15)


@pytest.mark.parametrize("target", ["stripe", "sequence", "webhook"])
def test_every_document_exactly_once_under_faults_and_crashes(
    server: tuple[FakeBilling, str], target: str
) -> None:
    fake, base_url = server
    for seed in range(RUNS):
        try:
            randomized_run(seed * 7919 + len(target), target, fake, base_url, _faults)
        except AssertionError as error:
            raise AssertionError(f"{target} run with seed {seed}: {error}") from error
