"""The raw events table's columns, as DuckDB DDL: the table users provide and the demo and the
ingestion API write (docs/configuration.md)."""

from __future__ import annotations

RAW_EVENTS_COLUMNS = (
    "event_id varchar, customer_alias varchar, event_type varchar, event_timestamp varchar,"
    " event_properties varchar, loaded_at timestamp"
)
