"""Why the ingestion API answers after an fsynced journal write rather than a DuckDB commit:
the cost of making one group of accepted events durable both ways.

- journal: append the group's lines to a file and fdatasync it (what the server does per group
  of concurrent requests);
- commit: in one DuckDB transaction, look up the latest stored version of the group's event ids
  (the idempotency check) and insert the group, on a raw table already holding `--rows` rows.

    .venv/bin/python bench/ingest_durability.py [--rows 1000000] [--repeat 30]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import tempfile
import time
from pathlib import Path

import duckdb

from usage_billing.events.contract import RAW_EVENTS_COLUMNS

GROUPS = (1, 32, 500)


def _lines(group: int, round_number: int) -> list[dict[str, str]]:
    return [
        {
            "event_id": f"new_{round_number}_{group}_{i}",
            "customer_alias": "acme_corp",
            "event_type": "api_request",
            "event_timestamp": "2022-10-05T12:00:00Z",
            "event_properties": '{"bytes":5120}',
        }
        for i in range(group)
    ]


def _journal(directory: Path, group: int, repeat: int) -> float:
    descriptor = os.open(directory / f"journal_{group}", os.O_WRONLY | os.O_CREAT, 0o600)
    times = []
    try:
        for round_number in range(repeat):
            data = "".join(json.dumps(line) + "\n" for line in _lines(group, round_number))
            started = time.perf_counter()
            os.write(descriptor, data.encode())
            os.fdatasync(descriptor)
            times.append(time.perf_counter() - started)
    finally:
        os.close(descriptor)
    return statistics.median(times) * 1000


def _commit(connection: duckdb.DuckDBPyConnection, group: int, repeat: int) -> float:
    times = []
    for round_number in range(repeat):
        lines = _lines(group, round_number)
        ids = [line["event_id"] for line in lines]
        started = time.perf_counter()
        connection.execute("begin transaction")
        connection.execute(
            """
            select event_id, max(loaded_at) from raw.usage_events
            where event_id in (select unnest($ids)) group by event_id
            """,
            {"ids": ids},
        ).fetchall()
        connection.execute(
            """
            insert into raw.usage_events
            select unnest($ids), 'acme_corp', 'api_request', '2022-10-05T12:00:00Z',
                '{"bytes":5120}', now()
            """,
            {"ids": ids},
        )
        connection.execute("commit")
        times.append(time.perf_counter() - started)
    return statistics.median(times) * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=30)
    options = parser.parse_args()
    with tempfile.TemporaryDirectory() as name:
        directory = Path(name)
        with duckdb.connect(str(directory / "bench.duckdb")) as connection:
            connection.execute("create schema raw")
            connection.execute(f"create table raw.usage_events ({RAW_EVENTS_COLUMNS})")
            connection.execute(
                """
                insert into raw.usage_events
                select 'evt_' || i, 'acme_corp', 'api_request', '2022-10-05T12:00:00Z',
                    '{"bytes":5120}', now()
                from range(?) as t(i)
                """,
                [options.rows],
            )
            connection.execute("checkpoint")
            print(f"median ms to make one group durable ({options.rows:,} rows in the table)")
            print(f"{'events in group':>16} {'journal':>10} {'DuckDB commit':>14}")
            for group in GROUPS:
                journal = _journal(directory, group, options.repeat)
                commit = _commit(connection, group, options.repeat)
                print(f"{group:>16} {journal:>10.2f} {commit:>14.2f}")


if __name__ == "__main__":
    main()
