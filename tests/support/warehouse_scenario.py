"""Build the dbt project for real on a throw-away DuckDB file, with a scenario's own events,
prices and vars, and query the marts it wrote."""

from __future__ import annotations

import csv
import json
import os
import re
import sys
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any
from unittest import mock

import duckdb

from usage_billing.events.contract import RAW_EVENTS_COLUMNS
from usage_billing.pricing_tables import PRICING_TABLES

REPO_DIR = Path(__file__).resolve().parents[2]  # the package: profiles, docs, models
# The dbt project the tests build: integration_tests/ installs the package as a user does.
PROJECT_DIR = REPO_DIR / "integration_tests"
BIN_DIR = Path(sys.executable).parent
MARTS_SCHEMA = "billing_usage_billing"  # the package's schema: <target schema>_usage_billing


@dataclass
class Pricing:
    """Rows of the pricing tables, as dicts of column → value; absent columns are null."""

    customers: list[dict[str, Any]] = field(default_factory=list)
    customer_aliases: list[dict[str, Any]] = field(default_factory=list)
    plans: list[dict[str, Any]] = field(default_factory=list)
    subscriptions: list[dict[str, Any]] = field(default_factory=list)
    prices: list[dict[str, Any]] = field(default_factory=list)
    price_tiers: list[dict[str, Any]] = field(default_factory=list)
    credit_grants: list[dict[str, Any]] = field(default_factory=list)
    closed_periods: list[dict[str, Any]] = field(default_factory=list)
    discounts: list[dict[str, Any]] = field(default_factory=list)
    tax_rates: list[dict[str, Any]] = field(default_factory=list)
    usage_limits: list[dict[str, Any]] = field(default_factory=list)
    usage_thresholds: list[dict[str, Any]] = field(default_factory=list)


class DbtFailedError(AssertionError):
    """A dbt run failed; the message names what stopped it and every node that did not pass."""


def dbt_problems(result: Any) -> list[str]:
    """What went wrong in a dbtRunner result: the exception that stopped dbt, and each node
    that did not pass with its status and message."""
    problems = [f"dbt stopped: {result.exception}"] if result.exception is not None else []
    problems += [
        f"{node.node.unique_id}: {node.status}: {node.message}"
        for node in getattr(result.result, "results", None) or []
        if str(node.status) not in {"success", "pass"}
    ]
    return problems


def install_package() -> None:
    """`dbt deps` in the integration project when its link to this checkout is missing or points
    elsewhere (a moved clone): what `make deps` does, for a plain `pytest`."""
    from dbt.cli.main import dbtRunner

    installed = PROJECT_DIR / "dbt_packages" / "usage_billing"
    if installed.exists() and installed.resolve() == REPO_DIR:
        return
    if installed.is_symlink():
        installed.unlink()
    result = dbtRunner().invoke(
        ["deps", "--quiet", "--project-dir", str(PROJECT_DIR), "--profiles-dir", str(REPO_DIR)]
    )
    if not result.success:
        raise DbtFailedError(f"dbt deps failed: {result.exception}")


def run_dbt(
    args: Sequence[str],
    database: Path,
    vars_: Mapping[str, Any] | None = None,
    profiles_dir: Path = REPO_DIR,
) -> None:
    """Run dbt against the project on its DuckDB output with `database` as the file, in this
    process: a dbt process spends about 8 s on imports and schema building before it reads the
    project, which a session pays once. Raises DbtFailedError naming every node that failed."""
    from dbt.adapters.duckdb.connections import DuckDBConnectionManager
    from dbt.cli.main import dbtRunner

    command = [
        *args,
        "--project-dir",
        str(PROJECT_DIR),
        "--profiles-dir",
        str(profiles_dir),
        "--target-path",
        str(database.parent / "target"),
        "--log-path",
        str(database.parent / "logs"),
        "--no-send-anonymous-usage-stats",
    ]
    if vars_:
        command += ["--vars", json.dumps(vars_)]
    environment = {"USAGE_BILLING_TARGET": "duckdb", "USAGE_BILLING_DUCKDB_PATH": str(database)}
    with mock.patch.dict(os.environ, environment):
        try:
            result = dbtRunner().invoke(command)
        finally:
            # dbt-duckdb keeps the database open for the next invocation; close it, so that
            # this process and the CLI's subprocesses can open the file again.
            with DuckDBConnectionManager._LOCK:
                if DuckDBConnectionManager._ENV is not None:
                    DuckDBConnectionManager._ENV.close()
                    DuckDBConnectionManager._ENV = None
    if not result.success:
        problems = "\n".join(dbt_problems(result))
        raise DbtFailedError(f"dbt {' '.join(args)} failed:\n{problems}")


def column_names(columns_ddl: str) -> list[str]:
    """Names in a column list such as "a varchar, b decimal(38, 10)"."""
    return [part.split()[0] for part in re.split(r",(?![^()]*\))", columns_ddl)]


def parse_error(directory: Path, vars_: Mapping[str, Any]) -> str:
    """The error `dbt parse` stops with under `vars_`, run in-process (five times faster than a
    subprocess); fails the test when the project parses cleanly."""
    from dbt.cli.main import dbtRunner  # imported here: dbt's import is slow and only this needs it

    result = dbtRunner().invoke(
        [
            "parse",
            "--no-partial-parse",
            "--quiet",
            "--project-dir",
            str(PROJECT_DIR),
            "--profiles-dir",
            str(REPO_DIR),
            "--target-path",
            str(directory / "target"),
            "--vars",
            json.dumps(vars_),
        ]
    )
    assert not result.success, "dbt parse accepted the configuration"
    return str(result.exception)


