"""Raw events written to a PostgreSQL or Snowflake target, checked in DuckDB first.

DuckDB stays the engine that reads and checks a CSV file or a journal segment (the event
contract's SQL is DuckDB's); what it accepts is staged in an in-memory DuckDB table shaped
like the target's, then sent to the target in batches. Each batch is one `insert ... select
from (values ...)` that skips a row already in the target (`skip_csv_row`, `skip_journal_row`),
so a batch sent again after a crash, or re-sent by the connector after a timeout, inserts
nothing twice. On PostgreSQL a batch also runs in a transaction of its own: a client killed
mid-batch leaves its backend to roll back rather than commit a statement still running. On
Snowflake a batch is one autocommitted statement (an open transaction of a dead session would
lock the table for hours).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime
from typing import Any

import duckdb

from usage_billing.errors import LoadError
from usage_billing.events.table import EventsTable, ensure_events_table
from usage_billing.warehouse.duckdb import DuckDBWarehouse
from usage_billing.warehouse.profile import ProfileError, WarehouseTarget
from usage_billing.warehouse.protocol import Warehouse

# Engines `load` and `serve` write raw events to: each tested (docs/engines.md).
LOAD_ENGINES = ("duckdb", "postgres", "snowflake")
FIELDS = ("event_id", "customer_alias", "event_type", "event_timestamp", "event_properties")
PAYLOAD = FIELDS[1:]
TEXT_TYPES = ("character varying", "varchar", "text", "string")
BATCH_ROWS = 500
BATCH_BYTES = 256 * 1024  # of values; Snowflake refuses statements beyond 1 MB


def check_load_engine(target: WarehouseTarget, command: str) -> None:
    """ProfileError unless `command` can write raw events to `target`'s engine."""
    if target.type not in LOAD_ENGINES:
        raise ProfileError(
            f"`{command}` writes raw events to {', '.join(LOAD_ENGINES)} targets (the engines"
            f" it is tested on); target {target.name!r} is {target.type}"
        )


def _is_timestamp(column_type: str) -> bool:
    return column_type.startswith("timestamp")


