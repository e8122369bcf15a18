"""Stripe: a draft invoice, one invoice item per line, then finalize.

Every POST carries an `Idempotency-Key` derived from the document's key (`<key>`,
`<key>-item-<n>`, `<key>-finalize`), so a retry or a re-run replays instead of creating twice.
Stripe keeps keys 24 hours, so a resumed document also looks itself up: the draft by the
`usage_billing_key` metadata among the customer's invoices, its items by `usage_billing_line`.

Items carry `amount` in integer minor units (the line's exact, already rounded amount; both
the 2023-08-16 and the current API take it), with quantity and rate in the description.
An amendment is a second invoice holding the differences (negative items for decreases);
Stripe credits a negative total to the customer's balance. Credit notes are not used: their
endpoint is not in the published spec subset the contract tests check against.
"""

from __future__ import annotations

import time
from calendar import timegm
from collections.abc import Callable, Mapping
from typing import Any

import httpx

from usage_billing.errors import ServerError
from usage_billing.http import HttpClient
from usage_billing.line_text import line_text
from usage_billing.marts.model import InvoiceVersion
from usage_billing.money import stripe_minor_units
from usage_billing.push.documents import Document, plain
from usage_billing.push.targets.base import Job
from usage_billing.settings import Settings

DAYS_UNTIL_DUE = 30  # for a version recorded before invoices had terms
CUSTOM_FIELD_LENGTH = 30  # Stripe's limit on a custom field's value
MAX_PAGES = 100  # 10,000 objects: a guard against a cursor that never ends


def form_encode(params: Mapping[str, Any], prefix: str = "") -> list[tuple[str, str]]:
    """Stripe's form encoding: nested keys in brackets (`period[start]`), lists indexed."""
    pairs: list[tuple[str, str]] = []
    for key, value in params.items():
        name = f"{prefix}[{key}]" if prefix else str(key)
        if value is None:
            continue
        if isinstance(value, Mapping):
            pairs += form_encode(value, name)
        elif isinstance(value, list | tuple):
            for index, item in enumerate(value):
                pairs += form_encode({str(index): item}, name)
        elif isinstance(value, bool):
            pairs.append((name, "true" if value else "false"))
        else:
            pairs.append((name, str(value)))
    return pairs


def _unix(version: InvoiceVersion, end: bool = False) -> int:
    moment = version.period_end if end else version.period_start
    return timegm(moment.timetuple()) - (1 if end else 0)


def terms_params(version: InvoiceVersion) -> dict[str, Any]:
    """Our invoice number and terms as Stripe takes them on every API version we validate:
    the number as a custom field (the `number` parameter is not in the 2023-08-16 API, and
    Stripe numbers must be unique per account, which an amendment's copy would break), the
    payment terms as days until due, counted by Stripe from finalization."""
    terms = version.terms
    if terms is None:
        return {"days_until_due": DAYS_UNTIL_DUE}
    params: dict[str, Any] = {"days_until_due": terms.payment_terms_days}
    if terms.invoice_number and len(terms.invoice_number) <= CUSTOM_FIELD_LENGTH:
        params["custom_fields"] = [{"name": "Invoice number", "value": terms.invoice_number}]
    return params


def invoice_params(document: Document, customer: str) -> dict[str, Any]:
    version = document.current
    metadata = {
        "usage_billing_invoice_id": version.invoice_id,
        "usage_billing_content_hash": version.content_hash,
        "usage_billing_revision": str(document.revision),
        "usage_billing_key": document.key,
    }
    if version.terms is not None and version.terms.invoice_number:
        metadata["usage_billing_invoice_number"] = version.terms.invoice_number
    description = version.title()
    if document.previous is not None:
        description = f"Amendment {document.revision} of {version.invoice_id}: {description}"
        if document.original_external_id:
            metadata["usage_billing_amends"] = document.original_external_id
    return {
        "customer": customer,
        "currency": version.currency.lower(),
        "collection_method": "send_invoice",
        **terms_params(version),
        "auto_advance": False,
        "pending_invoice_items_behavior": "exclude",
        "description": description,
        "metadata": metadata,
    }


