"""The invoices of the marts as Python values: what the reader returns and the CLI, the pages
and the push use. Money is exact `Decimal`, as the marts hold it."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

from usage_billing.marts.terms import InvoiceTerms

# An exclusive rate's line (its tax added to the total) and an inclusive one's (its tax already
# inside the charges, the line's amount 0): invoice_lines' line types for tax, shown last.
TAX_LINE_TYPES = frozenset({"tax", "tax_included"})


class LocalPeriod:
    """An invoice's billing period in the customer's local days."""

    period_end_date: date

    @property
    def last_day(self) -> date:
        """The period's last local day (period_end_date is the first day after it)."""
        return self.period_end_date - timedelta(days=1)


@dataclass(frozen=True)
class InvoiceLine:
    """One row of invoice_lines, as shown."""

    line_number: int
    line_type: str
    description: str
    tier: int | None
    quantity: Decimal
    unit_price: Decimal
    flat_amount: Decimal
    amount: Decimal
    is_percentage: bool
    metric_name: str | None = None
    group_value: str | None = None
    tier_first_unit: Decimal | None = None
    tier_last_unit: Decimal | None = None
    metric_display_name: str | None = None
    metric_unit: str | None = None
    tax_rate_id: str | None = None
    tax_amount: Decimal | None = None
    """A tax line's tax: added (line_type `tax`) or inside the charges (`tax_included`)."""
    child_customer_id: str | None = None
    """Parent accounts: the child whose usage the line prices; None for the parent's own."""
    child_customer_name: str | None = None

    @property
    def is_tax(self) -> bool:
        return self.line_type in TAX_LINE_TYPES


@dataclass(frozen=True)
class MetricUsage:
    """One metric (and group) of billable_usage on an invoice."""

    metric_name: str
    group_value: str | None
    quantity: Decimal
    amount: Decimal
    effective_unit_price: Decimal | None
    is_money: bool
    unit: str
    child_customer_name: str | None = None
    """Parent accounts: the child whose usage this is, priced apart; None for the own usage."""


@dataclass(frozen=True)
class InvoiceHeader(LocalPeriod):
    """Who an invoice bills, for which period (UTC bounds and local days), in which currency:
    the first fields of `Invoice` and `LiveInvoice`."""

    invoice_id: str
    customer_id: str
    customer_name: str | None
    plan_name: str | None
    period_start: datetime
    period_end: datetime
    period_start_date: date
    period_end_date: date
    currency: str


@dataclass(frozen=True)
class Invoice(InvoiceHeader):
    """An invoice of the marts with its lines and its metrics' usage, as the CLI and the
    invoice page show it."""

    subtotal: Decimal
    credits_applied: Decimal
    total: Decimal
    status: str
    lines: list[InvoiceLine]
    usage: list[MetricUsage]
    terms: InvoiceTerms | None = None
    tax_amount: Decimal = Decimal(0)
    """Exclusive tax, added to the total."""
    tax_included: Decimal = Decimal(0)
    """Inclusive tax, already inside the charges."""
    tax_status: str = "untaxed"
    """taxed, untaxed, exempt or reverse_charge."""
    threshold_of_invoice_id: str | None = None
    """On a threshold invoice (billed early, docs/usage-controls.md), the period invoice."""

    @property
    def billed_early_note(self) -> str | None:
        """What a threshold invoice is, printed under its title; None on a period invoice."""
        if self.threshold_of_invoice_id is None:
            return None
        return f"Threshold invoice: billed early in the period of {self.threshold_of_invoice_id}"

    @property
    def charge_lines(self) -> list[InvoiceLine]:
        """The lines above the totals: every line but tax."""
        return [line for line in self.lines if not line.is_tax]

    @property
    def tax_lines(self) -> list[InvoiceLine]:
        """Exclusive rates' lines, shown in the totals between subtotal and total."""
        return [line for line in self.lines if line.line_type == "tax"]

    @property
    def included_tax_lines(self) -> list[InvoiceLine]:
        """Inclusive rates' lines, shown under the total: "Includes VAT $9.17"."""
        return [line for line in self.lines if line.line_type == "tax_included"]

    @property
    def money_unit(self) -> str | None:
        """The currency of the invoice's money metric, in which its percentage lines count."""
        return next((metric.unit for metric in self.usage if metric.is_money), None)

    def metric_label(
        self, metric_name: str, group_value: str | None = None, child_name: str | None = None
    ) -> str:
        """A metric as the invoice names it: its lines' display name (never the raw key), with
        its group and the child whose usage it is: "API requests", "Payment volume · EUR|card",
        "API requests — Acme EU"."""
        name = next(
            (
                line.metric_display_name
                for line in self.lines
                if line.metric_name == metric_name and line.metric_display_name
            ),
            metric_name,
        )
        name = f"{name} · {group_value}" if group_value else name
        return f"{name} — {child_name}" if child_name else name


