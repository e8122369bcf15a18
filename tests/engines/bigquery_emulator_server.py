"""The BigQuery stand-in of the portability suite: bqemulator (BigQuery's REST API over DuckDB,
its SQL translated by sqlglot), run from a virtualenv of its own (it pins DuckDB and sqlglot
versions the project's venv does not have), with five gaps closed for what the package sends:

- It loads DuckDB's spatial extension at start and stops when it cannot download it (GEOGRAPHY
  support); the package uses no GEOGRAPHY, so it is not loaded here.
- sqlglot writes BigQuery's BIGNUMERIC as DuckDB's DECIMAL(38, 5) and NUMERIC as DECIMAL
  (18, 3): five and three places, where the package's prices have ten. Here BIGNUMERIC is
  DECIMAL(38, 10), the DuckDB target's own exact type, and NUMERIC DECIMAL(38, 9), BigQuery's.
- sqlglot writes `timestamp(local, zone)` (local wall-clock time in a zone, the package's
  local_to_utc) for DuckDB only when the zone is a literal, and leaves a zone column's call as
  it is, which DuckDB cannot parse; here both are `cast(local as timestamp) at time zone zone`.
- BigQuery's `rpad`/`lpad` take an INT64 length, DuckDB's an INTEGER (no implicit cast
  from BIGINT, which `strpos` returns); here the length is cast.
- Its catalog stores a BIGNUMERIC column (a seed's, a load job's) as DECIMAL(76, 38), wider
  than DuckDB allows, so every such load failed; here as DECIMAL(38, 10) too.

BigQuery itself gets the statements as dbt writes them.

    python -m tests.engines.bigquery_emulator_server start --rest-port PORT --grpc-port PORT
"""

from __future__ import annotations

import sys

from bqemulator.cli import main
from bqemulator.storage import type_map
from bqemulator.storage.engine import DuckDBEngine
from sqlglot import exp
from sqlglot.generators.duckdb import DuckDBGenerator

EXACT_DECIMAL = "DECIMAL(38, 10)"


def _timestamp_in_zone(self: DuckDBGenerator, expression: exp.Timestamp) -> str:
    zone = expression.args.get("zone")
    if zone is None:
        return _timestamp_sql(self, expression)
    local = exp.cast(expression.this, exp.DType.TIMESTAMP)
    return self.sql(exp.AtTimeZone(this=local, zone=zone))


def _pad_to_integer_length(self: DuckDBGenerator, expression: exp.Pad) -> str:
    padded = expression.copy()
    padded.set("expression", exp.cast(expression.expression, exp.DType.INT))
    return _pad_sql(self, padded)


def _no_spatial(self: DuckDBEngine) -> None:
    """GEOGRAPHY is not used; the extension would be downloaded."""


_timestamp_sql = DuckDBGenerator.TRANSFORMS[exp.Timestamp]
DuckDBGenerator.TRANSFORMS = {**DuckDBGenerator.TRANSFORMS, exp.Timestamp: _timestamp_in_zone}
_pad_sql = DuckDBGenerator.pad_sql
DuckDBGenerator.pad_sql = _pad_to_integer_length
DuckDBEngine._load_spatial = _no_spatial
DuckDBGenerator.TYPE_PARAM_SETTINGS = {
    **DuckDBGenerator.TYPE_PARAM_SETTINGS,
    exp.DType.BIGDECIMAL: ((38, 10), (38, 38)),
    exp.DType.DECIMAL: ((38, 9), (38, 38)),
}
type_map._BQ_TO_DUCKDB["BIGNUMERIC"] = EXACT_DECIMAL

if __name__ == "__main__":
    sys.exit(main())
