"""Sequence: an invoice, its line items, then finalize; decreases as credit notes.

Sequence documents no idempotency key for invoices, line items or credit notes, so
de-duplication is ours: no create is ever re-sent blindly. After an attempt whose outcome is
unknown (timeout, dropped connection, 5xx) and on every resumed document, the sync looks first
(invoices and credit notes by the `usage_billing_key` metadata among the customer's, line
items by title, quantity and rate among the document's) and creates only what is missing.
Reads are retried freely.

Amounts are decimal strings in major units. A line goes as quantity × rate when that product
is its exact amount, otherwise as 1 × amount (tier entry fees, rounded percentages) with the
quantity and rate in the description. An amendment that raises the total is a further invoice
holding the differences; one that lowers it is a credit note on the original invoice.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import httpx

from sync.documents import Document, plain
from sync.errors import ServerError, UnsupportedAmountError
from sync.http import HttpClient, retrying
from sync.settings import Settings
from sync.targets.base import Job
from sync.targets.stripe import line_text

# The `Currency` enum of the 2024-07-30 spec.
CURRENCIES = frozenset(
    [
        "AED",
        "ARS",
        "AUD",
        "BRL",
        "BGN",
        "CAD",
        "CHF",
        "CLP",
        "CNY",
        "COP",
        "CZK",
        "DKK",
        "EGP",
        "EUR",
        "GBP",
        "HKD",
        "ILS",
        "INR",
        "ISK",
        "JPY",
        "KRW",
        "MXN",
        "NOK",
        "NZD",
        "PLN",
        "SAR",
        "SEK",
        "SGD",
        "THB",
        "USD",
        "UYU",
        "ZAR",
    ]
)

MAX_PAGES = 100  # 10,000 objects: a guard against a cursor that never ends
LineSpec = tuple[str, str, str, str]  # title, description, quantity, rate


def line_specs(document: Document) -> list[LineSpec]:
    """The line items of a document; for a credit note, the decreases as positive rates."""
    version = document.current
    specs: list[LineSpec] = []
    if document.previous is None:
        for line in version.lines:
            description = line_text(line, version.currency)
            exact = line.quantity * line.unit_price == line.amount and not line.flat_amount
            if exact:
                specs.append(
                    (line.description, description, plain(line.quantity), plain(line.unit_price))
                )
            else:
                specs.append((line.description, description, "1", plain(line.amount)))
        return specs
    sign = Decimal(-1) if is_credit_note(document) else Decimal(1)
    for change in document.changes:
        title = f"Adjustment: {change.description}"
        specs.append((title, change.detail(), "1", plain(change.amount * sign)))
    return specs


def is_credit_note(document: Document) -> bool:
    return document.previous is not None and document.amount < 0


def _metadata(document: Document) -> list[dict[str, str]]:
    version = document.current
    return [
        {"key": "usage_billing_key", "value": document.key},
        {"key": "usage_billing_invoice_id", "value": version.invoice_id},
        {"key": "usage_billing_content_hash", "value": version.content_hash},
        {"key": "usage_billing_revision", "value": str(document.revision)},
    ]


def invoice_body(document: Document, customer: str) -> dict[str, Any]:
    version = document.current
    memo = version.title()
    if document.previous is not None:
        memo = f"Amendment {document.revision} of {version.invoice_id}: {memo}"
    return {
        "customerId": customer,
        "currency": version.currency,
        "billingPeriod": {
            "start": version.period_start.date().isoformat(),
            "endInclusive": version.last_day.isoformat(),
        },
        "reference": version.invoice_id,
        "memo": memo,
        "metadata": _metadata(document),
    }


def credit_note_body(document: Document, customer: str) -> dict[str, Any]:
    version = document.current
    body: dict[str, Any] = {
        "customerId": customer,
        "currency": version.currency,
        "billingPeriodStart": version.period_start.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "billingPeriodEnd": version.period_end.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "memo": f"Amendment {document.revision} of {version.invoice_id}: {version.title()}",
        "metadata": _metadata(document),
    }
    if document.original_external_id:
        body["invoiceId"] = document.original_external_id
    return body


def line_body(spec: LineSpec, credit_note: str | None = None) -> dict[str, Any]:
    title, description, quantity, rate = spec
    body: dict[str, Any] = {
        "title": title,
        "description": description,
        "quantity": quantity,
        "rate": rate,
        "taxRate": "0",
        "rateDisplay": "ABSOLUTE",
        "externalIds": [],
    }
    if credit_note is not None:
        body["creditNoteId"] = credit_note
    return body


def describe(document: Document) -> str:
    kind = "credit note" if is_credit_note(document) else "invoice"
    return f"{kind} with {len(line_specs(document))} line items, then finalize"


class SequenceTarget:
    name = "sequence"
    needs_customer_mapping = True

    def __init__(
        self,
        settings: Settings,
        transport: httpx.BaseTransport | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        client_id, secret = settings.require_sequence()
        self.settings = settings
        self.sleep = sleep
        self.http = HttpClient(
            settings.sequence_api_base,
            settings.http,
            headers={"Sequence-Version": settings.sequence_version},
            auth=(client_id, secret.reveal()),
            transport=transport,
            sleep=sleep,
        )

    def close(self) -> None:
        self.http.close()

    def _pages(self, path: str, params: dict[str, Any]) -> list[dict[str, Any]]:
        items: list[dict[str, Any]] = []
        query = {**params, "limit": 100}
        for _ in range(MAX_PAGES):
            page = self.http.json("GET", path, retry=True, params=query)
            found = page.get("items") if isinstance(page, dict) else None
            if not isinstance(found, list):
                return items
            items += [item for item in found if isinstance(item, dict)]
            after = (page.get("pagination") or {}).get("after")
            if not after or not found or after == query.get("after"):
                return items
            query["after"] = after
        return items

    def _find(self, collection: str, job: Job) -> str | None:
        for item in self._pages(collection, {"customerId": job.customer_external_id}):
            for pair in item.get("metadata") or []:
                if (
                    isinstance(pair, dict)
                    and pair.get("key") == "usage_billing_key"
                    and pair.get("value") == job.document.key
                ):
                    return str(item["id"])
        return None

    def _create_once(self, collection: str, body: dict[str, Any], job: Job) -> str:
        """Create the document unless a look-up finds it; never two of it."""
        look_first = job.resumed
        for attempt in retrying(self.settings.http, self.sleep):
            with attempt:
                found = self._find(collection, job) if look_first else None
                look_first = True  # an attempt failed, it may have landed: look next time
                if found is not None:
                    return found
                created = self.http.json("POST", collection, retry=False, json=body)
                if not isinstance(created, dict) or not created.get("id"):
                    raise ServerError(f"POST {collection} answered without an id")
                return str(created["id"])
        raise AssertionError("unreachable")  # pragma: no cover

    def _ensure_lines(
        self,
        collection: str,
        document_id: str,
        specs: list[LineSpec],
        look_first: bool,
        credit_note: bool,
    ) -> None:
        path = f"{collection}/{document_id}/line-items"
        for attempt in retrying(self.settings.http, self.sleep):
            with attempt:
                present: Counter[tuple[str, str, str]] = Counter()
                if look_first:
                    for item in self._pages(path, {}):
                        present[
                            (
                                str(item.get("title")),
                                _number(item.get("quantity")),
                                _number(item.get("rate")),
                            )
                        ] += 1
                look_first = True
                for spec in specs:
                    identity = (spec[0], _number(spec[2]), _number(spec[3]))
                    if present[identity] > 0:
                        present[identity] -= 1
                        continue
                    self.http.json(
                        "POST",
                        path,
                        retry=False,
                        json=line_body(spec, document_id if credit_note else None),
                    )
                return

    def _finalize(self, collection: str, document_id: str, look_first: bool) -> None:
        for attempt in retrying(self.settings.http, self.sleep):
            with attempt:
                if look_first:
                    current = self.http.json("GET", f"{collection}/{document_id}", retry=True)
                    if isinstance(current, dict) and current.get("status") not in (None, "DRAFT"):
                        return
                look_first = True
                self.http.json("POST", f"{collection}/{document_id}/finalize", retry=False)
                return

    def push(self, job: Job) -> str | None:
        document, customer = job.document, job.customer_external_id
        if document.previous is not None and not document.changes:
            return None  # an amendment that moves no money: nothing to send
        if document.current.currency not in CURRENCIES:
            raise UnsupportedAmountError(
                f"Sequence does not bill in {document.current.currency} (API 2024-07-30)"
            )
        credit = is_credit_note(document)
        collection = "/credit-notes" if credit else "/invoices"
        specs = line_specs(document)
        body = credit_note_body(document, customer) if credit else invoice_body(document, customer)
        document_id = job.external_id or self._create_once(collection, body, job)
        job.remember(document_id)
        if job.resumed:
            current = self.http.json("GET", f"{collection}/{document_id}", retry=True)
            if isinstance(current, dict) and current.get("status") not in (None, "DRAFT"):
                return document_id
        self._ensure_lines(collection, document_id, specs, job.resumed, credit)
        self._finalize(collection, document_id, job.resumed)
        return document_id


def _number(value: object) -> str:
    """A decimal string in one spelling, so "2.50" and "2.5" compare equal."""
    try:
        return plain(Decimal(str(value)))
    except ArithmeticError:
        return str(value)
