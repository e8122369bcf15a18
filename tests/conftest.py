"""Fixtures shared by several test modules."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from tests.support.warehouse_scenario import BIN_DIR, REPO_DIR, Scenario, install_package, run_dbt


def pytest_sessionstart(session: pytest.Session) -> None:
    """Every suite builds integration_tests/, which needs the package linked in."""
    install_package()


@pytest.fixture(scope="session")
def demo_warehouse(tmp_path_factory: pytest.TempPathFactory) -> Scenario:
    """The demo as `make demo` builds it: the CLI writes the demo events, then `dbt build`.
    Built once per session: the demo and page tests read it, none writes to it."""
    directory = Path(tmp_path_factory.mktemp("demo"))
    database = directory / "warehouse.duckdb"
    subprocess.run(
        [str(BIN_DIR / "usage-billing"), "demo-events", "--profiles-dir", str(REPO_DIR)],
        env={**os.environ, "USAGE_BILLING_DUCKDB_PATH": str(database)},
        check=True,
    )
    run_dbt(["build"], database)
    return Scenario(database)
