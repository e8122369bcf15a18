"""The event contract's checks as DuckDB SQL, for the CSV loader, which checks millions of rows
in the database rather than in Python. The dbt package's checks (macros/contract/) are the
same rules for every engine; the corpus test (tests/events/test_event_contract.py) holds both
to the Python checks in contract.py, event by event."""

from __future__ import annotations

from usage_billing.events.contract import (
    BRACKETS_WITHIN_DEPTH,
    CONTROL_CHARACTERS,
    EARLIEST_EVENT_AT,
    JSON_STRING,
    LATEST_EVENT_AT,
    MAX_PROPERTIES_DEPTH,
    NON_STANDARD_JSON,
    NUL_ESCAPE,
    TIMESTAMP_PATTERN,
)
from usage_billing.warehouse.sql import sql_literal


def is_present(column: str) -> str:
    """SQL true when the text is neither null nor spaces only (DuckDB's trim() also takes a
    no-break space, so a pattern; it runs only on the rare value that starts with a space)."""
    return (
        f"({column} <> '' and (not starts_with({column}, ' ')"
        f" or not regexp_matches({column}, '^ *$')))"
    )


def has_no_control_character(column: str) -> str:
    return f"not regexp_matches({column}, {sql_literal(CONTROL_CHARACTERS)})"


def timestamp_parses(column: str) -> str:
    """SQL true when the text has an accepted form and names a real instant."""
    return (
        f"(regexp_matches({column}, {sql_literal(TIMESTAMP_PATTERN)})"
        f" and try_cast({column} as timestamptz) is not null)"
    )


def timestamp_in_range(column: str) -> str:
    parsed = f"try_cast({column} as timestamptz)"
    return (
        f"({parsed} >= '{EARLIEST_EVENT_AT:%Y-%m-%d %H:%M:%S}+00'"
        f" and {parsed} < '{LATEST_EVENT_AT:%Y-%m-%d %H:%M:%S}+00')"
    )


def properties_are_valid(column: str) -> str:
    """SQL true when the text is a JSON object by the contract: DuckDB's parser, without what it
    takes beyond RFC 8259, with no NUL escape, nested at most MAX_PROPERTIES_DEPTH deep. The
    costly checks run only on the text a cheap test picks out (in `case`, which DuckDB
    evaluates lazily; `and` is not: 4.9 s more at 2 M events)."""
    between_strings = f"regexp_replace({column}, {sql_literal(JSON_STRING)}, '\"\"', 'g')"
    brackets = f"regexp_replace({between_strings}, '[^][{{}}]', '', 'g')"
    openings = f"length({column}) - length(replace(replace({column}, '{{', ''), '[', ''))"
    # NaN and Infinity in any case hold 'nan' or 'inf'; a trailing comma, a comma then a bracket.
    maybe_non_standard = (
        f"({column} ilike '%nan%' or {column} ilike '%inf%'"
        f" or regexp_matches({column}, ',[ \\t\\r\\n]*[]}}]'))"
    )
    return (
        f"(coalesce(json_type(case when json_valid({column}) then {column} end) = 'OBJECT', false)"
        f" and case when {maybe_non_standard}"
        f" then not regexp_matches({between_strings}, {sql_literal(NON_STANDARD_JSON)})"
        " else true end"
        f" and case when contains({column}, '\\u0000')"
        f" then not regexp_matches({column}, {sql_literal(NUL_ESCAPE)}) else true end"
        f" and case when {openings} > {MAX_PROPERTIES_DEPTH}"
        f" then regexp_matches({brackets}, {sql_literal(BRACKETS_WITHIN_DEPTH)}) else true end)"
    )
