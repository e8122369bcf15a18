"""The pages read a copy of the marts, never the warehouse file a `dbt build` writes.

DuckDB lets one process open a file for writing only while no other process has it open at
all: a read-only connection takes a shared lock, so a build that starts while a page request
reads the file fails with "Could not set lock". Instead, the marts are copied into a snapshot
file of the server's own (about 0.1 s for the demo) when the server starts, and again once the
warehouse file has changed and then stayed unchanged for `quiet_seconds` (a build writes all
along; a quiet file is one nobody is writing). Requests read only the snapshot, so however many
there are, they never touch the warehouse file.

A copy is taken under the advisory lock file the loader honours (`<database>.lock`), so a build
run under `flock` never meets one, and our loader never runs during one; a build started
without `flock` can only fail if it opens the file in the moment a copy reads it, once per
change to the file rather than on every request. Until a first copy exists (the file was held
when the server started), pages answer 503 and say to retry.
"""

from __future__ import annotations

import itertools
import logging
import shutil
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import duckdb

from usage_billing.dbt_project import DbtProject
from usage_billing.events.loader import advisory_lock, lock_path
from usage_billing.events.restart_seed import copy_events_since_clock
from usage_billing.events.table import EventsTable
from usage_billing.marts.reader import MartsReader
from usage_billing.marts.relations import (
    MART_MODELS,
    MartRelations,
    MartsMissingError,
    mart_relations,
)
from usage_billing.warehouse.duckdb import DuckDBWarehouse
from usage_billing.warehouse.profile import WarehouseTarget
from usage_billing.warehouse.sql import quote_identifier, sql_literal

log = logging.getLogger("usage_billing.pages")

# (modification time, size) of the database file and of its write-ahead log, None when absent.
FileState = tuple[tuple[int, int] | None, ...]


class MartsUnavailableError(Exception):
    """No copy of the marts can be read yet: the warehouse is held by a writer or absent."""


@dataclass(frozen=True)
class Snapshot:
    """One copy of the marts: its open connection, where each mart is in it, and the state of
    the warehouse file it was copied from."""

    path: Path
    connection: duckdb.DuckDBPyConnection
    relations: MartRelations
    source_state: FileState


