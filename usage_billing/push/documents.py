"""What the push sends: the documents derived from versions of a final invoice.

A `Document` is one unit pushed to a target: the first version of an invoice (`kind="invoice"`,
revision 0), or an amendment (`kind="amendment"`, revision ≥ 1) carrying the previous pushed
version and the current one (`usage_billing.marts.model.InvoiceVersion`), whose `changes` are
the per-line differences.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from decimal import Decimal

from usage_billing.line_text import line_label, tax_label
from usage_billing.marts.model import InvoiceVersion, Line


@dataclass(frozen=True)
class Change:
    """One line's difference between two versions: `amount` is new minus old; `description`
    is the line's label (`line_text.line_label`)."""

    description: str
    old_quantity: Decimal | None
    new_quantity: Decimal | None
    amount: Decimal

    def detail(self) -> str:
        old = "none" if self.old_quantity is None else f"{plain(self.old_quantity)}"
        new = "none" if self.new_quantity is None else f"{plain(self.new_quantity)}"
        return f"quantity {old} → {new}"


def plain(value: Decimal) -> str:
    """A decimal without exponent or trailing zeros: 500.000 → 500, 0.0070 → 0.007."""
    text = format(value.normalize(), "f")
    return text if text != "-0" else "0"


def _keyed(lines: tuple[Line, ...]) -> dict[tuple[tuple[str, str, str, str], int], Line]:
    """Lines by key and occurrence (a key seen twice stays two lines)."""
    seen: dict[tuple[str, str, str, str], int] = {}
    keyed = {}
    for line in lines:
        occurrence = seen.get(line.key, 0)
        seen[line.key] = occurrence + 1
        keyed[(line.key, occurrence)] = line
    return keyed


def changes(previous: InvoiceVersion, current: InvoiceVersion) -> list[Change]:
    """Lines whose amount changed, in the current version's order, then removed lines. An
    exclusive tax's change is a change like any other, named by its rate and (new) base; an
    inclusive tax's line moves no money (its amount is 0), so it is never one."""
    old = _keyed(previous.lines)
    new = _keyed(current.lines)
    result: list[Change] = []

    def label(line: Line) -> str:
        return tax_label(line, current.currency) if line.is_tax else line_label(line)

    for key, line in new.items():
        before = old.get(key)
        amount = line.amount - (before.amount if before else Decimal(0))
        if amount:
            result.append(
                Change(label(line), before.quantity if before else None, line.quantity, amount)
            )
    for key, line in old.items():
        if key not in new and line.amount:
            result.append(Change(label(line), line.quantity, None, -line.amount))
    return result


def idempotency_key(target: str, invoice_id: str, content_hash: str, revision: int) -> str:
    """Deterministic key of one document: the same on every retry and every re-run.

    Derived from (target, invoice id, content hash) and the revision, so an invoice that goes
    back to an earlier content gets a new key for the amendment that restores it. 51 chars,
    within Stripe's 255 and Orb's 64.
    """
    material = "\x1f".join([target, invoice_id, content_hash, str(revision)])
    return "ub_" + hashlib.sha256(material.encode()).hexdigest()[:48]


@dataclass(frozen=True)
class Document:
    """One unit pushed to a target and recorded in the ledger."""

    target: str
    revision: int
    current: InvoiceVersion
    previous: InvoiceVersion | None = None
    original_external_id: str | None = None
    key: str = field(default="")

    @property
    def kind(self) -> str:
        return "invoice" if self.previous is None else "amendment"

    @property
    def invoice_id(self) -> str:
        return self.current.invoice_id

    @property
    def changes(self) -> list[Change]:
        return [] if self.previous is None else changes(self.previous, self.current)

    @property
    def amount(self) -> Decimal:
        """The money this document bills: the total, or for an amendment the difference."""
        if self.previous is None:
            return self.current.total
        return self.current.total - self.previous.total
