"""The events accepted before the server last started, for the entitlements' events since the
build (docs/entitlements.md, "After a restart").

The server keeps the events it accepts in memory (`RecentEvents`); a restart empties it. But
before it serves, the loader loads every journal segment the earlier run left, so those events
are in the raw events table. The copy of the marts the server takes (`MartsSnapshots`) then
also copies, from the raw events table, the last loaded row per alias and event id of each
event with a row timestamped at or after the marts' billing clock (the clock bounds the read,
in SQL), until the entitlements have seeded their memory from one copy. Rows are read as the
warehouse reads them, with the event contract's own checks (contract.py): a row the contract
refuses is one the build refuses too, so nothing that would count is left out.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import duckdb

from usage_billing.events.contract import (
    parse_timestamp,
    properties_reason,
    text_reason,
    timestamp_reason,
)
from usage_billing.events.recent_events import RecentEvent
from usage_billing.events.table import EventsTable
from usage_billing.warehouse.protocol import Warehouse
from usage_billing.warehouse.sql import quote_identifier

FIELDS = ("customer_alias", "event_id", "event_type", "event_timestamp", "event_properties")


def _instant(column: str, column_type: str) -> str:
    """The column's timestamp as an instant: a naive timestamp is UTC, as the loader stores it;
    text is cast as the contract's SQL does (in a session whose time zone is UTC, the
    contract's reading of a time without an offset)."""
    if "with time zone" in column_type:
        return column
    if column_type.startswith("timestamp"):
        return f"({column} at time zone 'UTC')"
    return f"try_cast(cast({column} as varchar) as timestamptz)"


def copy_events_since_clock(
    connection: duckdb.DuckDBPyConnection, catalog: str, events: EventsTable, as_of: datetime
) -> int:
    """Into the copy `connection` writes, from the raw events table of the attached `catalog`:
    a table of the same schema and name, with the FIELDS as text, holding the last loaded row
    per alias and event id of every event with a row at or after `as_of`; the rows copied
    (0, and no table, when the warehouse has no raw events table)."""
    with connection.cursor() as cursor:
        cursor.execute("set TimeZone = 'UTC'")
        types = dict(
            cursor.execute(
                "select column_name, lower(data_type) from duckdb_columns()"
                " where database_name = ? and schema_name = ? and table_name = ?",
                [catalog, events.schema, events.table],
            ).fetchall()
        )
        if not types:
            return 0
        columns = events.field_columns
        timestamp = quote_identifier(events.event_timestamp)
        instant = _instant(timestamp, str(types.get(events.event_timestamp, "varchar")))
        loaded_at = quote_identifier(events.loaded_at or "loaded_at")
        source = ".".join(map(quote_identifier, (catalog, events.schema, events.table)))
        schema, table = quote_identifier(events.schema), quote_identifier(events.table)
        as_text = ", ".join(
            f"cast({quote_identifier(columns[name])} as varchar) as {name}" for name in FIELDS
        )
        cursor.execute(f"create schema if not exists {schema}")
        cursor.execute(
            f"""
            create table {schema}.{table} as
            with raw as (
                select
                    {as_text},
                    {instant} as event_at,
                    {loaded_at} as loaded_at
                from {source}
            ),
            since_clock as (
                select distinct customer_alias, event_id from raw
                where event_at >= cast(? as timestamptz)
            )
            select {", ".join(f"raw.{name}" for name in FIELDS)}
            from raw
            inner join since_clock
                on raw.customer_alias = since_clock.customer_alias
                and raw.event_id = since_clock.event_id
            qualify row_number() over (
                partition by raw.customer_alias, raw.event_id
                order by raw.loaded_at desc nulls last
            ) = 1
            """,  # noqa: S608 - identifiers quoted, the clock bound
            [f"{as_of:%Y-%m-%d %H:%M:%S.%f}+00"],
        )
        counted = cursor.execute(f"select count(*) from {schema}.{table}").fetchone()  # noqa: S608
    return int(counted[0]) if counted else 0


def copied_events(
    warehouse: Warehouse, events: EventsTable, as_of: datetime
) -> Iterator[tuple[str, str, RecentEvent]]:
    """(alias, event id, event) of each row the copy holds that the build would bill at or
    after `as_of`, read by the event contract; nothing when the copy has no such table."""
    if not warehouse.table_columns(events.schema, events.table):
        return
    rows = warehouse.fetch_all(
        f"select {', '.join(FIELDS)} from {warehouse.quote(events.schema, events.table)}"  # noqa: S608
    )
    for alias, event_id, event_type, timestamp, properties in rows:
        if any(
            text_reason(field, text)
            for field, text in (("alias", alias), ("event_id", event_id), ("type", event_type))
        ):
            continue  # refused by the contract: the build bills it neither
        if timestamp_reason(timestamp) or properties_reason(properties):
            continue
        moment = parse_timestamp(timestamp)
        assert moment is not None  # timestamp_reason accepted it
        event_at = moment.astimezone(UTC).replace(tzinfo=None)
        if event_at < as_of:
            continue  # its last version is before the clock: the build has it
        body = (properties or "").strip(" ") or "{}"
        yield alias, event_id, RecentEvent(event_at, event_type, body.encode())
