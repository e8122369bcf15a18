"""PostgreSQL and Redshift (which speaks PostgreSQL's protocol) through psycopg2."""

from __future__ import annotations

from usage_billing.warehouse.dbapi import DbApiWarehouse
from usage_billing.warehouse.profile import ProfileError, WarehouseTarget


class PostgresWarehouse(DbApiWarehouse):
    """PostgreSQL or Redshift through psycopg2, the session in UTC."""


def open_postgres(target: WarehouseTarget) -> PostgresWarehouse:
    import psycopg2

    if target.options.get("method", "database") != "database":
        raise ProfileError(f"target {target.name!r}: only password logins are supported")
    connection = psycopg2.connect(
        host=target.option("host"),
        port=int(target.option("port", 5439 if target.type == "redshift" else 5432)),
        user=target.option("user"),
        password=target.options.get("password") or None,
        dbname=target.option("dbname"),
        sslmode=target.options.get("sslmode", "prefer"),
        options="-c TimeZone=UTC",
    )
    connection.autocommit = True
    return PostgresWarehouse(connection, target.type)
