"""The load itself: the fast pass, and the numbered audit pass when the counts say something
was left out (see the package's doc)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import duckdb

from usage_billing.errors import LoadError
from usage_billing.events.csv_load.file_version import change_since, file_version
from usage_billing.events.csv_load.header import Layout, layout, read_header
from usage_billing.events.csv_load.progress import run_with_progress
from usage_billing.events.csv_load.rejects import (
    Reject,
    lines_after_header,
    placed_rejects,
    reject_detail,
    write_rejects,
)
from usage_billing.events.csv_load.statements import REJECTS_SCAN, REJECTS_TABLE, Statements
from usage_billing.events.table import EventsTable, ensure_events_table
from usage_billing.warehouse.duckdb import DuckDBWarehouse
from usage_billing.warehouse.sql import quote_identifier

REPEATS_TABLE = "_usage_billing_load_repeats"


@dataclass
class LoadResult:
    """What a load did; `rejected` rows are in `reject_file`."""

    rows: int = 0
    loaded: int = 0
    already_loaded: int = 0
    repeated_in_file: int = 0
    rejects: list[Reject] = field(default_factory=list)
    reject_file: Path | None = None
    loaded_at: datetime | None = None

    @property
    def rejected(self) -> int:
        return len(self.rejects)


def load_csv(
    warehouse: DuckDBWarehouse,
    events: EventsTable,
    path: Path,
    reject_file: Path | None = None,
    progress: Callable[[float], None] | None = None,
    now: datetime | None = None,
) -> LoadResult:
    """Validate `path` and append its good rows to the raw events table; see the module doc."""
    version = file_version(path)
    shape = layout(read_header(path))
    connection = warehouse.connection
    connection.execute("set TimeZone = 'UTC'")
    if progress is not None:
        connection.execute("set enable_progress_bar = true")
        connection.execute("set enable_progress_bar_print = false")
    columns = ensure_events_table(warehouse, events)
    (preserve,) = connection.execute(
        "select current_setting('preserve_insertion_order')"
    ).fetchone() or (True,)
    for table in (REJECTS_TABLE, REJECTS_SCAN, REPEATS_TABLE):
        connection.execute(f"drop table if exists {quote_identifier(table)}")
    connection.execute("begin transaction")
    try:
        result = _load(warehouse, events, columns, shape, path, progress, now)
        if change := change_since(path, version):
            raise LoadError(change)
        connection.execute("commit")
    except Exception:
        connection.execute("rollback")
        # A read that failed because the file went away or changed says so, not how it failed.
        if change := change_since(path, version):
            raise LoadError(change) from None
        raise
    except BaseException:
        connection.execute("rollback")
        raise
    finally:
        connection.execute(f"set preserve_insertion_order = {'true' if preserve else 'false'}")
        for table in (REJECTS_TABLE, REJECTS_SCAN, REPEATS_TABLE):
            connection.execute(f"drop table if exists {quote_identifier(table)}")

    destination = reject_file or path.with_name(path.name + ".rejects.csv")
    if result.rejects:
        write_rejects(destination, result.rejects)
        result.reject_file = destination
    elif reject_file is None and destination.exists():
        destination.unlink()  # a stale reject file of an earlier load of this file
    return result


def _load(
    warehouse: DuckDBWarehouse,
    events: EventsTable,
    columns: dict[str, str],
    shape: Layout,
    path: Path,
    progress: Callable[[float], None] | None,
    now: datetime | None,
) -> LoadResult:
    """The load inside one transaction.

    The fast pass inserts every valid row not already in the table straight from the reader,
    in parallel. Only when the counts leave room for a reject, a repeat or a skipped row does a
    second, numbered pass over the file find them (bad rows and repeated ids only); of a
    repeated id only the file's last version may stay in the table."""
    connection = warehouse.connection
    sql = Statements(warehouse, events, columns, shape, path)
    loaded_at = _stamp(warehouse, events, columns, now)
    result = LoadResult(loaded_at=loaded_at)
    stamp: list[object] = [loaded_at] if events.loaded_at else []
    table_has_rows = connection.execute(
        f"select exists (select 1 from {sql.relation})"  # noqa: S608 - quoted name of ours
    ).fetchone()
    # The fast pass's candidates are the valid rows only.
    conditions = ["true"]
    if table_has_rows and table_has_rows[0]:
        conditions.append(sql.not_loaded_before("candidate"))
    # The raw table's row order means nothing: let DuckDB write it with every thread.
    connection.execute("set preserve_insertion_order = false")
    try:
        if not events.loaded_at:
            # No stamp tells this load's rows apart afterwards: find repeated ids first.
            run_with_progress(
                connection, progress, _repeats_sql(f"({sql.candidates(False)})", "true")
            )
            conditions.append(f"event_id not in (select event_id from {REPEATS_TABLE})")  # noqa: S608
        fast = sql.insert(sql.candidates(False), " and ".join(conditions))
        inserted = run_with_progress(connection, progress, fast, stamp)
    except duckdb.Error as error:
        raise LoadError(f"{path}: cannot be read as CSV: {str(error).splitlines()[0]}") from None
    result.loaded = int(inserted[0][0]) if inserted else 0
    if events.loaded_at:
        loaded_at_column = quote_identifier(events.loaded_at)
        connection.execute(
            _repeats_sql(sql.relation, f"{loaded_at_column} = ?", events.event_id), stamp
        )
    repeats = connection.execute(f"select count(*) from {REPEATS_TABLE}").fetchone()  # noqa: S608
    structural = connection.execute(
        f"""
        select line, min(line_byte_position), min(error_type), min(error_message)
        from {REJECTS_TABLE} group by line order by line
        """  # noqa: S608 - identifiers are ours
    ).fetchall()
    if (
        not structural
        and not (repeats and repeats[0])
        and lines_after_header(path) == result.loaded
    ):
        # Every line of the file is one row, and every row went in: nothing to report.
        result.rows = result.loaded
        return result

    connection.execute("set preserve_insertion_order = true")
    try:
        if events.loaded_at:
            # A row was left out, maybe as already loaded: the inserted rows no longer show
            # every repeated id (the file's last version of an id skipped, an earlier one
            # inserted, which would then be billed), so count the repeats over the file itself.
            run_with_progress(
                connection, progress, _repeats_sql(f"({sql.candidates(False)})", "true")
            )
        audit = run_with_progress(connection, progress, _audit_sql(sql))
        parsed, valid, bad_rows, repeated_rows = audit[0]
    except duckdb.Error as error:
        raise LoadError(f"{path}: cannot be read as CSV: {str(error).splitlines()[0]}") from None
    result.rows = int(parsed) + len(structural)
    pending: list[tuple[int, str, str, str | None]] = [
        (
            int(row["record"]),
            str(row["reason"]),
            reject_detail(row["reason"], row["timestamp"]),
            row["event_id"],
        )
        for row in bad_rows
    ]
    superseded, newest = _sort_repeats(repeated_rows, sql.fields)
    result.repeated_in_file = sum(1 for _, same in superseded if same)
    pending += [
        (
            int(row["record"]),
            "superseded_in_file",
            "a later row of this file has the same event_id and a different payload",
            str(row["event_id"]),
        )
        for row, same in superseded
        if not same
    ]
    if newest:
        result.loaded += _replace_repeats(connection, sql, events, newest, stamp)
    result.already_loaded = int(valid) - len(superseded) - result.loaded
    result.rejects = placed_rejects(path, result.rows, structural, pending)
    return result


