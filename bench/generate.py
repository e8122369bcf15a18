"""Deterministic benchmark data written inside DuckDB with set-based SQL: raw usage events
(10,000 customers reached through several aliases each, four event types, JSON properties,
re-sent duplicates, corrections and late events over three months) and the pricing tables of
a realistic plan mix. The same arguments always give the same rows (DuckDB's `hash`).

Event number k decides an event's content; row i of the raw table carries event k = i, or,
for a duplicate or a correction, an earlier k re-sent (loaded when row i lands). A correction
carries another amount for the same event_id; the last loaded wins.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import duckdb

from usage_billing.events.contract import RAW_EVENTS_COLUMNS
from usage_billing.pricing_tables import PRICING_TABLES

CUSTOMERS = 10_000
PERIOD_START = datetime(2024, 1, 1)
PERIOD_SECONDS = 91 * 86_400  # 2024-01-01 to 2024-04-01: three months
AS_OF = "2024-04-05 00:00:00"

# The metrics the benchmark prices (dbt var usage_billing_metrics), one per plan component.
METRICS: list[dict[str, object]] = [
    {"name": "api_requests", "event_type": "api_request", "aggregation": "count"},
    {
        "name": "payment_volume",
        "event_type": "transaction",
        "aggregation": "sum",
        "property": "amount",
        "filter": {"currency": "EUR"},
        "unit": "EUR",
    },
    {
        "name": "card_payment_volume",
        "event_type": "transaction",
        "aggregation": "sum",
        "property": "amount",
        "filter": {"currency": "EUR", "method": ["card", "apple_pay"]},
        "unit": "EUR",
    },
    {"name": "refunds", "event_type": "refund", "aggregation": "count"},
]


@dataclass(frozen=True)
class Batch:
    """`count` raw rows numbered from `first`, timed over `span_seconds` from `starts_at`.

    Shares are of rows: duplicates re-send an earlier event unchanged, corrections re-send it
    with another amount, late events happen `late_days` (a range) before they are loaded."""

    first: int
    count: int
    starts_at: datetime
    span_seconds: int
    loaded_delay_seconds: int = 60
    duplicate_share: float = 0.02
    correction_share: float = 0.005
    late_share: float = 0.01
    late_days: tuple[int, int] = (1, 20)
    seed: int = 8


def _share(share: float) -> int:
    """A share as parts per million, the resolution of the generator's draws."""
    return round(share * 1_000_000)


def insert_events(connection: duckdb.DuckDBPyConnection, batch: Batch) -> None:
    """Append one batch to raw.usage_events, entirely in SQL."""
    b = batch
    duplicates, corrections = _share(b.duplicate_share), _share(b.correction_share)
    late_min, late_max = b.late_days[0] * 86_400, b.late_days[1] * 86_400
    connection.execute(
        f"""
        insert into raw.usage_events
        with rows as (
            select
                i,
                hash(i, {b.seed}, 0) % 1000000 as kind_draw,
                -- When row i lands, to the microsecond: no two rows land at the same instant.
                timestamp '{b.starts_at:%Y-%m-%d %H:%M:%S}' + to_microseconds(
                    cast((i - {b.first}) * {b.span_seconds * 1_000_000 / b.count} as bigint)
                ) as position_at
            from range({b.first}, {b.first + b.count}) as t(i)
        ),
        numbered as (
            select
                *,
                case when kind_draw < {duplicates + corrections} and i > {b.first}
                    then greatest(i - 1 - hash(i, {b.seed}, 1) % 5000, {b.first})
                    else i end as k,
                kind_draw >= {duplicates} and kind_draw < {duplicates + corrections}
                    and i > {b.first} as is_correction
            from rows
        ),
        drawn as (
            select
                *,
                -- Skewed toward low customer numbers: a few big customers, a long tail.
                cast(floor({CUSTOMERS} * pow((hash(k, {b.seed}, 2) % 1000000) / 1e6, 2))
                    as bigint) as customer,
                hash(k, {b.seed}, 3) % 3 as alias_draw,
                hash(k, {b.seed}, 4) % 100 as type_draw,
                hash(k, {b.seed}, 5) % 1000000 < {_share(b.late_share)} as is_late,
                cast(hash(k, {b.seed}, 6) % 12 as bigint) as method_draw,
                hash(k, {b.seed}, 7) % 10 as currency_draw,
                ['eu', 'us', 'apac'][1 + cast(hash(k, {b.seed}, 8) % 3 as bigint)] as region,
                1 + hash(k, {b.seed}, case when is_correction then 10 else 9 end) % 50000
                    as amount_cents,
                -- The event's own time: where event k lands, or days earlier when late.
                timestamp '{b.starts_at:%Y-%m-%d %H:%M:%S}'
                    + to_seconds((k - {b.first}) * {b.span_seconds} // {b.count}) as placed_at
            from numbered
        ),
        shaped as (
            select
                *,
                case when type_draw < 55 then 'api_request'
                    when type_draw < 85 then 'transaction'
                    when type_draw < 90 then 'refund'
                    else 'page_view' end as event_type,
                case when currency_draw < 7 then 'EUR'
                    when currency_draw < 9 then 'USD' else 'GBP' end as currency,
                case when is_late
                    then greatest(
                        placed_at - to_seconds(
                            {late_min} + hash(k, {b.seed}, 11) % {late_max - late_min + 1}),
                        timestamp '{PERIOD_START:%Y-%m-%d}')
                    else placed_at end as event_at,
                (amount_cents // 100) || '.' || lpad(cast(amount_cents % 100 as varchar), 2, '0')
                    as amount
            from drawn
        )
        select
            'evt_' || k as event_id,
            -- Every customer has one to three aliases; one event in a thousand names none.
            case
                when hash(k, {b.seed}, 12) % 1000 = 0 then 'stray_' || customer
                when alias_draw = 1 and customer % 2 = 0 then 'c' || customer || '-eu'
                when alias_draw = 2 and customer % 3 = 0 then 'acct-' || customer
                else 'c' || customer
            end as customer_alias,
            event_type,
            strftime(event_at, '%Y-%m-%dT%H:%M:%SZ') as event_timestamp,
            case event_type
                when 'api_request' then
                    '{{"method": "' || ['GET', 'POST', 'DELETE'][1 + method_draw % 3]
                    || '", "region": "' || region || '"}}'
                when 'transaction' then
                    '{{"method": "'
                    || ['card', 'apple_pay', 'sepa', 'bank_transfer'][1 + method_draw % 4]
                    || '", "amount": ' || amount || ', "currency": "' || currency
                    || '", "region": "' || region || '"}}'
                when 'refund' then
                    '{{"amount": ' || amount || ', "currency": "' || currency
                    || '", "region": "' || region || '"}}'
                else '{{"region": "' || region || '"}}'
            end as event_properties,
            position_at + to_seconds({b.loaded_delay_seconds}) as loaded_at
        from shaped

        """
    )


