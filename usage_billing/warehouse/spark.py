"""Apache Spark through pyspark, in this process."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any, ClassVar

from usage_billing.warehouse.profile import ProfileError, WarehouseTarget
from usage_billing.warehouse.protocol import Warehouse
from usage_billing.warehouse.sql import (
    backquote_identifier,
    column_definitions,
    replace_placeholders,
    utc,
)


class SparkWarehouse(Warehouse):
    """Apache Spark through pyspark: the session dbt-spark's `session` method uses (the same
    builder, so inside one process both share it). Its tables are parquet, which cannot update
    or delete rows; those two statements are run as a rewrite of the (small) ledger table."""

    types: ClassVar[Mapping[str, str]] = {
        "varchar": "string",
        "integer": "int",
        "timestamp": "timestamp_ntz",
    }

    def __init__(self, session: Any) -> None:
        self.session = session

    @property
    def engine(self) -> str:
        return "spark"

    def _bind(self, sql: str, parameters: Sequence[Any]) -> tuple[str, dict[str, Any]]:
        """Named markers (:p0, ...), so a rewrite may repeat them. A naive datetime is bound
        as text cast to timestamp_ntz: pyspark would read it in the machine's time zone."""
        values = list(parameters)

        def marker(index: int) -> str:
            if isinstance(values[index], datetime):
                values[index] = utc(values[index]).isoformat(sep=" ")
                return f"cast(:p{index} as timestamp_ntz)"
            return f":p{index}"

        statement = replace_placeholders(sql, marker)
        return statement, {f"p{index}": value for index, value in enumerate(values)}

    def _frame(self, sql: str, parameters: Sequence[Any]) -> Any:
        statement, arguments = self._bind(sql, parameters)
        rewritten = self._rewrite(statement)
        if rewritten is not None:
            relation, select = rewritten
            # Materialised first: Spark cannot overwrite a table it is reading from.
            frame = self.session.sql(select, args=arguments).localCheckpoint()
            frame.write.insertInto(relation, overwrite=True)
            return None
        return self.session.sql(statement, args=arguments)

    def _rewrite(self, statement: str) -> tuple[str, str] | None:
        """`update`/`delete` as (table, select of the table's new rows), else None."""
        update = re.fullmatch(
            r"\s*update\s+(\S+)\s+set\s+(.+?)\s+where\s+(.+?)\s*", statement, re.I | re.S
        )
        delete = re.fullmatch(
            r"\s*delete\s+from\s+(\S+)\s+where\s+(.+?)\s*", statement, re.I | re.S
        )
        if update:
            relation, sets, condition = update.groups()
            pairs = [assignment.split("=", 1) for assignment in re.split(r",(?![^()]*\))", sets)]
            assigned = {name.strip().strip("`").lower(): value.strip() for name, value in pairs}
            columns = self.session.table(relation).columns
            expressions = [
                f"case when {condition} then {assigned[column.lower()]} else"
                f" {backquote_identifier(column)} end as {backquote_identifier(column)}"
                if column.lower() in assigned
                else backquote_identifier(column)
                for column in columns
            ]
            return relation, f"select {', '.join(expressions)} from {relation}"  # noqa: S608
        if delete:
            relation, condition = delete.groups()
            kept = f"select * from {relation} where not coalesce({condition}, false)"  # noqa: S608
            return relation, kept
        return None

    def execute(self, sql: str, parameters: Sequence[Any] = ()) -> None:
        frame = self._frame(sql, parameters)
        if frame is not None:
            frame.collect()

    def fetch_all(self, sql: str, parameters: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        frame = self._frame(sql, parameters)
        # pyspark returns a `timestamp` (with local time zone) in the machine's zone, naive.
        local = [field.dataType.typeName() == "timestamp" for field in frame.schema.fields]
        return [
            tuple(
                value.astimezone(UTC).replace(tzinfo=None)
                if is_local and isinstance(value, datetime)
                else value
                for value, is_local in zip(row, local, strict=True)
            )
            for row in frame.collect()
        ]

    def quote(self, *parts: str) -> str:
        return ".".join(backquote_identifier(part) for part in parts)

    def table_columns(self, schema: str, table: str) -> dict[str, str]:
        relation = self.quote(schema, table)
        if not self.session.catalog.tableExists(f"{schema}.{table}"):
            return {}
        return {name.lower(): kind for name, kind in self.session.table(relation).dtypes}

    def create_table(
        self, schema: str, table: str, columns: Sequence[tuple[str, str]], key: Sequence[str]
    ) -> None:
        # Spark declares no keys; the ledger's writes keep (target, invoice_id, revision) unique.
        plain = [(name, generic.split()[0]) for name, generic in columns]
        definitions = column_definitions(plain, self.types, backquote_identifier)
        self.execute(f"create schema if not exists {self.quote(schema)}")
        self.execute(
            f"create table if not exists {self.quote(schema, table)} ({definitions}) using parquet"
        )

    def close(self) -> None:
        """The session is the process's (dbt-spark's too): it ends with the process."""


def open_spark(target: WarehouseTarget) -> SparkWarehouse:
    if target.options.get("method") != "session":
        raise ProfileError(
            f"target {target.name!r}: the sync reaches Spark through its `session` method;"
            " use a `databricks` target for a Databricks workspace"
        )
    from pyspark.sql import SparkSession

    # No progress bars on the console the CLI prints to.
    builder = SparkSession.builder.enableHiveSupport().config(
        "spark.ui.showConsoleProgress", "false"
    )
    for name, value in (target.options.get("server_side_parameters") or {}).items():
        builder = builder.config(name, value)
    return SparkWarehouse(builder.getOrCreate())
