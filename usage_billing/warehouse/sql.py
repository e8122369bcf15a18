"""SQL text every engine module builds with: quoted names, literals, placeholders, columns."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any


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


def column_definitions(
    columns: Sequence[tuple[str, str]], types: Mapping[str, str], quote: Callable[[str], str]
) -> str:
    definitions = []
    for name, generic in columns:
        kind, _, constraint = generic.partition(" ")
        definitions.append(" ".join(filter(None, [quote(name), types[kind], constraint])))
    return ", ".join(definitions)


def utc(value: Any) -> Any:
    """A zone-aware datetime as naive UTC; anything else unchanged."""
    if isinstance(value, datetime) and value.tzinfo is not None:
        return value.astimezone(UTC).replace(tzinfo=None)
    return value
