"""The dbt project this package works with: its `dbt_project.yml` and the manifest `dbt build`
writes. The CLI reads the same project as dbt, so it opens the profile dbt uses, writes events
where dbt reads them and reads the marts where dbt wrote them.

Only the file's own values are read (vars or flags given on dbt's command line are not seen
here); without a project file the documented defaults apply.
"""

from __future__ import annotations

import functools
import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from usage_billing.errors import ConfigError

# What dbt_project.yml says when it says nothing (this project's own name and profile).
DEFAULT_NAME = "usage_billing"
DEFAULT_TARGET_PATH = "target"


@dataclass(frozen=True)
class DbtProject:
    """The parts of dbt_project.yml the package needs."""

    directory: Path
    name: str = DEFAULT_NAME
    profile: str = DEFAULT_NAME
    target_path: str = DEFAULT_TARGET_PATH
    variables: dict[str, Any] = field(default_factory=dict)

    @property
    def manifest_path(self) -> Path:
        """Where `dbt build` writes the manifest: DBT_TARGET_PATH, else the project's
        `target-path` (relative to the project)."""
        target_path = os.environ.get("DBT_TARGET_PATH") or self.target_path
        return self.directory / target_path / "manifest.json"

    def manifest(self) -> dict[str, Any] | None:
        """The manifest of the last build or parse; None when dbt has not written one."""
        path = self.manifest_path
        if not path.exists():
            return None
        return _read_manifest(path, path.stat().st_mtime_ns)


# The pages look the marts up on every request; a manifest is parsed again only once rewritten.
@functools.lru_cache(maxsize=4)
def _read_manifest(path: Path, modified_ns: int) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(path.read_text())
    return loaded


def load_project(directory: Path | None = None) -> DbtProject:
    """The project in `directory` (default: the working directory)."""
    directory = directory or Path()
    path = directory / "dbt_project.yml"
    if not path.exists():
        return DbtProject(directory)
    loaded = yaml.safe_load(path.read_text()) or {}
    if not isinstance(loaded, dict):
        raise ConfigError(f"{path} is not a mapping")
    name = str(loaded.get("name") or DEFAULT_NAME)
    return DbtProject(
        directory=directory,
        name=name,
        # dbt's own rule: a project without `profile:` has none; ours defaults to its name.
        profile=str(loaded.get("profile") or name),
        target_path=str(loaded.get("target-path") or DEFAULT_TARGET_PATH),
        variables=dict(loaded.get("vars") or {}),
    )
