"""Build scenarios on one engine and write what its marts hold, as JSON, for the portability
suite to compare with DuckDB's.

    python -m tests.engines.runner ENGINE OUTPUT_DIR SCENARIO [SCENARIO ...]

One process per engine: dbt runs in-process (dbtRunner), so Spark's JVM and session start once
and every build of the run reuses them. The profile is profiles.example.yml's output for ENGINE;
the caller sets its environment variables (ports of the local stand-ins). Each scenario gets
its own schemas (<scenario>_raw, <scenario>_pricing, <scenario>_billing), so builds never see
each other's tables.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import pickle
import re
import shutil
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import replace
from decimal import Decimal
from pathlib import Path
from typing import Any, Protocol

from tests.engines.scenarios import SCENARIOS, ScenarioData
from tests.support.warehouse_scenario import (
    PROJECT_DIR,
    REPO_DIR,
    column_names,
    dbt_problems,
    plain,
)
from usage_billing.events.contract import RAW_EVENTS_COLUMNS
from usage_billing.pricing_tables import PRICING_TABLES

MARTS = [
    "usage_billing__invoices",
    "usage_billing__invoice_lines",
    "usage_billing__billable_usage",
    "usage_billing__usage_events_rejected",
    "usage_billing__unbilled_usage",
    "usage_billing__credit_balances",
]
# Compared too, without revised_at (when each engine's build ran).
REVISIONS = "usage_billing__invoice_revisions"
# After this scenario is built, the sync pushes its final invoices to the webhook receiver the
# suite runs on 127.0.0.1 (USAGE_BILLING_WEBHOOK_URL), through the engine's own connector.
SYNC_SCENARIO = "demo"
SYNC_COMMANDS = {
    "push": ["push", "--to", "webhook"],
    "push_again": ["push", "--to", "webhook"],
    "status": ["status"],
    "invoices": ["invoices", "--status", "final"],
}
INSERT_BATCH_ROWS = 500
# What build_state.sql logs when a model over stored rows is recomputed in full.
FULL_RECOMPUTE = ": recomputing in full because "


class Warehouse(Protocol):
    """Just enough of a connection to write raw tables and read the marts back."""

    def execute(self, sql: str) -> None: ...

    def query(self, sql: str) -> list[dict[str, Any]]: ...

    def close(self) -> None: ...


class DbApiWarehouse:
    """A DB-API connection (duckdb, psycopg2, snowflake-connector-python), autocommitting."""

    def __init__(self, connection: Any) -> None:
        self.connection = connection

    def execute(self, sql: str) -> None:
        cursor = self.connection.cursor()
        cursor.execute(sql)
        cursor.close()

    def query(self, sql: str) -> list[dict[str, Any]]:
        cursor = self.connection.cursor()
        cursor.execute(sql)
        names = [column[0].lower() for column in cursor.description]
        rows = [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]
        cursor.close()
        return rows

    def close(self) -> None:
        self.connection.close()


class FakesnowWarehouse(DbApiWarehouse):
    """fakesnow's server sends a null timestamp as 1970-01-01 00:00 (the Arrow structs it
    encodes timestamps in carry no nulls), so each timestamp column is read back with a flag
    the engine computes: is it null."""

    def query(self, sql: str) -> list[dict[str, Any]]:
        from snowflake.connector.constants import FIELD_ID_TO_NAME

        cursor = self.connection.cursor()
        cursor.execute(f"select * from ({sql}) as read_back limit 0")
        timestamps = [  # TIMESTAMP, TIMESTAMP_LTZ, _NTZ and _TZ
            column.name
            for column in cursor.description
            if FIELD_ID_TO_NAME[column.type_code].startswith("TIMESTAMP")
        ]
        cursor.close()
        if not timestamps:
            return super().query(sql)
        flags = ", ".join(f'"{name}" is null as "{name}__is_null"' for name in timestamps)
        rows = super().query(f"select *, {flags} from ({sql}) as read_back")
        for row in rows:
            for name in timestamps:
                if row.pop(f"{name.lower()}__is_null"):
                    row[name.lower()] = None
        return rows


class SparkWarehouse:
    """The Spark session dbt-spark's `session` method finds and reuses (getOrCreate)."""

    def __init__(self, output_dir: Path) -> None:
        from pyspark.sql import SparkSession

        warehouse_dir = output_dir / "spark-warehouse"
        os.environ["USAGE_BILLING_SPARK_WAREHOUSE"] = str(warehouse_dir)
        # Static settings only a new session takes. The in-memory catalog spares the Derby
        # metastore; one shuffle partition and the C1 compiler suit many tiny queries on 2 cores.
        # C1 alone gets a 48 MB code cache, which Spark's generated classes filled in one build
        # (the JVM then stops compiling and fails queries): the usual 240 MB.
        self.session = (
            SparkSession.builder.master("local[2]")
            .appName("usage_billing engines")
            .config("spark.sql.catalogImplementation", "in-memory")
            .config("spark.sql.warehouse.dir", str(warehouse_dir))
            .config("spark.sql.session.timeZone", "UTC")
            .config("spark.sql.shuffle.partitions", "1")
            .config("spark.default.parallelism", "1")
            .config("spark.sql.adaptive.enabled", "false")
            .config("spark.ui.enabled", "false")
            .config(
                "spark.driver.extraJavaOptions",
                "-XX:TieredStopAtLevel=1 -XX:ReservedCodeCacheSize=240m",
            )
            .getOrCreate()
        )
        self.session.sparkContext.setLogLevel("ERROR")

    def execute(self, sql: str) -> None:
        self.session.sql(sql).collect()

    def query(self, sql: str) -> list[dict[str, Any]]:
        return [
            {key.lower(): value for key, value in row.asDict().items()}
            for row in self.session.sql(sql).collect()
        ]

    def close(self) -> None:
        """The session lives as long as the process: every build reuses it."""