class RemoteEvents:
    """The target's raw events table, and a DuckDB staging table shaped like it."""

    def __init__(self, warehouse: Warehouse, events: EventsTable) -> None:
        if events.loaded_at is None:
            raise LoadError(
                f"writing events to {warehouse.engine} needs a loaded_at column"
                " (usage_billing_column_loaded_at): its stamp is how a re-run finds what an"
                " interrupted one wrote"
            )
        self.warehouse, self.events, self.loaded_at = warehouse, events, events.loaded_at
        self.columns = ensure_events_table(warehouse, events)
        self.field_types = {
            name: self._type(column) for name, column in events.field_columns.items()
        }
        for name, kind in [*self.field_types.items(), ("loaded_at", self._loaded_at_type)]:
            allowed = name in ("event_timestamp", "loaded_at") and _is_timestamp(kind)
            if not (allowed or (name != "loaded_at" and kind.startswith(TEXT_TYPES))):
                raise LoadError(
                    f"{events.schema}.{events.table}: column for {name} is {kind}; writing"
                    f" to {warehouse.engine} takes text columns (loaded_at and event_timestamp"
                    " may be timestamps)"
                )
        self.relation = warehouse.quote(events.schema, events.table)

    def _type(self, column: str) -> str:
        # PostgreSQL's and Snowflake's engines list the names in lower case.
        return self.columns.get(column) or self.columns[column.lower()]

    @property
    def _loaded_at_type(self) -> str:
        return self._type(self.loaded_at)

    @property
    def stores_timestamps(self) -> bool:
        """Whether the target's event_timestamp column is a timestamp (else text)."""
        return _is_timestamp(self.field_types["event_timestamp"])

    def newest_stamp(self) -> datetime | None:
        rows = self.warehouse.fetch_all(
            f"select max({self.warehouse.quote(self.loaded_at)}) from {self.relation}"  # noqa: S608
        )
        newest = rows[0][0] if rows else None
        return newest if isinstance(newest, datetime) else None

    def count_stamped(self, first: datetime, last: datetime) -> int:
        """Rows whose loaded_at lies in [first, last]: what the loads with those stamps wrote."""
        rows = self.warehouse.fetch_all(
            f"select count(*) from {self.relation}"  # noqa: S608 - quoted names
            f" where {self.warehouse.quote(self.loaded_at)} between cast(? as timestamp)"
            " and cast(? as timestamp)",
            [_text(first), _text(last)],
        )
        return int(rows[0][0])

    def staging(self) -> DuckDBWarehouse:
        """An in-memory DuckDB with the raw table, its columns typed as the loader stores them:
        text, and event_timestamp a naive UTC timestamp when the target's is a timestamp."""
        local = DuckDBWarehouse(duckdb.connect(":memory:"))
        local.execute("set TimeZone = 'UTC'")
        definitions = [
            f"{local.quote(column)} varchar" for column in self.events.field_columns.values()
        ]
        if self.stores_timestamps:
            definitions[FIELDS.index("event_timestamp")] = (
                f"{local.quote(self.events.event_timestamp)} timestamp"
            )
        definitions.append(f"{local.quote(self.loaded_at)} timestamp")
        local.execute(f"create schema {local.quote(self.events.schema)}")
        local.execute(
            f"create table {local.quote(self.events.schema, self.events.table)}"
            f" ({', '.join(definitions)})"
        )
        return local

    def insert(self, rows: Iterable[tuple[Any, ...]], skip: str, extra: Sequence[str] = ()) -> None:
        """Insert `rows` (the FIELDS, loaded_at, then `extra` columns) except those `skip`,
        SQL over candidate `c`, says are there already; in batches, each atomic."""
        names = [*FIELDS, "loaded_at", *extra]
        batch: list[tuple[Any, ...]] = []
        size = 0
        for row in rows:
            values = tuple(_text(value) if isinstance(value, datetime) else value for value in row)
            batch.append(values)
            size += sum(len(value) for value in values if isinstance(value, str))
            if len(batch) >= BATCH_ROWS or size >= BATCH_BYTES:
                self._insert_batch(batch, names, skip)
                batch, size = [], 0
        if batch:
            self._insert_batch(batch, names, skip)

    def _insert_batch(self, batch: list[tuple[Any, ...]], names: list[str], skip: str) -> None:
        row = f"({', '.join('?' for _ in names)})"
        columns = [self.warehouse.quote(column) for column in self.events.field_columns.values()]
        columns.append(self.warehouse.quote(self.loaded_at))
        statement = f"""
            insert into {self.relation} ({", ".join(columns)})
            select {", ".join(self.candidate(name) for name in [*FIELDS, "loaded_at"])}
            from (values {", ".join(row for _ in batch)}) as c ({", ".join(names)})
            where not ({skip})
        """  # noqa: S608 - quoted names, values bound
        with self._atomic():
            self.warehouse.execute(statement, [value for values in batch for value in values])

    @contextmanager
    def _atomic(self) -> Iterator[None]:
        if self.warehouse.engine != "postgres":
            yield
            return
        self.warehouse.execute("begin")
        try:
            yield
        except BaseException:
            self.warehouse.execute("rollback")
            raise
        self.warehouse.execute("commit")

    def candidate(self, name: str) -> str:
        """Candidate `c`'s value of a field (or loaded_at) as the target's column stores it."""
        kind = self._loaded_at_type if name == "loaded_at" else self.field_types[name]
        return f"cast(c.{name} as {kind})" if _is_timestamp(kind) else f"c.{name}"

    def column(self, alias: str, name: str) -> str:
        column = self.loaded_at if name == "loaded_at" else self.events.field_columns[name]
        return f"{alias}.{self.warehouse.quote(column)}"

    def same(self, alias: str, names: Sequence[str]) -> str:
        """SQL true when row `alias` holds candidate `c`'s values of `names`."""
        return " and ".join(
            f"{self.column(alias, name)} is not distinct from {self.candidate(name)}"
            for name in names
        )

    def skip_csv_row(self) -> str:
        """A version once loaded is never inserted again (csv_load's rule)."""
        return (
            f"exists (select 1 from {self.relation} as x"  # noqa: S608 - quoted names
            f" where {self.column('x', 'event_id')} = c.event_id and {self.same('x', PAYLOAD)})"
        )

    def skip_journal_row(self) -> str:
        """The journal loader's rules (loader.py): a row written by an earlier try of this
        segment (same stamp), or a segment's first version of an id equal to the latest row."""
        event_id, loaded_at = self.column("x", "event_id"), self.column("x", "loaded_at")
        later_at = self.column("later", "loaded_at")
        return f"""(
            exists (select 1 from {self.relation} as x
                where {event_id} = c.event_id and {self.same("x", [*PAYLOAD, "loaded_at"])})
            or (c.candidate_version = 1 and exists (
                select 1 from {self.relation} as x
                where {event_id} = c.event_id and {self.same("x", PAYLOAD)}
                    and not exists (
                        select 1 from {self.relation} as later
                        where {self.column("later", "event_id")} = {event_id}
                            and ({later_at} > {loaded_at}
                                or ({loaded_at} is null and {later_at} is not null))
                    )
            ))
        )"""  # noqa: S608 - quoted names


def _text(stamp: datetime) -> str:
    """A naive UTC datetime as text every engine casts to a timestamp."""
    return stamp.isoformat(sep=" ", timespec="microseconds")
