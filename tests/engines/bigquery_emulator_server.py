"""The BigQuery stand-in of the portability suite: bqemulator (BigQuery's REST API over DuckDB,
its SQL translated by sqlglot), run from a virtualenv of its own (it pins DuckDB and sqlglot
versions the project's venv does not have), with eight gaps closed for what the package sends:

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
- It writes each bare decimal literal (`1.5`) as `1.5e0` (BigQuery reads it as FLOAT64),
  skipping quoted text but not comments: after an apostrophe in a `--` comment inside a
  statement of a script, the digits of a timestamp's text ('… 02:34:58.150406') got `e0` too.
  Here comments are skipped as well.
- A script's temporary tables outlived it (they are DuckDB's, on the one connection), so the
  next script creating one of the same name failed; BigQuery drops them when the script ends,
  and so does this.
- It ran a CREATE, DROP or ALTER of a permanent table inside a transaction, which BigQuery
  refuses; here it is refused too, so the package's transactions are held to BigQuery's rule.

BigQuery itself gets the statements as dbt writes them.

    python -m tests.engines.bigquery_emulator_server start --rest-port PORT --grpc-port PORT
"""

from __future__ import annotations

import contextlib
import re
import sys

import sqlglot
from bqemulator.cli import main
from bqemulator.domain.errors import InvalidQueryError
from bqemulator.scripting.interpreter import ScriptInterpreter, ScriptResult
from bqemulator.sql import translator
from bqemulator.sql.rewriter import decimal_literals
from bqemulator.storage import type_map
from bqemulator.storage.engine import DuckDBEngine
from sqlglot import exp
from sqlglot.generators.duckdb import DuckDBGenerator

EXACT_DECIMAL = "DECIMAL(38, 10)"
# Quoted text and comments, which the decimal-literal rewrite must leave as they are.
NOT_LITERALS = re.compile(
    r"""'(?:\\.|''|[^'\\])*'|"(?:\\.|""|[^"\\])*"|`[^`]*`|--[^\n]*|#[^\n]*|/\*.*?\*/""",
    re.DOTALL,
)
TEMP_TABLE = re.compile(
    r"\bcreate\s+(?:or\s+replace\s+)?temp(?:orary)?\s+table\s+(?:if\s+not\s+exists\s+)?`?(\w+)`?",
    re.IGNORECASE,
)


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


def _decimal_literals_outside_comments(sql: str) -> str:
    pieces, end = [], 0
    for skipped in NOT_LITERALS.finditer(sql):
        pieces += [_as_double(sql[end : skipped.start()]), skipped.group()]
        end = skipped.end()
    return "".join([*pieces, _as_double(sql[end:])])


def _as_double(sql: str) -> str:
    return decimal_literals._DECIMAL_RE.sub(r"\1.\2e0", sql)


async def _run_script_dropping_temp_tables(self: ScriptInterpreter, source: str) -> ScriptResult:
    try:
        return await _run_script(self, source)
    finally:
        for name in TEMP_TABLE.findall(source):
            with contextlib.suppress(Exception):  # never created: the script failed before it
                self._ctx.engine.execute(f'DROP TABLE IF EXISTS temp.main."{name}"')


async def _exec_sql_refusing_ddl_in_transaction(self: ScriptInterpreter, sql: str) -> None:
    if self._active_txn is not None and _changes_a_permanent_table(sql):
        raise InvalidQueryError(
            "Only DML and temporary tables and functions are allowed in a transaction: " + sql[:80]
        )
    await _exec_sql(self, sql)


def _changes_a_permanent_table(sql: str) -> bool:
    try:
        statement = sqlglot.parse_one(sql, read="bigquery")
    except sqlglot.errors.ParseError:
        return False
    if isinstance(statement, exp.Create):
        return statement.find(exp.TemporaryProperty) is None
    if isinstance(statement, exp.Drop):  # a temporary table is named without a dataset
        return isinstance(statement.this, exp.Table) and bool(statement.this.db)
    return isinstance(statement, exp.Alter)


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
translator.rewrite_decimal_literals = _decimal_literals_outside_comments
_run_script = ScriptInterpreter.run
ScriptInterpreter.run = _run_script_dropping_temp_tables  # type: ignore[method-assign]
_exec_sql = ScriptInterpreter._exec_sql
ScriptInterpreter._exec_sql = _exec_sql_refusing_ddl_in_transaction  # type: ignore[method-assign]

if __name__ == "__main__":
    sys.exit(main())
