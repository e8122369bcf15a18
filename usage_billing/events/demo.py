"""Deterministic demo events for acme_corp, October 2022, that reproduce the seed's invoices.

827 API requests and €1,487,631 of euro transactions spread over the month, plus what real
feeds carry: re-sent events, US-dollar transactions the euro metric filters out, usage just
outside the month, and malformed rows that must land in usage_events_rejected.
"""

from __future__ import annotations

import json
import random
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import duckdb

from usage_billing.events.table import EventsTable, ensure_events_table
from usage_billing.warehouse.duckdb import DuckDBWarehouse
from usage_billing.warehouse.sql import quote_identifier

CUSTOMER_ALIAS = "acme_corp"
MONTH_START = datetime(2022, 10, 1, tzinfo=UTC)
MONTH_SECONDS = 31 * 24 * 3600
API_REQUEST_COUNT = 827
EUR_TRANSACTION_COUNT = 412
EUR_TRANSACTION_TOTAL = 1_487_631
USD_TRANSACTION_COUNT = 25
LOADED_AT = datetime(2022, 11, 1, 2, 0)
RESENT_LOADED_AT = datetime(2022, 11, 1, 3, 0)


@dataclass(frozen=True)
class RawEvent:
    """One row of the raw events table, as an API client or pipeline would land it."""

    event_id: str | None
    customer_alias: str | None
    event_type: str | None
    event_timestamp: str | None
    event_properties: str | None
    loaded_at: datetime


def _timestamp(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def _spread(rng: random.Random) -> str:
    return _timestamp(MONTH_START + timedelta(seconds=rng.randrange(MONTH_SECONDS)))


def _split_total(rng: random.Random, total: int, parts: int) -> list[int]:
    """`parts` positive whole amounts summing exactly to `total`."""
    cuts = sorted(rng.sample(range(1, total), parts - 1))
    return [high - low for low, high in zip([0, *cuts], [*cuts, total], strict=True)]


def demo_events(seed: int = 20221001) -> list[RawEvent]:
    """The demo's raw rows, identical on every call with the same seed."""
    rng = random.Random(seed)  # noqa: S311 - reproducible demo data, not a secret
    events: list[RawEvent] = []
    for number in range(API_REQUEST_COUNT):
        properties: dict[str, str | int] = {
            "endpoint": rng.choice(["/v1/verify", "/v1/lookup", "/v1/score"])
        }
        events.append(
            RawEvent(
                f"evt_api_{number:05d}",
                CUSTOMER_ALIAS,
                "api_request",
                _spread(rng),
                json.dumps(properties),
                LOADED_AT,
            )
        )
    amounts = _split_total(rng, EUR_TRANSACTION_TOTAL, EUR_TRANSACTION_COUNT)
    for number, amount in enumerate(amounts):
        properties = {
            "method": rng.choice(["card", "card", "apple_pay", "bank_transfer"]),
            "amount": amount,
            "currency": "EUR",
        }
        events.append(
            RawEvent(
                f"evt_txn_{number:05d}",
                CUSTOMER_ALIAS,
                "transaction",
                _spread(rng),
                json.dumps(properties),
                LOADED_AT,
            )
        )
    for number in range(USD_TRANSACTION_COUNT):
        properties = {"method": "card", "amount": rng.randrange(10, 900), "currency": "USD"}
        events.append(
            RawEvent(
                f"evt_usd_{number:05d}",
                CUSTOMER_ALIAS,
                "transaction",
                _spread(rng),
                json.dumps(properties),
                LOADED_AT,
            )
        )
    # Usage a second either side of October: accepted, but billed in no October invoice.
    events.append(
        RawEvent(
            "evt_api_september",
            CUSTOMER_ALIAS,
            "api_request",
            "2022-09-30T23:59:59Z",
            "{}",
            LOADED_AT,
        )
    )
    events.append(
        RawEvent(
            "evt_api_november",
            CUSTOMER_ALIAS,
            "api_request",
            "2022-11-01T00:00:00Z",
            "{}",
            LOADED_AT,
        )
    )
    # A client retrying after a timeout re-sends the same events: not billed twice.
    resent = [event for event in events if event.event_id in {"evt_api_00003", "evt_api_00500"}]
    resent += [event for event in events if event.event_id in {"evt_txn_00007", "evt_txn_00100"}]
    events += [
        RawEvent(
            event.event_id,
            event.customer_alias,
            event.event_type,
            event.event_timestamp,
            event.event_properties,
            RESENT_LOADED_AT,
        )
        for event in resent
    ]
    malformed = [
        RawEvent(
            "evt_bad_alias", "initech", "api_request", "2022-10-05T10:00:00Z", "{}", LOADED_AT
        ),
        RawEvent("evt_bad_time", CUSTOMER_ALIAS, "api_request", "yesterday", "{}", LOADED_AT),
        RawEvent("evt_no_time", CUSTOMER_ALIAS, "api_request", None, "{}", LOADED_AT),
        RawEvent(
            "evt_bad_json",
            CUSTOMER_ALIAS,
            "transaction",
            "2022-10-09T08:30:00Z",
            '{"amount": 750, "currency": "EUR"',
            LOADED_AT,
        ),
        RawEvent(None, CUSTOMER_ALIAS, "api_request", "2022-10-12T12:00:00Z", "{}", LOADED_AT),
    ]
    return events + malformed


def write_raw_events(
    connection: duckdb.DuckDBPyConnection,
    events: list[RawEvent],
    table: EventsTable | None = None,
    replace: bool = True,
) -> int:
    """Write `events` into the raw events table (`raw.usage_events` unless `table` names
    another, with its column names), replacing its rows when asked; returns rows written."""
    table = table or EventsTable("raw", "usage_events")
    warehouse = DuckDBWarehouse(connection)
    qualified = warehouse.quote(table.schema, table.table)
    if replace:
        connection.execute(f"drop table if exists {qualified}")
    ensure_events_table(warehouse, table)
    if not events:
        return 0
    names = [
        table.event_id,
        table.customer_alias,
        table.event_type,
        table.event_timestamp,
        table.event_properties,
    ] + ([table.loaded_at] if table.loaded_at else [])
    columns = ", ".join(quote_identifier(name) for name in names)
    connection.executemany(
        f"insert into {qualified} ({columns}) values ({', '.join('?' for _ in names)})",  # noqa: S608 - identifiers quoted
        [
            (
                event.event_id,
                event.customer_alias,
                event.event_type,
                event.event_timestamp,
                event.event_properties,
            )
            + ((event.loaded_at,) if table.loaded_at else ())
            for event in events
        ],
    )
    return len(events)
