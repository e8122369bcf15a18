"""The pipeline benchmark on local Spark (docs/performance.md, "The pipeline on Spark").

    .venv/bin/python bench/spark_pipeline.py [--events 1000000] [--results bench/spark-results.md]

The same events, pricing and steps as bench/pipeline.py, on Apache Spark in this process
(local[2], Spark's own parquet tables, as the portability suite runs it): the events are
generated in DuckDB (bench/generate.py) and handed to Spark as parquet; then a full
`dbt build`, the bare reference query in Spark SQL (the floor for any pipeline on this engine),
the check that the pipeline's monthly usage equals the reference's, 1% new events (half late)
and an incremental build, the check again, and a no-op build. Needs the `engines` extra and
Java (`make engines`). A measurement, not a test: it exits non-zero only when the usage differs.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import duckdb
from generate import (
    AS_OF,
    METRICS,
    PERIOD_SECONDS,
    PERIOD_START,
    Batch,
    create_tables,
    insert_events,
    insert_pricing,
)
from pyspark.sql import SparkSession

PROJECT_DIR = Path(__file__).resolve().parents[1]

# bench/pipeline.py's reference query in Spark's dialect: the last loaded row of each event id,
# its JSON properties parsed, each metric aggregated per customer and UTC month.
REFERENCE_QUERY = """
    create table bench_reference.usage_by_month using parquet as
    with ranked as (
        select
            customer_alias, event_type, event_timestamp, event_properties,
            row_number() over (
                partition by event_id
                order by loaded_at desc, event_timestamp desc, event_properties desc
            ) as version_rank
        from raw.usage_events
    ),
    parsed as (
        select
            aliases.customer_id,
            date_trunc('month', cast(ranked.event_timestamp as timestamp)) as usage_month,
            ranked.event_type,
            cast(get_json_object(ranked.event_properties, '$.amount') as decimal(38, 10)) as amount,
            get_json_object(ranked.event_properties, '$.currency') as currency,
            get_json_object(ranked.event_properties, '$.method') as method
        from ranked
        inner join pricing.customer_aliases as aliases on ranked.customer_alias = aliases.alias
        where ranked.version_rank = 1
    )
    select
        customer_id,
        usage_month,
        count(*) filter (where event_type = 'api_request') as api_requests,
        sum(amount) filter (where event_type = 'transaction' and currency = 'EUR')
            as payment_volume,
        sum(amount) filter (
            where event_type = 'transaction' and currency = 'EUR'
            and method in ('card', 'apple_pay')
        ) as card_payment_volume,
        count(*) filter (where event_type = 'refund') as refunds
    from parsed
    group by customer_id, usage_month
"""

# Rows where the pipeline's monthly usage and the reference's differ (zero: equal to the unit
# and the cent), as bench/pipeline.py's MISMATCH_QUERY.
MISMATCH_QUERY = """
    with reference as (
        select customer_id, usage_month, stack(4,
            'api_requests', cast(api_requests as decimal(38, 10)),
            'payment_volume', payment_volume,
            'card_payment_volume', card_payment_volume,
            'refunds', cast(refunds as decimal(38, 10))) as (metric_name, quantity)
        from bench_reference.usage_by_month
    ),
    pipeline as (
        select customer_id, date_trunc('month', usage_date) as usage_month, metric_name,
            sum(quantity) as quantity
        from billing_usage_billing.usage_billing__metric_usage_daily
        group by customer_id, date_trunc('month', usage_date), metric_name
    )
    select count(*) as mismatches
    from (select * from reference where quantity <> 0) as reference
    full outer join (select * from pipeline where quantity <> 0) as pipeline
        on reference.customer_id = pipeline.customer_id
        and reference.usage_month = pipeline.usage_month
        and reference.metric_name = pipeline.metric_name
    where not (reference.quantity <=> pipeline.quantity)
