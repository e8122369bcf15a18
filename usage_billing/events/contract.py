"""The event contract, written once: which raw events are accepted, and the reason each other
one is rejected (docs/events.md).

Three places check events, and all take their rules from here: the ingestion API
(usage_event.py, in Python), the CSV loader (csv_load/statements.py, in DuckDB SQL) and the dbt
package, which cannot import Python: `python -m usage_billing.events.contract` writes these
constants into macros/contract/event_contract.sql, and a test fails when that file is not what
this module writes. An event the API or the loader accepts is one the build bills or reports.
"""

from __future__ import annotations

import re
import sys
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path

import msgspec

RAW_EVENTS_COLUMNS = (
    "event_id varchar, customer_alias varchar, event_type varchar, event_timestamp varchar,"
    " event_properties varchar, loaded_at timestamp"
)
"""The raw events table's columns, as DuckDB DDL: the table users provide and the demo and the
ingestion API write (docs/configuration.md)."""

TIMESTAMP_PATTERN = (
    "^([0-9]{4})-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])"
    "([T ]([01][0-9]|2[0-3]):([0-5][0-9])(:([0-5][0-9])([.][0-9]{1,6})?)?"
    "(Z|[+-](0[0-9]|1[0-5])(:?[0-5][0-9])?)?)?$"
)
"""The accepted timestamp text, as a regular expression every engine reads alike (no `\\d`,
no flags): RFC 3339 dates and times, `T` or a space between them, seconds and up to six
fractional digits (microseconds, what every engine stores) optional, an offset `Z`, `+HH:MM`,
`+HHMM` or `+HH` below 16 hours optional (the most PostgreSQL's and Redshift's casts hold;
real zones span -12 to +14; without one the time is UTC), a date alone meaning its midnight
UTC. Week dates, ordinal dates, the basic format, leap seconds and 24:00 are refused. A date
that does not exist (2023-02-30) matches but is refused by the parse."""

EARLIEST_EVENT_AT = datetime(2000, 1, 1, tzinfo=UTC)
"""Events before this instant (UTC, inclusive bound) are refused as out of range: usage from
before 2000 is a wrong clock or a default such as the epoch, not usage to bill."""

LATEST_EVENT_AT = datetime(2100, 1, 1, tzinfo=UTC)
"""Events at or after this instant are refused as out of range."""

CONTROL_CHARACTERS = "[\\x00-\\x1f\\x7f]"
"""The characters an id, alias or event type may not hold (as a regular expression): C0
controls and DEL. They break CSV files, logs and some engines' text (PostgreSQL has no NUL)."""

MAX_PROPERTIES_DEPTH = 32
"""The deepest nesting of objects and arrays in `event_properties` (the object itself is 1)."""


def _brackets_within(depth: int) -> str:
    """A pattern matching a balanced run of brackets nested at most `depth` deep, for JSON text
    reduced to its brackets (a parser has already checked that they pair up, so `{` and `[`
    may be told apart no more): one level, then each level around any run of the one below."""
    pattern = "[[{][]}]"
    for _ in range(depth - 1):
        pattern = f"[[{{](?:{pattern})*[]}}]"
    return pattern


BRACKETS_WITHIN_DEPTH = f"^{_brackets_within(MAX_PROPERTIES_DEPTH)}$"
"""JSON text reduced to its brackets that nests at most MAX_PROPERTIES_DEPTH deep: how SQL
checks the depth (a regular expression can count nesting up to a bound)."""

JSON_STRING = '"([^"\\\\]|\\\\.)*"'
"""A JSON string, to blank out before looking at the text between strings."""

NUL_ESCAPE = "(^|[^\\\\])(\\\\\\\\)*\\\\u0000"
"""A JSON escape of the NUL character (a backslash-u-0000 after an even run of backslashes):
PostgreSQL's text and jsonb cannot hold the character, so the contract refuses it."""

NON_STANDARD_JSON = "[,:\\[][ \\t\\r\\n]*-?([Ii][Nn][Ff]|[Nn][Aa][Nn])|,[ \\t\\r\\n]*[]}]"
"""What some engines' JSON parsers accept beyond RFC 8259 (DuckDB's takes NaN, Infinity and
trailing commas), outside strings; the contract refuses it everywhere."""


