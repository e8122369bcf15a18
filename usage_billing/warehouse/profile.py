"""The warehouse target named by dbt's profiles.yml: the profile dbt_project.yml names (or
`--profile`), its default target (or `--target`), with env_var() calls rendered."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import jinja2
import yaml

from usage_billing.dbt_project import DEFAULT_NAME


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

    def option(self, name: str, default: Any = None) -> Any:
        """The output's key `name`; ProfileError when it is absent and has no default."""
        value = self.options.get(name, default)
        if value is None:
            raise ProfileError(f"target {self.name!r} ({self.type}) needs {name!r}")
        return value


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


def load_target(
    directory: Path | None = None, target: str | None = None, profile: str = DEFAULT_NAME
) -> WarehouseTarget:
    """Profile `profile`'s target (the default one unless named), env_var() calls resolved."""
    path = (directory or profiles_dir()) / "profiles.yml"
    if not path.exists():
        raise ProfileError(f"{path} not found: copy profiles.example.yml to profiles.yml")
    environment = jinja2.Environment(autoescape=False)  # noqa: S701 - renders YAML values, not HTML
    environment.globals["env_var"] = _env_var
    profiles = yaml.safe_load(path.read_text())
    if profile not in profiles:
        raise ProfileError(f"{path} has no profile named {profile}")
    rendered = _render(profiles[profile], environment)
    name = target or rendered.get("target")
    outputs = rendered.get("outputs", {})
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