def plain(value: Any) -> Any:
    """A value as JSON compares it across engines: numbers as exact decimal text."""
    if isinstance(value, bool) or value is None:
        return value
    if isinstance(value, int | float | Decimal):
        number = Decimal(str(value)).normalize()
        return format(number, "f")
    if isinstance(value, datetime | date):
        return value.isoformat()
    return str(value)


NULL_TEXT = "\\N"


def _csv_text(value: Any) -> str:
    """A value as the CSV text DuckDB reads back exactly (decimals never in exponent form)."""
    if value is None:
        return NULL_TEXT
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, Decimal):
        return format(value, "f")
    if isinstance(value, datetime):
        return value.isoformat(sep=" ")
    if isinstance(value, date):
        return value.isoformat()
    return str(value)


def write_table(
    connection: duckdb.DuckDBPyConnection,
    schema: str,
    table: str,
    columns_ddl: str,
    rows: Sequence[Mapping[str, Any]],
) -> None:
    """Create the table and load the rows through a CSV file: thousands of rows in a blink,
    where executemany takes a millisecond a row."""
    connection.execute(f'create schema if not exists "{schema}"')
    connection.execute(f'create or replace table "{schema}"."{table}" ({columns_ddl})')
    columns = column_names(columns_ddl)
    for row in rows:
        unknown = set(row) - set(columns)
        assert not unknown, f"{table} has no columns {unknown}"
    if not rows:
        return
    with tempfile.TemporaryDirectory() as directory:
        path = Path(directory) / f"{table}.csv"
        with path.open("w", newline="") as file:
            writer = csv.writer(file)
            writer.writerows([_csv_text(row.get(column)) for column in columns] for row in rows)
        types = ", ".join(
            f"'{part.split()[0]}': '{part.split(maxsplit=1)[1]}'"
            for part in re.split(r",(?![^()]*\))", columns_ddl)
        )
        connection.execute(
            f'insert into "{schema}"."{table}" select * from read_csv(?, header = false,'
            f" columns = {{{types}}}, nullstr = ?, quote = '\"', escape = '\"')",
            [str(path), NULL_TEXT],
        )


@dataclass
class Scenario:
    """A built project: the DuckDB file holding raw tables and marts."""

    database: Path

    def rows(self, sql: str, parameters: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        with duckdb.connect(str(self.database), read_only=True) as connection:
            return connection.execute(sql, list(parameters)).fetchall()

    def dicts(self, sql: str, parameters: Sequence[Any] = ()) -> list[dict[str, Any]]:
        with duckdb.connect(str(self.database), read_only=True) as connection:
            cursor = connection.execute(sql, list(parameters))
            names = [column[0] for column in cursor.description]
            return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]


def build(
    directory: Path,
    events: Sequence[Sequence[Any]],
    pricing: Pricing | None = None,
    vars_: Mapping[str, Any] | None = None,
) -> Scenario:
    """Write raw events (tuples in raw column order) and pricing tables, then `dbt build`.

    Without `pricing`, the demo seeds price the events.
    """
    directory.mkdir(parents=True, exist_ok=True)
    database = directory / "warehouse.duckdb"
    with duckdb.connect(str(database)) as connection:
        write_table(
            connection,
            "raw",
            "usage_events",
            RAW_EVENTS_COLUMNS,
            [dict(zip(column_names(RAW_EVENTS_COLUMNS), row, strict=True)) for row in events],
        )
        if pricing is not None:
            for table, ddl in PRICING_TABLES.items():
                write_table(connection, "pricing", table, ddl, getattr(pricing, table))
    all_vars = dict(vars_ or {})
    if pricing is not None:
        all_vars.setdefault("usage_billing_pricing_schema", "pricing")
    run_dbt(["build"], database, all_vars)
    return Scenario(database)


def failing_rows(database: Path, data_test: str, vars_: Mapping[str, Any]) -> list[tuple[Any, ...]]:
    """The rows a singular data test fails with (dbt test --store-failures), sorted: what a
    user reads to see which rows are wrong and why. The test must fail."""
    try:
        run_dbt(["test", "--select", data_test, "--store-failures"], database, vars_)
    except DbtFailedError:
        with duckdb.connect(str(database), read_only=True) as connection:
            rows = connection.execute(f"select * from billing_dbt_test__audit.{data_test}")
            return sorted(rows.fetchall())
    raise AssertionError(f"{data_test} passed")


def project_manifest(database: Path, vars_: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """`dbt parse` under `vars_` into the target path run_dbt uses for `database`, and the
    manifest it wrote. Builds that follow there with the same vars parse only what changed."""
    run_dbt(["parse"], database, vars_)
    manifest: dict[str, Any] = json.loads(
        (database.parent / "target" / "manifest.json").read_text()
    )
    return manifest


def incremental_models(manifest: Mapping[str, Any]) -> list[str]:
    """The names of the project's incremental models, as the manifest says: a model made
    incremental later is covered by the tests that interrupt builds at each of them."""
    return sorted(
        node["name"]
        for node in manifest["nodes"].values()
        if node["resource_type"] == "model"
        and node["package_name"] == "usage_billing"
        and node["config"]["materialized"] == "incremental"
    )
