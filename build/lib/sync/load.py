"""`usage-billing load`: append a CSV file of usage events to the raw events table, fast.

DuckDB's own CSV reader parses the file (in parallel, no Python per row) into a temporary table
where SQL checks every row; good rows are appended in one statement, stamped with one
`loaded_at`; every other row is written to a reject file with its line number and reason.

Columns (header names, case and `_` ignored): `event_id` (or `customerEventId`),
`customer_alias` (`customerAlias`), `event_type`, `event_timestamp`, and properties either as a
JSON object column `event_properties` (or `properties`) or as any other columns, folded into
the properties object (numbers and booleans typed, the rest strings; the JSON column wins on a
clash). `loaded_at` is stamped by the loader and may not be a column of the file.

Loading is idempotent: a row whose event_id and payload (alias, type, timestamp, properties)
already sit in the raw table is skipped, so loading the same file twice inserts nothing the
second time, and a corrected event (same id, new payload) is appended and wins in dbt's staging
(last loaded wins). Within one file, a repeat of a row is loaded once and a changed repeat
replaces the earlier row, which is rejected as `superseded_in_file`.
"""

from __future__ import annotations

import csv
import io
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import duckdb

from sync.engine import DuckDBWarehouse, quote_identifier, sql_literal
from sync.errors import LoadError
from sync.project import EventsTable

MAX_LINE_BYTES = 2 * 1024 * 1024
REJECTS_TABLE = "_usage_billing_load_rejects"
REJECTS_SCAN = "_usage_billing_load_reject_scans"
ROWS_TABLE = "_usage_billing_load_rows"

FIELDS = ("event_id", "customer_alias", "event_type", "event_timestamp", "event_properties")
ALIASES: dict[str, str] = {
    "eventid": "event_id",
    "customereventid": "event_id",
    "customeralias": "customer_alias",
    "eventtype": "event_type",
    "eventtimestamp": "event_timestamp",
    "eventproperties": "event_properties",
    "properties": "event_properties",
}
CANONICAL = {**{name.replace("_", ""): name for name in FIELDS}, **ALIASES}
REQUIRED = ("event_id", "customer_alias", "event_type", "event_timestamp")

# DuckDB's reader errors → our reasons.
STRUCTURAL_REASONS = {
    "MISSING COLUMNS": "wrong_field_count",
    "TOO MANY COLUMNS": "wrong_field_count",
    "UNQUOTED VALUE": "bad_quoting",
    "INVALID ENCODING": "bad_encoding",
    "INVALID UNICODE": "bad_encoding",
    "LINE SIZE OVER MAXIMUM": "line_too_long",
    "CAST": "bad_value",
}
JSON_NUMBER = r"-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?"


@dataclass(frozen=True)
class Reject:
    """One row that was not loaded."""

    line: int
    reason: str
    detail: str
    event_id: str | None = None


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


@dataclass(frozen=True)
class _Layout:
    """Where each field sits in the file: column index per field, and the extra columns."""

    columns: list[str]
    fields: dict[str, int]
    extras: list[tuple[str, int]]


def _normalise(name: str) -> str:
    return name.strip().lower().replace("_", "").replace("-", "").replace(" ", "")


def read_header(path: Path) -> list[str]:
    """The header row's names; LoadError when the file is empty or the header unreadable."""
    try:
        with path.open("rb") as handle:
            head = handle.read(MAX_LINE_BYTES)
    except FileNotFoundError:
        raise LoadError(f"{path}: no such file") from None
    text = head.removeprefix(b"\xef\xbb\xbf").decode("utf-8", errors="surrogateescape")
    try:
        header = next(csv.reader(io.StringIO(text, newline=""), strict=True), None)
    except csv.Error as error:
        raise LoadError(f"{path}: the header row is not valid CSV ({error})") from None
    if header and any(_is_undecodable(name) for name in header):
        raise LoadError(f"{path}: the header row is not UTF-8")
    if not header or all(not name.strip() for name in header):
        raise LoadError(f"{path}: empty file, expected a header row naming the columns")
    return header


