"""What the sync sends: one version of a final invoice, and the documents derived from it.

An `InvoiceVersion` is an invoice of the marts as it stood when read (its lines and
content_hash). A `Document` is one unit pushed to a target: the first version of an invoice
(`kind="invoice"`, revision 0), or an amendment (`kind="amendment"`, revision ≥ 1) carrying the
previous pushed version and the current one, whose `changes` are the per-line differences.
Versions serialise to JSON (decimals as strings) so the ledger keeps exactly what was sent.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import Any


@dataclass(frozen=True)
class Line:
    line_number: int
    description: str
    quantity: Decimal
    unit_price: Decimal
    flat_amount: Decimal
    amount: Decimal
    is_percentage: bool = False
    tier: int | None = None
    price_id: str | None = None
    metric_name: str | None = None
    group_value: str | None = None

    @property
    def key(self) -> tuple[str, str, str, str]:
        """What makes two versions' lines "the same line": price, tier, group, description."""
        return (
            self.price_id or "",
            "" if self.tier is None else str(self.tier),
            self.group_value or "",
            self.description,
        )


@dataclass(frozen=True)
class InvoiceVersion:
    invoice_id: str
    customer_id: str
    currency: str
    period_start: datetime
    period_end: datetime
    total: Decimal
    content_hash: str
    lines: tuple[Line, ...]
    customer_name: str | None = None
    plan_name: str | None = None

    @property
    def last_day(self) -> date:
        """The last day billed (period_end is exclusive)."""
        end = self.period_end
        return date.fromordinal(end.toordinal() - 1) if end.time() == end.min.time() else end.date()

    def title(self) -> str:
        name = self.plan_name or self.invoice_id
        return f"{name} · {self.period_start:%Y-%m-%d} to {self.last_day:%Y-%m-%d}"

    def to_json(self) -> str:
        data = asdict(self)
        return json.dumps(data, default=_encode, sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> InvoiceVersion:
        data: dict[str, Any] = json.loads(text)
        lines = tuple(
            Line(
                line_number=int(line["line_number"]),
                description=str(line["description"]),
                quantity=Decimal(line["quantity"]),
                unit_price=Decimal(line["unit_price"]),
                flat_amount=Decimal(line["flat_amount"]),
                amount=Decimal(line["amount"]),
                is_percentage=bool(line["is_percentage"]),
                tier=line.get("tier"),
                price_id=line.get("price_id"),
                metric_name=line.get("metric_name"),
                group_value=line.get("group_value"),
            )
            for line in data["lines"]
        )
        return cls(
            invoice_id=data["invoice_id"],
            customer_id=data["customer_id"],
            currency=data["currency"],
            period_start=datetime.fromisoformat(data["period_start"]),
            period_end=datetime.fromisoformat(data["period_end"]),
            total=Decimal(data["total"]),
            content_hash=data["content_hash"],
            lines=lines,
            customer_name=data.get("customer_name"),
            plan_name=data.get("plan_name"),
        )


def _encode(value: object) -> str:
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, datetime | date):
        return value.isoformat()
    raise TypeError(f"cannot encode {type(value).__name__}")


@dataclass(frozen=True)
class Change:
    """One line's difference between two versions: `amount` is new minus old."""

    description: str
    old_quantity: Decimal | None
    new_quantity: Decimal | None
    amount: Decimal

    def detail(self) -> str:
        old = "none" if self.old_quantity is None else f"{_plain(self.old_quantity)}"
        new = "none" if self.new_quantity is None else f"{_plain(self.new_quantity)}"
        return f"quantity {old} → {new}"


def _plain(value: Decimal) -> str:
    """A decimal without exponent or trailing zeros: 500.000 → 500, 0.0070 → 0.007."""
    text = format(value.normalize(), "f")
    return text if text != "-0" else "0"


def plain(value: Decimal) -> str:
    return _plain(value)


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
    """Lines whose amount changed, in the current version's order, then removed lines."""
    old = _keyed(previous.lines)
    new = _keyed(current.lines)
    result: list[Change] = []
    for key, line in new.items():
        before = old.get(key)
        amount = line.amount - (before.amount if before else Decimal(0))
        if amount:
            result.append(
                Change(line.description, before.quantity if before else None, line.quantity, amount)
            )
    for key, line in old.items():
        if key not in new and line.amount:
            result.append(Change(line.description, line.quantity, None, -line.amount))
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
