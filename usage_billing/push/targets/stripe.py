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

Tax goes as Stripe tax rates, not as items: each rate of the marts (a tax line's
tax_rate_id, percentage and inclusive flag) is created once (`POST /v1/tax_rates`, keyed by
those three, so a changed percentage is a new Stripe rate, and found again by its
`usage_billing_tax_rate` metadata once Stripe has forgotten the key), and every item of the
invoice carries the invoice's rates. Stripe then computes the tax itself, so before
finalizing a taxed invoice, its total and tax are compared with the marts': when they differ
(a rate applying to some tax codes only, or Stripe's rounding per item against a rate rounded
per invoice) the push fails for that invoice, naming both figures, and leaves it a draft; the
ledger keeps the document, so the next run checks again. An amendment's tax difference is an
item like its other differences, without rates.
"""

from __future__ import annotations

import hashlib
import time
from calendar import timegm
from collections.abc import Callable, Mapping
from decimal import Decimal
from typing import Any

import httpx

from usage_billing.errors import FiguresDifferError, ServerError
from usage_billing.http import HttpClient
from usage_billing.line_text import line_text
from usage_billing.marts.model import InvoiceVersion, Line
from usage_billing.money import stripe_exponent, stripe_minor_units
from usage_billing.push.documents import Document, plain
from usage_billing.push.targets.base import Job
from usage_billing.settings import Settings

DAYS_UNTIL_DUE = 30  # for a version recorded before invoices had terms
CUSTOM_FIELD_LENGTH = 30  # Stripe's limit on a custom field's value
DISPLAY_NAME_LENGTH = 50  # Stripe's limit on a tax rate's display name
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


def tax_rate_key(line: Line) -> str:
    """A tax rate's identity at Stripe: the marts' rate id with its percentage and whether it is
    inclusive (Stripe's rates cannot change either), as an idempotency key and metadata."""
    material = "\x1f".join([line.tax_rate_id or "", plain(line.unit_price), line.line_type or ""])
    return "ub_tax_" + hashlib.sha256(material.encode()).hexdigest()[:40]


def tax_rate_params(line: Line) -> dict[str, Any]:
    """A tax line's rate as a Stripe tax rate: its description, percentage, inclusive or not."""
    return {
        "display_name": line.description[:DISPLAY_NAME_LENGTH],
        "percentage": plain(line.unit_price * 100),
        "inclusive": line.line_type == "tax_included",
        "metadata": {
            "usage_billing_tax_rate": tax_rate_key(line),
            "usage_billing_tax_rate_id": line.tax_rate_id or "",
        },
    }


def item_params(
    document: Document, customer: str, invoice: str | None, tax_rates: tuple[str, ...] = ()
) -> list[dict[str, Any]]:
    """One invoice item per line but tax (or per changed line of an amendment, tax included),
    amounts checked; a first invoice's items carry its Stripe `tax_rates`."""
    version = document.current
    currency = version.currency
    period = {"start": _unix(version), "end": _unix(version, end=True)}
    items: list[tuple[str, Any, dict[str, str]]] = []
    if document.previous is None:
        for line in version.charge_lines:
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
    params: list[dict[str, Any]] = []
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
        if tax_rates and document.previous is None:  # no key at all for an untaxed item
            params[-1]["tax_rates"] = list(tax_rates)
    return params


def expected_figures(document: Document) -> dict[str, int]:
    """What Stripe's invoice must come to, in minor units: the total, the tax added and the
    tax included. An amendment bills its differences, tax among them, without rates."""
    version = document.current
    if document.previous is not None:
        return {
            "total": stripe_minor_units(document.amount, version.currency),
            "tax": 0,
            "included tax": 0,
        }
    return {
        "total": stripe_minor_units(version.total, version.currency),
        "tax": stripe_minor_units(version.tax_amount, version.currency),
        "included tax": stripe_minor_units(version.tax_included, version.currency),
    }


def stripe_figures(invoice: Mapping[str, Any]) -> dict[str, int]:
    """Stripe's total, tax added and tax included of an invoice: from `total_taxes` (API
    2025-03-31 and later: `tax_behavior`) or `total_tax_amounts` (earlier: `inclusive`)."""
    added = included = 0
    for tax in invoice.get("total_taxes") or []:
        if tax.get("tax_behavior") == "inclusive":
            included += int(tax["amount"])
        else:
            added += int(tax["amount"])
    for tax in invoice.get("total_tax_amounts") or []:
        if tax.get("inclusive"):
            included += int(tax["amount"])
        else:
            added += int(tax["amount"])
    return {"total": int(invoice.get("total") or 0), "tax": added, "included tax": included}


def describe(document: Document) -> str:
    count = len(item_params(document, "cus", "in"))
    rates = len(document.current.tax_lines) if document.previous is None else 0
    creates = f"{rates} × POST /v1/tax_rates (once each), " if rates else ""
    return f"{creates}POST /v1/invoices, {count} × POST /v1/invoiceitems, POST finalize"


def _major(units: int, currency: str) -> str:
    """Minor units back as the amount they stand for, for an error message."""
    return f"{Decimal(units).scaleb(-stripe_exponent(currency))} {currency.upper()}"


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
        self.tax_rates: dict[str, str] | None = None  # tax_rate_key → Stripe's id, once read
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

    def _tax_rate(self, line: Line) -> str:
        """Stripe's id of a tax line's rate, created the first time any invoice needs it."""
        if self.tax_rates is None:
            self.tax_rates = {}
            for rate in self._list("/v1/tax_rates", {}):
                key = (rate.get("metadata") or {}).get("usage_billing_tax_rate")
                if key:
                    self.tax_rates.setdefault(str(key), str(rate["id"]))
        key = tax_rate_key(line)
        if key not in self.tax_rates:
            created = self._post("/v1/tax_rates", tax_rate_params(line), key)
            self.tax_rates[key] = _object_id(created, "/v1/tax_rates")
        return self.tax_rates[key]

    def _check_figures(self, document: Document, invoice: str) -> None:
        """Stripe's total and tax against the marts', before the invoice is finalized."""
        current = self.http.json("GET", f"/v1/invoices/{invoice}", retry=True)
        if not isinstance(current, dict):
            raise ServerError(f"GET /v1/invoices/{invoice} answered without an invoice")
        ours, theirs = expected_figures(document), stripe_figures(current)
        if ours != theirs:
            currency = document.current.currency
            differ = "; ".join(
                f"{name} {_major(theirs[name], currency)} at Stripe,"
                f" {_major(ours[name], currency)} in the marts"
                for name in ours
                if ours[name] != theirs[name]
            )
            raise FiguresDifferError(
                f"Stripe computed invoice {invoice} ({document.invoice_id}) differently: "
                f"{differ}. It is left a draft, not finalized; the next run checks it again"
                " (fix the tax rates, or delete the draft at Stripe if the invoice changes)"
            )

    def push(self, job: Job) -> str | None:
        document, customer = job.document, job.customer_external_id
        if document.previous is not None and not document.changes:
            return None  # an amendment that moves no money: nothing to send
        # Every amount checked (sendable in minor units) before any request, tax rates included.
        item_params(document, customer, None)
        expected_figures(document)
        rates: tuple[str, ...] = ()
        if document.previous is None:
            rates = tuple(self._tax_rate(line) for line in document.current.tax_lines)
        items = item_params(document, customer, None, rates)
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
        if rates:  # without rates Stripe's total is our items' sum: there is nothing to check
            self._check_figures(document, invoice)
        self._post(
            f"/v1/invoices/{invoice}/finalize", {"auto_advance": True}, f"{document.key}-finalize"
        )
        return invoice