def _is_undecodable(text: str) -> bool:
    return any("\udc80" <= char <= "\udcff" for char in text)


def layout(header: list[str]) -> _Layout:
    """Map header names to fields; LoadError naming the problem when the header is unusable."""
    fields: dict[str, int] = {}
    extras: list[tuple[str, int]] = []
    seen: set[str] = set()
    for index, raw_name in enumerate(header):
        name = raw_name.strip()
        if not name:
            raise LoadError(f"header column {index + 1} has no name")
        key = _normalise(name)
        if key in seen:
            raise LoadError(f"header names {name!r} twice")
        seen.add(key)
        if key == "loadedat":
            raise LoadError("loaded_at is stamped by the loader; remove that column from the file")
        target = CANONICAL.get(key)
        if target is not None:
            if target in fields:
                raise LoadError(f"header maps two columns to {target}")
            fields[target] = index
        else:
            extras.append((name, index))
    missing = [name for name in REQUIRED if name not in fields]
    if missing:
        raise LoadError(
            f"header lacks {', '.join(missing)} (have: {', '.join(h.strip() for h in header)})"
        )
    return _Layout([f"c{index}" for index in range(len(header))], fields, extras)


def _typed_json(column: str) -> str:
    """A property value from a text cell: JSON number or boolean when it reads as one."""
    value = f"nullif(trim({column}), '')"
    return (
        f"case when {value} is null then null"
        f" when regexp_full_match({value}, {sql_literal(JSON_NUMBER)}) then {value}::json"
        f" when {value} in ('true', 'false') then {value}::json"
        f" else to_json({value}) end"
    )


def _properties_expression(shape: _Layout) -> str:
    """SQL for the properties JSON text of a valid row."""
    extras = None
    if shape.extras:
        pairs = ", ".join(
            f"{sql_literal(name)}, {_typed_json(f'c{i}')}" for name, i in shape.extras
        )
        extras = f"json_object({pairs})"
    if "event_properties" not in shape.fields:
        return f"cast({extras} as varchar)" if extras else "cast(null as varchar)"
    if extras is None:
        return "nullif(trim(properties_text), '')"
    return (
        f"case when coalesce(trim(properties_text), '') = '' then cast({extras} as varchar)"
        f" else cast(json_merge_patch({extras}, properties_text) as varchar) end"
    )


def _read_csv(path: Path, shape: _Layout) -> str:
    columns = ", ".join(f"{sql_literal(name)}: 'VARCHAR'" for name in shape.columns)
    return (
        f"read_csv({sql_literal(str(path))}, auto_detect = false, columns = {{{columns}}},"
        " header = true, delim = ',', quote = '\"', escape = '\"', strict_mode = true,"
        f" max_line_size = {MAX_LINE_BYTES}, encoding = 'utf-8', store_rejects = true,"
        f" rejects_table = {sql_literal(REJECTS_TABLE)},"
        f" rejects_scan = {sql_literal(REJECTS_SCAN)})"
    )


