"""Which engine module opens a profile target, by the target's `type`:

    duckdb               duckdb
    postgres, redshift   psycopg2 (Redshift speaks PostgreSQL's protocol)
    snowflake            snowflake-connector-python
    spark                pyspark: the session dbt-spark's `session` method uses (getOrCreate)
    databricks           databricks-sql-connector
    bigquery             google-cloud-bigquery

The connectors other than DuckDB's come with the engine's extra (docs/engines.md) and are
imported only when that engine is opened.
"""

from __future__ import annotations

from collections.abc import Callable

from usage_billing.warehouse.bigquery import open_bigquery
from usage_billing.warehouse.databricks import open_databricks
from usage_billing.warehouse.duckdb import open_duckdb
from usage_billing.warehouse.postgres import open_postgres
from usage_billing.warehouse.profile import ProfileError, WarehouseTarget
from usage_billing.warehouse.protocol import Warehouse
from usage_billing.warehouse.snowflake import open_snowflake
from usage_billing.warehouse.spark import open_spark

OPENERS: dict[str, Callable[[WarehouseTarget], Warehouse]] = {
    "duckdb": open_duckdb,
    "postgres": open_postgres,
    "redshift": open_postgres,
    "snowflake": open_snowflake,
    "spark": open_spark,
    "databricks": open_databricks,
    "bigquery": open_bigquery,
}


def open_warehouse(target: WarehouseTarget) -> Warehouse:
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
    except ProfileError:
        raise
    except Exception as error:  # a remote connector's own classes; DuckDB's pass (callers retry)
        if target.type == "duckdb":
            raise
        reason = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        raise ProfileError(
            f"cannot connect to target {target.name!r} ({target.type}): {reason}"
        ) from None
