"""Where the raw events live, from the dbt project's vars: the loader writes where dbt reads.

Only the defaults in `dbt_project.yml` are read (vars given on dbt's command line are not seen
here); without a project file the documented defaults apply.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from sync.errors import ConfigError


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


def _text(variables: dict[str, Any], name: str, default: str | None) -> str | None:
    value = variables.get(name, default)
    if value is None:
        return None
    if not isinstance(value, str) or not value.strip() or "{{" in value:
        raise ConfigError(f"dbt_project.yml: var {name} must be a plain name, not {value!r}")
    return value.strip()


def events_table(project_dir: Path | None = None) -> EventsTable:
    """The raw events table named by `usage_billing_events_*` and `usage_billing_column_*` vars."""
    path = (project_dir or Path()) / "dbt_project.yml"
    variables: dict[str, Any] = {}
    if path.exists():
        loaded = yaml.safe_load(path.read_text()) or {}
        variables = dict(loaded.get("vars") or {})
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
