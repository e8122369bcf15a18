"""Fixtures shared by several test modules."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from tests.support.warehouse_scenario import BIN_DIR, PROJECT_DIR, Scenario, run_dbt


@pytest.fixture(scope="session")
def demo_warehouse(tmp_path_factory: pytest.TempPathFactory) -> Scenario:
    """The demo as `make demo` builds it: the CLI writes the demo events, then `dbt build`.
    Built once per session: the demo and page tests read it, none writes to it."""
    directory = Path(tmp_path_factory.mktemp("demo"))
    database = directory / "warehouse.duckdb"
    subprocess.run(
        [str(BIN_DIR / "usage-billing"), "demo-events", "--profiles-dir", str(PROJECT_DIR)],
        env={**os.environ, "USAGE_BILLING_DUCKDB_PATH": str(database)},
        check=True,
    )
    run_dbt(["build"], database)
    return Scenario(database)