def _stamp(
    warehouse: DuckDBWarehouse,
    events: EventsTable,
    columns: dict[str, str],
    now: datetime | None,
) -> datetime:
    """This load's `loaded_at`: now, or just after the newest stamp in the table when the
    clock is behind it, so that the stamp names this load's rows alone and incremental runs
    never see a load land in their past."""
    stamp = (now or datetime.now(UTC)).astimezone(UTC).replace(tzinfo=None)
    if events.loaded_at and columns.get(events.loaded_at, "").startswith("timestamp"):
        row = warehouse.connection.execute(
            f"select max({quote_identifier(events.loaded_at)})::timestamp"  # noqa: S608
            f" from {warehouse.quote(events.schema, events.table)}"
        ).fetchone()
        newest = row[0] if row else None
        if isinstance(newest, datetime) and newest >= stamp:
            stamp = newest + timedelta(microseconds=1)
    return stamp


def _repeats_sql(source: str, condition: str, event_id: str = "event_id") -> str:
    """A temporary table of the event_ids that occur more than once among `source`'s rows."""
    column = quote_identifier(event_id)
    return f"""
        create or replace temp table {REPEATS_TABLE} as
        select {column} as event_id from {source}
        where {condition}
        group by {column} having count(*) > 1
    """  # noqa: S608 - identifiers are ours


def _audit_sql(sql: Statements) -> str:
    """The numbered pass: row counts, the bad rows, and every row of a repeated event_id."""
    payload = ", ".join(f"{name}: candidate.{name}" for name in sql.fields)
    return f"""
        select
            count(*),
            count(*) filter (where reason is null),
            coalesce(list({{record: record_index, reason: reason,
                event_id: candidate.event_id, timestamp: timestamp_text}})
                filter (where reason is not null), []),
            coalesce(list({{record: record_index, {payload}}})
                filter (where reason is null and repeats.event_id is not null), [])
        from ({sql.candidates(True)}) as candidate
        left join {REPEATS_TABLE} as repeats on candidate.event_id = repeats.event_id
    """  # noqa: S608 - identifiers are ours


def _sort_repeats(
    rows: list[dict[str, Any]], fields: list[str]
) -> tuple[list[tuple[dict[str, Any], bool]], list[dict[str, Any]]]:
    """For the rows of repeated event_ids: each older row with whether it equals the newest
    (a plain repeat) or not (superseded), and the newest row of each id."""
    newest: dict[str, dict[str, Any]] = {}
    for row in rows:
        held = newest.get(row["event_id"])
        if held is None or row["record"] > held["record"]:
            newest[row["event_id"]] = row
    older = [
        (row, all(row[name] == newest[row["event_id"]][name] for name in fields))
        for row in rows
        if row is not newest[row["event_id"]]
    ]
    return older, list(newest.values())


def _replace_repeats(
    connection: duckdb.DuckDBPyConnection,
    sql: Statements,
    events: EventsTable,
    newest: list[dict[str, Any]],
    stamp: list[object],
) -> int:
    """Keep only the newest row of each repeated event_id: drop what the fast pass inserted
    for those ids, then insert the newest rows not already in the table. Returns the net rows
    added."""
    removed = 0
    if events.loaded_at:
        deleted = connection.execute(
            f"""
            delete from {sql.relation}
            where {quote_identifier(events.loaded_at)} = ?
                and {quote_identifier(events.event_id)} in (select event_id from {REPEATS_TABLE})
            """,  # noqa: S608 - identifiers are ours, values bound
            stamp,
        ).fetchone()
        removed = int(deleted[0]) if deleted else 0
    columns = ", ".join(f"unnest(?) as {name}" for name in sql.fields)
    values = [[row[name] for row in newest] for name in sql.fields]
    added = connection.execute(
        sql.insert(f"select {columns}", sql.not_loaded_before("candidate")), [*stamp, *values]
    ).fetchone()
    return (int(added[0]) if added else 0) - removed