def _stage_sql(path: Path, shape: _Layout) -> str:
    """One pass over the file: every parsed row, in file order (rowid), with its rejection
    reason or null. Values are kept as sent; blank counts as missing."""

    def field_value(name: str) -> str:
        return f"c{shape.fields[name]}" if name in shape.fields else "cast(null as varchar)"

    def missing(name: str) -> str:
        # Blank is missing; trim() only runs on the rare value that starts with a space.
        return (
            f"({name} is null or {name} = '' or (starts_with({name}, ' ') and trim({name}) = ''))"
        )

    json_checks = (
        " when not (properties_text is null or properties_text = ''"
        " or (json_valid(properties_text) and (starts_with(properties_text, '{')"
        " or starts_with(ltrim(properties_text, ' \t\n\r'), '{'))))"
        " and trim(properties_text) <> '' then 'bad_properties'"
        if "event_properties" in shape.fields
        else ""
    )
    extras = "".join(f", c{index}" for _, index in shape.extras)
    return f"""
        create or replace temp table {ROWS_TABLE} as
        select
            *,
            case
                when {missing("event_id")} then 'missing_event_id'
                when {missing("customer_alias")} then 'missing_customer_alias'
                when {missing("event_type")} then 'missing_event_type'
                when {missing("event_timestamp")} then 'missing_timestamp'
                when not coalesce(isfinite(try_cast(event_timestamp as timestamptz)), false)
                    then 'bad_timestamp'
                {json_checks}
            end as reason
        from (
            select
                {field_value("event_id")} as event_id,
                {field_value("customer_alias")} as customer_alias,
                {field_value("event_type")} as event_type,
                {field_value("event_timestamp")} as event_timestamp,
                {field_value("event_properties")} as properties_text
                {extras}
            from {_read_csv(path, shape)}
        )
    """  # noqa: S608 - identifiers and literals are ours, quoted


def _stored(expression: str, column_type: str, kind: str) -> str:
    """The value as the raw table's column stores it (timestamps parsed to UTC when typed)."""
    if kind == "timestamp":
        if "with time zone" in column_type:
            return f"try_cast({expression} as timestamptz)"
        if column_type.startswith("timestamp"):
            return f"(try_cast({expression} as timestamptz) at time zone 'UTC')"
    if kind == "json" and column_type == "json":
        return f"cast({expression} as json)"
    return expression


class _Progress:
    """Polls DuckDB's progress of the running statement into a callback, from a thread."""

    def __init__(
        self, connection: duckdb.DuckDBPyConnection, report: Callable[[float], None] | None
    ) -> None:
        self.connection = connection
        self.report = report
        self.done = threading.Event()

    def run(self, sql: str, parameters: list[object] | None = None) -> list[tuple[object, ...]]:
        if self.report is None:
            return self.connection.execute(sql, parameters or []).fetchall()
        outcome: dict[str, object] = {}

        def work() -> None:
            try:
                outcome["rows"] = self.connection.execute(sql, parameters or []).fetchall()
            except BaseException as error:  # handed to the calling thread below
                outcome["error"] = error
            finally:
                self.done.set()

        self.done.clear()
        worker = threading.Thread(target=work, daemon=True)
        worker.start()
        while not self.done.wait(0.1):
            percent = self.connection.query_progress()
            if percent >= 0:
                self.report(percent)
        worker.join()
        if "error" in outcome:
            raise outcome["error"]  # type: ignore[misc]
        self.report(100.0)
        rows = outcome["rows"]
        assert isinstance(rows, list)
        return rows


def _newline_count(path: Path, offsets: list[int]) -> tuple[int, dict[int, int]]:
    """Lines in the file, and the 1-based line on which each byte offset sits."""
    lines: dict[int, int] = {}
    wanted = sorted(set(offsets))
    chunk_size = 16 * 1024 * 1024
    newlines, position, last = 0, 0, b""
    with path.open("rb") as handle:
        while True:
            chunk = handle.read(chunk_size)
            end = position + len(chunk)
            while wanted and (wanted[0] < end or not chunk):
                offset = wanted.pop(0)
                lines[offset] = newlines + chunk.count(b"\n", 0, max(0, offset - position)) + 1
            if not chunk:
                break
            newlines += chunk.count(b"\n")
            position, last = end, chunk[-1:]
    if position == 0:
        return 0, lines
    return newlines + (0 if last == b"\n" else 1), lines


def _skip_blank_lines(path: Path, offsets: list[int]) -> dict[int, int]:
    """Each offset moved past the blank lines before it: DuckDB may report a rejected row
    from the end of the previous record, and a record never starts with a line break."""
    moved: dict[int, int] = {}
    with path.open("rb") as handle:
        for offset in offsets:
            position = offset
            handle.seek(position)
            while True:
                chunk = handle.read(4096)
                stripped = chunk.lstrip(b"\r\n")
                position += len(chunk) - len(stripped)
                if stripped or not chunk:
                    break
            moved[offset] = position
    return moved


