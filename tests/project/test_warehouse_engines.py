"""The sync's warehouse interface (sync/engine.py) without a warehouse: placeholders translated
outside quotes only, the implementation chosen by the profile's `type`, secrets kept out of
printed targets, and clear errors for what a target cannot do. The implementations themselves
run for real in tests/engines (PostgreSQL, fakesnow, Spark) and in every sync test (DuckDB)."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from tests.support.warehouse_scenario import BIN_DIR, REPO_DIR
from usage_billing.warehouse.engines import OPENERS, open_warehouse
from usage_billing.warehouse.profile import ProfileError, load_target
from usage_billing.warehouse.sql import replace_placeholders


def test_placeholders_are_replaced_outside_quotes_only() -> None:
    sql = """select '?', "a?b", `c?`, ? from t where x = ? and y = 'it''s ?'"""
    translated = replace_placeholders(sql, lambda index: f":p{index}")
    assert translated == """select '?', "a?b", `c?`, :p0 from t where x = :p1 and y = 'it''s ?'"""


def test_every_profile_output_has_a_connector(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    shutil.copy(REPO_DIR / "profiles.example.yml", tmp_path / "profiles.yml")
    monkeypatch.setenv("DBT_ENV_SECRET_SNOWFLAKE_PASSWORD", "hunter2-secret")
    outputs = ["duckdb", "spark", "postgres", "snowflake", "bigquery", "redshift", "databricks"]
    targets = [load_target(tmp_path, output) for output in outputs]
    assert {target.type for target in targets} == set(OPENERS)
    assert all("hunter2-secret" not in repr(target) for target in targets)
    assert targets[outputs.index("bigquery")].schema == "billing"  # BigQuery says dataset


def test_unknown_engine_and_missing_options_are_named(tmp_path: Path) -> None:
    (tmp_path / "profiles.yml").write_text(
        "usage_billing:\n  target: t\n  outputs:\n"
        "    t: {type: trino, schema: s}\n"
        "    p: {type: postgres, schema: s, port: 5432}\n"
    )
    with pytest.raises(ProfileError, match="trino; the sync reaches duckdb, postgres"):
        open_warehouse(load_target(tmp_path))
    with pytest.raises(ProfileError, match="needs 'host'"):
        open_warehouse(load_target(tmp_path, "p"))


def _load(profiles_dir: Path, target: str) -> subprocess.CompletedProcess[str]:
    events = profiles_dir / "events.csv"
    events.write_text("event_id\n")
    return subprocess.run(
        [str(BIN_DIR / "usage-billing"), "load", str(events), "--target", target],
        cwd=REPO_DIR,
        env={"PATH": "/usr/bin:/bin", "DBT_PROFILES_DIR": str(profiles_dir)},
        capture_output=True,
        text=True,
        check=False,
    )


def test_load_refuses_an_untested_engine_by_name(tmp_path: Path) -> None:
    shutil.copy(REPO_DIR / "profiles.example.yml", tmp_path / "profiles.yml")
    result = _load(tmp_path, "bigquery")
    assert result.returncode == 1
    assert "duckdb, postgres, snowflake" in result.stderr and "bigquery" in result.stderr
    assert "Traceback" not in result.stderr


def test_an_unreachable_warehouse_is_one_line_not_a_traceback(tmp_path: Path) -> None:
    """Port 1 on loopback: nothing listens there, so the connector's error is the one shown."""
    (tmp_path / "profiles.yml").write_text(
        "usage_billing:\n  target: p\n  outputs:\n"
        "    p: {type: postgres, host: 127.0.0.1, port: 1, user: u, password: secret-pw,"
        " dbname: d, schema: s, connect_timeout: 5}\n"
    )
    result = _load(tmp_path, "p")
    assert result.returncode == 1
    assert "cannot connect to target 'p' (postgres)" in result.stderr
    assert "Traceback" not in result.stderr and "secret-pw" not in result.stderr
