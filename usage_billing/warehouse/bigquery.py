"""BigQuery through google-cloud-bigquery."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from decimal import Decimal
from typing import Any, ClassVar

from usage_billing.warehouse.profile import WarehouseTarget
from usage_billing.warehouse.protocol import Warehouse
from usage_billing.warehouse.sql import (
    backquote_identifier,
    column_definitions,
    replace_placeholders,
    utc,
)


class BigQueryWarehouse(Warehouse):
    """BigQuery through google-cloud-bigquery: one query job per statement, positional `?`
    parameters typed from their Python values (a None is written as the literal NULL, which
    BigQuery types from its place)."""

    types: ClassVar[Mapping[str, str]] = {
        "varchar": "string",
        "integer": "int64",
        "timestamp": "datetime",
    }
    parameter_types = (
        (bool, "BOOL"),
        (int, "INT64"),
        (Decimal, "BIGNUMERIC"),
        (datetime, "DATETIME"),
    )

    def __init__(self, client: Any) -> None:
        self.client = client

    @property
    def engine(self) -> str:
        return "bigquery"

    def _query(self, sql: str, parameters: Sequence[Any]) -> Any:
        from google.cloud import bigquery

        values = list(parameters)
        bound = []

        def marker(index: int) -> str:
            value = values[index]
            if value is None:
                return "NULL"
            kind = next(
                (name for cls, name in self.parameter_types if isinstance(value, cls)), "STRING"
            )
            bound.append(bigquery.ScalarQueryParameter(None, kind, value))
            return "?"

        statement = replace_placeholders(sql, marker)
        config = bigquery.QueryJobConfig(query_parameters=bound)
        return self.client.query(statement, job_config=config).result()

    def execute(self, sql: str, parameters: Sequence[Any] = ()) -> None:
        self._query(sql, parameters)

    def fetch_all(self, sql: str, parameters: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        return [tuple(utc(value) for value in row.values()) for row in self._query(sql, parameters)]

    def quote(self, *parts: str) -> str:
        return ".".join(backquote_identifier(part) for part in parts)

    def table_columns(self, schema: str, table: str) -> dict[str, str]:
        rows = self.fetch_all(
            f"select column_name, lower(data_type)"  # noqa: S608 - a quoted name
            f" from {self.quote(schema)}.INFORMATION_SCHEMA.COLUMNS"
            " where table_name = ? order by ordinal_position",
            [table],
        )
        return {str(name): str(kind) for name, kind in rows}

    def create_table(
        self, schema: str, table: str, columns: Sequence[tuple[str, str]], key: Sequence[str]
    ) -> None:
        definitions = column_definitions(columns, self.types, backquote_identifier)
        keys = ", ".join(map(backquote_identifier, key))
        self.execute(f"create schema if not exists {self.quote(schema)}")
        self.execute(
            f"create table if not exists {self.quote(schema, table)}"
            f" ({definitions}, primary key ({keys}) not enforced)"
        )

    def close(self) -> None:
        self.client.close()


def open_bigquery(target: WarehouseTarget) -> BigQueryWarehouse:
    from google.cloud import bigquery

    project, location = target.option("project"), target.options.get("location")
    if target.options.get("method", "oauth") == "service-account":
        client = bigquery.Client.from_service_account_json(
            target.option("keyfile"), project=project, location=location
        )
    else:  # oauth: the machine's application-default credentials
        client = bigquery.Client(project=project, location=location)
    return BigQueryWarehouse(client)
