"""BigQuery's incremental builds replace a model's rows in one transaction with its hooks
(macros/incremental/bigquery_transaction.sql): a build that fails after its rows were replaced
leaves them as they were, the pre-hook's delete undone too. On the BigQuery emulator, where
`make bigquery-emulator` installed it (its transactions: bigquery_emulator_server.py), with a
model of its own in a copy of the demo project."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest

from tests.engines.runner import BigQueryWarehouse, write_profile
from tests.support.warehouse_scenario import PROJECT_DIR, REPO_DIR, dbt_problems

pytestmark = pytest.mark.engines

SCHEMA = "transaction_probe"
# The first build stores `kept` and `gone`; an incremental one deletes `gone` in its pre-hook
# and replaces `kept` (its unique key) with the value given; its post-hook fails when told to.
# A hook declared after_commit runs outside the transaction, so it may create a table.
PROBE_MODEL = """
{{ config(
    materialized='usage_billing_transaction',
    unique_key='probe_key',
    pre_hook="{{ usage_billing.delete_rows_to_recompute(\\"probe_key = 'gone'\\") }}",
    post_hook=[
        "{{ \\"select error('the build stops after its rows were replaced')\\"
            if var('probe_fails') else 'select 1' }}",
        after_commit("create table if not exists {{ this.schema }}.committed as select 1 as ran"),
    ],
) }}
select 'kept' as probe_key, {{ var('probe_value') }} as probe_value
{% if not usage_billing.is_incremental_build() %}
union all
select 'gone' as probe_key, 1 as probe_value
{% endif %}
"""


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory, stand_ins: dict[str, Any]) -> Path:
    """A copy of the demo project with the probe model, the package linked as `dbt deps`
    links it, and a profile pointed at the emulator."""
    if "bigquery" not in stand_ins:
        pytest.skip("the BigQuery emulator is not installed: run `make bigquery-emulator`")
    directory = tmp_path_factory.mktemp("bigquery-transaction") / "project"
    shutil.copytree(PROJECT_DIR, directory, ignore=shutil.ignore_patterns("dbt_packages", "logs"))
    (directory / "models").mkdir(exist_ok=True)
    (directory / "models" / "transaction_probe.sql").write_text(PROBE_MODEL)
    (directory / "dbt_packages").mkdir()
    (directory / "dbt_packages" / "usage_billing").symlink_to(REPO_DIR)
    write_profile("bigquery", directory)
    return directory


def _run(project: Path, value: int, fails: bool = False) -> list[str]:
    from dbt.cli.main import dbtRunner

    result = dbtRunner().invoke(
        [
            *("run", "--select", "transaction_probe", "--project-dir", str(project)),
            *("--profiles-dir", str(project), "--target-path", str(project / "target")),
            *("--vars", json.dumps({"probe_value": value, "probe_fails": fails})),
        ]
    )
    return [] if result.success else dbt_problems(result)


def _query(endpoint: str, sql: str) -> list[dict[str, Any]]:
    warehouse = BigQueryWarehouse(endpoint)
    try:
        return warehouse.query(sql)
    finally:
        warehouse.close()


def _rows(endpoint: str) -> dict[str, int]:
    rows = _query(endpoint, f"select probe_key, probe_value from {SCHEMA}.transaction_probe")
    return {row["probe_key"]: row["probe_value"] for row in rows}


def test_failed_build_leaves_the_rows_as_they_were(
    project: Path, stand_ins: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    endpoint = stand_ins["bigquery"]
    monkeypatch.setenv("USAGE_BILLING_TARGET", "bigquery")
    monkeypatch.setenv("USAGE_BILLING_BIGQUERY_API_ENDPOINT", endpoint)
    monkeypatch.setenv("USAGE_BILLING_SCHEMA", SCHEMA)
    assert _run(project, value=1) == []
    assert _rows(endpoint) == {"kept": 1, "gone": 1}
    assert _query(endpoint, f"select ran from {SCHEMA}.committed") == [{"ran": 1}]

    problems = _run(project, value=2, fails=True)
    assert any("the build stops after its rows were replaced" in line for line in problems)
    assert _rows(endpoint) == {"kept": 1, "gone": 1}

    assert _run(project, value=3) == []
    assert _rows(endpoint) == {"kept": 3}
