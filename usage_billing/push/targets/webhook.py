"""Signed webhooks per Standard Webhooks: `invoice.finalized`, `invoice.amended` and (from
`push.alerts`) `usage.threshold_crossed`.

One JSON POST per document to `USAGE_BILLING_WEBHOOK_URL`, signed with the `standardwebhooks`
package (`webhook-id`, `webhook-timestamp`, `webhook-signature`). The `webhook-id` is the
document's idempotency key, the same on every retry and re-run, so a receiver that de-duplicates
by it (as the specification asks) processes each document once. Each attempt is signed anew
(fresh timestamp), as the specification's retries are. Any 2xx is delivery.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import httpx
from standardwebhooks import Webhook

from usage_billing.http import HttpClient, retrying
from usage_billing.marts.model import InvoiceVersion
from usage_billing.push.documents import Document
from usage_billing.push.targets.base import Job
from usage_billing.settings import Settings


def _version(version: InvoiceVersion) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(version.to_json())
    return data


def event_type(document: Document) -> str:
    return "invoice.finalized" if document.previous is None else "invoice.amended"


def payload(document: Document) -> dict[str, Any]:
    """The event body; money as decimal strings."""
    data: dict[str, Any] = {
        "invoice_id": document.invoice_id,
        "revision": document.revision,
        "idempotency_key": document.key,
    }
    if document.previous is None:
        data["invoice"] = _version(document.current)
    else:
        data["previous"] = _version(document.previous)
        data["current"] = _version(document.current)
        data["amount_change"] = str(document.amount)
    return {
        "type": event_type(document),
        "timestamp": document.current.period_end.replace(tzinfo=UTC).isoformat(),
        "data": data,
    }


def describe(document: Document) -> str:
    return f"POST {event_type(document)}"


class WebhookTarget:
    name = "webhook"
    needs_customer_mapping = False

    def __init__(
        self,
        settings: Settings,
        transport: httpx.BaseTransport | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        url, secret = settings.require_webhook()
        self.settings = settings
        self.sleep = sleep
        self.url = url
        self.signer = Webhook(secret.reveal())
        self.http = HttpClient("", settings.http, transport=transport, sleep=sleep)

    def close(self) -> None:
        self.http.close()

    def push(self, job: Job) -> str | None:
        document = job.document
        self.send_event(
            document.key, json.dumps(payload(document), separators=(",", ":"), sort_keys=True)
        )
        return document.key

    def send_event(self, key: str, body: str) -> None:
        """POST one event, signed anew on each attempt; `key` is its webhook-id."""
        for attempt in retrying(self.settings.http, self.sleep):
            with attempt:
                now = datetime.now(UTC)
                headers = {
                    "content-type": "application/json",
                    "webhook-id": key,
                    "webhook-timestamp": str(int(now.timestamp())),
                    "webhook-signature": self.signer.sign(key, now, body),
                }
                self.http.send_once("POST", self.url, content=body.encode(), headers=headers)
                return
        raise AssertionError("unreachable")  # pragma: no cover
