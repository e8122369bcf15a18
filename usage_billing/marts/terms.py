"""An invoice's number, dates and parties (docs/invoices.md): what the invoices mart and the
issuers mart say about who bills whom, under which number, due when. The CLI, the invoice page
and the push read them through `MartsReader.terms`."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Any


@dataclass(frozen=True)
class PostalAddress:
    """A billing address in Stripe's fields; country is ISO 3166-1 alpha-2."""

    line1: str | None = None
    line2: str | None = None
    city: str | None = None
    postal_code: str | None = None
    state: str | None = None
    country: str | None = None

    def lines(self) -> tuple[str, ...]:
        """The address as printed: street lines, "City, STATE POSTCODE", country."""
        place = ", ".join(
            part
            for part in [self.city, " ".join(filter(None, [self.state, self.postal_code]))]
            if part
        )
        return tuple(line for line in [self.line1, self.line2, place, self.country] if line)


@dataclass(frozen=True)
class Party:
    """The seller or the buyer as an invoice names them; empty fields are not printed."""

    name: str | None = None
    email: str | None = None
    tax_id: str | None = None
    address: tuple[str, ...] = ()

    def lines(self) -> list[str]:
        """Name, address lines, email, tax number: the block printed for the party."""
        tax = f"Tax ID {self.tax_id}" if self.tax_id else None
        return [line for line in [self.name, *self.address, self.email, tax] if line]


@dataclass(frozen=True)
class InvoiceTerms:
    """An invoice's number, dates, amount due and parties. Number and dates are empty until the
    invoice is final; payment terms are then as numbered, before that the customer's."""

    invoice_number: str | None
    issue_date: date | None
    due_date: date | None
    payment_terms_days: int
    amount_due: Decimal
    seller: Party = field(default_factory=Party)
    buyer: Party = field(default_factory=Party)
    buyer_address: PostalAddress = field(default_factory=PostalAddress)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> InvoiceTerms:
        """The terms from their JSON form (`dataclasses.asdict`, dates as ISO text)."""

        def day(value: Any) -> date | None:
            return None if value is None else date.fromisoformat(str(value))

        def party(value: dict[str, Any]) -> Party:
            return Party(
                value.get("name"),
                value.get("email"),
                value.get("tax_id"),
                tuple(value.get("address") or ()),
            )

        return cls(
            invoice_number=data.get("invoice_number"),
            issue_date=day(data.get("issue_date")),
            due_date=day(data.get("due_date")),
            payment_terms_days=int(data["payment_terms_days"]),
            amount_due=Decimal(data["amount_due"]),
            seller=party(data.get("seller") or {}),
            buyer=party(data.get("buyer") or {}),
            buyer_address=PostalAddress(**(data.get("buyer_address") or {})),
        )


# The columns of MartsReader.terms' query, in order.
TERMS_COLUMNS = (
    "invoice_id, invoice_number, issue_date, due_date, payment_terms_days, amount_due,"
    " customer_name, billing_email, tax_id, address_line1, address_line2, address_city,"
    " address_postal_code, address_state, address_country"
)
SELLER_COLUMNS = "name, email, tax_id, address_lines"


def terms_of_row(
    row: tuple[Any, ...], seller: tuple[Any, ...] | None, amount_due: Decimal
) -> InvoiceTerms:
    """InvoiceTerms from a row of TERMS_COLUMNS, its issuer's row of SELLER_COLUMNS and the
    amount due (read as an exact decimal by the caller)."""
    (_, number, issued, due, days, _, name, email, tax_id, *address) = row
    buyer_address = PostalAddress(*address)
    seller_party = Party()
    if seller is not None:
        seller_name, seller_email, seller_tax_id, address_lines = seller
        seller_party = Party(
            seller_name, seller_email, seller_tax_id, tuple(json.loads(address_lines or "[]"))
        )
    return InvoiceTerms(
        invoice_number=number,
        issue_date=issued,
        due_date=due,
        payment_terms_days=int(days),
        amount_due=amount_due,
        seller=seller_party,
        buyer=Party(name, email, tax_id, buyer_address.lines()),
        buyer_address=buyer_address,
    )
