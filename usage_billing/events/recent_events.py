"""The events the server accepted that the latest build may not count yet, by customer alias.

The ingest endpoint adds every event once the journal has it on disk. The build counts, as
usage so far, the events timestamped before its billing clock; so the endpoint adds those at
or after the clock (`since`), and once a newer build's clock has passed an event it is
forgotten (`forget_before`): memory holds the events between the latest clock and now. A
repeated event id of an alias replaces the earlier one (the build's default `last_wins`).
"""

from __future__ import annotations

import threading
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from usage_billing.events.usage_event import UsageEvent


@dataclass(frozen=True)
class RecentEvent:
    event_at: datetime  # UTC, naive, as the marts hold timestamps
    event_type: str
    properties: bytes


def _utc(timestamp: str) -> datetime:
    """The stored timestamp (always UTC, `...Z`) as a naive UTC datetime."""
    return datetime.fromisoformat(timestamp).replace(tzinfo=None)


class RecentEvents:
    """Accepted events by alias and event id; safe to use from any thread."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._by_alias: dict[str, dict[str, RecentEvent]] = {}
        self.version = 0  # changes with every add, so an answer computed before is stale

    def add(self, events: Iterable[UsageEvent]) -> None:
        kept = [
            (event.customer_alias, event.event_id, _utc(event.event_timestamp), event)
            for event in events
        ]
        with self._lock:
            for alias, event_id, event_at, event in kept:
                self._by_alias.setdefault(alias, {})[event_id] = RecentEvent(
                    event_at, event.event_type, event.event_properties
                )
            self.version += 1

    def seed(self, events: Iterable[tuple[str, str, RecentEvent]]) -> int:
        """Add (alias, event id, event) from before a restart (restart_seed.py) where memory has
        no version of the id: one memory has was accepted since the start, so it is newer.
        The number added."""
        added = 0
        with self._lock:
            for alias, event_id, event in events:
                kept = self._by_alias.setdefault(alias, {})
                if event_id not in kept:
                    kept[event_id] = event
                    added += 1
            self.version += 1
        return added

    def since(self, aliases: Iterable[str], start: datetime, end: datetime) -> list[RecentEvent]:
        """The aliases' events timestamped in [start, end)."""
        with self._lock:
            return [
                event
                for alias in aliases
                for event in self._by_alias.get(alias, {}).values()
                if start <= event.event_at < end
            ]

    def forget_before(self, moment: datetime) -> None:
        """Drop the events a build with this clock counts (or leaves to a later period)."""
        with self._lock:
            for alias in list(self._by_alias):
                kept = {
                    event_id: event
                    for event_id, event in self._by_alias[alias].items()
                    if event.event_at >= moment
                }
                if kept:
                    self._by_alias[alias] = kept
                else:
                    del self._by_alias[alias]
            self.version += 1
