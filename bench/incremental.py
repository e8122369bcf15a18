"""What an incremental `dbt build` with 1% new events (half of them late, in the previous
month) costs next to a full build, on the embedded DuckDB.

    .venv/bin/python bench/incremental.py [EVENTS]      (default 1,000,000)

Writes events straight into a fresh DuckDB file with SQL (1,000 customers, three months,
JSON properties, 1% re-sent duplicates), prices them with the same plan for every customer,
and prints one table. A measurement, not a test: nothing asserts on time.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import duckdb

from sync.contracts import PRICING_TABLES

PROJECT_DIR = Path(__file__).resolve().parents[1]
CUSTOMERS = 1000
METRICS = [
    {"name": "requests", "event_type": "request", "aggregation": "count"},
    {"name": "volume", "event_type": "payment", "aggregation": "sum", "property": "amount"},
]


def _write_events(
    connection: duckdb.DuckDBPyConnection, count: int, first: int, late: bool
) -> None:
    """`count` events numbered from `first`; `late` ones fall in February, loaded later."""
    connection.execute(
        f"""
        insert into raw.usage_events
        select
            'e' || (i + {first}) as event_id,
            'c' || (hash(i + {first}) % {CUSTOMERS}) as customer_alias,
            case when i % 3 = 0 then 'payment' else 'request' end as event_type,
            strftime(
                timestamp '{"2024-02-01" if late else "2024-01-01"}'
                + to_seconds((hash(i * 7 + {first}) % {(28 if late else 90) * 86400})::bigint),
                '%Y-%m-%dT%H:%M:%SZ'
            ) as event_timestamp,
            '{{"amount": ' || (hash(i + 3) % 100000) / 100 || ', "method": "card"}}'
                as event_properties,
            -- The first load arrives as a pipeline lands it, an hour after each event; the
            -- new 1% lands together after the last run.
            {
            "timestamp '2024-04-02'"
            if first
            else "strptime(event_timestamp, '%Y-%m-%dT%H:%M:%SZ') + interval 1 hour"
        } as loaded_at
        from range({count}) as t(i)
        """
    )


def _build(database: Path, full_refresh: bool) -> float:
    variables = {
        "usage_billing_metrics": METRICS,
        "usage_billing_pricing_schema": "pricing",
        "usage_billing_as_of": "2024-04-05 00:00:00",
    }
    command = [
        str(Path(sys.executable).parent / "dbt"), "build", "--quiet",
        "--project-dir", str(PROJECT_DIR), "--profiles-dir", str(PROJECT_DIR),
        "--target-path", str(database.parent / "target"), "--vars", json.dumps(variables),
    ]  # fmt: skip
    if full_refresh:
        command.append("--full-refresh")
    started = time.perf_counter()
    subprocess.run(
        command, check=True, env={**os.environ, "USAGE_BILLING_DUCKDB_PATH": str(database)}
    )
    elapsed = time.perf_counter() - started
    if os.environ.get("BENCH_VERBOSE"):
        results = json.loads((database.parent / "target" / "run_results.json").read_text())
        slowest = sorted(results["results"], key=lambda result: -result["execution_time"])[:8]
        for result in slowest:
            print(f"  {result['execution_time']:6.2f}s {result['unique_id']}", file=sys.stderr)
    return elapsed


def main() -> None:
    events = int(sys.argv[1]) if len(sys.argv) > 1 else 1_000_000
    with tempfile.TemporaryDirectory(dir=os.environ.get("BENCH_DIR")) as directory:
        database = Path(directory) / "bench.duckdb"
        with duckdb.connect(str(database)) as connection:
            connection.execute(
                """
                create schema raw;
                create table raw.usage_events (event_id varchar, customer_alias varchar,
                    event_type varchar, event_timestamp varchar, event_properties varchar,
                    loaded_at timestamp);
                create schema pricing;
                """
            )
            _write_events(connection, events, 0, late=False)
            for table, ddl in PRICING_TABLES.items():
                connection.execute(f"create table pricing.{table} ({ddl})")
            connection.execute(
                f"""
                insert into pricing.customers select 'cus' || i, 'Customer ' || i, null, 'UTC'
                    from range({CUSTOMERS}) t(i);
                insert into pricing.customer_aliases select 'c' || i, 'cus' || i
                    from range({CUSTOMERS}) t(i);
                insert into pricing.plans values ('metered', 'Metered');
                insert into pricing.subscriptions
                    select 'sub' || i, 'cus' || i, 'metered', 'EUR', date '2024-01-01', null,
                        'month', 1, null
                    from range({CUSTOMERS}) t(i);
                insert into pricing.prices (price_id, plan_id, metric, pricing_model, description,
                    unit_price, effective_from) values
                    ('requests', 'metered', 'requests', 'per_unit', 'Requests', 0.001,
                        '2023-01-01'),
                    ('volume', 'metered', 'volume', 'per_unit', 'Volume', 0.007, '2023-01-01');
                """
            )
        full = _build(database, full_refresh=True)
        with duckdb.connect(str(database)) as connection:
            new = events // 100
            _write_events(connection, new // 2, events, late=False)
            _write_events(connection, new - new // 2, events + new // 2, late=True)
        if os.environ.get("BENCH_DIR"):
            shutil.copy(database, Path(os.environ["BENCH_DIR"]) / "before_incremental.duckdb")
        incremental = _build(database, full_refresh=False)
        if os.environ.get("BENCH_DIR"):
            shutil.copytree(
                database.parent / "target",
                Path(os.environ["BENCH_DIR"]) / "target",
                dirs_exist_ok=True,
            )
    print("| events | full build s | incremental (+1%, half late) s | ratio |")
    print("|---|---|---|---|")
    print(f"| {events:,} | {full:.1f} | {incremental:.1f} | {incremental / full:.0%} |")


if __name__ == "__main__":
    main()
