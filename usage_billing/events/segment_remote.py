"""One closed journal segment into a PostgreSQL or Snowflake target, exactly once.

DuckDB reads the segment and applies the journal loader's rules (loader.py) within it: only
complete requests, and of an event_id's lines in journal order only those that differ from the
line before. The rows go to the target in batches (`remote_table`), each stamped with the
segment's `loaded_at` (plus a microsecond per later version of an id). That stamp is chosen
once, written beside the segment (`<segment>.loaded_at`, fsynced) before the first batch, and
reused by every later try: a batch skips a row the target holds with the same stamp, so a
segment loaded again after a crash adds only what the crash kept out. The segment and its
stamp file are removed once every batch is in.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import duckdb

from usage_billing.events.csv_load.statements import stored_value
from usage_billing.events.journal import truncate_torn_tail
from usage_billing.events.remote_table import FIELDS, RemoteEvents
from usage_billing.warehouse.sql import sql_literal

STAMP_SUFFIX = ".loaded_at"
JOURNAL_COLUMNS = (
    "{'seq': 'BIGINT', 'request': 'BIGINT', 'lines': 'BIGINT', 'event_id': 'VARCHAR',"
    " 'customer_alias': 'VARCHAR', 'event_type': 'VARCHAR', 'event_timestamp': 'VARCHAR',"
    " 'event_properties': 'VARCHAR'}"
)


def stamp_path(segment: Path) -> Path:
    return segment.with_name(segment.name + STAMP_SUFFIX)


def segment_stamp(segment: Path, proposed: datetime) -> datetime:
    """The stamp an earlier try of `segment` recorded, else `proposed`, recorded durably."""
    path = stamp_path(segment)
    try:
        return datetime.fromisoformat(path.read_text())
    except (FileNotFoundError, ValueError):
        pass  # no try yet, or one cut short before it wrote a row
    partial = path.with_name(path.name + ".partial")
    with partial.open("w") as handle:
        handle.write(proposed.isoformat())
        handle.flush()
        os.fsync(handle.fileno())
    partial.replace(path)
    directory = os.open(segment.parent, os.O_RDONLY)
    try:
        os.fsync(directory)
    finally:
        os.close(directory)
    return proposed


def load_segment(target: RemoteEvents, segment: Path, stamp: datetime) -> int:
    """Write `segment`'s events with `stamp` (segment_stamp's); the rows the target holds
    with this segment's stamps afterwards."""
    truncate_torn_tail(segment)
    if segment.stat().st_size == 0:
        return 0
    timestamp_type = "timestamp" if target.stores_timestamps else "varchar"
    stored = stored_value("event_timestamp", timestamp_type, "timestamp")
    different = " or ".join(
        f"{name} is distinct from lag({name}) over by_event" for name in FIELDS[1:]
    )
    with duckdb.connect(":memory:") as staging:
        staging.execute("set TimeZone = 'UTC'")
        cursor = staging.execute(
            f"""
            with journal as (
                select *, count(*) over (partition by request) as lines_present
                from read_json({sql_literal(str(segment))}, format = 'newline_delimited',
                    columns = {JOURNAL_COLUMNS})
            ),
            versions as (
                select
                    seq, event_id, customer_alias, event_type, {stored} as event_timestamp,
                    event_properties,
                    row_number() over by_event as candidate_version,
                    (row_number() over by_event = 1 or {different}) as changed
                from journal
                where lines_present = lines
                window by_event as (partition by event_id order by seq)
            )
            select
                {", ".join(FIELDS)},
                ? + to_microseconds(candidate_version - 1) as loaded_at,
                candidate_version
            from versions
            where changed
            order by seq
            """,  # noqa: S608 - literals quoted, the stamp bound
            [stamp],
        )
        last_version = 1

        def rows() -> Iterator[tuple[Any, ...]]:
            nonlocal last_version
            while batch := cursor.fetchmany(10_000):
                for row in batch:
                    last_version = max(last_version, int(row[-1]))
                    yield row

        target.insert(rows(), target.skip_journal_row(), extra=["candidate_version"])
    return target.count_stamped(stamp, stamp + timedelta(microseconds=last_version - 1))