def item_params(document: Document, customer: str, invoice: str | None) -> list[dict[str, Any]]:
    """One invoice item per line (or per changed line of an amendment), amounts checked."""
    version = document.current
    currency = version.currency
    period = {"start": _unix(version), "end": _unix(version, end=True)}
    items: list[tuple[str, Any, dict[str, str]]] = []
    if document.previous is None:
        for line in version.lines:
            items.append(
                (
                    line_text(line, currency),
                    line.amount,
                    {"quantity": plain(line.quantity), "unit_price": plain(line.unit_price)},
                )
            )
    else:
        for change in document.changes:
            items.append((f"{change.description}: {change.detail()}", change.amount, {}))
    params = []
    for number, (description, amount, extra) in enumerate(items, start=1):
        params.append(
            {
                "customer": customer,
                "invoice": invoice,
                "currency": currency.lower(),
                "amount": stripe_minor_units(amount, currency),
                "description": description,
                "period": period,
                "metadata": {
                    "usage_billing_invoice_id": version.invoice_id,
                    "usage_billing_key": document.key,
                    "usage_billing_line": str(number),
                    **extra,
                },
            }
        )
    return params


def describe(document: Document) -> str:
    count = len(item_params(document, "cus", "in"))
    return f"POST /v1/invoices, {count} × POST /v1/invoiceitems, POST finalize"


def _object_id(answer: Any, path: str) -> str:
    if not isinstance(answer, dict) or not answer.get("id"):
        raise ServerError(f"POST {path} answered without an object id")
    return str(answer["id"])


class StripeTarget:
    name = "stripe"
    needs_customer_mapping = True

    def __init__(
        self,
        settings: Settings,
        transport: httpx.BaseTransport | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        api_key = settings.require_stripe()
        self.http = HttpClient(
            settings.stripe_api_base,
            settings.http,
            headers={
                "Authorization": f"Bearer {api_key.reveal()}",
                "Stripe-Version": settings.stripe_version,
            },
            transport=transport,
            sleep=sleep,
        )

    def close(self) -> None:
        self.http.close()

    def _post(self, path: str, params: Mapping[str, Any], key: str) -> Any:
        return self.http.json(
            "POST",
            path,
            retry=True,
            data=dict(form_encode(params)),
            headers={"Idempotency-Key": key},
        )

    def _list(self, path: str, params: dict[str, Any]) -> list[dict[str, Any]]:
        objects: list[dict[str, Any]] = []
        query = {**params, "limit": 100}
        for _ in range(MAX_PAGES):
            page = self.http.json("GET", path, retry=True, params=query)
            data = page.get("data") if isinstance(page, dict) else None
            if not isinstance(data, list):
                return objects
            objects += [item for item in data if isinstance(item, dict)]
            cursor = data[-1].get("id") if data else None
            if not page.get("has_more") or not cursor or cursor == query.get("starting_after"):
                return objects
            query["starting_after"] = cursor
        return objects

    def _find_invoice(self, job: Job) -> str | None:
        for invoice in self._list("/v1/invoices", {"customer": job.customer_external_id}):
            metadata = invoice.get("metadata") or {}
            if metadata.get("usage_billing_key") == job.document.key:
                return str(invoice["id"])
        return None

    def push(self, job: Job) -> str | None:
        document, customer = job.document, job.customer_external_id
        if document.previous is not None and not document.changes:
            return None  # an amendment that moves no money: nothing to send
        items = item_params(document, customer, None)  # amounts checked before any request
        invoice = job.external_id
        if invoice is None and job.resumed:
            invoice = self._find_invoice(job)
        if invoice is None:
            created = self._post("/v1/invoices", invoice_params(document, customer), document.key)
            invoice = _object_id(created, "/v1/invoices")
        job.remember(invoice)
        present: set[str] = set()
        if job.resumed:
            current = self.http.json("GET", f"/v1/invoices/{invoice}", retry=True)
            if isinstance(current, dict) and current.get("status") not in (None, "draft"):
                return invoice
            for item in self._list("/v1/invoiceitems", {"invoice": invoice}):
                line = (item.get("metadata") or {}).get("usage_billing_line")
                if line:
                    present.add(str(line))
        for params in items:
            number = params["metadata"]["usage_billing_line"]
            if number not in present:
                self._post(
                    "/v1/invoiceitems",
                    {**params, "invoice": invoice},
                    f"{document.key}-item-{number}",
                )
        self._post(
            f"/v1/invoices/{invoice}/finalize", {"auto_advance": True}, f"{document.key}-finalize"
        )
        return invoice