def _parsed_row_lines(path: Path, rejected_lines: set[int]) -> list[int]:
    """Start line of each row DuckDB parsed, in order: every CSV record after the header that
    is neither blank nor rejected by the reader (Python's csv module finds the boundaries)."""
    lines: list[int] = []
    with path.open(encoding="utf-8-sig", errors="surrogateescape", newline="") as handle:
        reader = csv.reader(handle, strict=False)
        previous = 0
        try:
            for number, row in enumerate(reader):
                start, previous = previous + 1, reader.line_num
                if number and row and start not in rejected_lines:
                    lines.append(start)
        except csv.Error:
            pass
    return lines


def _write_rejects(path: Path, rejects: list[Reject]) -> None:
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["line", "reason", "detail", "event_id"])
        for reject in rejects:
            writer.writerow([reject.line, reject.reason, reject.detail, reject.event_id or ""])


def ensure_events_table(warehouse: DuckDBWarehouse, events: EventsTable) -> dict[str, str]:
    """Create the raw events table when absent (text columns, as the demo's); its column types."""
    columns = warehouse.table_columns(events.schema, events.table)
    if columns:
        wanted = [
            events.event_id,
            events.customer_alias,
            events.event_type,
            events.event_timestamp,
            events.event_properties,
        ] + ([events.loaded_at] if events.loaded_at else [])
        missing = [name for name in wanted if name not in columns]
        if missing:
            raise LoadError(
                f"{events.schema}.{events.table} has no column {', '.join(missing)}; check the"
                " usage_billing_column_* vars in dbt_project.yml"
            )
        return columns
    warehouse.execute(f"create schema if not exists {quote_identifier(events.schema)}")
    definitions = [
        f"{quote_identifier(name)} varchar"
        for name in (
            events.event_id,
            events.customer_alias,
            events.event_type,
            events.event_timestamp,
            events.event_properties,
        )
    ]
    if events.loaded_at:
        definitions.append(f"{quote_identifier(events.loaded_at)} timestamp")
    warehouse.execute(
        f"create table {warehouse.quote(events.schema, events.table)} ({', '.join(definitions)})"
    )
    return warehouse.table_columns(events.schema, events.table)


