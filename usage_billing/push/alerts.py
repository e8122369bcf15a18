"""Threshold alerts: each row of `usage_billing__threshold_crossings` sent once to the webhook
as a `usage.threshold_crossed` event (docs/usage-controls.md).

Alerts share the invoices' ledger, `invoice_sync_log`: one row per crossing, kind
`threshold_crossed`, its crossing_id (threshold_id|invoice_id) in the invoice_id column and
revision 0. As with invoices the row is written `pending` with the event body before the
request and `done` after it, so a crash anywhere leaves a `pending` row that the next run sends
again, byte for byte and under the same `webhook-id`, which a receiver de-duplicates by. The
body is frozen when first planned: a crossing whose figures change later (an amount's crossed_at
moves with later usage) is not sent again, nor is one that a correction removed taken back.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any, Protocol

from usage_billing.errors import FatalError, RetriableError
from usage_billing.marts.relations import THRESHOLD_CROSSINGS, MartRelations
from usage_billing.push.ledger import Ledger, LedgerEntry
from usage_billing.warehouse.protocol import Warehouse

ALERT_KIND = "threshold_crossed"
EVENT_TYPE = "usage.threshold_crossed"
CROSSING_COLUMNS = (
    "crossing_id",
    "threshold_id",
    "description",
    "customer_id",
    "subscription_id",
    "invoice_id",
    "period_start",
    "period_end",
    "currency",
    "metric_name",
    "percentage",
    "percent_of",
    "level_kind",
    "level_value",
    "crossed_at",
    "is_crossed_at_exact",
    "crossing_event_id",
    "value_at_crossing",
)


def _json_value(value: Any) -> Any:
    """Money and quantities as plain decimal strings, instants as ISO 8601 UTC."""
    if isinstance(value, Decimal):
        text = format(value.normalize(), "f")
        return "0" if text == "-0" else text
    if isinstance(value, datetime):
        return value.replace(tzinfo=UTC).isoformat()
    return value


def read_crossings(warehouse: Warehouse, relations: MartRelations) -> list[dict[str, Any]]:
    """The crossings of the latest build, as JSON-ready dicts; none where the mart is absent
    (a project built before thresholds existed)."""
    relation = relations[THRESHOLD_CROSSINGS]
    if not warehouse.table_columns(relation.schema, relation.table):
        return []
    rows = warehouse.fetch_all(
        f"select {', '.join(CROSSING_COLUMNS)} from {warehouse.quote(*relation.parts)}"  # noqa: S608
        " order by crossing_id"
    )
    return [
        {name: _json_value(value) for name, value in zip(CROSSING_COLUMNS, row, strict=True)}
        for row in rows
    ]


def alert_key(target: str, crossing_id: str) -> str:
    """The alert's idempotency key (its webhook-id): the same on every retry and re-run."""
    material = "\x1f".join([target, ALERT_KIND, crossing_id])
    return "ub_" + hashlib.sha256(material.encode()).hexdigest()[:48]


def event_body(key: str, crossing: dict[str, Any]) -> str:
    """The event as sent: Standard Webhooks' type, timestamp (the crossing) and data."""
    event = {
        "type": EVENT_TYPE,
        "timestamp": crossing["crossed_at"],
        "data": {**crossing, "idempotency_key": key},
    }
    return json.dumps(event, separators=(",", ":"), sort_keys=True)


@dataclass(frozen=True)
class AlertStep:
    """One alert to send: new, or the ledger row of an earlier attempt to resume."""

    crossing_id: str
    key: str
    body: str
    existing: LedgerEntry | None = None

    @property
    def action(self) -> str:
        return "send" if self.existing is None else "resume"


@dataclass
class AlertReport:
    sent: list[AlertStep] = field(default_factory=list)
    failed: list[tuple[AlertStep, str]] = field(default_factory=list)


class AlertSender(Protocol):
    def send_event(self, key: str, body: str) -> None:
        """POST the signed event once (retrying transient failures)."""
        ...


def plan_alerts(
    target: str, crossings: Iterable[dict[str, Any]], entries: Iterable[LedgerEntry]
) -> tuple[list[AlertStep], int]:
    """The alerts to send and how many were sent already. Interrupted and failed rows are
    resumed with the body they were first written with, even when the crossing is gone."""
    by_crossing = {entry.invoice_id: entry for entry in entries if entry.kind == ALERT_KIND}
    steps: list[AlertStep] = []
    already_sent = 0
    for interrupted in by_crossing.values():
        if interrupted.state == "pending":
            steps.append(
                AlertStep(
                    interrupted.invoice_id,
                    interrupted.idempotency_key,
                    interrupted.payload,
                    interrupted,
                )
            )
    for crossing in crossings:
        crossing_id = crossing["crossing_id"]
        entry = by_crossing.get(crossing_id)
        if entry is None:
            key = alert_key(target, crossing_id)
            steps.append(AlertStep(crossing_id, key, event_body(key, crossing)))
        elif entry.state == "done":
            already_sent += 1
        elif entry.state == "failed":
            steps.append(AlertStep(crossing_id, entry.idempotency_key, entry.payload, entry))
    return steps, already_sent


def _now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


def _pending(target: str, step: AlertStep) -> LedgerEntry:
    now = _now()
    return LedgerEntry(
        target=target,
        invoice_id=step.crossing_id,
        revision=0,
        kind=ALERT_KIND,
        content_hash=hashlib.sha256(step.body.encode()).hexdigest(),
        previous_content_hash=None,
        idempotency_key=step.key,
        external_id=None,
        state="pending",
        attempts=1,
        error=None,
        payload=step.body,
        previous_payload=None,
        created_at=now,
        updated_at=now,
        done_at=None,
    )


def push_alerts(
    ledger: Ledger, target: str, sender: AlertSender, steps: list[AlertStep]
) -> AlertReport:
    """Send each alert: ledger row `pending` first, then the request, then `done`."""
    report = AlertReport()
    for step in steps:
        if step.existing is None:
            entry = _pending(target, step)
            ledger.insert(entry)
        else:
            entry = step.existing
            ledger.start_attempt(entry)
        try:
            sender.send_event(step.key, step.body)
        except FatalError as error:
            ledger.mark_error(entry, "failed", str(error))
            report.failed.append((step, str(error)))
        except RetriableError as error:
            message = f"{error} (retries exhausted; the next run resumes it)"
            ledger.mark_error(entry, "pending", message)
            report.failed.append((step, message))
        else:
            ledger.mark_done(entry, step.key)
            report.sent.append(step)
    return report
