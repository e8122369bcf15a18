"""The restart seed's parts on real DuckDB files (usage_billing/events/restart_seed.py):
the rows copied from a raw events table whose timestamp column is text, a naive timestamp
(UTC, as the loader stores it) or a timestamp with time zone, and memory keeping a version it
already has. The whole, through the server: test_entitlements_restart.py."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import duckdb
import pytest

from usage_billing.events.recent_events import RecentEvent, RecentEvents
from usage_billing.events.restart_seed import copied_events, copy_events_since_clock
from usage_billing.events.table import EventsTable
from usage_billing.events.usage_event import UsageEvent
from usage_billing.warehouse.duckdb import DuckDBWarehouse

CLOCK = datetime(2024, 3, 15)
EVENTS = EventsTable(schema="raw", table="usage_events")
# (event id, timestamp as an instant in UTC, loaded_at); versions of an id in load order.
ROWS = [
    ("before", "2024-03-14 23:59:59.999999+00", "2024-03-16 00:00:00"),
    ("at_clock", "2024-03-15 00:00:00+00", "2024-03-16 00:00:00"),
    ("after", "2024-03-20 10:00:00+00", "2024-03-16 00:00:00"),
    # Re-sent: the last loaded version is before the clock, so the build counts it.
    ("moved", "2024-03-20 10:00:00+00", "2024-03-16 00:00:00"),
    ("moved", "2024-03-10 10:00:00+00", "2024-03-17 00:00:00"),
    # Re-sent: the last loaded version is the later one, whatever the order of the rows.
    ("changed", "2024-03-21 10:00:00+00", "2024-03-17 00:00:00"),
    ("changed", "2024-03-20 10:00:00+00", "2024-03-16 00:00:00"),
]


def seeded(tmp_path: Path, column_type: str) -> dict[str, datetime]:
    warehouse = tmp_path / "warehouse.duckdb"
    with duckdb.connect(str(warehouse)) as source:
        source.execute("set TimeZone = 'UTC'")
        source.execute("create schema raw")
        source.execute(
            "create table raw.usage_events (event_id varchar, customer_alias varchar,"
            f" event_type varchar, event_timestamp {column_type}, event_properties varchar,"
            " loaded_at timestamp)"
        )
        for event_id, at, loaded_at in ROWS:
            source.execute(
                "insert into raw.usage_events values (?, 'acme', 'call', cast(cast(? as"
                f" timestamptz) as {column_type}), '{{\"n\": 1}}', ?)",
                [event_id, at, loaded_at],
            )
    with duckdb.connect(str(tmp_path / "copy.duckdb")) as copy:
        copy.execute(f"attach '{warehouse}' as warehouse (read_only)")
        copy_events_since_clock(copy, "warehouse", EVENTS, CLOCK)
        copy.execute("detach warehouse")
        rows = list(copied_events(DuckDBWarehouse(copy), EVENTS, CLOCK))
    assert {alias for alias, _, _ in rows} == {"acme"}
    assert all(event.properties == b'{"n": 1}' for _, _, event in rows)
    return {event_id: event.event_at for _, event_id, event in rows}


@pytest.mark.parametrize("column_type", ["varchar", "timestamp", "timestamptz"])
def test_the_last_version_of_each_event_since_the_clock(tmp_path: Path, column_type: str) -> None:
    assert seeded(tmp_path, column_type) == {
        "at_clock": datetime(2024, 3, 15),
        "after": datetime(2024, 3, 20, 10),
        "changed": datetime(2024, 3, 21, 10),
    }


def test_memory_keeps_the_version_accepted_since_the_start() -> None:
    recent = RecentEvents()
    recent.add([UsageEvent("e1", "acme", "call", "2024-03-22T00:00:00Z", b'{"n": 2}')])
    newer = RecentEvent(datetime(2024, 3, 22), "call", b'{"n": 2}')
    older = RecentEvent(datetime(2024, 3, 20), "call", b'{"n": 1}')
    other = RecentEvent(datetime(2024, 3, 21), "call", b"{}")
    assert recent.seed([("acme", "e1", older), ("acme", "e2", other)]) == 1
    assert recent.since(["acme"], CLOCK, datetime(2024, 4, 1)) == [newer, other]
