"""`usage-billing load` into a PostgreSQL or Snowflake target.

The file is loaded as on DuckDB, into an empty in-memory copy of the raw table
(`remote_table.RemoteEvents.staging`): the same checks, rejects, repeats and corrections, so
only a file's last version of an id is a candidate. The candidates then go to the target in
batches that skip a version already there, each batch atomic: a load killed at any point and
run again inserts what the first run did not, once, and writes the same reject file.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from usage_billing.events.csv_load.load import LoadResult, load_csv
from usage_billing.events.remote_table import RemoteEvents
from usage_billing.events.table import EventsTable
from usage_billing.warehouse.duckdb import DuckDBWarehouse
from usage_billing.warehouse.protocol import Warehouse

FETCH_ROWS = 10_000


def load_csv_remote(
    warehouse: Warehouse,
    events: EventsTable,
    path: Path,
    reject_file: Path | None = None,
    progress: Callable[[float], None] | None = None,
    now: datetime | None = None,
) -> LoadResult:
    """Validate `path` in DuckDB and append its good rows to the target's raw events table."""
    target = RemoteEvents(warehouse, events)
    # Later than every stamp in the target: this load's rows alone carry it.
    stamp = (now or datetime.now(UTC)).astimezone(UTC).replace(tzinfo=None)
    newest = target.newest_stamp()
    if newest is not None and newest >= stamp:
        stamp = newest + timedelta(microseconds=1)
    with target.staging() as staging:
        result = load_csv(staging, events, path, reject_file, progress, now=stamp)
        accepted = result.loaded
        target.insert(_staged_rows(staging, events), target.skip_csv_row())
    result.loaded = target.count_stamped(stamp, stamp)
    result.already_loaded += accepted - result.loaded
    result.loaded_at = stamp
    return result


def _staged_rows(staging: DuckDBWarehouse, events: EventsTable) -> Iterator[tuple[Any, ...]]:
    columns = [*events.field_columns.values(), events.loaded_at or "loaded_at"]
    cursor = staging.connection.execute(
        f"select {', '.join(staging.quote(column) for column in columns)}"  # noqa: S608
        f" from {staging.quote(events.schema, events.table)}"
    )
    while rows := cursor.fetchmany(FETCH_ROWS):
        yield from rows
