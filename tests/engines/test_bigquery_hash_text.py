"""BigQuery's canonical decimal text, what invoices hash into content_hash, is the text the other
engines hash: DuckDB's for the same amount. BigQuery cannot run here, so its SQL
(bigquery__canonical_decimal_text) is read with sqlglot as BigQuery, each cast to string in it
is replaced by the text BigQuery's cast writes (its shortest: trailing zeros dropped, and the
point with them), and the rest runs on DuckDB."""

from __future__ import annotations

from decimal import Context, Decimal

import duckdb
import pytest
import sqlglot
from sqlglot import exp

from tests.engines.macro_text import render_macro

pytestmark = pytest.mark.engines

AMOUNTS = [
    "1.5",
    "2",
    "100",
    "0",
    "-0.25",
    "-3",
    "0.0000000001",
    "1234567.0000000001",
    "12345678901234567890.1234567890",
]


def bigquery_cast_text(amount: str) -> str:
    """What BigQuery's cast(bignumeric as string) writes: 1.5000000000 as 1.5, 100 as 100."""
    return format(Decimal(amount).normalize(Context(prec=76)), "f")  # BIGNUMERIC's digits


def bigquery_canonical_sql() -> tuple[str, int]:
    """The BigQuery macro's SQL over a column holding bigquery_cast_text, in DuckDB's dialect,
    and how many casts it replaced."""
    sql = render_macro(
        "cross_db/canonical_decimal_text.sql", "bigquery__canonical_decimal_text", "amount"
    )
    replaced = 0

    def cast_text_as_bigquery_writes(node: exp.Expression) -> exp.Expression:
        nonlocal replaced
        if isinstance(node, exp.Cast) and node.to.is_type("text"):
            replaced += 1
            return exp.column("bigquery_cast_text")
        return node

    expression = sqlglot.parse_one(sql, read="bigquery").transform(cast_text_as_bigquery_writes)
    for pad in expression.find_all(exp.Pad):  # DuckDB's rpad takes a 32-bit length only
        pad.set("expression", exp.cast(pad.expression, "int"))
    return expression.sql("duckdb"), replaced


def test_bigquery_hashes_the_text_duckdb_hashes() -> None:
    sql, replaced = bigquery_canonical_sql()
    assert replaced > 0, "the BigQuery macro no longer casts to string: update this test"
    rows = ", ".join(f"('{amount}', '{bigquery_cast_text(amount)}')" for amount in AMOUNTS)
    results = duckdb.sql(
        f"select amount, {sql},"
        " cast(cast(amount as decimal(38, 10)) as varchar)"
        f" from (values {rows}) as amounts (amount, bigquery_cast_text)"
    ).fetchall()
    assert {amount: bigquery for amount, bigquery, _ in results} == {
        amount: duckdb_text for amount, _, duckdb_text in results
    }
    assert {amount: bigquery for amount, bigquery, _ in results}["2"] == "2.0000000000"
