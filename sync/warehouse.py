"""The warehouse named by dbt's profiles.yml, opened with its native connector.

The CLI reads the same profile and target as `dbt build`, so events land where dbt reads them
and invoices are read where dbt wrote them.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import duckdb
import jinja2
import yaml

PROFILE_NAME = "usage_billing"


class ProfileError(Exception):
    """profiles.yml is missing or does not describe a usable target; the message says which."""


@dataclass(frozen=True)
class WarehouseTarget:
    """One output of profiles.yml, rendered."""

    name: str
    type: str
    schema: str
    path: str | None
    settings: dict[str, str]
    # DuckDB's options set when the database opens (memory_limit, temp_directory).
    config_options: dict[str, str] = field(default_factory=dict)
    # Every key of the output, rendered: what the engine's connector is opened with. Never
    # printed, as it holds the password or token.
    options: dict[str, Any] = field(default_factory=dict, repr=False)


def _env_var(name: str, default: str | None = None) -> str:
    value = os.environ.get(name, default)
    if value is None:
        raise ProfileError(f"profiles.yml needs the environment variable {name}")
    return value


def _render(node: Any, environment: jinja2.Environment) -> Any:
    if isinstance(node, str):
        return environment.from_string(node).render()
    if isinstance(node, dict):
        return {key: _render(value, environment) for key, value in node.items()}
    if isinstance(node, list):
        return [_render(item, environment) for item in node]
    return node


def profiles_dir() -> Path:
    """Where dbt looks for profiles.yml: DBT_PROFILES_DIR, the working directory, ~/.dbt."""
    if "DBT_PROFILES_DIR" in os.environ:
        return Path(os.environ["DBT_PROFILES_DIR"])
    if Path("profiles.yml").exists():
        return Path()
    return Path.home() / ".dbt"


def load_target(directory: Path | None = None, target: str | None = None) -> WarehouseTarget:
    """The profile's target (the default one unless named), with env_var() calls resolved."""
    path = (directory or profiles_dir()) / "profiles.yml"
    if not path.exists():
        raise ProfileError(f"{path} not found: copy profiles.example.yml to profiles.yml")
    environment = jinja2.Environment(autoescape=False)  # noqa: S701 - renders YAML values, not HTML
    environment.globals["env_var"] = _env_var
    profiles = yaml.safe_load(path.read_text())
    if PROFILE_NAME not in profiles:
        raise ProfileError(f"{path} has no profile named {PROFILE_NAME}")
    profile = _render(profiles[PROFILE_NAME], environment)
    name = target or profile.get("target")
    outputs = profile.get("outputs", {})
    if name not in outputs:
        raise ProfileError(f"{path}: target {name!r} is not among {sorted(outputs)}")
    output = outputs[name]
    return WarehouseTarget(
        name=name,
        type=output["type"],
        schema=output.get("schema") or output.get("dataset") or "main",  # BigQuery: dataset
        path=output.get("path"),
        settings={key: str(value) for key, value in (output.get("settings") or {}).items()},
        config_options={
            key: str(value) for key, value in (output.get("config_options") or {}).items()
        },
        options=output,
    )


def connect(target: WarehouseTarget) -> duckdb.DuckDBPyConnection:
    """DuckDB's own connection, for what only the embedded engine does (the demo's events);
    `sync.engine.open_warehouse` opens any engine."""
    if target.type != "duckdb":
        raise ProfileError(f"target {target.name!r} is {target.type}; this needs a duckdb target")
    if target.path is None:
        raise ProfileError(f"target {target.name!r} (duckdb) needs 'path'")
    connection = duckdb.connect(target.path, config={**target.config_options})
    for key, value in target.settings.items():
        if not key.replace("_", "").isalnum():
            raise ProfileError(f"target {target.name!r}: setting {key!r} is not a setting name")
        escaped = value.replace("'", "''")
        connection.execute(f"set {key} = '{escaped}'")
    return connection
