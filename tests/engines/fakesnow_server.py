"""The fakesnow server of the portability suite, with two gaps of the stand-in closed, both in
what dbt-snowflake sends for incremental runs and snapshots (docs/engines.md):

- DuckDB keeps temporary objects in a catalog of their own, so fakesnow refuses a temporary
  table or view named in a database (`create temporary table db.schema.name`), which is what
  dbt-snowflake creates for an incremental run's new rows and for a snapshot's staging rows.
  Here such an object is created as an ordinary one (dbt drops an incremental run's at the end
  of the node; a snapshot's staging table is replaced by the next snapshot).
- fakesnow runs a `merge` as a join of target and source into a table of its own, where the
  unqualified columns of a `when not matched then insert ... values (...)` are ambiguous; in
  Snowflake they can only be the source's (there is no target row), so here they are qualified
  with it. Creating that table also records its (empty) comment in fakesnow's own database,
  which DuckDB refuses inside the transaction dbt wraps a snapshot's merge in; it is not
  recorded here.

Snowflake itself gets the statements as dbt writes them.

    python -m tests.engines.fakesnow_server -s --host 127.0.0.1 -p PORT
"""

from __future__ import annotations

import sys
from typing import Any

from fakesnow import cli
from fakesnow.cursor import FakeSnowflakeCursor
from sqlglot import exp

_fakesnow_explode = FakeSnowflakeCursor._transform_explode
_fakesnow_transform = FakeSnowflakeCursor._transform
MERGE_CANDIDATES = "MERGE_CANDIDATES"  # the table fakesnow's merge writes its join to


def without_qualified_temporary(expression: exp.Expr) -> exp.Expr:
    """A `create temporary` of an object named in a database, as an ordinary `create`."""
    if isinstance(expression, exp.Create) and expression.this is not None:
        created = expression.this.find(exp.Table)
        if created is not None and created.catalog:
            for temporary in list(expression.find_all(exp.TemporaryProperty)):
                temporary.pop()
    return expression


def source_qualified_inserts(expression: exp.Expr) -> exp.Expr:
    """A `merge`'s not-matched insert values, unqualified, as the source's columns."""
    if isinstance(expression, exp.Merge):
        source = expression.args["using"]
        name = source.alias_or_name
        for when in expression.find_all(exp.When):
            inserted = when.args.get("then")
            if isinstance(inserted, exp.Insert) and isinstance(inserted.expression, exp.Tuple):
                for column in inserted.expression.find_all(exp.Column):
                    if not column.table:
                        column.set("table", exp.to_identifier(name))
    return expression


def _transform_explode(self: FakeSnowflakeCursor, expression: exp.Expr) -> list[exp.Expr]:
    """fakesnow's first step on each statement (it splits a merge into several)."""
    patched = source_qualified_inserts(without_qualified_temporary(expression))
    return _fakesnow_explode(self, patched)


def _transform(self: FakeSnowflakeCursor, expression: exp.Expr, params: Any) -> exp.Expr:
    """fakesnow's transforms, less the comment of a merge's own table."""
    transformed = _fakesnow_transform(self, expression, params)
    if isinstance(transformed, exp.Create) and (comment := transformed.args.get("table_comment")):
        table, text = comment
        if table.name.upper() == MERGE_CANDIDATES and text is None:
            transformed.set("table_comment", None)
    return transformed


if __name__ == "__main__":
    FakeSnowflakeCursor._transform_explode = _transform_explode  # type: ignore[method-assign]
    FakeSnowflakeCursor._transform = _transform  # type: ignore[method-assign]
    sys.exit(cli.main())
