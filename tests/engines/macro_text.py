"""One macro of the package rendered with plain Jinja, outside dbt, for tests that run one
engine's branch of a cross-db macro where a stand-in can run it. Only a macro whose body calls
nothing of dbt's (no dispatch, no `return`) renders this way; `package` answers the package's
own macros it calls (`usage_billing.<name>`)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from types import SimpleNamespace
from typing import Any

import jinja2

from tests.support.warehouse_scenario import REPO_DIR


def render_macro(
    file: str, name: str, *args: str, package: Mapping[str, Callable[..., Any]] | None = None
) -> str:
    """The SQL macro `name` of macros/`file` renders with `args`."""
    environment = jinja2.Environment(autoescape=False)  # noqa: S701 - SQL, not HTML
    template = environment.from_string((REPO_DIR / "macros" / file).read_text())
    module = template.make_module({"usage_billing": SimpleNamespace(**(package or {}))})
    return str(getattr(module, name)(*args))
