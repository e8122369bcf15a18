"""BigQuery, Snowflake, Redshift and Databricks: every model and test compiles for that adapter
with no network (compile_offline.py), and every compiled statement parses with sqlglot
in that warehouse's dialect. A parse failure fails the test, naming the file."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.warehouse_scenario import REPO_DIR

pytestmark = pytest.mark.engines

# Adapter → sqlglot dialect.
CLOUD_DIALECTS = {
    "bigquery": "bigquery",
    "snowflake": "snowflake",
    "redshift": "redshift",
    "databricks": "databricks",
}


def _compile(adapter: str, output_dir: Path) -> None:
    """Compiles offline, as a first build and as an incremental run (compile_offline.py)."""
    command = [sys.executable, "-m", "tests.engines.compile_offline", adapter, str(output_dir)]
    result = subprocess.run(
        command,
        env={**os.environ, "PYTHONPATH": str(REPO_DIR)},
        cwd=output_dir.parent,
        capture_output=True,
        text=True,
        check=False,
    )
    output = f"{result.stdout}\n{result.stderr}"
    assert result.returncode == 0, f"offline compile for {adapter} failed:\n{output}"


def parse_failures(compiled: Path, dialect: str) -> list[str]:
    """`file: error` for each compiled file sqlglot cannot parse in `dialect`."""
    import sqlglot
    from sqlglot.errors import ParseError

    failures = []
    for path in sorted(compiled.rglob("*.sql")):
        try:
            sqlglot.parse(path.read_text(), read=dialect)
        except ParseError as error:
            failures.append(f"{path.relative_to(compiled)}: {error}")
    return failures


@pytest.mark.parametrize("adapter", CLOUD_DIALECTS)
def test_compiles_offline_and_parses(adapter: str, tmp_path: Path) -> None:
    _compile(adapter, tmp_path)
    manifest = json.loads((tmp_path / "target" / "manifest.json").read_text())
    nodes = [
        node
        for node in manifest["nodes"].values()
        if node["package_name"] == "usage_billing"
        and node["resource_type"] in {"model", "test", "snapshot"}
        and node["config"].get("enabled", True)
    ]
    failures = []
    for run in ["first_build", "incremental_run"]:
        compiled = tmp_path / run
        missing = [
            node["original_file_path"]
            for node in nodes
            if node["resource_type"] == "model"
            and not (compiled / node["original_file_path"]).exists()
        ]
        assert not missing, f"not compiled for {adapter} ({run}): {missing}"
        failures += [
            f"{run}/{failure}" for failure in parse_failures(compiled, CLOUD_DIALECTS[adapter])
        ]
    assert not failures, f"{adapter}: compiled SQL sqlglot cannot parse:\n" + "\n".join(failures)


@pytest.mark.parametrize("dialect", sorted(set(CLOUD_DIALECTS.values())))
def test_parse_check_catches_broken_sql(tmp_path: Path, dialect: str) -> None:
    (tmp_path / "model.sql").write_text("select amount from from invoices where")
    assert parse_failures(tmp_path, dialect)
