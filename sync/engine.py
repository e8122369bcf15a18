"""The small interface the sync uses to reach a warehouse, and one implementation per engine.

Everything outside this module (ledger, invoice reader, status) talks to a `Warehouse`: run a
statement, fetch rows, quote a name, list a table's columns, create a table. Statements use `?`
placeholders and plain SQL that every engine speaks; each implementation translates the
placeholders to its native connector's style and the generic column types (varchar, integer,
timestamp) to its own. `open_warehouse` picks the implementation from the profile's `type`:

    duckdb               duckdb
    postgres, redshift   psycopg2 (Redshift speaks PostgreSQL's protocol)
    snowflake            snowflake-connector-python
    spark                pyspark: the session dbt-spark's `session` method uses (getOrCreate)
    databricks           databricks-sql-connector
    bigquery             google-cloud-bigquery

The connectors other than DuckDB's come with the engine's extra (README "Engines") and are
imported only when that engine is opened. The CSV bulk loader is DuckDB's alone (`sync.load`
uses DuckDB's own CSV reader through `DuckDBWarehouse`).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any, ClassVar, Protocol

import duckdb

from sync.warehouse import ProfileError, WarehouseTarget
from sync.warehouse import connect as connect_duckdb


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


def quote_identifier(name: str) -> str:
    """ANSI double-quoted identifier, quotes inside doubled."""
    return '"' + name.replace('"', '""') + '"'


def backquote_identifier(name: str) -> str:
    """Spark and BigQuery quote names with backticks, doubled inside."""
    return "`" + name.replace("`", "``") + "`"


def sql_literal(text: str) -> str:
    """A single-quoted SQL string literal, quotes inside doubled."""
    return "'" + text.replace("'", "''") + "'"


def replace_placeholders(sql: str, marker: Callable[[int], str]) -> str:
    """`sql` with its n-th `?` placeholder (outside quotes) replaced by marker(n)."""
    parts = re.split(r"""('(?:[^']|'')*'|"(?:[^"]|"")*"|`(?:[^`]|``)*`)""", sql)
    count = 0
    for index in range(0, len(parts), 2):  # even parts are outside quotes
        pieces = parts[index].split("?")
        text = pieces[0]
        for piece in pieces[1:]:
            text += marker(count) + piece
            count += 1
        parts[index] = text
    return "".join(parts)


def _column_definitions(
    columns: Sequence[tuple[str, str]], types: Mapping[str, str], quote: Callable[[str], str]
) -> str:
    definitions = []
    for name, generic in columns:
        kind, _, constraint = generic.partition(" ")
        definitions.append(" ".join(filter(None, [quote(name), types[kind], constraint])))
    return ", ".join(definitions)


def _utc(value: Any) -> Any:
    """A zone-aware datetime as naive UTC; anything else unchanged."""
    if isinstance(value, datetime) and value.tzinfo is not None:
        return value.astimezone(UTC).replace(tzinfo=None)
    return value


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

    def create_table(
        self, schema: str, table: str, columns: Sequence[tuple[str, str]], key: Sequence[str]
    ) -> None:
        types = {"varchar": "varchar", "integer": "integer", "timestamp": "timestamp"}
        definitions = _column_definitions(columns, types, quote_identifier)
        self.execute(f"create schema if not exists {self.quote(schema)}")
        self.execute(
            f"create table if not exists {self.quote(schema, table)}"
            f" ({definitions}, primary key ({', '.join(map(quote_identifier, key))}))"
        )

    def close(self) -> None:
        self.connection.close()

    def __enter__(self) -> DuckDBWarehouse:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()


class DbApiWarehouse:
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
            return [tuple(_utc(value) for value in row) for row in cursor.fetchall()]
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
        definitions = _column_definitions(columns, self.types, lambda name: self.quote(name))
        self.execute(f"create schema if not exists {self.quote(schema)}")
        self.execute(
            f"create table if not exists {self.quote(schema, table)}"
            f" ({definitions}, primary key ({', '.join(self.quote(name) for name in key)}))"
        )

    def close(self) -> None:
        self.connection.close()

    def __enter__(self) -> DbApiWarehouse:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()


class PostgresWarehouse(DbApiWarehouse):
    """PostgreSQL or Redshift through psycopg2, the session in UTC."""


class SnowflakeWarehouse(DbApiWarehouse):
    """Snowflake through snowflake-connector-python. dbt-snowflake leaves names unquoted, so
    Snowflake stores them in upper case; quoted names here are upper-cased to match."""

    types: ClassVar[Mapping[str, str]] = {
        "varchar": "varchar",
        "integer": "integer",
        "timestamp": "timestamp_ntz",
    }

    def name(self, part: str) -> str:
        return part.upper() if re.fullmatch(r"[a-z_][a-z0-9_$]*", part) else part


