"""Where the raw events live, from the dbt project's vars: the loader writes where dbt reads."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from usage_billing.dbt_project import load_project
from usage_billing.errors import ConfigError, LoadError
from usage_billing.warehouse.protocol import Warehouse


@dataclass(frozen=True)
class EventsTable:
    """The raw events relation and its column names."""

    schema: str
    table: str
    event_id: str = "event_id"
    customer_alias: str = "customer_alias"
    event_type: str = "event_type"
    event_timestamp: str = "event_timestamp"
    event_properties: str = "event_properties"
    loaded_at: str | None = "loaded_at"

    @property
    def field_columns(self) -> dict[str, str]:
        """Each event field's column in the table (loaded_at, a stamp, is not a field)."""
        return {
            "event_id": self.event_id,
            "customer_alias": self.customer_alias,
            "event_type": self.event_type,
            "event_timestamp": self.event_timestamp,
            "event_properties": self.event_properties,
        }


def _text(variables: dict[str, Any], name: str, default: str | None) -> str | None:
    value = variables.get(name, default)
    if value is None:
        return None
    if not isinstance(value, str) or not value.strip() or "{{" in value:
        raise ConfigError(f"dbt_project.yml: var {name} must be a plain name, not {value!r}")
    return value.strip()


def events_table(project_dir: Path | None = None) -> EventsTable:
    """The raw events table named by `usage_billing_events_*` and `usage_billing_column_*` vars."""
    variables = load_project(project_dir).variables
    if variables.get("usage_billing_events_database"):
        raise ConfigError(
            "dbt_project.yml: usage_billing_events_database is set; the loader writes to the"
            " target's own database only"
        )

    def required(name: str, default: str) -> str:
        value = _text(variables, name, default)
        if value is None:
            raise ConfigError(f"dbt_project.yml: var {name} must not be null")
        return value

    return EventsTable(
        schema=required("usage_billing_events_schema", "raw"),
        table=required("usage_billing_events_table", "usage_events"),
        event_id=required("usage_billing_column_event_id", "event_id"),
        customer_alias=required("usage_billing_column_customer_alias", "customer_alias"),
        event_type=required("usage_billing_column_event_type", "event_type"),
        event_timestamp=required("usage_billing_column_event_timestamp", "event_timestamp"),
        event_properties=required("usage_billing_column_event_properties", "event_properties"),
        loaded_at=_text(variables, "usage_billing_column_loaded_at", "loaded_at"),
    )


def ensure_events_table(warehouse: Warehouse, events: EventsTable) -> dict[str, str]:
    """Create the raw events table when absent (text columns, as the demo's); its column types."""
    columns = warehouse.table_columns(events.schema, events.table)
    if columns:
        wanted = [*events.field_columns.values()] + ([events.loaded_at] if events.loaded_at else [])
        missing = [name for name in wanted if name not in columns]
        if missing:
            raise LoadError(
                f"{events.schema}.{events.table} has no column {', '.join(missing)}; check the"
                " usage_billing_column_* vars in dbt_project.yml"
            )
        return columns
    warehouse.execute(f"create schema if not exists {warehouse.quote(events.schema)}")
    definitions = [f"{warehouse.quote(name)} varchar" for name in events.field_columns.values()]
    if events.loaded_at:
        definitions.append(f"{warehouse.quote(events.loaded_at)} timestamp")
    warehouse.execute(
        f"create table {warehouse.quote(events.schema, events.table)} ({', '.join(definitions)})"
    )
    return warehouse.table_columns(events.schema, events.table)