"""


def _export(connection: duckdb.DuckDBPyConnection, table: str, where: str, path: Path) -> None:
    """One DuckDB table as parquet, its timestamps marked as UTC instants (Spark's TIMESTAMP)."""
    columns = connection.execute(
        "select column_name, data_type from information_schema.columns"
        " where table_schema || '.' || table_name = ? order by ordinal_position",
        [table],
    ).fetchall()
    selected = ", ".join(
        f"cast({name} as timestamptz) as {name}" if kind == "TIMESTAMP" else name
        for name, kind in columns
    )
    connection.execute(f"copy (select {selected} from {table} where {where}) to '{path}'")


def _to_spark(
    spark: SparkSession, database: Path, work: Path, tables: list[str], where: str = "true"
) -> None:
    """Append the DuckDB tables' rows (those `where` selects) to Spark's tables of the same
    name, creating them on first use."""
    with duckdb.connect(str(database)) as connection:
        connection.execute("set TimeZone = 'UTC'")
        for table in tables:
            path = work / "parquet" / f"{table}-{time.monotonic_ns()}.parquet"
            path.parent.mkdir(exist_ok=True)
            _export(connection, table, where, path)
            spark.sql(f"create database if not exists {table.split('.')[0]}")
            rows = f"select * from parquet.`{path}`"
            if spark.catalog.tableExists(table):
                spark.sql(f"insert into {table} {rows}")
            else:
                spark.sql(f"create table {table} using parquet as {rows}")


def _session(work: Path, driver_memory: str) -> SparkSession:
    """Spark in this process, as the portability suite starts it (tests/engines/runner.py):
    the session dbt-spark's `session` method finds. A larger heap than Spark's 1 GB default and
    AQE's own shuffle partitions suit a million events."""
    warehouse_dir = work / "spark-warehouse"
    os.environ["USAGE_BILLING_SPARK_WAREHOUSE"] = str(warehouse_dir)
    session = (
        SparkSession.builder.master("local[2]")
        .appName("usage_billing bench")
        .config("spark.driver.memory", driver_memory)
        .config("spark.sql.catalogImplementation", "in-memory")
        .config("spark.sql.warehouse.dir", str(warehouse_dir))
        .config("spark.sql.session.timeZone", "UTC")
        .config("spark.ui.enabled", "false")
        .config("spark.ui.showConsoleProgress", "false")
        .config("spark.driver.extraJavaOptions", "-XX:ReservedCodeCacheSize=240m")
        .getOrCreate()
    )
    session.sparkContext.setLogLevel("ERROR")
    return session


def _build(work: Path, full_refresh: bool) -> float:
    """One `dbt build` in this process (dbt-spark's session method finds the session)."""
    from dbt.cli.main import dbtRunner

    variables = {
        "usage_billing_metrics": METRICS,
        "usage_billing_pricing_schema": "pricing",
        "usage_billing_as_of": AS_OF,
    }
    arguments = [
        "build", "--quiet", "--project-dir", str(PROJECT_DIR), "--profiles-dir", str(work),
        "--target-path", str(work / "target"), "--log-path", str(work / "logs"),
        "--vars", json.dumps(variables),
    ]  # fmt: skip
    if full_refresh:
        arguments.append("--full-refresh")
    started = time.perf_counter()
    result = dbtRunner().invoke(arguments)
    seconds = time.perf_counter() - started
    if not result.success:
        raise SystemExit(f"dbt build failed: {result.exception}")
    if os.environ.get("BENCH_VERBOSE"):
        results = json.loads((work / "target" / "run_results.json").read_text())
        for node in sorted(results["results"], key=lambda node: -node["execution_time"])[:12]:
            print(f"  {node['execution_time']:6.2f}s {node['unique_id']}", file=sys.stderr)
    return seconds


def _reference(spark: SparkSession) -> float:
    spark.sql("create database if not exists bench_reference")
    spark.sql("drop table if exists bench_reference.usage_by_month")
    started = time.perf_counter()
    spark.sql(REFERENCE_QUERY).collect()
    return time.perf_counter() - started


def _check(spark: SparkSession, when: str) -> None:
    if spark.sql(MISMATCH_QUERY).collect()[0]["mismatches"]:
        raise SystemExit(f"{when}: the pipeline's monthly usage differs from the reference's")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--results", type=Path, default=PROJECT_DIR / "bench" / "spark-results.md")
    parser.add_argument("--directory", type=Path, help="for Spark's tables (default: temporary)")
    parser.add_argument("--driver-memory", default="8g", help="the JVM's heap")
    options = parser.parse_args()
    events = options.events
    os.environ.update(USAGE_BILLING_TARGET="spark", USAGE_BILLING_SCHEMA="billing", TZ="UTC")
    time.tzset()
    with tempfile.TemporaryDirectory(dir=options.directory) as directory:
        work = Path(directory)
        shutil.copy(PROJECT_DIR / "profiles.example.yml", work / "profiles.yml")
        database = work / "generated.duckdb"
        with duckdb.connect(str(database)) as connection:
            create_tables(connection)
            insert_pricing(connection)
            insert_events(connection, Batch(0, events, PERIOD_START, PERIOD_SECONDS))
            tables = [
                f"{schema}.{name}"
                for schema, name in connection.execute(
                    "select schema_name, table_name from duckdb_tables()"
                ).fetchall()
            ]
            (generated_through,) = connection.execute(
                "select max(loaded_at) from raw.usage_events"
            ).fetchall()[0]
        spark = _session(work, options.driver_memory)
        _to_spark(spark, database, work, tables)

        full = _build(work, full_refresh=True)
        reference = _reference(spark)
        _check(spark, "full build")

        new_batch = Batch(
            events, max(events // 100, 2), datetime(2024, 3, 30), 2 * 86_400,
            loaded_delay_seconds=2 * 86_400 + 6 * 3600, late_share=0.5, late_days=(31, 50),
        )  # fmt: skip
        with duckdb.connect(str(database)) as connection:
            insert_events(connection, new_batch)
        _to_spark(spark, database, work, ["raw.usage_events"], f"loaded_at > '{generated_through}'")
        incremental = _build(work, full_refresh=False)
        _reference(spark)
        _check(spark, "incremental build")
        no_op = _build(work, full_refresh=False)
        _check(spark, "no-op build")
        spark.stop()

    table = "\n".join(
        [
            "| events | full `dbt build` s | reference query s | ratio to reference"
            " | incremental (+1%, half late) s | no-op build s | (incremental - no-op) / full |",
            "|---|---|---|---|---|---|---|",
            f"| {events:,} | {full:.1f} | {reference:.1f} | {full / reference:.2f}×"
            f" | {incremental:.1f} | {no_op:.1f} | {(incremental - no_op) / full:.1%} |",
        ]
    )
    print(table)
    options.results.write_text(
        f"# Pipeline benchmark on Spark\n\n`bench/spark_pipeline.py --events {events}`,"
        f" {datetime.now(UTC):%Y-%m-%d %H:%M} UTC, local[2].\n\n{table}\n"
    )


if __name__ == "__main__":
    main()
