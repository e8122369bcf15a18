"""A DB-API connection in autocommit mode with `%s` placeholders: the base of the PostgreSQL,
Redshift, Snowflake and Databricks engines."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, ClassVar

from usage_billing.warehouse.protocol import Warehouse
from usage_billing.warehouse.sql import (
    column_definitions,
    quote_identifier,
    replace_placeholders,
    utc,
)


class DbApiWarehouse(Warehouse):
    """A DB-API connection in autocommit mode whose placeholders are `%s` (psycopg2, and
    snowflake-connector-python's default pyformat style). Subclasses say how names are
    quoted and which types the generic ones are."""

    types: ClassVar[Mapping[str, str]] = {
        "varchar": "varchar",
        "integer": "integer",
        "timestamp": "timestamp",
    }

    def __init__(self, connection: Any, engine: str) -> None:
        self.connection = connection
        self._engine = engine

    @property
    def engine(self) -> str:
        return self._engine

    def _statement(self, sql: str) -> str:
        # `%` is the connector's escape character once parameters are passed, literals too.
        return replace_placeholders(sql.replace("%", "%%"), lambda _: "%s")

    def _run(self, sql: str, parameters: Sequence[Any], fetch: bool) -> list[tuple[Any, ...]]:
        cursor = self.connection.cursor()
        try:
            cursor.execute(self._statement(sql), list(parameters))
            if not fetch:
                return []
            return [tuple(utc(value) for value in row) for row in cursor.fetchall()]
        finally:
            cursor.close()

    def execute(self, sql: str, parameters: Sequence[Any] = ()) -> None:
        self._run(sql, parameters, fetch=False)

    def fetch_all(self, sql: str, parameters: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        return self._run(sql, parameters, fetch=True)

    def name(self, part: str) -> str:
        """How the warehouse stores a name written without quotes."""
        return part

    def quote(self, *parts: str) -> str:
        return ".".join(quote_identifier(self.name(part)) for part in parts)

    def table_columns(self, schema: str, table: str) -> dict[str, str]:
        rows = self.fetch_all(
            """
            select column_name, lower(data_type) from information_schema.columns
            where table_schema = ? and table_name = ? order by ordinal_position
            """,
            [self.name(schema), self.name(table)],
        )
        return {str(name).lower(): str(kind) for name, kind in rows}

    def create_table(
        self, schema: str, table: str, columns: Sequence[tuple[str, str]], key: Sequence[str]
    ) -> None:
        definitions = column_definitions(columns, self.types, lambda name: self.quote(name))
        self.execute(f"create schema if not exists {self.quote(schema)}")
        self.execute(
            f"create table if not exists {self.quote(schema, table)}"
            f" ({definitions}, primary key ({', '.join(self.quote(name) for name in key)}))"
        )

    def close(self) -> None:
        self.connection.close()
