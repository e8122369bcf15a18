"""The one interface through which the package reaches a warehouse.

Everything outside `usage_billing.warehouse` (ledger, marts reader, CSV loader) talks to a
`Warehouse`: run a statement, fetch rows, quote a name, list a table's columns, create a table.
Statements use `?` placeholders and plain SQL every engine speaks; each engine's module
translates the placeholders to its connector's style and the generic column types (varchar,
integer, timestamp) to its own. `usage_billing.warehouse.engines` opens the right one.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol, Self


class Warehouse(Protocol):
    """What the sync needs from a warehouse connection."""

    @property
    def engine(self) -> str:
        """The profile output type: duckdb, snowflake, ..."""
        ...

    def execute(self, sql: str, parameters: Sequence[Any] = ()) -> None:
        """Run one statement, committed when it returns (autocommit)."""
        ...

    def fetch_all(self, sql: str, parameters: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        """Run a query and return its rows; timestamps as naive UTC datetimes."""
        ...

    def quote(self, *parts: str) -> str:
        """A quoted, dotted relation or column name: "schema"."table"."""
        ...

    def table_columns(self, schema: str, table: str) -> dict[str, str]:
        """Column name → lower-case type name; empty when the table does not exist."""
        ...

    def create_table(
        self, schema: str, table: str, columns: Sequence[tuple[str, str]], key: Sequence[str]
    ) -> None:
        """Create the schema and the table when absent. `columns` are (name, generic type)
        pairs such as ("attempts", "integer not null"); generic types are varchar, integer
        and timestamp (naive UTC)."""
        ...

    def close(self) -> None: ...

    # Shared by every engine that subclasses the protocol: `with open_warehouse(...) as w`.
    def __enter__(self) -> Self:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()
