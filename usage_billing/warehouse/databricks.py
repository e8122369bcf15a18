"""Databricks through databricks-sql-connector."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, ClassVar

from usage_billing.warehouse.dbapi import DbApiWarehouse
from usage_billing.warehouse.profile import WarehouseTarget
from usage_billing.warehouse.sql import backquote_identifier, column_definitions


class DatabricksWarehouse(DbApiWarehouse):
    """Databricks through databricks-sql-connector: native `?` parameters, Delta tables."""

    types: ClassVar[Mapping[str, str]] = {
        "varchar": "string",
        "integer": "int",
        "timestamp": "timestamp_ntz",
    }

    def __init__(self, connection: Any, catalog: str) -> None:
        super().__init__(connection, "databricks")
        self.catalog = catalog

    def _statement(self, sql: str) -> str:
        return sql

    def quote(self, *parts: str) -> str:
        return ".".join(backquote_identifier(part) for part in parts)

    def table_columns(self, schema: str, table: str) -> dict[str, str]:
        cursor = self.connection.cursor()
        try:
            cursor.columns(catalog_name=self.catalog, schema_name=schema, table_name=table)
            return {str(row[3]).lower(): str(row[5]).lower() for row in cursor.fetchall()}
        finally:
            cursor.close()

    def create_table(
        self, schema: str, table: str, columns: Sequence[tuple[str, str]], key: Sequence[str]
    ) -> None:
        definitions = column_definitions(columns, self.types, backquote_identifier)
        self.execute(f"create schema if not exists {self.quote(schema)}")
        self.execute(f"create table if not exists {self.quote(schema, table)} ({definitions})")


def open_databricks(target: WarehouseTarget) -> DatabricksWarehouse:
    from databricks import sql

    catalog = target.option("catalog", "hive_metastore")
    connection = sql.connect(
        server_hostname=target.option("host"),
        http_path=target.option("http_path"),
        access_token=target.option("token"),
        catalog=catalog,
        schema=target.schema,
        session_configuration=target.options.get("session_properties") or {},
    )
    return DatabricksWarehouse(connection, catalog)