@dataclass(frozen=True)
class Reason:
    """One rejection reason: its code, what it means, and whether an event alone decides it
    (the API and the loader check those) or it needs the build's other tables."""

    code: str
    meaning: str
    decided_by_event: bool = True


REASONS = (
    Reason("missing_event_id", "no event_id, or one of spaces only"),
    Reason("bad_event_id", "the event_id holds a control character or a lone surrogate"),
    Reason("missing_customer_alias", "no customer_alias, or one of spaces only"),
    Reason(
        "bad_customer_alias", "the customer_alias holds a control character or a lone surrogate"
    ),
    Reason("missing_event_type", "no event_type, or one of spaces only"),
    Reason("bad_event_type", "the event_type holds a control character or a lone surrogate"),
    Reason("missing_timestamp", "no event_timestamp, or one of spaces only"),
    Reason("bad_timestamp", "the event_timestamp is not in an accepted form, or names no real day"),
    Reason(
        "timestamp_out_of_range", "the event_timestamp is before 2000-01-01 or from 2100 on (UTC)"
    ),
    Reason(
        "bad_properties",
        "event_properties is not a JSON object (RFC 8259: no NaN, Infinity or trailing"
        f" commas), holds a NUL character (\\u0000) or nests deeper than {MAX_PROPERTIES_DEPTH}"
        " levels",
    ),
    Reason("bad_value", "a property a metric reads is not a number", decided_by_event=False),
    Reason(
        "duplicate",
        "another row of the same event (its event_id and, by default, its customer) is billed",
        decided_by_event=False,
    ),
    Reason("unknown_customer", "the customer_alias names no customer", decided_by_event=False),
)
"""In the order checks run: an event gets the first reason that applies."""

REASON_MEANINGS = {reason.code: reason.meaning for reason in REASONS}

_TIMESTAMP = re.compile(TIMESTAMP_PATTERN)
# Numbers as decimals, so a number beyond a double's range is still a number, as for SQL.
_strict_json = msgspec.json.Decoder(float_hook=Decimal)
_CONTROL = re.compile(CONTROL_CHARACTERS)
_NUL = re.compile(NUL_ESCAPE)
_LONE_SURROGATE = re.compile("[\\ud800-\\udfff]")


def is_blank(text: str | None) -> bool:
    """Missing: null, empty or spaces only (other whitespace is a control character)."""
    return text is None or not text.strip(" ")


def text_reason(field: str, text: str | None) -> str | None:
    """The reason an id, alias or type is refused, or None."""
    if is_blank(text):
        return f"missing_{field}"
    assert text is not None
    # A lone surrogate (a JSON escape such as \ud800) is no character any engine can store.
    if _CONTROL.search(text) or _LONE_SURROGATE.search(text):
        return f"bad_{field}"
    return None


def parse_timestamp(text: str) -> datetime | None:
    """The UTC instant of an accepted timestamp text; None when its form is refused or the date
    does not exist. In range or not: see `timestamp_reason`."""
    match = _TIMESTAMP.match(text)
    if match is None:
        return None
    year, month, day = int(match[1]), int(match[2]), int(match[3])
    hour = int(match[5] or 0)
    minute = int(match[6] or 0)
    second = int(match[8] or 0)
    microsecond = int((match[9] or ".0")[1:].ljust(6, "0"))
    offset = timedelta(0)
    if match[10] and match[10] != "Z":
        digits = match[10][1:].replace(":", "")
        offset = timedelta(hours=int(digits[:2]), minutes=int(digits[2:] or 0))
        offset = -offset if match[10][0] == "-" else offset
    try:
        local = datetime(year, month, day, hour, minute, second, microsecond)
    except ValueError:  # a day the month does not have
        return None
    try:
        return local.replace(tzinfo=timezone(offset)).astimezone(UTC)
    except OverflowError:  # year 1 or 9999 moved past the calendar's end: out of range
        return datetime.min.replace(tzinfo=UTC) if year == 1 else datetime.max.replace(tzinfo=UTC)


