"""What the portability suite runs on each engine, and the handle of one engine's runner
process (runner.py), shared by conftest.py and the tests."""

from __future__ import annotations

import json
import os
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from tests.engines import services
from tests.support.billing_fakes import FakeBilling
from tests.support.pricing_properties import SEED, SEED_VARIABLE
from tests.support.sync_harness import environment_for
from tests.support.warehouse_scenario import REPO_DIR

# What each engine builds. Spark builds are the slowest part of CI (about a minute and a half
# each on 2 cores), so Spark builds the demo, the pricing models, the unbilled usage (whose
# gauge and anti-joins the demo lacks) and the money scenario (credit, time zones, fees, limits:
# tests/support/money_scenario.py); the metrics scenario, which exercises every macro a
# metric compiles to, runs on the other two, and so does a second build of the demo (an
# incremental run that changes nothing). Every engine replays the DuckDB suites' arrival-order
# stream (tests/support/arrival_replay.py) with an incremental build per load; Spark in two
# loads (replay_in_two_loads: its builds take minutes), its invoice revisions compared too.
# demo_interrupted loads late events into the demo, runs int_usage_events_validated alone (a
# build killed after it), then builds: the next build must bill them (docs/build-guarantees.md).
# What the warehouses (PostgreSQL, fakesnow, the BigQuery emulator) build; DuckDB builds them as
# the reference.
WAREHOUSE_SCENARIOS = [
    "demo",
    "demo_incremental",
    "demo_interrupted",
    "pricing_models",
    "metrics",
    "unbilled",
    "money",
    "replay",
]
ENGINE_SCENARIOS = {
    "duckdb": [*WAREHOUSE_SCENARIOS, "replay_in_two_loads"],
    "postgres": WAREHOUSE_SCENARIOS,
    "snowflake": WAREHOUSE_SCENARIOS,
    "spark": ["demo", "pricing_models", "unbilled", "money", "replay_in_two_loads"],
}
# BigQuery builds on bqemulator (bigquery_emulator_server.py) only where its own virtualenv is
# installed (`make bigquery-emulator`): kept out of CI's time (its builds took 11 minutes
# together on 2 busy cores; its replay alone, incremental in a transaction per model, 2.5).
if services.bigquery_emulator_python() is not None:
    ENGINE_SCENARIOS["bigquery"] = WAREHOUSE_SCENARIOS
# Scenarios held to the pricing oracle instead of compared with DuckDB (test_pricing_oracle.py),
# run after the engine's ENGINE_SCENARIOS. DuckDB's own property test draws ten times as many.
ORACLE_SCENARIOS = {"postgres": ["properties"], "spark": ["properties"]}
RUN_TIMEOUT_SECONDS = 1500


@dataclass
class EngineRun:
    """One runner process (runner.py) and where it writes."""

    engine: str
    output_dir: Path
    process: subprocess.Popen[bytes]
    log: Path
    billing: FakeBilling  # the webhook receiver the sync pushes this engine's invoices to
    started: float = field(default_factory=time.monotonic)
    seconds: float | None = None

    def wait(self) -> None:
        if self.seconds is None:
            try:
                self.process.wait(timeout=RUN_TIMEOUT_SECONDS)
            finally:
                self.seconds = round(time.monotonic() - self.started, 1)
        if self.process.returncode != 0:
            pytest.fail(
                f"the {self.engine} runner exited with {self.process.returncode}:\n"
                + self.log.read_text()[-6000:]
            )

    def scenario(self, name: str) -> dict[str, Any]:
        return self._result(name)

    def sync(self) -> dict[str, Any]:
        """What the sync's commands printed and the ledger rows (runner.sync)."""
        return self._result("sync")

    def _result(self, name: str) -> dict[str, Any]:
        self.wait()
        path = self.output_dir / f"{name}.json"
        assert path.exists(), f"{self.engine} wrote no {name}:\n{self.log.read_text()[-4000:]}"
        result: dict[str, Any] = json.loads(path.read_text())
        return result


def environment(
    engine: str, output_dir: Path, stand_ins: dict[str, Any], billing_url: str
) -> dict[str, str]:
    environment = {
        **os.environ,
        **environment_for(billing_url),
        "PYTHONPATH": os.pathsep.join([str(REPO_DIR), os.environ.get("PYTHONPATH", "")]),
        "DBT_SEND_ANONYMOUS_USAGE_STATS": "false",
        SEED_VARIABLE: str(SEED),  # the property cases' seed, which a failure prints
    }
    if engine == "duckdb":
        environment["USAGE_BILLING_DUCKDB_PATH"] = str(output_dir / "warehouse.duckdb")
    elif engine == "postgres":
        postgres: services.Postgres = stand_ins["postgres"]
        environment.update(
            USAGE_BILLING_POSTGRES_HOST="127.0.0.1",
            USAGE_BILLING_POSTGRES_PORT=str(postgres.port),
            USAGE_BILLING_POSTGRES_USER=postgres.user,
            USAGE_BILLING_POSTGRES_DATABASE=postgres.database,
        )
    elif engine == "snowflake":
        environment.update(
            USAGE_BILLING_SNOWFLAKE_ACCOUNT="fakesnow",
            USAGE_BILLING_SNOWFLAKE_USER="usage_billing",
            DBT_ENV_SECRET_SNOWFLAKE_PASSWORD="fakesnow-accepts-any",  # noqa: S106 - not a secret
            USAGE_BILLING_SNOWFLAKE_HOST="localhost",
            USAGE_BILLING_SNOWFLAKE_PORT=str(stand_ins["fakesnow"]),
            USAGE_BILLING_SNOWFLAKE_PROTOCOL="http",
            USAGE_BILLING_SNOWFLAKE_DATABASE="usage_billing",
        )
    elif engine == "bigquery":
        environment["USAGE_BILLING_BIGQUERY_API_ENDPOINT"] = stand_ins["bigquery"]
    return environment
