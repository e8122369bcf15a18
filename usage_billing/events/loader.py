"""Move closed journal segments into the raw events table, each exactly once.

Every `interval` seconds the loader closes the active segment and, for each closed segment:
opens the warehouse (a short connection, so `dbt build` can have the DuckDB file in between),
and in one transaction appends the segment's events and records the segment's name in
`<events schema>.usage_events_ingest_segments`; then deletes the file and the record. A crash
anywhere leaves either the file unrecorded (loaded again, nothing was committed) or recorded
(skipped), so nothing is loaded twice.

Idempotency, per event_id in journal order: a version identical to the one before it (the
previous line of the segment, or for the first line the latest row in the table by
`loaded_at`) is skipped: a retried request adds nothing. A changed version is appended with a
later `loaded_at`, and dbt's staging bills the last loaded (last wins). Lines of a request that
was cut by a crash (fewer lines than the request wrote) are not loaded: that request never
got its 201.

While another process holds the DuckDB file, or the lock file `<database>.lock` is taken
(`flock usage_billing.duckdb.lock dbt build`), the round is skipped and the events wait in the
journal.

A PostgreSQL or Snowflake target gets the same rows another way (segment_remote.py): no
transaction spans a segment there, so a stamp recorded beside the segment marks its rows.
"""

from __future__ import annotations

import fcntl
import logging
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path

import duckdb

from usage_billing.errors import ConfigError
from usage_billing.events.csv_load.statements import stored_value
from usage_billing.events.journal import Journal, truncate_torn_tail
from usage_billing.events.remote_table import RemoteEvents
from usage_billing.events.segment_remote import load_segment, segment_stamp, stamp_path
from usage_billing.events.table import EventsTable, ensure_events_table
from usage_billing.warehouse.duckdb import DuckDBWarehouse, open_duckdb
from usage_billing.warehouse.engines import open_warehouse
from usage_billing.warehouse.profile import WarehouseTarget
from usage_billing.warehouse.sql import quote_identifier, sql_literal

log = logging.getLogger("usage_billing.ingest")

SEGMENTS_TABLE = "usage_events_ingest_segments"
PAYLOAD = ("customer_alias", "event_type", "event_timestamp", "event_properties")
JOURNAL_COLUMNS = (
    "{'seq': 'BIGINT', 'request': 'BIGINT', 'lines': 'BIGINT', 'event_id': 'VARCHAR',"
    " 'customer_alias': 'VARCHAR', 'event_type': 'VARCHAR', 'event_timestamp': 'VARCHAR',"
    " 'event_properties': 'VARCHAR'}"
)


def lock_path(target: WarehouseTarget) -> Path:
    """The advisory lock file beside the DuckDB file."""
    assert target.path is not None
    return Path(f"{target.path}.lock")


@contextmanager
def advisory_lock(path: Path) -> Iterator[bool]:
    """Hold `path` with flock(2) if nobody else does; yields whether it is held."""
    with path.open("a") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            yield False
            return
        try:
            yield True
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