class BigQueryWarehouse:
    """google-cloud-bigquery against the BigQuery emulator (bigquery_emulator_server.py): one
    query job per statement, anonymous credentials (the emulator checks none)."""

    def __init__(self, api_endpoint: str) -> None:
        from google.api_core.client_options import ClientOptions
        from google.auth.credentials import AnonymousCredentials
        from google.cloud import bigquery

        self.client = bigquery.Client(
            os.environ.get("USAGE_BILLING_BIGQUERY_PROJECT", "usage-billing"),
            AnonymousCredentials(),
            client_options=ClientOptions(api_endpoint=api_endpoint),
        )

    def execute(self, sql: str) -> None:
        self.client.query(sql).result()

    def query(self, sql: str) -> list[dict[str, Any]]:
        return [
            {key.lower(): naive_utc(value) for key, value in row.items()}
            for row in self.client.query(sql).result()
        ]

    def close(self) -> None:
        self.client.close()


def naive_utc(value: Any) -> Any:
    """BigQuery's TIMESTAMP is an instant (the client gives it in UTC); the other engines'
    timestamp columns hold UTC without an offset, so it is compared as such."""
    if isinstance(value, dt.datetime) and value.tzinfo is not None:
        return value.astimezone(dt.UTC).replace(tzinfo=None)
    return value


def connect(engine: str, output_dir: Path) -> Warehouse:
    environment = os.environ
    if engine == "duckdb":
        from usage_billing.warehouse.duckdb import connect_duckdb
        from usage_billing.warehouse.profile import load_target

        # With the profile's options: dbt's database is still open in this process, and
        # DuckDB refuses a second connection to the same file with another configuration.
        return DbApiWarehouse(connect_duckdb(load_target(output_dir, "duckdb")))
    if engine == "postgres":
        import psycopg2

        connection = psycopg2.connect(
            host=environment["USAGE_BILLING_POSTGRES_HOST"],
            port=int(environment["USAGE_BILLING_POSTGRES_PORT"]),
            user=environment["USAGE_BILLING_POSTGRES_USER"],
            dbname=environment["USAGE_BILLING_POSTGRES_DATABASE"],
        )
        connection.autocommit = True
        return DbApiWarehouse(connection)
    if engine == "snowflake":
        import snowflake.connector

        return FakesnowWarehouse(
            snowflake.connector.connect(
                account=environment["USAGE_BILLING_SNOWFLAKE_ACCOUNT"],
                user=environment["USAGE_BILLING_SNOWFLAKE_USER"],
                password=environment["DBT_ENV_SECRET_SNOWFLAKE_PASSWORD"],
                host=environment["USAGE_BILLING_SNOWFLAKE_HOST"],
                port=int(environment["USAGE_BILLING_SNOWFLAKE_PORT"]),
                protocol=environment["USAGE_BILLING_SNOWFLAKE_PROTOCOL"],
                database=environment["USAGE_BILLING_SNOWFLAKE_DATABASE"],
            )
        )
    if engine == "spark":
        return SparkWarehouse(output_dir)
    if engine == "bigquery":
        return BigQueryWarehouse(environment["USAGE_BILLING_BIGQUERY_API_ENDPOINT"])
    raise ValueError(f"unknown engine {engine!r}")


