"""BigQuery, Snowflake, Redshift and Databricks: every model and test compiles for that adapter
with no network (compile_offline.py) with the project's own vars, and every model, the snapshot
and the singular tests with each portability scenario's; every compiled statement parses with
sqlglot in that warehouse's dialect. A parse failure fails the test, naming the vars set and
the file. On Databricks (Spark's SQL) no list is collected unsorted: collect_list keeps no order,
and a hash of its text then changes from run to run.

Each adapter compiles in a process of its own, all four started together by the first test:
the compiles are CPU-bound dbt runs, and each parses the project once per vars set."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.engines.compile_offline import vars_sets
from tests.engines.scenarios import SCENARIOS
from tests.support.warehouse_scenario import REPO_DIR

pytestmark = pytest.mark.engines

# Adapter → sqlglot dialect.
CLOUD_DIALECTS = {
    "bigquery": "bigquery",
    "snowflake": "snowflake",
    "redshift": "redshift",
    "databricks": "databricks",
}
VARS_SETS = list(vars_sets())
COMPILE_TIMEOUT_SECONDS = 1500


@dataclass
class OfflineCompile:
    """One adapter's compile_offline.py process, compiling every vars set into output_dir."""

    adapter: str
    output_dir: Path
    process: subprocess.Popen[bytes]

    @property
    def log(self) -> Path:
        return self.output_dir / "compile.log"

    def compiled(self, vars_set: str) -> Path:
        """The vars set's folder once the process has ended; a failed compile fails the test."""
        self.process.wait(timeout=COMPILE_TIMEOUT_SECONDS)
        folder = self.output_dir / vars_set
        assert (folder / "incremental_run").is_dir(), (
            f"offline compile for {self.adapter} failed with the {vars_set} vars:\n"
            + self.log.read_text()[-6000:]
        )
        return folder


@pytest.fixture(scope="module")
def offline_compiles(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[dict[str, OfflineCompile]]:
    compiles = {}
    for adapter in CLOUD_DIALECTS:
        output_dir = tmp_path_factory.mktemp(f"compile-{adapter}")
        with (output_dir / "compile.log").open("wb") as log:
            process = subprocess.Popen(
                [sys.executable, "-m", "tests.engines.compile_offline", adapter, str(output_dir)],
                env={**os.environ, "PYTHONPATH": str(REPO_DIR)},
                cwd=output_dir,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        compiles[adapter] = OfflineCompile(adapter, output_dir, process)
    yield compiles
    for offline_compile in compiles.values():
        if offline_compile.process.poll() is None:
            offline_compile.process.kill()
            offline_compile.process.wait()


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


def unsorted_collect_lists(compiled: Path) -> list[str]:
    """`file: text` for each collect_list in the compiled files that array_sort does not wrap
    (usage_billing.listagg_ordered sorts; dbt.listagg drops its `order by` on Spark)."""
    failures = []
    for path in sorted(compiled.rglob("*.sql")):
        text = path.read_text()
        for match in re.finditer(r"collect_list\s*\(", text, re.IGNORECASE):
            if not re.search(r"array_sort\s*\(\s*$", text[: match.start()], re.IGNORECASE):
                excerpt = " ".join(text[match.start() : match.start() + 80].split())
                failures.append(f"{path.relative_to(compiled)}: {excerpt}")
    return failures


@pytest.mark.parametrize("vars_set", VARS_SETS)
@pytest.mark.parametrize("adapter", CLOUD_DIALECTS)
def test_compiles_offline_and_parses(
    offline_compiles: dict[str, OfflineCompile], adapter: str, vars_set: str
) -> None:
    output_dir = offline_compiles[adapter].compiled(vars_set)
    manifest = json.loads((output_dir / "target" / "manifest.json").read_text())
    nodes = [
        node
        for node in manifest["nodes"].values()
        if node["package_name"] == "usage_billing"
        and node["resource_type"] in {"model", "test", "snapshot"}
        and node["config"].get("enabled", True)
    ]
    failures = []
    for run in ["first_build", "incremental_run"]:
        compiled = output_dir / run
        missing = [
            node["original_file_path"]
            for node in nodes
            if node["resource_type"] == "model"
            and not (compiled / node["original_file_path"]).exists()
        ]
        assert not missing, f"not compiled for {adapter}, {vars_set} vars ({run}): {missing}"
        failures += [
            f"{run}/{failure}" for failure in parse_failures(compiled, CLOUD_DIALECTS[adapter])
        ]
        if adapter == "databricks":
            failures += [
                f"{run}/{failure} (collect_list unsorted)"
                for failure in unsorted_collect_lists(compiled)
            ]
    assert not failures, f"{adapter}, {vars_set} vars: compiled SQL that fails:\n" + (
        "\n".join(failures)
    )


def test_vars_sets_cover_every_scenario() -> None:
    """Each portability scenario's vars are compiled: scenarios sharing a set share its compile."""
    sets = vars_sets()
    assert all(scenario().vars in sets.values() for scenario in SCENARIOS.values())
    assert sets["default"] == {} and len(sets) == len(VARS_SETS) > 1


@pytest.mark.parametrize("dialect", sorted(set(CLOUD_DIALECTS.values())))
def test_parse_check_catches_broken_sql(tmp_path: Path, dialect: str) -> None:
    (tmp_path / "model.sql").write_text("select amount from from invoices where")
    assert parse_failures(tmp_path, dialect)


def test_parse_check_catches_adjacent_literals_on_bigquery(tmp_path: Path) -> None:
    """A quote doubled inside a literal is standard SQL, but two adjacent literals to BigQuery
    (an error there): what a description such as "shop's" compiled to before string_literal."""
    (tmp_path / "model.sql").write_text("select 'The shop''s orders' as description")
    assert parse_failures(tmp_path, "bigquery")
    assert not parse_failures(tmp_path, "snowflake")


def test_collect_list_check_catches_an_unsorted_list(tmp_path: Path) -> None:
    """What int_pricing_fingerprints compiled to on Spark before listagg_ordered: an invoice's
    hash then changed between runs, and an incremental run lost its stored usage."""
    (tmp_path / "model.sql").write_text(
        "select md5(array_join(collect_list(metric_name), ',')) from prices group by invoice_id"
    )
    assert unsorted_collect_lists(tmp_path)
    (tmp_path / "model.sql").write_text(
        "select array_join(transform(array_sort(collect_list(named_struct('k', m))),"
        " item -> item.k), ',') from prices"
    )
    assert not unsorted_collect_lists(tmp_path)
