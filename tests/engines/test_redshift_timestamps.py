"""Redshift cannot run here, so its timestamp parser (redshift__parse_timestamp_utc) runs on
PostgreSQL, whose SQL Redshift's grew from, with `convert_timezone` defined as Redshift's
two-argument form and the session in UTC, as Redshift's are. Every text gives the event
contract's instant, or null when the contract refuses it (an impossible day included), and
none raises: a raise there would fail the whole build instead of rejecting one event."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC
from typing import Any

import pytest

from tests.engines import services
from tests.engines.macro_text import render_macro
from usage_billing.events.contract import TIMESTAMP_PATTERN, parse_timestamp

pytestmark = pytest.mark.engines

# Redshift's CONVERT_TIMEZONE(target_zone, timestamptz): the instant as wall-clock time there.
CONVERT_TIMEZONE = """
create schema redshift_functions;
create function redshift_functions.convert_timezone(target_zone text, moment timestamptz)
returns timestamp language sql immutable as $$ select moment at time zone target_zone $$;
set search_path = redshift_functions, public;
set time zone 'UTC';
"""
REAL_INSTANTS = {
    "2024-02-29T10:00:00Z": "2024-02-29T10:00:00",
    "2000-02-29": "2000-02-29T00:00:00",  # divisible by 400: a leap year
    "2023-04-30 23:59:59": "2023-04-30T23:59:59",
    "2024-12-31T23:30:00-01:00": "2025-01-01T00:30:00",
    "2024-06-01 12:00:00.123456+05:30": "2024-06-01T06:30:00.123456",
    "2024-03-01T00:30+0100": "2024-02-29T23:30:00",
    "1999-01-31T08:00:00+15:59": "1999-01-30T16:01:00",
    "2024-07-01T20:00:00-15:59": "2024-07-02T11:59:00",
}
IMPOSSIBLE_DAYS = [
    "2024-02-30",
    "2023-02-29T12:00:00Z",  # not divisible by 4
    "2100-02-29",  # divisible by 100, not by 400
    "1900-02-29T00:00:00+01:00",
    "2024-04-31",
    "2024-06-31T10:00:00Z",
    "2024-09-31",
    "2024-11-31 08:00",
    "0000-01-01",  # no year 0
]
REFUSED_FORMS = ["2024-13-01", "2024-01-01T24:00:00", "2024-1-01", "yesterday", "", " "]
# Offsets of 16 hours or more, which PostgreSQL's cast raises on: the contract refuses them.
FAR_OFFSETS = ["2024-01-01T00:00:00+16", "2024-01-01T00:00:00.5-17:30", "2024-01-01T00:00+1800"]


@pytest.fixture(scope="module")
def cursor() -> Iterator[Any]:
    import psycopg2

    with services.postgres() as server:
        connection = psycopg2.connect(
            host="127.0.0.1", port=server.port, user=server.user, dbname=server.database
        )
        connection.autocommit = True
        cursor = connection.cursor()
        cursor.execute(CONVERT_TIMEZONE)
        yield cursor
        connection.close()


def redshift_parse(cursor: Any, text: str | None) -> Any:
    """What the Redshift parser makes of `text` (no query parameters: its SQL holds `%`)."""
    parser = render_macro(
        "cross_db/parse_timestamp_utc.sql",
        "redshift__parse_timestamp_utc",
        "event_timestamp",
        package={"event_contract": lambda: {"timestamp_pattern": TIMESTAMP_PATTERN}},
    )
    value = "null" if text is None else "'" + text.replace("'", "''") + "'"
    cursor.execute(f"select {parser} from (select cast({value} as text) as event_timestamp) as e")
    return cursor.fetchone()[0]


@pytest.mark.parametrize(("text", "instant"), REAL_INSTANTS.items())
def test_a_real_instant_is_parsed_to_utc(cursor: Any, text: str, instant: str) -> None:
    parsed = redshift_parse(cursor, text)
    assert parsed is not None and parsed.isoformat() == instant
    assert parse_timestamp(text) == parsed.replace(tzinfo=UTC)  # the contract agrees


@pytest.mark.parametrize("text", IMPOSSIBLE_DAYS)
def test_an_impossible_day_is_null_not_an_error(cursor: Any, text: str) -> None:
    """The contract's pattern takes these; only the day check keeps them from the cast."""
    assert parse_timestamp(text) is None
    assert redshift_parse(cursor, text) is None


@pytest.mark.parametrize("text", [*REFUSED_FORMS, *FAR_OFFSETS, None])
def test_a_refused_form_is_null(cursor: Any, text: str | None) -> None:
    assert redshift_parse(cursor, text) is None