def column_type(engine: str, ddl_type: str) -> str:
    """A type of warehouse_scenario's DDL in the engine's spelling: Spark says string."""
    if engine in ("spark", "bigquery") and ddl_type == "varchar":
        return "string"
    if engine == "bigquery" and ddl_type.startswith("decimal"):
        return "bignumeric"  # NUMERIC keeps 9 places (the package's type_decimal)
    return ddl_type


def literal(engine: str, value: Any, ddl_type: str) -> str:
    """`value` as a typed SQL literal."""
    sql_type = column_type(engine, ddl_type)
    if value is None:
        return f"cast(null as {sql_type})"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | Decimal):
        return f"cast({value} as {sql_type})"
    text = value.isoformat(sep=" ") if isinstance(value, dt.datetime) else str(value)
    if engine in ("spark", "bigquery"):  # their string literals escape with backslashes
        quoted = "'" + text.replace("\\", "\\\\").replace("'", "\\'") + "'"
    else:
        quoted = "'" + text.replace("'", "''") + "'"
    return f"cast({quoted} as {sql_type})"


def write_table(
    warehouse: Warehouse,
    engine: str,
    relation: str,
    columns_ddl: str,
    rows: Sequence[Mapping[str, Any]],
) -> None:
    names, types = zip(*columns(columns_ddl), strict=True)
    definition = ", ".join(
        f"{name} {column_type(engine, sql_type)}"
        for name, sql_type in zip(names, types, strict=True)
    )
    cascade = " cascade" if engine == "postgres" else ""  # views of an earlier run depend on it
    using = " using parquet" if engine == "spark" else ""
    # A connector may send an insert again after a timeout (the Snowflake connector does, under
    # load, and fakesnow then holds the batch twice): the table is written again until it holds
    # exactly the rows given.
    for _ in range(3):
        warehouse.execute(f"drop table if exists {relation}{cascade}")
        warehouse.execute(f"create table {relation} ({definition}){using}")
        for start in range(0, len(rows), INSERT_BATCH_ROWS):
            batch = rows[start : start + INSERT_BATCH_ROWS]
            values = ",\n".join(
                "("
                + ", ".join(
                    literal(engine, row.get(name), sql_type)
                    for name, sql_type in zip(names, types, strict=True)
                )
                + ")"
                for row in batch
            )
            warehouse.execute(f"insert into {relation} values\n{values}")
        (counted,) = warehouse.query(f"select count(*) as row_count from {relation}")
        if next(iter(counted.values())) == len(rows):
            return
    raise AssertionError(f"{relation}: the insert did not hold {len(rows)} rows in 3 attempts")


def columns(columns_ddl: str) -> list[tuple[str, str]]:
    """(name, type) pairs of a column list such as "a varchar, b decimal(38, 10)"."""
    parts = re.split(r",(?![^()]*\))", columns_ddl)
    return [(part.split()[0], part.strip()[len(part.split()[0]) :].strip()) for part in parts]


def load(warehouse: Warehouse, engine: str, scenario: str, data: ScenarioData) -> None:
    raw_schema, pricing_schema = f"{scenario}_raw", f"{scenario}_pricing"
    warehouse.execute(f"create schema if not exists {raw_schema}")
    event_columns = column_names(RAW_EVENTS_COLUMNS)
    write_table(
        warehouse,
        engine,
        f"{raw_schema}.usage_events",
        RAW_EVENTS_COLUMNS,
        [dict(zip(event_columns, event, strict=True)) for event in data.events],
    )
    if data.pricing is not None:
        warehouse.execute(f"create schema if not exists {pricing_schema}")
        for table, ddl in PRICING_TABLES.items():
            rows = getattr(data.pricing, table)
            write_table(warehouse, engine, f"{pricing_schema}.{table}", ddl, rows)


