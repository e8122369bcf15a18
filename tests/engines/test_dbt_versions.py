"""require-dbt-version is a range, and both of its ends are built: the demo on the lowest dbt
the range allows (a virtualenv of its own, made once under target/) gives the same invoices,
to the line and the cent, as on the dbt this project installs, which must be the newest the
range allows."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import duckdb
import pytest
import yaml
from dbt.version import __version__ as installed_dbt

from tests.support.warehouse_scenario import BIN_DIR, PROJECT_DIR, REPO_DIR, run_dbt

pytestmark = pytest.mark.engines

MARTS = "billing_usage_billing"
READ_MARTS = f"""
import duckdb, json, sys
with duckdb.connect(sys.argv[1], read_only=True) as connection:
    rows = {{
        table: [list(map(str, row)) for row in connection.execute(
            f"select * from {MARTS}.{{table}} order by all").fetchall()]
        for table in ["usage_billing__invoices", "usage_billing__invoice_lines"]
    }}
print(json.dumps(rows))
"""


def dbt_range() -> tuple[tuple[int, int], tuple[int, int]]:
    """The lowest minor version the range allows and the minor its upper bound excludes."""
    bounds = yaml.safe_load((REPO_DIR / "dbt_project.yml").read_text())["require-dbt-version"]
    lowest = next(
        re.fullmatch(r">=(\d+)\.(\d+)\.0", bound) for bound in bounds if bound.startswith(">=")
    )
    upper = next(
        re.fullmatch(r"<(\d+)\.(\d+)\.0", bound) for bound in bounds if bound.startswith("<")
    )
    assert lowest and upper, f"require-dbt-version {bounds} is not [>=X.Y.0, <X.Z.0]"
    return (int(lowest[1]), int(lowest[2])), (int(upper[1]), int(upper[2]))


def lowest_dbt(lowest: tuple[int, int]) -> Path:
    """A virtualenv holding the newest patch of the lowest dbt minor, its DuckDB adapter of the
    same minor and this project's DuckDB, made once."""
    minor = f"{lowest[0]}.{lowest[1]}"
    venv = REPO_DIR / "target" / f"dbt-{minor}"
    if not (venv / ".installed").exists():
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
        subprocess.run(
            [
                str(venv / "bin" / "pip"),
                "install",
                "--quiet",
                f"dbt-core~={minor}.0",
                f"dbt-duckdb~={minor}.0",
                f"duckdb=={duckdb.__version__}",
            ],
            check=True,
        )
        (venv / ".installed").touch()
    return venv


def demo_marts(database: Path, python: Path) -> dict[str, Any]:
    result = subprocess.run(
        [str(python), "-c", READ_MARTS, str(database)], capture_output=True, text=True, check=True
    )
    rows: dict[str, Any] = json.loads(result.stdout)
    return rows


def demo_events(database: Path) -> None:
    subprocess.run(
        [str(BIN_DIR / "usage-billing"), "demo-events", "--profiles-dir", str(REPO_DIR)],
        env={**os.environ, "USAGE_BILLING_DUCKDB_PATH": str(database)},
        check=True,
    )


def test_both_ends_of_the_dbt_range_build_the_same_demo(tmp_path: Path) -> None:
    lowest, upper = dbt_range()
    major, minor, _ = (int(part) for part in installed_dbt.split(".")[:3])
    assert (major, minor + 1) == upper, f"dbt {installed_dbt} is not the newest the range allows"

    newest_db = tmp_path / "newest" / "warehouse.duckdb"
    newest_db.parent.mkdir()
    demo_events(newest_db)
    run_dbt(["build"], newest_db)

    venv = lowest_dbt(lowest)
    lowest_db = tmp_path / "lowest" / "warehouse.duckdb"
    lowest_db.parent.mkdir()
    demo_events(lowest_db)
    build = subprocess.run(
        [
            str(venv / "bin" / "dbt"),
            "build",
            "--project-dir",
            str(PROJECT_DIR),
            "--profiles-dir",
            str(REPO_DIR),
            "--target-path",
            str(lowest_db.parent / "target"),
            "--log-path",
            str(lowest_db.parent / "logs"),
        ],
        env={
            **os.environ,
            "USAGE_BILLING_TARGET": "duckdb",
            "USAGE_BILLING_DUCKDB_PATH": str(lowest_db),
        },
        capture_output=True,
        text=True,
    )
    assert build.returncode == 0, build.stdout[-3000:]
    version = subprocess.run(
        [str(venv / "bin" / "dbt"), "--version"], capture_output=True, text=True
    )
    assert f"installed: {lowest[0]}.{lowest[1]}." in version.stdout

    newest = demo_marts(newest_db, Path(sys.executable))
    assert len(newest["usage_billing__invoices"]) == 3
    assert demo_marts(lowest_db, venv / "bin" / "python") == newest
