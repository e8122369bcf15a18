"""DuckDB, the default embedded engine: a database file opened with DuckDB's own connector.

The CSV loader and the demo's events use the raw connection (`connect_duckdb`), as only the
embedded engine offers DuckDB's CSV reader.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import duckdb

from usage_billing.warehouse.profile import ProfileError, WarehouseTarget
from usage_billing.warehouse.protocol import Warehouse
from usage_billing.warehouse.sql import column_definitions, quote_identifier


def connect_duckdb(target: WarehouseTarget) -> duckdb.DuckDBPyConnection:
    """DuckDB's own connection, for what only the embedded engine does (the demo's events);
    `usage_billing.warehouse.engines.open_warehouse` opens any engine."""
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


class DuckDBWarehouse(Warehouse):
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

    def create_table(
        self, schema: str, table: str, columns: Sequence[tuple[str, str]], key: Sequence[str]
    ) -> None:
        types = {"varchar": "varchar", "integer": "integer", "timestamp": "timestamp"}
        definitions = column_definitions(columns, types, quote_identifier)
        self.execute(f"create schema if not exists {self.quote(schema)}")
        self.execute(
            f"create table if not exists {self.quote(schema, table)}"
            f" ({definitions}, primary key ({', '.join(map(quote_identifier, key))}))"
        )

    def close(self) -> None:
        self.connection.close()


def open_duckdb(target: WarehouseTarget) -> DuckDBWarehouse:
    return DuckDBWarehouse(connect_duckdb(target))
