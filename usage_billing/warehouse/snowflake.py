"""Snowflake through snowflake-connector-python."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any, ClassVar

from usage_billing.warehouse.dbapi import DbApiWarehouse
from usage_billing.warehouse.profile import WarehouseTarget


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


def open_snowflake(target: WarehouseTarget) -> SnowflakeWarehouse:
    import snowflake.connector

    connect: dict[str, Any] = {
        "account": target.option("account"),
        "user": target.option("user"),
        "password": target.options.get("password"),
        "role": target.options.get("role"),
        "warehouse": target.options.get("warehouse"),
        "database": target.option("database"),
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