@dataclass(frozen=True)
class InvoiceSummary(LocalPeriod):
    """One row of the invoice list."""

    invoice_id: str
    customer_id: str
    customer_name: str | None
    plan_name: str | None
    period_start_date: date
    period_end_date: date
    currency: str
    total: Decimal
    status: str
    line_count: int
    revision_number: int | None
    """The current revision's number when the invoice changed after it was final, else None."""


@dataclass(frozen=True)
class Revision:
    """One row of invoice_revisions: the invoice as it stood at one snapshot."""

    revision_number: int
    status: str
    total: Decimal
    previous_total: Decimal | None
    total_delta: Decimal
    revised_at: datetime


@dataclass(frozen=True)
class DailySeries:
    """A metric's usage per UTC day over `days` (days without a row of metric_usage_daily
    are zero), one series per group_value."""

    metric_name: str
    unit: str
    is_money: bool
    days: list[date]
    groups: dict[str, list[Decimal]]


@dataclass(frozen=True)
class LiveMetric:
    """One row of live_invoice_totals with its metric's display name and unit from
    billable_usage."""

    metric_name: str
    display_name: str
    group_value: str | None
    unit: str
    is_money: bool
    quantity_so_far: Decimal
    amount_so_far: Decimal
    projected_quantity: Decimal | None
    projected_amount: Decimal | None


@dataclass(frozen=True)
class LiveInvoice(InvoiceHeader):
    """An open period's invoice with its metrics so far (live_invoice_totals)."""

    total_so_far: Decimal
    as_of_at: datetime
    metrics: list[LiveMetric] = field(default_factory=list)

    @property
    def elapsed(self) -> Decimal:
        """Share of the period elapsed at the billing clock (0.5 = halfway), exact."""
        whole = (self.period_end - self.period_start) // timedelta(seconds=1)
        elapsed = (self.as_of_at - self.period_start) // timedelta(seconds=1)
        return Decimal(elapsed) / Decimal(whole)


@dataclass(frozen=True)
class Line:
    """One line of an `InvoiceVersion`: what a target bills for it."""

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
    tier_first_unit: Decimal | None = None
    tier_last_unit: Decimal | None = None
    metric_display_name: str | None = None
    metric_unit: str | None = None
    line_type: str | None = None
    tax_rate_id: str | None = None
    tax_amount: Decimal | None = None
    child_customer_id: str | None = None
    child_customer_name: str | None = None

    @property
    def is_tax(self) -> bool:
        return self.line_type in TAX_LINE_TYPES

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
    """A final invoice as it stood when read: what the push sends and the ledger keeps (as
    JSON, decimals as strings, so a later run knows exactly what was sent)."""

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
    terms: InvoiceTerms | None = None
    """Number, dates and parties (not content: content_hash ignores them)."""
    tax_amount: Decimal = Decimal(0)
    tax_included: Decimal = Decimal(0)
    tax_status: str = "untaxed"

    @property
    def charge_lines(self) -> tuple[Line, ...]:
        """Every line but tax: what Stripe bills as invoice items, its rates attached."""
        return tuple(line for line in self.lines if not line.is_tax)

    @property
    def tax_lines(self) -> tuple[Line, ...]:
        """One line per rate, exclusive and inclusive."""
        return tuple(line for line in self.lines if line.is_tax)

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
                # Absent from versions pushed before lines carried their range and metric.
                tier_first_unit=_optional_decimal(line.get("tier_first_unit")),
                tier_last_unit=_optional_decimal(line.get("tier_last_unit")),
                metric_display_name=line.get("metric_display_name"),
                metric_unit=line.get("metric_unit"),
                # Absent from versions pushed before invoices carried tax.
                line_type=line.get("line_type"),
                tax_rate_id=line.get("tax_rate_id"),
                tax_amount=_optional_decimal(line.get("tax_amount")),
                # Absent from versions pushed before parent accounts.
                child_customer_id=line.get("child_customer_id"),
                child_customer_name=line.get("child_customer_name"),
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
            terms=InvoiceTerms.from_dict(data["terms"]) if data.get("terms") else None,
            tax_amount=Decimal(data.get("tax_amount", 0)),
            tax_included=Decimal(data.get("tax_included", 0)),
            tax_status=data.get("tax_status", "untaxed"),
        )


def _optional_decimal(value: str | None) -> Decimal | None:
    return None if value is None else Decimal(value)


def _encode(value: object) -> str:
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, datetime | date):
        return value.isoformat()
    raise TypeError(f"cannot encode {type(value).__name__}")
