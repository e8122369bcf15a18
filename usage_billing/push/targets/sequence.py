"""Sequence: an invoice, its line items, then finalize; decreases as credit notes.

Sequence documents no idempotency key for invoices, line items or credit notes, so
de-duplication is ours. A look-up cannot settle a request whose answer never came (timeout,
dropped connection, 5xx): the server may still do it after the look-up found nothing, since a
timeout cancels nothing at a server and HTTP orders nothing across connections. So the sync
relies on what the server refuses, not on timing:

- Line items are only ever sent to the draft the ledger records (`external_id`, written before
  the first line). When a line item's outcome is unknown and the lines then listed do not show
  it, or when a resumed push finds a draft an earlier process was filling, that draft is
  deleted (Sequence deletes drafts only) and a fresh one is filled: a line item that lands
  later finds no draft and is refused. Only a draft whose every line item was answered is
  finalized, and a finalized document takes no more line items.
- A create whose answer never came is looked up (by the `usage_billing_key` metadata among the
  customer's documents) before the next one, and since it may land later still, every other
  draft carrying the key is deleted before the draft is finalized. Such a copy is an empty
  draft (line items go only to the recorded one): it bills nothing even if it lands after that.
- A document already finalized under the key is the answer; a finalize whose answer was lost
  is recognised by the status. Reads are retried freely; 429 means nothing was done.

Amounts are decimal strings in major units. A line goes as quantity × rate when that product
is its exact amount, otherwise as 1 × amount (tier entry fees, rounded percentages) with the
quantity and rate in the description. Tax goes as the marts' tax lines, one line item per
rate (1 × the tax; an inclusive rate's item is 0, its description saying what is included),
and every item's `taxRate` is 0: a per-line rate would need each charge's tax code, which
invoice_lines does not carry, and Sequence rounding each line's tax could differ from the
marts' (rates rounded per invoice, discounts and credit shared among tax codes). So Sequence's
total is the marts' to the cent. An amendment that raises the total is a further invoice
holding the differences; one that lowers it is a credit note on the original invoice.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import httpx

from usage_billing.errors import (
    ClientError,
    ConflictError,
    RateLimitedError,
    RetriableError,
    ServerError,
    TransportError,
    UnsupportedAmountError,
)
from usage_billing.http import HttpClient, retrying
from usage_billing.line_text import line_label, line_text, tax_label
from usage_billing.marts.model import InvoiceVersion
from usage_billing.push.documents import Document, plain
from usage_billing.push.targets.base import Job
from usage_billing.settings import Settings

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
DRAFT = "DRAFT"
LineSpec = tuple[str, str, str, str]  # title, description, quantity, rate
LineIdentity = tuple[str, str, str]  # title, quantity, rate: how a listed line is recognised


def line_specs(document: Document) -> list[LineSpec]:
    """The line items of a document; for a credit note, the decreases as positive rates."""
    version = document.current
    specs: list[LineSpec] = []
    if document.previous is None:
        for line in version.lines:
            title, description = line_label(line), line_text(line, version.currency)
            exact = line.quantity * line.unit_price == line.amount and not line.flat_amount
            if line.is_tax:
                # The marts' tax as a line of its own (1 × the tax added; an inclusive rate's
                # line adds 0 and says how much is included), not a taxRate on the charges.
                specs.append(
                    (tax_label(line, version.currency), description, "1", plain(line.amount))
                )
            elif exact:
                specs.append((title, description, plain(line.quantity), plain(line.unit_price)))
            else:
                specs.append((title, description, "1", plain(line.amount)))
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
        *(
            [{"key": "usage_billing_invoice_number", "value": version.terms.invoice_number}]
            if version.terms is not None and version.terms.invoice_number
            else []
        ),
    ]


def invoice_body(document: Document, customer: str) -> dict[str, Any]:
    version = document.current
    memo = version.title()
    if version.terms is not None and version.terms.invoice_number:
        memo = f"Invoice {version.terms.invoice_number} · {memo}"
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
        **terms_body(version),
    }


# Sequence's State enum: states of the USA and provinces of Canada, the only ones it takes.
US_CA = ("US", "CA")


def terms_body(version: InvoiceVersion) -> dict[str, Any]:
    """Due date and the buyer's details, as Sequence's create-invoice schema takes them. Our
    number goes into the memo and metadata (Sequence numbers invoices itself). The address is
    sent only when complete (Sequence requires line1, postcode, town and country)."""
    terms = version.terms
    if terms is None:
        return {}
    body: dict[str, Any] = {}
    if terms.due_date is not None:
        body["dueDate"] = terms.due_date.isoformat()
    if terms.buyer.email:
        body["customerEmails"] = [terms.buyer.email]
    if terms.buyer.name:
        body["customerLegalCompanyName"] = terms.buyer.name
    address = terms.buyer_address
    if address.line1 and address.postal_code and address.city and address.country:
        fields = {
            "line1": address.line1,
            "line2": address.line2,
            "town": address.city,
            "state": address.state if address.country in US_CA else None,
            "postcode": address.postal_code,
            "country": address.country,
        }
        body["customerBillingAddress"] = {key: value for key, value in fields.items() if value}
    return body


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

    def _copies(self, collection: str, job: Job) -> list[tuple[str, str]]:
        """The customer's documents carrying this document's key: (id, status)."""
        found = []
        for item in self._pages(collection, {"customerId": job.customer_external_id}):
            for pair in item.get("metadata") or []:
                if (
                    isinstance(pair, dict)
                    and pair.get("key") == "usage_billing_key"
                    and pair.get("value") == job.document.key
                ):
                    found.append((str(item["id"]), str(item.get("status") or DRAFT)))
                    break
        return found

    def _status(self, path: str) -> str | None:
        """A document's status; None when it does not exist (deleted)."""
        try:
            current = self.http.json("GET", path, retry=True)
        except ClientError as error:
            if error.status_code == 404:
                return None
            raise
        status = current.get("status") if isinstance(current, dict) else None
        return str(status or DRAFT)

    def _discard(self, collection: str, document_id: str) -> str | None:
        """Delete a draft, after which nothing sent to it can land; None once it is gone, or
        the status of a document that is no longer a draft (finalized meanwhile)."""
        path = f"{collection}/{document_id}"
        for attempt in retrying(self.settings.http, self.sleep):
            with attempt:
                try:
                    self.http.send("DELETE", path, retry=False)
                    return None
                except ClientError as error:
                    if error.status_code == 404:
                        return None  # an earlier DELETE whose answer was lost
                    status = self._status(path)
                    if status in (None, DRAFT):
                        raise
                    return status
        raise AssertionError("unreachable")  # pragma: no cover

    def _create_once(
        self, collection: str, body: dict[str, Any], job: Job, look_first: bool
    ) -> tuple[str, str, bool]:
        """A document for the key: one found (when a create may have landed), else a new
        draft. (id, status, whether a create's outcome was unknown)."""
        look, unknown = look_first, False
        for attempt in retrying(self.settings.http, self.sleep):
            with attempt:
                if look:
                    found = sorted(self._copies(collection, job), key=lambda copy: copy[1] == DRAFT)
                    if found:  # a finalized one first: it is the document
                        return found[0][0], found[0][1], unknown
                look = True  # an attempt failed, it may have landed: look next time
                try:
                    created = self.http.json("POST", collection, retry=False, json=body)
                except RetriableError as error:
                    unknown = unknown or _unknown(error)
                    raise
                if not isinstance(created, dict) or not created.get("id"):
                    unknown = True
                    raise ServerError(f"POST {collection} answered without an id")
                return str(created["id"]), DRAFT, unknown
        raise AssertionError("unreachable")  # pragma: no cover

    def _post_line(self, path: str, body: dict[str, Any]) -> bool:
        """One line item: True when answered, False when its outcome is unknown."""
        for attempt in retrying(self.settings.http, self.sleep):
            with attempt:
                try:
                    self.http.json("POST", path, retry=False, json=body)
                except RetriableError as error:
                    if _unknown(error):
                        return False
                    raise  # nothing was done: send it again
                return True
        raise AssertionError("unreachable")  # pragma: no cover

    def _fill(
        self, collection: str, document_id: str, specs: list[LineSpec], credit_note: bool
    ) -> bool:
        """Add the line items to a draft that has none; True when each is there exactly once,
        False when one might still land (the draft must then go)."""
        path = f"{collection}/{document_id}/line-items"
        there: Counter[LineIdentity] = Counter()
        for spec in specs:
            identity = (spec[0], _number(spec[2]), _number(spec[3]))
            if not self._post_line(path, line_body(spec, document_id if credit_note else None)):
                listed = Counter(
                    (
                        str(item.get("title")),
                        _number(item.get("quantity")),
                        _number(item.get("rate")),
                    )
                    for item in self._pages(path, {})
                )
                if listed != there + Counter([identity]):
                    return False  # not there (yet?), or not as sent
            there[identity] += 1
        return True

    def _finalized(self, path: str) -> bool:
        status = self._status(path)
        if status is None:
            raise ClientError(f"GET {path} answered 404: the draft is gone", 404)
        return status != DRAFT

    def _finalize(self, collection: str, document_id: str) -> None:
        path = f"{collection}/{document_id}"
        look = False
        for attempt in retrying(self.settings.http, self.sleep):
            with attempt:
                if look and self._finalized(path):
                    return  # the attempt whose answer never came was done
                look = True
                try:
                    self.http.json("POST", f"{path}/finalize", retry=False)
                except ClientError:
                    if self._finalized(path):
                        return  # an earlier finalize whose answer was lost landed meanwhile
                    raise
                return

    def _remove_copies(self, collection: str, job: Job, keep: str) -> str | None:
        """Delete the other drafts carrying the key (creates that landed after all); the id of
        a finalized one, if there is one: then that is the document."""
        for copy_id, status in self._copies(collection, job):
            if copy_id == keep:
                continue
            if status == DRAFT and self._discard(collection, copy_id) is None:
                continue
            return copy_id
        return None

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
        if job.external_id is not None:
            # An earlier attempt's draft: line items it sent may still land, so it is never
            # finished, only discarded; finalized, it is the answer.
            path = f"{collection}/{job.external_id}"
            status = self._status(path)
            if status == DRAFT:
                status = self._discard(collection, job.external_id)
            if status is not None:
                return job.external_id
        doubt = job.resumed  # copies may exist: creates of an earlier attempt
        for _ in range(self.settings.http.max_attempts):
            document_id, status, unknown = self._create_once(collection, body, job, doubt)
            doubt = doubt or unknown
            job.remember(document_id)
            if status != DRAFT:
                return document_id
            if self._fill(collection, document_id, specs, credit):
                break
            finalized = self._discard(collection, document_id)
            if finalized is not None:  # pragma: no cover - only this push finalizes it
                return document_id
        else:
            raise TransportError(
                f"{collection}: line items without an answer on {self.settings.http.max_attempts}"
                " fresh drafts in a row (each discarded); the next run starts again"
            )
        if doubt:
            finalized = self._remove_copies(collection, job, keep=document_id)
            if finalized is not None:
                self._discard(collection, document_id)
                return finalized
        self._finalize(collection, document_id)
        return document_id


def _unknown(error: RetriableError) -> bool:
    """Whether the failed request may have been done (or may still be): all but 429 and 409,
    which a server answers without doing anything."""
    return not isinstance(error, (RateLimitedError, ConflictError))


def _number(value: object) -> str:
    """A decimal string in one spelling, so "2.50" and "2.5" compare equal."""
    try:
        return plain(Decimal(str(value)))
    except ArithmeticError:
        return str(value)