class SparkWarehouse:
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
                values[index] = _utc(values[index]).isoformat(sep=" ")
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
        definitions = _column_definitions(plain, self.types, backquote_identifier)
        self.execute(f"create schema if not exists {self.quote(schema)}")
        self.execute(
            f"create table if not exists {self.quote(schema, table)} ({definitions}) using parquet"
        )

    def close(self) -> None:
        """The session is the process's (dbt-spark's too): it ends with the process."""

    def __enter__(self) -> SparkWarehouse:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()


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
        definitions = _column_definitions(columns, self.types, backquote_identifier)
        self.execute(f"create schema if not exists {self.quote(schema)}")
        self.execute(f"create table if not exists {self.quote(schema, table)} ({definitions})")


class BigQueryWarehouse:
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
        return [
            tuple(_utc(value) for value in row.values()) for row in self._query(sql, parameters)
        ]

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
        definitions = _column_definitions(columns, self.types, backquote_identifier)
        keys = ", ".join(map(backquote_identifier, key))
        self.execute(f"create schema if not exists {self.quote(schema)}")
        self.execute(
            f"create table if not exists {self.quote(schema, table)}"
            f" ({definitions}, primary key ({keys}) not enforced)"
        )

    def close(self) -> None:
        self.client.close()

    def __enter__(self) -> BigQueryWarehouse:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()


def _option(target: WarehouseTarget, name: str, default: Any = None) -> Any:
    value = target.options.get(name, default)
    if value is None:
        raise ProfileError(f"target {target.name!r} ({target.type}) needs {name!r}")
    return value


def _open_duckdb(target: WarehouseTarget) -> DuckDBWarehouse:
    return DuckDBWarehouse(connect_duckdb(target))


def _open_postgres(target: WarehouseTarget) -> PostgresWarehouse:
    import psycopg2

    if target.options.get("method", "database") != "database":
        raise ProfileError(f"target {target.name!r}: only password logins are supported")
    connection = psycopg2.connect(
        host=_option(target, "host"),
        port=int(_option(target, "port", 5439 if target.type == "redshift" else 5432)),
        user=_option(target, "user"),
        password=target.options.get("password") or None,
        dbname=_option(target, "dbname"),
        sslmode=target.options.get("sslmode", "prefer"),
        options="-c TimeZone=UTC",
    )
    connection.autocommit = True
    return PostgresWarehouse(connection, target.type)


def _open_snowflake(target: WarehouseTarget) -> SnowflakeWarehouse:
    import snowflake.connector

    connect: dict[str, Any] = {
        "account": _option(target, "account"),
        "user": _option(target, "user"),
        "password": target.options.get("password"),
        "role": target.options.get("role"),
        "warehouse": target.options.get("warehouse"),
        "database": _option(target, "database"),
        "timezone": "UTC",
        "autocommit": True,
    }
    # An explicit host, port and protocol point the connector elsewhere (an emulator in tests).
    for name in ("host", "port", "protocol"):
        if target.options.get(name):
            connect[name] = target.options[name]
    if "port" in connect:
        connect["port"] = int(connect["port"])
    return SnowflakeWarehouse(snowflake.connector.connect(**connect), "snowflake")


def _open_spark(target: WarehouseTarget) -> SparkWarehouse:
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


def _open_databricks(target: WarehouseTarget) -> DatabricksWarehouse:
    from databricks import sql

    catalog = _option(target, "catalog", "hive_metastore")
    connection = sql.connect(
        server_hostname=_option(target, "host"),
        http_path=_option(target, "http_path"),
        access_token=_option(target, "token"),
        catalog=catalog,
        schema=target.schema,
        session_configuration=target.options.get("session_properties") or {},
    )
    return DatabricksWarehouse(connection, catalog)


def _open_bigquery(target: WarehouseTarget) -> BigQueryWarehouse:
    from google.cloud import bigquery

    project, location = _option(target, "project"), target.options.get("location")
    if target.options.get("method", "oauth") == "service-account":
        client = bigquery.Client.from_service_account_json(
            _option(target, "keyfile"), project=project, location=location
        )
    else:  # oauth: the machine's application-default credentials
        client = bigquery.Client(project=project, location=location)
    return BigQueryWarehouse(client)


OpenWarehouse = (
    DuckDBWarehouse
    | PostgresWarehouse
    | SnowflakeWarehouse
    | SparkWarehouse
    | DatabricksWarehouse
    | BigQueryWarehouse
)
OPENERS: dict[str, Callable[[WarehouseTarget], OpenWarehouse]] = {
    "duckdb": _open_duckdb,
    "postgres": _open_postgres,
    "redshift": _open_postgres,
    "snowflake": _open_snowflake,
    "spark": _open_spark,
    "databricks": _open_databricks,
    "bigquery": _open_bigquery,
}


def open_warehouse(target: WarehouseTarget) -> OpenWarehouse:
    """Open the profile target's warehouse with its native connector, by the target's type."""
    opener = OPENERS.get(target.type)
    if opener is None:
        raise ProfileError(
            f"target {target.name!r} is {target.type}; the sync reaches {', '.join(OPENERS)}"
        )
    try:
        return opener(target)
    except ImportError as error:
        raise ProfileError(
            f"target {target.name!r} needs {error.name}: pip install 'usage-billing[{target.type}]'"
        ) from None