def create_tables(connection: duckdb.DuckDBPyConnection) -> None:
    connection.execute(
        f"""
        create schema raw;
        create table raw.usage_events ({RAW_EVENTS_COLUMNS});
        create schema pricing;
        """
    )
    for table, ddl in PRICING_TABLES.items():
        connection.execute(f"create table pricing.{table} ({ddl})")


def insert_pricing(connection: duckdb.DuckDBPyConnection) -> None:
    """Customers with aliases and time zones, and four plans: API starter (flat fee and
    graduated requests), API scale (volume-tiered requests and refunds), payments (graduated
    percentage of euro volume, a card surcharge, a per-refund fee, a monthly minimum) and a
    platform plan (flat fee plus per-unit requests)."""
    connection.execute(
        f"""
        insert into pricing.customers (customer_id, name, billing_email, timezone)
            select 'cus_' || i, 'Customer ' || i, 'billing' || i || '@example.com',
                case when i % 7 = 0 then 'Europe/Berlin'
                    when i % 11 = 0 then 'America/New_York' else 'UTC' end
            from range({CUSTOMERS}) as t(i);
        insert into pricing.customer_aliases
            select 'c' || i, 'cus_' || i from range({CUSTOMERS}) as t(i)
            union all
            select 'c' || i || '-eu', 'cus_' || i from range(0, {CUSTOMERS}, 2) as t(i)
            union all
            select 'acct-' || i, 'cus_' || i from range(0, {CUSTOMERS}, 3) as t(i);
        insert into pricing.plans values
            ('api_starter', 'API Starter'), ('api_scale', 'API Scale'),
            ('payments', 'Payments'), ('platform', 'Platform');
        insert into pricing.subscriptions (subscription_id, customer_id, plan_id, currency,
                start_date, end_date, billing_interval, billing_anchor_day, minimum_amount)
            select 'sub_' || i, 'cus_' || i,
                case when i % 10 < 5 then 'api_starter' when i % 10 < 7 then 'api_scale'
                    when i % 10 < 9 then 'payments' else 'platform' end,
                case when i % 10 in (7, 8) then 'EUR' when i % 10 = 9 then 'GBP' else 'USD' end,
                date '2024-01-01', null, 'month', 1,
                case when i % 10 in (7, 8) then 25 end
            from range({CUSTOMERS}) as t(i);
        insert into pricing.prices (price_id, plan_id, metric, pricing_model, description,
                unit_price, flat_amount, billing_timing, prorate, tier_1_flat_at_zero,
                effective_from)
            values
            ('starter_fee', 'api_starter', null, 'flat', 'Starter fee', null, 49, 'in_advance',
                false, true, '2023-01-01'),
            ('starter_requests', 'api_starter', 'api_requests', 'graduated', 'Requests', null,
                null, 'in_arrears', false, true, '2023-01-01'),
            ('scale_requests', 'api_scale', 'api_requests', 'volume', 'Requests', null, null,
                'in_arrears', false, true, '2023-01-01'),
            ('scale_refunds', 'api_scale', 'refunds', 'volume', 'Refunds', null, null,
                'in_arrears', false, true, '2023-01-01'),
            ('payments_volume', 'payments', 'payment_volume', 'graduated', 'Payments', null,
                null, 'in_arrears', false, true, '2023-01-01'),
            ('payments_card', 'payments', 'card_payment_volume', 'per_unit', 'Card surcharge',
                0.002, null, 'in_arrears', false, true, '2023-01-01'),
            ('payments_refunds', 'payments', 'refunds', 'per_unit', 'Refunds', 0.25, null,
                'in_arrears', false, true, '2023-01-01'),
            ('platform_fee', 'platform', null, 'flat', 'Platform fee', null, 1500, 'in_arrears',
                true, true, '2023-01-01'),
            ('platform_requests', 'platform', 'api_requests', 'per_unit', 'Requests', 0.0003,
                null, 'in_arrears', false, true, '2023-01-01');
        insert into pricing.price_tiers values
            ('starter_requests', 1, 10000, 0, null),
            ('starter_requests', 2, 1000000, 0.0004, null),
            ('starter_requests', 3, null, 0.0002, null),
            ('scale_requests', 1, 100000, 0.0003, 20),
            ('scale_requests', 2, null, 0.00015, 20),
            ('scale_refunds', 1, 100, 0.30, null),
            ('scale_refunds', 2, null, 0.20, null),
            ('payments_volume', 1, 100000, 0.009, null),
            ('payments_volume', 2, null, 0.006, null);
        """
    )
