"""End-to-end benchmark of the dbt pipeline on the embedded DuckDB (docs/performance.md).

    .venv/bin/python bench/pipeline.py [--events 10000000] [--results bench/results.md]

`make bench` (N=10000000 by default; `make bench N=100000000` for the large run) and
`make bench-small` (100,000 events, the smoke run of the test suite). Steps, in one fresh
DuckDB file: generate the events and pricing tables (bench/generate.py); a full `dbt build`;
the bare reference query (one statement that de-duplicates by event id and aggregates the
metrics' values per customer and month, the floor for any pipeline on this engine); a check
that the pipeline's monthly usage equals the reference's; 1% new events (half of them late, in
February) and an incremental `dbt build`; the same check again; then a `dbt build` with
nothing new (the no-op build: what any scheduled run costs, which issue 27's incremental target
is measured above). Also reports the bytes the pipeline stores per event: how much the database
file grows in the full build, over the number of events. Prints one table and writes it to
--results. A measurement, not a test: nothing asserts on time. It exits non-zero when the
pipeline's usage differs from the reference query's.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib import metadata
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

PROJECT_DIR = Path(__file__).resolve().parents[1]

# The reference: de-duplicate by event id (the last loaded wins, ties as the pipeline breaks
# them), parse the timestamp and the JSON properties, aggregate each metric per customer and
# UTC month. Written by hand for bench/generate.py's METRICS.
REFERENCE_QUERY = """
    create or replace table bench_reference.usage_by_month as
    with latest as (
        select customer_alias, event_type, event_timestamp, event_properties
        from raw.usage_events
        qualify row_number() over (
            partition by event_id
            order by loaded_at desc, event_timestamp desc, event_properties desc
        ) = 1
    ),
    parsed as (
        select
            aliases.customer_id,
            date_trunc('month', cast(latest.event_timestamp as timestamp)) as usage_month,
            latest.event_type,
            cast(json_extract_string(latest.event_properties, '$.amount') as decimal(38, 10))
                as amount,
            json_extract_string(latest.event_properties, '$.currency') as currency,
            json_extract_string(latest.event_properties, '$.method') as method
        from latest
        inner join pricing.customer_aliases as aliases on latest.customer_alias = aliases.alias
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

# Rows where the pipeline's monthly usage (metric_usage_daily summed by UTC month) and the
# reference's differ; zero means they agree to the unit and the cent.
MISMATCH_QUERY = """
    with reference as (
        unpivot bench_reference.usage_by_month
        on api_requests, payment_volume, card_payment_volume, refunds
        into name metric_name value quantity
    ),
    pipeline as (
        select customer_id, date_trunc('month', usage_date) as usage_month, metric_name,
            sum(quantity) as quantity
        from billing_usage_billing.usage_billing__metric_usage_daily
        group by all
    )
    select count(*)
    from (select * from reference where quantity <> 0) as reference
    full outer join (select * from pipeline where quantity <> 0) as pipeline
        using (customer_id, usage_month, metric_name)
    where reference.quantity is distinct from pipeline.quantity
"""


@dataclass(frozen=True)
class Run:
    seconds: float
    cpu_seconds: float
    peak_bytes: int


def _load() -> str:
    return " / ".join(f"{value:.1f}" for value in os.getloadavg())


def _build(work: Path, full_refresh: bool, memory_limit: str) -> Run:
    """One `dbt build` in a child process; its wall time, CPU time and peak resident memory."""
    variables = {
        "usage_billing_metrics": METRICS,
        "usage_billing_pricing_schema": "pricing",
        "usage_billing_as_of": AS_OF,
    }
    command = [
        str(Path(sys.executable).parent / "dbt"), "build", "--quiet",
        "--project-dir", str(PROJECT_DIR), "--profiles-dir", str(work),
        "--target-path", str(work / "target"), "--log-path", str(work / "logs"),
        "--vars", json.dumps(variables),
    ]  # fmt: skip
    if full_refresh:
        command.append("--full-refresh")
    environment = {
        **os.environ,
        "USAGE_BILLING_TARGET": "duckdb",
        "USAGE_BILLING_DUCKDB_PATH": str(work / "bench.duckdb"),
        "USAGE_BILLING_SCHEMA": "billing",
        "USAGE_BILLING_DUCKDB_MEMORY_LIMIT": memory_limit,
        "USAGE_BILLING_DUCKDB_TEMP_DIRECTORY": str(work / "spill"),
    }
    started = time.perf_counter()
    child = subprocess.Popen(command, env=environment)
    _, status, usage = os.wait4(child.pid, 0)
    seconds = time.perf_counter() - started
    child.returncode = os.waitstatus_to_exitcode(status)
    if child.returncode:
        raise SystemExit(f"dbt build failed (exit {child.returncode})")
    if os.environ.get("BENCH_VERBOSE"):
        results = json.loads((work / "target" / "run_results.json").read_text())
        slowest = sorted(results["results"], key=lambda result: -result["execution_time"])[:12]
        for result in slowest:
            print(f"  {result['execution_time']:6.2f}s {result['unique_id']}", file=sys.stderr)
    # ru_maxrss is in KiB on Linux.
    return Run(seconds, usage.ru_utime + usage.ru_stime, usage.ru_maxrss * 1024)


def _reference(database: Path, memory_limit: str) -> float:
    """Seconds of the reference query, with the build's memory limit and threads."""
    with duckdb.connect(str(database)) as connection:
        connection.execute(f"set memory_limit = '{memory_limit}'; set threads = 2")
        connection.execute("create schema if not exists bench_reference")
        started = time.perf_counter()
        connection.execute(REFERENCE_QUERY)
        return time.perf_counter() - started


def _check(database: Path, when: str) -> None:
    with duckdb.connect(str(database), read_only=True) as connection:
        row = connection.execute(MISMATCH_QUERY).fetchone()
    if row is None or row[0]:
        raise SystemExit(f"{when}: the pipeline's monthly usage differs from the reference's")


def _file_bytes(database: Path) -> int:
    """The database file's size once DuckDB has written everything to it."""
    with duckdb.connect(str(database)) as connection:
        connection.execute("checkpoint")
    return database.stat().st_size


def _machine() -> str:
    cpu = next(
        (
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        ),
        platform.processor(),
    )
    memory_kib = int(Path("/proc/meminfo").read_text().split()[1])
    return (
        f"{cpu}, {os.cpu_count()} cores, {memory_kib / 2**20:.0f} GiB RAM;"
        f" DuckDB {duckdb.__version__}, dbt-core {metadata.version('dbt-core')},"
        f" dbt-duckdb {metadata.version('dbt-duckdb')}, Python {platform.python_version()}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=10_000_000)
    parser.add_argument("--results", type=Path, default=PROJECT_DIR / "bench" / "results.md")
    parser.add_argument("--memory-limit", default="6GB", help="DuckDB's, for build and reference")
    parser.add_argument("--duplicate-share", type=float, default=0.02)
    parser.add_argument("--correction-share", type=float, default=0.005)
    parser.add_argument("--late-share", type=float, default=0.01)
    parser.add_argument("--directory", type=Path, help="for the DuckDB file (default: temporary)")
    options = parser.parse_args()
    events = options.events
    with tempfile.TemporaryDirectory(dir=options.directory) as directory:
        work = Path(directory)
        shutil.copy(PROJECT_DIR / "profiles.example.yml", work / "profiles.yml")
        database = work / "bench.duckdb"
        started = time.perf_counter()
        with duckdb.connect(str(database)) as connection:
            connection.execute("set enable_progress_bar = false")
            create_tables(connection)
            insert_pricing(connection)
            insert_events(
                connection,
                Batch(
                    0,
                    events,
                    PERIOD_START,
                    PERIOD_SECONDS,
                    duplicate_share=options.duplicate_share,
                    correction_share=options.correction_share,
                    late_share=options.late_share,
                ),
            )
        generated = time.perf_counter() - started
        print(f"generated {events:,} events in {generated:.1f} s", file=sys.stderr)

        raw_bytes = _file_bytes(database)
        load_before = _load()
        full = _build(work, full_refresh=True, memory_limit=options.memory_limit)
        stored_per_event = (_file_bytes(database) - raw_bytes) / events
        reference = _reference(database, options.memory_limit)
        _check(database, "full build")

        # 1% new events land together after the last run: half in the last two days of March,
        # half late, 31 to 50 days earlier (February, whose invoice is final by now).
        new = max(events // 100, 2)
        new_batch = Batch(
            events, new, datetime(2024, 3, 30), 2 * 86_400,
            loaded_delay_seconds=2 * 86_400 + 6 * 3600,
            duplicate_share=options.duplicate_share, correction_share=options.correction_share,
            late_share=0.5, late_days=(31, 50),
        )  # fmt: skip
        with duckdb.connect(str(database)) as connection:
            connection.execute("set enable_progress_bar = false")
            insert_events(connection, new_batch)
        incremental = _build(work, full_refresh=False, memory_limit=options.memory_limit)
        _reference(database, options.memory_limit)
        _check(database, "incremental build")
        no_op = _build(work, full_refresh=False, memory_limit=options.memory_limit)
        load_after = _load()
        _check(database, "no-op build")

    table = "\n".join(
        [
            "| events | full `dbt build` s | events/s | reference query s | ratio to reference"
            " | incremental (+1%, half late) s | incremental / full | no-op build s"
            " | (incremental - no-op) / full | build peak memory | stored bytes per event"
            " | build CPU s (full / incremental) | load average (1/5/15 min, before / after) |",
            "|---|---|---|---|---|---|---|---|---|---|---|---|---|",
            f"| {events:,} | {full.seconds:.1f} | {events / full.seconds:,.0f}"
            f" | {reference:.1f} | {full.seconds / reference:.2f}×"
            f" | {incremental.seconds:.1f} | {incremental.seconds / full.seconds:.1%}"
            f" | {no_op.seconds:.1f} | {(incremental.seconds - no_op.seconds) / full.seconds:.1%}"
            f" | {max(full.peak_bytes, incremental.peak_bytes) / 2**30:.2f} GiB"
            f" | {stored_per_event:.0f}"
            f" | {full.cpu_seconds:.0f} / {incremental.cpu_seconds:.0f}"
            f" | {load_before} / {load_after} |",
        ]
    )
    print(table)
    options.results.parent.mkdir(parents=True, exist_ok=True)
    options.results.write_text(
        f"# Pipeline benchmark\n\n`bench/pipeline.py --events {events}`,"
        f" {datetime.now(UTC):%Y-%m-%d %H:%M} UTC, DuckDB memory_limit {options.memory_limit}.\n"
        f"Machine: {_machine()}.\n\n{table}\n"
    )


if __name__ == "__main__":
    main()