class Loader:
    """Loads the journal into the raw events table, in a thread of its own."""

    def __init__(
        self,
        journal: Journal,
        target: WarehouseTarget,
        events: EventsTable,
        interval_seconds: float,
    ) -> None:
        if events.loaded_at is None:
            raise ConfigError(
                "the ingestion API needs a loaded_at column (usage_billing_column_loaded_at):"
                " it is how a re-sent event supersedes the earlier one"
            )
        self.journal = journal
        self.target = target
        self.events = events
        self.interval_seconds = interval_seconds
        self.loaded_events = 0
        self._stop = threading.Event()
        self._last_stamp = datetime(1970, 1, 1)
        self._thread = threading.Thread(target=self._run, name="journal-loader", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        """Stop the thread; call `load_round` afterwards for a last round."""
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join()

    def _run(self) -> None:
        while not self._stop.wait(self.interval_seconds):
            try:
                self.load_round()
            except Exception:  # keep loading later; the events stay in the journal
                log.exception("loading the ingestion journal failed; will retry")

    def load_round(self) -> int:
        """Load every closed segment; the number of events appended (0 when skipped)."""
        segments = self.journal.rotate()
        if not segments:
            return 0
        if self.target.type != "duckdb":
            return self._load_remote(segments)
        with advisory_lock(lock_path(self.target)) as held:
            if not held:
                log.info("the warehouse lock file is held; %d segments wait", len(segments))
                return 0
            try:
                warehouse = open_duckdb(self.target)
            except duckdb.Error as error:  # held by another process, or busy in this one
                log.info("the warehouse is busy (%s); segments wait", str(error).splitlines()[0])
                return 0
            with warehouse:
                appended = 0
                loaded: list[Path] = []
                for segment in segments:
                    appended += self._load_segment(warehouse, segment)
                    loaded.append(segment)
                self.journal.remove(loaded)
                warehouse.execute(
                    f"delete from {self._segments_relation(warehouse)}"  # noqa: S608
                    f" where segment in ({', '.join('?' for _ in loaded)})",
                    [path.name for path in loaded],
                )
        self.loaded_events += appended
        return appended

    def _load_remote(self, segments: list[Path]) -> int:
        """Each segment into a PostgreSQL or Snowflake target (segment_remote.py)."""
        appended = 0
        with open_warehouse(self.target) as warehouse:
            target = RemoteEvents(warehouse, self.events)
            for segment in segments:
                stamp = segment_stamp(segment, self._stamp())
                appended += load_segment(target, segment, stamp)
                self.journal.remove([segment, stamp_path(segment)])
        self.loaded_events += appended
        return appended

    def _segments_relation(self, warehouse: DuckDBWarehouse) -> str:
        return warehouse.quote(self.events.schema, SEGMENTS_TABLE)

    def _stamp(self) -> datetime:
        """This load's loaded_at: now, and always later than the previous load's."""
        now = datetime.now(UTC).replace(tzinfo=None)
        self._last_stamp = max(now, self._last_stamp + timedelta(milliseconds=1))
        return self._last_stamp

    def _load_segment(self, warehouse: DuckDBWarehouse, segment: Path) -> int:
        events = self.events
        columns = ensure_events_table(warehouse, events)
        segments = self._segments_relation(warehouse)
        warehouse.execute(
            f"create table if not exists {segments}"
            " (segment varchar primary key, events bigint, loaded_at timestamp)"
        )
        if warehouse.fetch_all(f"select 1 from {segments} where segment = ?", [segment.name]):  # noqa: S608
            return 0  # committed before a crash that left the file behind
        truncate_torn_tail(segment)
        if segment.stat().st_size == 0:
            return 0
        raw_column = events.field_columns
        kinds = {"event_timestamp": "timestamp", "event_properties": "json"}
        stored = {
            name: stored_value(name, columns.get(raw_column[name], "varchar"), kinds.get(name, ""))
            for name in raw_column
        }
        relation = warehouse.quote(events.schema, events.table)
        loaded_at = quote_identifier(events.loaded_at or "loaded_at")
        existing = ", ".join(
            f"existing.{quote_identifier(raw_column[name])} as {name}" for name in raw_column
        )
        same_as_previous = " and ".join(
            f"candidate.{name} is not distinct from candidate.previous_{name}" for name in PAYLOAD
        )
        same_as_latest = " and ".join(
            f"candidate.{name} is not distinct from latest.{name}" for name in PAYLOAD
        )
        insert_columns = ", ".join(quote_identifier(raw_column[name]) for name in raw_column)
        warehouse.execute("begin transaction")
        try:
            inserted = warehouse.fetch_all(
                f"""
                insert into {relation} ({insert_columns}, {loaded_at})
                with journal as (
                    select *, count(*) over (partition by request) as lines_present
                    from read_json({sql_literal(str(segment))}, format = 'newline_delimited',
                        columns = {JOURNAL_COLUMNS})
                ),
                typed as (
                    select seq, {", ".join(f"{stored[name]} as {name}" for name in raw_column)}
                    from journal
                    where lines_present = lines
                ),
                candidate as (
                    select
                        *,
                        {", ".join(f"lag({n}) over by_event as previous_{n}" for n in PAYLOAD)},
                        row_number() over by_event as version
                    from typed
                    window by_event as (partition by event_id order by seq)
                ),
                latest as (
                    select {existing}
                    from {relation} as existing
                    where existing.{quote_identifier(events.event_id)} in
                        (select event_id from typed)
                    qualify row_number() over (
                        partition by existing.{quote_identifier(events.event_id)}
                        order by existing.{loaded_at} desc nulls last
                    ) = 1
                )
                select
                    {", ".join(f"candidate.{name}" for name in raw_column)},
                    ? + to_microseconds(candidate.version - 1)
                from candidate
                left join latest on candidate.event_id = latest.event_id
                where case
                    when candidate.version = 1
                        then latest.event_id is null or not ({same_as_latest})
                    else not ({same_as_previous})
                end
                """,  # noqa: S608 - identifiers quoted, values ours or bound
                [self._stamp()],
            )
            appended = int(inserted[0][0]) if inserted else 0
            warehouse.execute(
                f"insert into {segments} values (?, ?, ?)",  # noqa: S608
                [segment.name, appended, self._last_stamp],
            )
            warehouse.execute("commit")
        except BaseException:
            warehouse.execute("rollback")
            raise
        return appended