def load_csv(
    warehouse: DuckDBWarehouse,
    events: EventsTable,
    path: Path,
    reject_file: Path | None = None,
    progress: Callable[[float], None] | None = None,
    now: datetime | None = None,
) -> LoadResult:
    """Validate `path` and append its good rows to the raw events table; see the module doc."""
    shape = layout(read_header(path))
    connection = warehouse.connection
    connection.execute("set TimeZone = 'UTC'")
    if progress is not None:
        connection.execute("set enable_progress_bar = true")
        connection.execute("set enable_progress_bar_print = false")
    columns = ensure_events_table(warehouse, events)
    loaded_at = (now or datetime.now(UTC)).astimezone(UTC).replace(tzinfo=None)
    result = LoadResult(loaded_at=loaded_at)
    for table in (REJECTS_TABLE, REJECTS_SCAN, ROWS_TABLE):
        connection.execute(f"drop table if exists {quote_identifier(table)}")
    try:
        _Progress(connection, progress).run(_stage_sql(path, shape))
    except duckdb.Error as error:
        raise LoadError(f"{path}: cannot be read as CSV: {str(error).splitlines()[0]}") from None

    relation = warehouse.quote(events.schema, events.table)
    raw_column = {
        "event_id": events.event_id,
        "customer_alias": events.customer_alias,
        "event_type": events.event_type,
        "event_timestamp": events.event_timestamp,
        "event_properties": events.event_properties,
    }
    kinds = {"event_timestamp": "timestamp", "event_properties": "json"}
    values = {
        "event_id": "event_id",
        "customer_alias": "customer_alias",
        "event_type": "event_type",
        "event_timestamp": "event_timestamp",
        "event_properties": _properties_expression(shape),
    }
    stored = {
        name: _stored(values[name], columns.get(raw_column[name], "varchar"), kinds.get(name, ""))
        for name in values
    }
    payload_match = " and ".join(
        f"existing.{quote_identifier(raw_column[name])} is not distinct from candidate.{name}"
        for name in values
    )
    candidate_columns = ", ".join(f"{stored[name]} as {name}" for name in values)
    (repeated_ids,) = connection.execute(
        f"""
        select count(*) from (
            select event_id from {ROWS_TABLE} where reason is null
            group by event_id having count(*) > 1
        )
        """  # noqa: S608 - identifiers are ours
    ).fetchone() or (0,)
    ranking = (
        ", row_number() over (partition by event_id order by record_index desc) as newest_first"
        if repeated_ids
        else ", 1 as newest_first"
    )
    connection.execute(
        f"""
        create or replace temp view _usage_billing_load_candidates as
        select record_index, newest_first, {candidate_columns}
        from (
            select *{ranking}
            from (select rowid + 1 as record_index, * from {ROWS_TABLE} where reason is null)
        )
        """  # noqa: S608 - identifiers are ours
    )
    insert_columns = [quote_identifier(raw_column[name]) for name in values]
    stamp = ""
    parameters: list[object] = []
    if events.loaded_at:
        insert_columns.append(quote_identifier(events.loaded_at))
        stamp = ", ?"
        parameters.append(loaded_at)
    if repeated_ids:
        superseded = connection.execute(
            f"""
            select older.record_index, older.event_id,
                ({" and ".join(f"older.{n} is not distinct from newest.{n}" for n in values)})
            from _usage_billing_load_candidates as older
            join _usage_billing_load_candidates as newest
                on older.event_id = newest.event_id and newest.newest_first = 1
            where older.newest_first > 1
            """  # noqa: S608 - identifiers are ours
        ).fetchall()
    else:
        superseded = []
    # Rows already in the raw table (same event_id and payload) are skipped; an empty table
    # (a first load) needs no look.
    table_has_rows = connection.execute(
        f"select exists (select 1 from {relation})"  # noqa: S608 - quoted name of ours
    ).fetchone()
    already_there = (
        f"""
            and not exists (
                select 1 from {relation} as existing
                where existing.{quote_identifier(events.event_id)} = candidate.event_id
                    and {payload_match}
            )"""  # noqa: S608 - identifiers are ours
        if table_has_rows and table_has_rows[0]
        else ""
    )
    # The raw table's row order means nothing: let DuckDB write it with every thread.
    (preserve,) = connection.execute(
        "select current_setting('preserve_insertion_order')"
    ).fetchone() or (True,)
    connection.execute("set preserve_insertion_order = false")
    try:
        inserted = connection.execute(
            f"""
            insert into {relation} ({", ".join(insert_columns)})
            select {", ".join(values)}{stamp}
            from _usage_billing_load_candidates as candidate
            where newest_first = 1 {already_there}
            """,  # noqa: S608 - identifiers are ours, values bound
            parameters,
        ).fetchone()
    finally:
        connection.execute(f"set preserve_insertion_order = {'true' if preserve else 'false'}")
    result.loaded = int(inserted[0]) if inserted else 0
    (valid_newest,) = connection.execute(
        "select count(*) from _usage_billing_load_candidates where newest_first = 1"
    ).fetchone() or (0,)
    result.already_loaded = int(valid_newest) - result.loaded

    structural = connection.execute(
        f"""
        select line, min(line_byte_position), min(error_type), min(error_message)
        from {REJECTS_TABLE} group by line order by line
        """  # noqa: S608 - identifiers are ours
    ).fetchall()
    semantic = connection.execute(
        f"""
        select rowid + 1, reason, event_id, event_timestamp from {ROWS_TABLE}
        where reason is not null order by rowid
        """  # noqa: S608 - identifiers are ours
    ).fetchall()
    (accepted_rows,) = connection.execute(
        f"select count(*) from {ROWS_TABLE}"  # noqa: S608
    ).fetchone() or (0,)
    result.rows = int(accepted_rows) + len(structural)

    starts = _skip_blank_lines(path, [int(row[1]) for row in structural])
    total_lines, offset_lines = (
        _newline_count(path, list(starts.values()))
        if structural or semantic or superseded
        else (result.rows + 1, {})
    )
    # The data record number (1-based) of each parsed row: its index plus the records the
    # reader rejected before it.
    structural_records = [int(row[0]) - 1 for row in structural]
    pending: list[tuple[int, str, str, str | None]] = [
        (int(index), str(reason), _detail(str(reason), timestamp), event_id)
        for index, reason, event_id, timestamp in semantic
    ]
    pending += [
        (
            int(index),
            "superseded_in_file",
            "a later row of this file has the same event_id and a different payload",
            event_id,
        )
        for index, event_id, same in superseded
        if not same
    ]
    result.repeated_in_file = sum(1 for *_, same in superseded if same)
    pending.sort()
    record_numbers = _record_numbers([index for index, *_ in pending], structural_records)
    simple_file = total_lines == result.rows + 1 or (
        total_lines == result.rows + 2 and _ends_with_blank_line(path)
    )
    parsed_lines: list[int] | None = None
    if pending and not simple_file:
        parsed_lines = _parsed_row_lines(path, set(offset_lines.values()))
    for (index, reason, detail, event_id), record in zip(pending, record_numbers, strict=True):
        if parsed_lines is not None and index <= len(parsed_lines):
            line = parsed_lines[index - 1]
        else:
            line = record + 1
        result.rejects.append(Reject(line, reason, detail, event_id))
    for _, byte_position, error_type, message in structural:
        reason = STRUCTURAL_REASONS.get(str(error_type), "bad_row")
        result.rejects.append(
            Reject(offset_lines[starts[int(byte_position)]], reason, str(message).splitlines()[0])
        )
    result.rejects.sort(key=lambda reject: reject.line)
    for table in (REJECTS_TABLE, REJECTS_SCAN, ROWS_TABLE):
        connection.execute(f"drop table if exists {quote_identifier(table)}")
    connection.execute("drop view if exists _usage_billing_load_candidates")

    destination = reject_file or path.with_name(path.name + ".rejects.csv")
    if result.rejects:
        _write_rejects(destination, result.rejects)
        result.reject_file = destination
    elif reject_file is None and destination.exists():
        destination.unlink()  # a stale reject file of an earlier load of this file
    return result


