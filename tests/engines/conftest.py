"""Fixtures of the portability suite: the local stand-ins (PostgreSQL, fakesnow) and one runner
process per engine, all started when the suite starts, so the slow Spark builds run while the
offline compile tests do."""

from __future__ import annotations

import contextlib
import subprocess
import sys
from collections.abc import Iterator
from typing import Any

import pytest

from tests.engines import services
from tests.engines.runs import ENGINE_SCENARIOS, ORACLE_SCENARIOS, EngineRun, environment
from tests.support.billing_fakes import FakeBilling, serve


@pytest.fixture(scope="session")
def stand_ins(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """PostgreSQL, the fakesnow server and, when installed, the BigQuery emulator, shared by the
    runners and the tests that need them."""
    with contextlib.ExitStack() as stack:
        stand_ins = {
            "postgres": stack.enter_context(services.postgres()),
            "fakesnow": stack.enter_context(
                services.fakesnow(tmp_path_factory.mktemp("fakesnow-server"))
            ),
        }
        if "bigquery" in ENGINE_SCENARIOS:
            stand_ins["bigquery"] = stack.enter_context(
                services.bigquery_emulator(tmp_path_factory.mktemp("bigquery-emulator"))
            )
        yield stand_ins


@pytest.fixture(scope="session")
def engine_runs(
    tmp_path_factory: pytest.TempPathFactory, stand_ins: dict[str, Any]
) -> Iterator[dict[str, EngineRun]]:
    """Every engine's runner, started at once; each test waits only for the engine it reads."""
    base = tmp_path_factory.mktemp("engines")
    with contextlib.ExitStack() as stack:
        runs = {}
        for engine, scenarios in ENGINE_SCENARIOS.items():
            output_dir = base / engine
            output_dir.mkdir()
            log = output_dir / "runner.log"
            billing = FakeBilling()
            billing_url = stack.enter_context(serve(billing))
            with log.open("wb") as output:
                process = subprocess.Popen(
                    [
                        sys.executable,
                        "-m",
                        "tests.engines.runner",
                        engine,
                        str(output_dir),
                        *scenarios,
                        *ORACLE_SCENARIOS.get(engine, []),
                    ],
                    env=environment(engine, output_dir, stand_ins, billing_url),
                    stdout=output,
                    stderr=subprocess.STDOUT,
                    cwd=output_dir,
                )
            runs[engine] = EngineRun(engine, output_dir, process, log, billing)
        stack.callback(_stop, runs)
        yield runs


def _stop(runs: dict[str, EngineRun]) -> None:
    for run in runs.values():
        if run.process.poll() is None:
            run.process.kill()
            run.process.wait()
        print(f"\n{run.engine} runner: {run.seconds} s", end="")


@pytest.fixture(scope="session", autouse=True)
def _start_builds_first(engine_runs: dict[str, EngineRun]) -> None:
    """Starts the runners before the first test of the suite, whichever it is."""