def build(
    engine: str, scenario: str, data: ScenarioData, output_dir: Path, *arguments: str
) -> dict[str, Any]:
    """`dbt build` in this process; the outcome of every node that did not pass, and each
    model the build recomputed in full over stored rows, with why (build_state.sql logs it)."""
    from dbt.cli.main import dbtRunner
    from dbt_common.events.base_types import EventMsg

    full_recomputes: list[str] = []

    def note_full_recompute(event: EventMsg) -> None:
        if FULL_RECOMPUTE in event.info.msg:
            full_recomputes.append(str(event.info.msg))

    scenario = data.rerun_of or scenario  # a rerun builds on the same tables
    os.environ["USAGE_BILLING_SCHEMA"] = f"{scenario}_billing"
    build_vars = {"usage_billing_events_schema": f"{scenario}_raw", **data.vars}
    if data.pricing is not None:
        build_vars["usage_billing_pricing_schema"] = f"{scenario}_pricing"
    options = [
        "--project-dir",
        str(PROJECT_DIR),
        "--profiles-dir",
        str(output_dir),
        "--target-path",
        str(output_dir / "target"),
        "--log-path",
        str(output_dir / "logs"),
        "--vars",
        json.dumps(build_vars, default=str),
    ]
    runner = dbtRunner(callbacks=[note_full_recompute])
    if data.interrupted_after:
        interrupted = runner.invoke(["run", "--select", data.interrupted_after, *options])
        if not interrupted.success:
            return {"success": False, "problems": dbt_problems(interrupted), "full_recomputes": []}
    result = runner.invoke(["build", *arguments, *options])
    return {
        "success": bool(result.success),
        "problems": dbt_problems(result),
        "full_recomputes": sorted(full_recomputes),
    }


def replay(engine: str, scenario: str, data: ScenarioData, output_dir: Path) -> dict[str, Any]:
    """Loads the scenario's batches one by one (the raw table written again with every row so
    far) and builds incrementally after each, dbt's tests with the last only; then reads the
    marts and, unless the scenario says not to, builds with --full-refresh, whose marts it
    returns beside them."""
    loaded: list[Sequence[Any]] = []
    full_recomputes = []
    for number, batch in enumerate(data.batches, start=1):
        loaded.extend(batch.events)
        warehouse = connect(engine, output_dir)
        load(warehouse, engine, scenario, replace(data, events=loaded, pricing=batch.pricing))
        warehouse.close()
        tests = [] if number == len(data.batches) else ["--exclude", "resource_type:test"]
        outcome = build(engine, scenario, data, output_dir, *tests)
        full_recomputes += [f"load {number}: {line}" for line in outcome["full_recomputes"]]
        if not outcome["success"]:
            return {**outcome, "marts": {}}
    warehouse = connect(engine, output_dir)
    marts = read_marts(warehouse, scenario)
    added_to = read_models_added_to(warehouse, scenario)
    warehouse.close()
    outcome = {**outcome, "full_recomputes": full_recomputes, "added_to": added_to}
    if not data.full_refresh_after:
        return {**outcome, "marts": marts}
    full_refresh = build(engine, scenario, data, output_dir, "--full-refresh")
    warehouse = connect(engine, output_dir)
    full_refresh_marts = read_marts(warehouse, scenario) if full_refresh["success"] else {}
    warehouse.close()
    return {
        "success": full_refresh["success"],
        "problems": full_refresh["problems"],
        "full_recomputes": full_recomputes,
        "added_to": added_to,
        "marts": marts,
        "full_refresh_marts": full_refresh_marts,
    }


def read_models_added_to(warehouse: Warehouse, scenario: str) -> list[str]:
    """The models whose last build added to their stored rows (its build state says it was not
    the run that last rebuilt them in full). An engine that rebuilt them in full every run keeps
    no state, and a rebuild in full it did not log would show here too."""
    rows = warehouse.query(
        f"select model_name from {scenario}_billing_usage_billing.usage_billing__build_state"
        " where built_run > rebuilt_run"
    )
    return sorted(str(next(iter(row.values()))) for row in rows)


def read_marts(warehouse: Warehouse, scenario: str) -> dict[str, list[dict[str, Any]]]:
    """Every row of each compared mart, in one order whatever the engine sorts nulls as."""
    marts = {}
    for table in [*MARTS, REVISIONS]:
        rows = warehouse.query(f"select * from {scenario}_billing_usage_billing.{table}")
        plain_rows = [
            {key: plain(value) for key, value in row.items() if key != "revised_at"} for row in rows
        ]
        marts[table] = sorted(plain_rows, key=lambda row: json.dumps(row, sort_keys=True))
    return marts


def sync(engine: str, output_dir: Path, scenario: str) -> dict[str, Any]:
    """`usage-billing push`, again, `status` and `invoices` on the scenario's marts, in this
    process (so Spark's commands share the session dbt built in): exit codes and output."""
    from typer.testing import CliRunner

    from usage_billing.cli import app

    outcomes = {}
    for name, command in SYNC_COMMANDS.items():
        result = CliRunner().invoke(
            app,
            [*command, "--profiles-dir", str(output_dir), "--target", engine],
            env={"COLUMNS": "250"},
        )
        failure = result.exception if not isinstance(result.exception, SystemExit) else None
        outcomes[name] = {
            "exit_code": result.exit_code,
            "output": result.output + (f"\n{failure!r}" if failure else ""),
        }
    return outcomes