def _ends_with_blank_line(path: Path) -> bool:
    with path.open("rb") as handle:
        handle.seek(max(0, path.stat().st_size - 4))
        tail = handle.read()
    return tail.endswith((b"\n\n", b"\r\n\r\n"))


def _detail(reason: str, timestamp: object) -> str:
    if reason == "bad_timestamp":
        return f"event_timestamp {str(timestamp)[:60]!r} is not an ISO 8601 timestamp"
    if reason == "bad_properties":
        return "event_properties is not a JSON object"
    return reason.replace("_", " ")


def _record_numbers(indexes: list[int], rejected_records: list[int]) -> list[int]:
    """Data record numbers of parsed rows `indexes` (sorted), skipping `rejected_records`."""
    numbers: list[int] = []
    skipped = 0
    rejected = sorted(rejected_records)
    for index in indexes:
        # The index-th parsed row is the record r with r - (rejects below r) == index.
        while skipped < len(rejected) and rejected[skipped] <= index + skipped:
            skipped += 1
        numbers.append(index + skipped)
    return numbers


def timed_load(
    warehouse: DuckDBWarehouse, events: EventsTable, path: Path, **options: object
) -> tuple[LoadResult, float]:
    """`load_csv` and the seconds it took (for the benchmark)."""
    started = time.perf_counter()
    result = load_csv(warehouse, events, path, **options)  # type: ignore[arg-type]
    return result, time.perf_counter() - started
