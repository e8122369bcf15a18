"""A customer's entitlements: each limit's usage in the live period from the build
(usage_billing__entitlements) plus the events the server accepted since its clock, where a
single event's share is exact (journal_rule.py); otherwise the build's figure alone, flagged."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from usage_billing.entitlements.journal_rule import JournalRule, NotExactError, parse_properties
from usage_billing.events.recent_events import RecentEvents
from usage_billing.marts.reader import MartsReader


@dataclass(frozen=True)
class BuiltLimit:
    """One row of usage_billing__entitlements."""

    customer_id: str
    limit_id: str
    metric_name: str
    metric_display_name: str
    unit: str | None
    description: str | None
    invoice_id: str
    period_start: datetime
    period_end: datetime
    as_of_at: datetime
    is_measured: bool
    used_quantity: Decimal | None
    limit_quantity: Decimal
    journal_rule: JournalRule | None


@dataclass(frozen=True)
class BuiltEntitlements:
    """What one build says: every customer's limits, and who each alias names."""

    as_of: datetime | None
    customer_of_alias: dict[str, str]
    aliases_of: dict[str, list[str]]
    limits_of: dict[str, list[BuiltLimit]]

    @classmethod
    def read(cls, marts: MartsReader) -> BuiltEntitlements:
        customer_of_alias = dict(marts.customer_aliases())
        aliases_of: dict[str, list[str]] = defaultdict(list)
        for alias, customer_id in customer_of_alias.items():
            aliases_of[customer_id].append(alias)
        limits_of: dict[str, list[BuiltLimit]] = defaultdict(list)
        for row in marts.entitlements():
            (customer_id, limit_id, metric, display_name, unit, description, invoice_id) = row[:7]
            start, end, as_of_at, measured, used, limit, rule = row[7:]
            limits_of[str(customer_id)].append(
                BuiltLimit(
                    str(customer_id),
                    str(limit_id),
                    str(metric),
                    str(display_name),
                    unit or None,
                    description or None,
                    str(invoice_id),
                    start,
                    end,
                    as_of_at,
                    bool(measured),
                    used,
                    limit,
                    JournalRule.parse(rule) if rule else None,
                )
            )
        return cls(marts.as_of(), customer_of_alias, dict(aliases_of), dict(limits_of))


def plain_decimal(value: Decimal) -> Decimal:
    """Without trailing zeros, never in exponent form: 60.0000000000 → 60."""
    normalized = value.normalize()
    exponent = normalized.as_tuple().exponent
    return (
        normalized.quantize(Decimal(1))
        if isinstance(exponent, int) and exponent > 0
        else normalized
    )


def utc_text(moment: datetime | None) -> str | None:
    return None if moment is None else f"{moment.isoformat()}Z"


def _added_since_build(
    limit: BuiltLimit, aliases: list[str], recent: RecentEvents
) -> Decimal | None:
    """What the events accepted since the clock add to the limit's usage; None when that
    cannot be told exactly (the answer is then the build's)."""
    if limit.journal_rule is None or not limit.is_measured:
        return None
    added = Decimal(0)
    start = max(limit.as_of_at, limit.period_start)
    try:
        for event in recent.since(aliases, start, limit.period_end):
            added += limit.journal_rule.share(event.event_type, parse_properties(event.properties))
    except (NotExactError, ValueError):
        return None
    return added


def limit_answer(limit: BuiltLimit, aliases: list[str], recent: RecentEvents) -> dict[str, Any]:
    """One limit as the endpoint returns it."""
    added = _added_since_build(limit, aliases, recent)
    used = limit.used_quantity
    if used is not None and added is not None:
        used += added
    return {
        "limit_id": limit.limit_id,
        "metric": limit.metric_name,
        "metric_display_name": limit.metric_display_name,
        "unit": limit.unit,
        "description": limit.description,
        "invoice_id": limit.invoice_id,
        "period_start": utc_text(limit.period_start),
        "period_end": utc_text(limit.period_end),
        "measured": limit.is_measured,
        "used": None if used is None else plain_decimal(used),
        "limit": plain_decimal(limit.limit_quantity),
        "remaining": None
        if used is None
        else plain_decimal(max(limit.limit_quantity - used, Decimal(0))),
        "within_limit": None if used is None else used <= limit.limit_quantity,
        "includes_events_since_build": added is not None,
        "added_since_build": None if added is None else plain_decimal(added),
    }


def customer_answer(
    built: BuiltEntitlements, alias: str, recent: RecentEvents
) -> dict[str, Any] | None:
    """The response for `alias`, None when no customer has it."""
    customer_id = built.customer_of_alias.get(alias)
    if customer_id is None:
        return None
    aliases = built.aliases_of.get(customer_id, [alias])
    return {
        "customer_alias": alias,
        "customer_id": customer_id,
        "as_of": utc_text(built.as_of),
        "limits": [
            limit_answer(limit, aliases, recent) for limit in built.limits_of.get(customer_id, [])
        ],
    }