def read_ledger(warehouse: Warehouse, scenario: str) -> list[dict[str, Any]]:
    """The ledger rows the sync wrote beside the marts, read through this runner's connection."""
    rows = warehouse.query(
        "select target, invoice_id, revision, state, attempts, content_hash, external_id"
        f" from {scenario}_billing.invoice_sync_log"
    )
    return sorted(
        ({key: plain(value) for key, value in row.items()} for row in rows),
        key=lambda row: json.dumps(row, sort_keys=True),
    )


def write_profile(engine: str, output_dir: Path) -> None:
    """profiles.example.yml; for BigQuery its output pointed at the emulator, with a token
    instead of a service-account key (a key would be exchanged for a token at Google)."""
    if engine != "bigquery":
        shutil.copy(REPO_DIR / "profiles.example.yml", output_dir / "profiles.yml")
        return
    import yaml

    profiles = yaml.safe_load((REPO_DIR / "profiles.example.yml").read_text())
    output = profiles["usage_billing"]["outputs"]["bigquery"]
    del output["keyfile"]
    output["method"] = "oauth-secrets"
    output["token"] = "the-emulator-checks-no-token"  # noqa: S105 - not a secret
    output["api_endpoint"] = "{{ env_var('USAGE_BILLING_BIGQUERY_API_ENDPOINT') }}"
    (output_dir / "profiles.yml").write_text(yaml.safe_dump(profiles, sort_keys=False))


def main(engine: str, output_dir: Path, scenarios: Sequence[str]) -> None:
    os.environ["TZ"] = "UTC"  # Python's datetimes from Spark follow the process's zone
    time.tzset()
    os.environ["USAGE_BILLING_TARGET"] = engine
    os.environ.setdefault("DBT_SEND_ANONYMOUS_USAGE_STATS", "false")
    output_dir.mkdir(parents=True, exist_ok=True)
    write_profile(engine, output_dir)
    started = time.monotonic()
    warehouse = connect(engine, output_dir)
    report: dict[str, Any] = {"engine": engine, "start_seconds": time.monotonic() - started}
    for scenario in scenarios:
        began = time.monotonic()
        data = SCENARIOS[scenario]()
        if (data.rerun_of is None or data.interrupted_after) and not data.batches:
            load(warehouse, engine, data.rerun_of or scenario, data)
        if engine == "duckdb":  # dbt-duckdb opens the file itself
            warehouse.close()
        if data.batches:
            outcome = replay(engine, scenario, data, output_dir)
        else:
            outcome = build(engine, scenario, data, output_dir)
        if engine == "duckdb":
            warehouse = connect(engine, output_dir)
        built = data.rerun_of or scenario
        if "marts" not in outcome:
            outcome["marts"] = read_marts(warehouse, built) if outcome["success"] else {}
        seconds = round(time.monotonic() - began, 1)
        (output_dir / f"{scenario}.json").write_text(
            json.dumps({**outcome, "seconds": seconds}, indent=1)
        )
        if data.cases:  # what test_pricing_oracle.py holds the marts to
            (output_dir / f"{scenario}.cases.pickle").write_bytes(pickle.dumps(list(data.cases)))
        # BigQuery's sync opens its client from a key file or the machine's credentials only,
        # so it cannot reach the emulator.
        if scenario == SYNC_SCENARIO and outcome["success"] and engine != "bigquery":
            began = time.monotonic()
            if engine == "duckdb":  # one process may hold the file open at a time
                warehouse.close()
            commands = sync(engine, output_dir, scenario)
            if engine == "duckdb":
                warehouse = connect(engine, output_dir)
            ledger = read_ledger(warehouse, scenario)
            (output_dir / "sync.json").write_text(
                json.dumps({"commands": commands, "ledger": ledger}, indent=1)
            )
            print(f"{engine} sync: {round(time.monotonic() - began, 1)} s")
        print(f"{engine} {scenario}: {'built' if outcome['success'] else 'FAILED'} in {seconds} s")
    report["seconds"] = round(time.monotonic() - started, 1)
    (output_dir / "run.json").write_text(json.dumps(report))
    warehouse.close()


if __name__ == "__main__":
    main(sys.argv[1], Path(sys.argv[2]), sys.argv[3:])