def timestamp_reason(text: str | None) -> str | None:
    """The reason an event_timestamp text is refused, or None."""
    if is_blank(text):
        return "missing_timestamp"
    assert text is not None
    moment = parse_timestamp(text)
    if moment is None:
        return "bad_timestamp"
    if not EARLIEST_EVENT_AT <= moment < LATEST_EVENT_AT:
        return "timestamp_out_of_range"
    return None


def utc_text(moment: datetime) -> str:
    """ISO 8601 in UTC with a Z, microseconds only when there are any: how the API stores a
    timestamp."""
    moment = moment.astimezone(UTC) if moment.tzinfo else moment
    return moment.replace(tzinfo=None).isoformat() + "Z"


def nesting_depth(json_text: str | bytes) -> int:
    """How deep objects and arrays nest in JSON text (0 for a scalar), without parsing it: the
    text's brackets outside strings. For text a JSON parser accepted."""
    text = json_text.decode() if isinstance(json_text, bytes) else json_text
    if text.count("{") + text.count("[") <= MAX_PROPERTIES_DEPTH:
        return min(text.count("{") + text.count("["), MAX_PROPERTIES_DEPTH)
    depth = deepest = 0
    in_string = escaped = False
    for character in text:
        if in_string:
            if escaped:
                escaped = False
            elif character == "\\":
                escaped = True
            elif character == '"':
                in_string = False
        elif character == '"':
            in_string = True
        elif character in "{[":
            depth += 1
            deepest = max(deepest, depth)
        elif character in "}]":
            depth -= 1
    return deepest


def jinja_text(text: str) -> str:
    """`text` inside a single-quoted Jinja string literal, which reads backslash escapes."""
    return text.replace("\\", "\\\\").replace("'", "\\'")


def properties_reason(text: str | bytes | None) -> str | None:
    """The reason an event_properties text is refused, or None: blank is no properties ({});
    else a JSON object by RFC 8259 (a strict parser) nested at most MAX_PROPERTIES_DEPTH."""
    if text is None or not (text.decode() if isinstance(text, bytes) else text).strip(" "):
        return None
    if nesting_depth(text) > MAX_PROPERTIES_DEPTH:  # before parsing: deep text overflows it
        return "bad_properties"
    if _NUL.search(text.decode() if isinstance(text, bytes) else text):
        return "bad_properties"
    try:
        value = _strict_json.decode(text)
    except msgspec.DecodeError:
        return "bad_properties"
    return None if isinstance(value, dict) else "bad_properties"


def dbt_macro() -> str:
    """macros/contract/event_contract.sql: the constants above, for the dbt package."""
    codes = ", ".join(f"'{reason.code}'" for reason in REASONS)
    return f"""{{#- Generated by `python -m usage_billing.events.contract` from
    usage_billing/events/contract.py, the one definition of an acceptable event; edit that and
    run it again (a test fails while this file differs). docs/events.md explains each rule. -#}}
{{% macro event_contract() %}}
    {{{{- return({{
        'timestamp_pattern': '{TIMESTAMP_PATTERN}',
        'earliest_event_at': '{EARLIEST_EVENT_AT:%Y-%m-%d %H:%M:%S}',
        'latest_event_at': '{LATEST_EVENT_AT:%Y-%m-%d %H:%M:%S}',
        'control_characters': '{jinja_text(CONTROL_CHARACTERS)}',
        'max_properties_depth': {MAX_PROPERTIES_DEPTH},
        'json_string': '{jinja_text(JSON_STRING)}',
        'nul_escape': '{jinja_text(NUL_ESCAPE)}',
        'brackets_within_depth': '{jinja_text(BRACKETS_WITHIN_DEPTH)}',
        'non_standard_json': '{jinja_text(NON_STANDARD_JSON)}',
        'reasons': [{codes}],
    }}) -}}}}
{{% endmacro %}}
"""


MACRO_PATH = Path("macros/contract/event_contract.sql")

if __name__ == "__main__":
    target = Path(sys.argv[1]) if len(sys.argv) > 1 else MACRO_PATH
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(dbt_macro())
