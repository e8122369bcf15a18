"""Benchmark of `usage-billing load` into DuckDB: rows per second for a generated CSV.

    .venv/bin/python bench/load_csv.py [--rows 2000000] [--bad-every 0]

Writes a CSV of demo-shaped events (id, alias, type, ISO timestamp, JSON properties) to a
temporary directory, loads it into a fresh DuckDB file through
`usage_billing.events.csv_load.load_csv` (the CLI's code path), then loads it again (the
idempotent re-load: every row already present).
Last, the floor: DuckDB's own bare insert of the same file into a fresh table of the same
columns, with no checks at all.
Target: >= 1,000,000 rows/s for the first load on the 2-core reference machine. CPU seconds
(all threads), the machine's load average and the process's peak memory are printed too: on
a shared, busy machine the CPU seconds say more than the wall time. `--bad-every N` makes
every Nth timestamp bad, which sends the load through its second, numbered pass.
"""

from __future__ import annotations

import argparse
import os
import resource
import tempfile
import time
from pathlib import Path

import duckdb

from usage_billing.events.csv_load import load_csv
from usage_billing.events.table import EventsTable
from usage_billing.warehouse.duckdb import DuckDBWarehouse


def write_csv(path: Path, rows: int, bad_every: int) -> None:
    with duckdb.connect() as connection:
        connection.execute(
            f"""
            copy (
                select
                    'evt_' || i as event_id,
                    'customer_' || (i % 97) as customer_alias,
                    case when i % 3 = 0 then 'api_request' else 'transaction' end as event_type,
                    case when {bad_every} > 0 and i % {bad_every} = 0 then 'not a time'
                        else strftime(timestamp '2022-10-01' + to_seconds(i % 2678400),
                                      '%Y-%m-%dT%H:%M:%SZ') end as event_timestamp,
                    '{{"amount": ' || (i % 1000) || ', "currency": "EUR"}}' as event_properties
                from range({rows}) as t(i)
            ) to '{path}' (header, delimiter ',')
            """
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=2_000_000)
    parser.add_argument("--bad-every", type=int, default=0, help="every Nth row a bad timestamp")
    options = parser.parse_args()
    with tempfile.TemporaryDirectory() as directory:
        csv_path = Path(directory) / "events.csv"
        write_csv(csv_path, options.rows, options.bad_every)
        size = csv_path.stat().st_size / 1e6
        with duckdb.connect(str(Path(directory) / "bench.duckdb")) as connection:
            warehouse = DuckDBWarehouse(connection)
            events = EventsTable("raw", "usage_events")
            for label in ("first load", "re-load (all present)"):
                load_before = os.getloadavg()[0]
                started, cpu = time.perf_counter(), time.process_time()
                result = load_csv(warehouse, events, csv_path)
                seconds = time.perf_counter() - started
                cpu = time.process_time() - cpu
                peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
                print(
                    f"{label}: {result.rows:,} rows ({size:.0f} MB) in {seconds:.2f} s ="
                    f" {result.rows / seconds:,.0f} rows/s; {cpu:.2f} CPU-s (all threads) ="
                    f" {cpu / result.rows * 1e6:.2f} CPU-s per million rows; peak {peak:,.0f} MiB;"
                    f" loaded {result.loaded:,}, rejected {result.rejected:,};"
                    f" load average {load_before:.1f} before, {os.getloadavg()[0]:.1f} after"
                )
        print(bare_insert(csv_path, Path(directory) / "floor.duckdb", options.rows))


def bare_insert(csv_path: Path, database: Path, rows: int) -> str:
    """DuckDB reading the file and appending it to a table, nothing else: the floor of any
    loader on this engine and machine."""
    with duckdb.connect(str(database)) as connection:
        connection.execute(
            "create table events (event_id varchar, customer_alias varchar, event_type varchar,"
            " event_timestamp varchar, event_properties varchar, loaded_at timestamp)"
        )
        connection.execute("set preserve_insertion_order = false")
        started, cpu = time.perf_counter(), time.process_time()
        connection.execute(
            "insert into events select *, now()::timestamp from read_csv(?, header = true,"
            " auto_detect = false, columns = {'event_id': 'VARCHAR', 'customer_alias': 'VARCHAR',"
            " 'event_type': 'VARCHAR', 'event_timestamp': 'VARCHAR',"
            " 'event_properties': 'VARCHAR'})",
            [str(csv_path)],
        )
        connection.execute("checkpoint")
        seconds, cpu = time.perf_counter() - started, time.process_time() - cpu
    return (
        f"bare insert (the floor): {rows:,} rows in {seconds:.2f} s = {rows / seconds:,.0f}"
        f" rows/s; {cpu:.2f} CPU-s (all threads)"
    )


if __name__ == "__main__":
    main()