class MartsSnapshots:
    """The current copy of the marts of `target`'s DuckDB file, renewed in a thread of its own
    after each change to the file."""

    def __init__(
        self,
        target: WarehouseTarget,
        project: DbtProject,
        quiet_seconds: float = 2.0,
        poll_seconds: float = 0.5,
        events: EventsTable | None = None,
    ) -> None:
        assert target.path is not None
        self.source = Path(target.path)
        self.target = target
        self.project = project
        self.quiet_seconds = quiet_seconds
        self.poll_seconds = poll_seconds
        self.directory = Path(tempfile.mkdtemp(prefix="usage-billing-pages-"))
        self._current: Snapshot | None = None
        # Until the entitlements have seeded their memory after a start (restart_seed.py),
        # copies also hold the raw events since the marts' clock.
        self.events = events
        self.copy_events = events is not None
        self._numbers = itertools.count(1)
        self._seen: tuple[FileState, float] | None = None
        self._stop = threading.Event()
        # Called, in the copying thread, after each new copy (the entitlements read theirs).
        self.on_new_copy: list[Callable[[], None]] = []
        self._thread = threading.Thread(target=self._run, name="marts-snapshot", daemon=True)

    @contextmanager
    def reader(self) -> Iterator[MartsReader]:
        """A reader over the current copy, on a cursor of its own for this request."""
        snapshot = self._current
        if snapshot is None:
            raise MartsUnavailableError("no copy of the marts yet")
        with snapshot.connection.cursor() as cursor:
            yield MartsReader(DuckDBWarehouse(cursor), snapshot.relations)

    @property
    def current_copy(self) -> Path | None:
        """The file of the current copy (a new name for each copy), None before the first:
        what readers caching figures of the marts key them by."""
        snapshot = self._current
        return None if snapshot is None else snapshot.path

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join()
        self._current = None
        shutil.rmtree(self.directory, ignore_errors=True)

    def _run(self) -> None:
        while not self._stop.wait(self.poll_seconds):
            try:
                self.refresh_when_quiet()
            except Exception:  # keep the copy we have, and try again later
                log.exception("copying the marts for the pages failed; will retry")

    def _file_state(self) -> FileState:
        """Modification time and size of the database file and its write-ahead log."""
        states: list[tuple[int, int] | None] = []
        for path in (self.source, Path(f"{self.source}.wal")):
            try:
                stat = path.stat()
            except FileNotFoundError:
                states.append(None)
                continue
            states.append((stat.st_mtime_ns, stat.st_size))
        return tuple(states)

    def refresh_when_quiet(self) -> bool:
        """Copy the marts when the file changed since the last copy and has been unchanged
        for `quiet_seconds` since; whether a new copy was taken."""
        state = self._file_state()
        current = self._current
        if current is not None and current.source_state == state:
            return False
        now = time.monotonic()
        if self._seen is None or self._seen[0] != state:
            self._seen = (state, now)
        if current is not None and now - self._seen[1] < self.quiet_seconds:
            return False
        return self.refresh()

    def refresh(self) -> bool:
        """Copy the marts now, unless the warehouse is busy or absent; whether it copied."""
        if not self.source.exists():
            log.info("no warehouse at %s yet: the pages wait for `dbt build`", self.source)
            return False
        with advisory_lock(lock_path(self.target)) as held:
            if not held:
                log.info("the warehouse lock file is held; the pages keep their copy")
                return False
            state = self._file_state()
            relations = mart_relations(self.project, self.target)
            path = self.directory / f"marts-{next(self._numbers)}.duckdb"
            connection = duckdb.connect(str(path))
            try:
                copied = self._copy(connection, relations)
                connection.execute("checkpoint")
            except duckdb.IOException as error:  # a writer holds the file
                connection.close()
                path.unlink(missing_ok=True)
                log.info("the warehouse is busy (%s); the pages keep their copy", error)
                return False
        previous, self._current = self._current, Snapshot(path, connection, relations, state)
        log.info("the pages read a new copy of %d marts", copied)
        if previous is not None:
            # Requests still reading the old copy keep it open; unlinked, it goes when they end.
            previous.path.unlink(missing_ok=True)
        for listener in self.on_new_copy:
            try:
                listener()
            except Exception:  # the copy stands; the listener's reader retries on demand
                log.exception("reading the new copy of the marts failed")
        return True

    def _copy(self, connection: duckdb.DuckDBPyConnection, relations: MartRelations) -> int:
        """Every mart the warehouse has, as a table under the same schema and name."""
        catalog = self.source.stem
        connection.execute(
            f"attach {sql_literal(str(self.source))} as {quote_identifier(catalog)} (read_only)"
        )
        try:
            present = {
                (str(schema), str(name))
                for schema, name in connection.execute(
                    "select schema_name, table_name from duckdb_tables() where database_name = ?"
                    " union all"
                    " select schema_name, view_name from duckdb_views() where database_name = ?",
                    [catalog, catalog],
                ).fetchall()
            }
            copied = 0
            for model in MART_MODELS:
                relation = relations[model]
                if (relation.schema, relation.table) not in present:
                    continue
                schema, table = map(quote_identifier, (relation.schema, relation.table))
                connection.execute(f"create schema if not exists {schema}")
                connection.execute(
                    f"create table {schema}.{table} as"  # noqa: S608 - quoted identifiers
                    f" select * from {quote_identifier(catalog)}.{schema}.{table}"
                )
                copied += 1
            if self.events is not None and self.copy_events:
                self._copy_events_since_clock(connection, catalog, self.events, relations)
        finally:
            connection.execute(f"detach {quote_identifier(catalog)}")
        return copied

    @staticmethod
    def _copy_events_since_clock(
        connection: duckdb.DuckDBPyConnection,
        catalog: str,
        events: EventsTable,
        relations: MartRelations,
    ) -> None:
        try:
            as_of = MartsReader(DuckDBWarehouse(connection), relations).as_of()
        except MartsMissingError:  # not built yet: no clock, and no entitlements to seed
            return
        if as_of is not None:
            copied = copy_events_since_clock(connection, catalog, events, as_of)
            log.info("copied %d raw events from the build's clock on", copied)
