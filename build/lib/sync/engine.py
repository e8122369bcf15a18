"""The small interface the sync uses to reach a warehouse, and its DuckDB implementation.

Everything outside this module (ledger, invoice reader, status) talks to a `Warehouse`: run a
statement, fetch rows, quote a name, list a table's columns. Statements use `?` placeholders
and plain SQL that every engine speaks; another engine plugs in by implementing the protocol
with its native connector (translating placeholders if it must). The CSV bulk loader is the
one engine-specific path (`sync.load` uses DuckDB's own CSV reader through `DuckDBWarehouse`).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol

import duckdb

from sync.warehouse import ProfileError, WarehouseTarget


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
        """Run a query and return its rows."""
        ...

    def quote(self, *parts: str) -> str:
        """A quoted, dotted relation or column name: "schema"."table"."""
        ...

    def table_columns(self, schema: str, table: str) -> dict[str, str]:
        """Column name → lower-case type name; empty when the table does not exist."""
        ...

    def close(self) -> None: ...


def quote_identifier(name: str) -> str:
    """ANSI double-quoted identifier, quotes inside doubled."""
    return '"' + name.replace('"', '""') + '"'


def sql_literal(text: str) -> str:
    """A single-quoted SQL string literal, quotes inside doubled."""
    return "'" + text.replace("'", "''") + "'"


class DuckDBWarehouse:
    """A DuckDB database file (the default, embedded engine)."""

    def __init__(self, connection: duckdb.DuckDBPyConnection) -> None:
        self.connection = connection

    @property
    def engine(self) -> str:
        return "duckdb"

    def execute(self, sql: str, parameters: Sequence[Any] = ()) -> None:
        self.connection.execute(sql, list(parameters))

    def fetch_all(self, sql: str, parameters: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        return self.connection.execute(sql, list(parameters)).fetchall()

    def quote(self, *parts: str) -> str:
        return ".".join(quote_identifier(part) for part in parts)

    def table_columns(self, schema: str, table: str) -> dict[str, str]:
        rows = self.connection.execute(
            """
            select column_name, lower(data_type) from information_schema.columns
            where table_schema = ? and table_name = ? order by ordinal_position
            """,
            [schema, table],
        ).fetchall()
        return {str(name): str(kind) for name, kind in rows}

    def close(self) -> None:
        self.connection.close()

    def __enter__(self) -> DuckDBWarehouse:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()


def open_warehouse(target: WarehouseTarget) -> DuckDBWarehouse:
    """Open the profile target's warehouse. DuckDB now; other engines come with issue 7."""
    if target.type != "duckdb" or target.path is None:
        raise ProfileError(f"target {target.name!r} is {target.type}; only duckdb is supported yet")
    connection = duckdb.connect(target.path)
    for key, value in target.settings.items():
        connection.execute(f"set {key} = {sql_literal(value)}")
    return DuckDBWarehouse(connection)
