"""Every figure of an invoice as text, the same on the terminal and on the pages: a line's
Description / QTY / Rate / Amount cells, a metric's usage and effective rate, the period."""

from __future__ import annotations

from dataclasses import dataclass

from usage_billing import formatting
from usage_billing.line_text import line_label, line_quantity, line_rate, tax_figure, tax_label
from usage_billing.marts.model import Invoice, InvoiceLine, MetricUsage


@dataclass(frozen=True)
class LineCells:
    """One invoice line as the card's Description / QTY / Rate / Amount text."""

    description: str
    quantity: str
    rate: str
    amount: str


@dataclass(frozen=True)
class UsageFigures:
    """A metric's usage on an invoice, as text: what was used, what it cost, the effective rate."""

    used: str
    amount: str
    effective: str | None


# Lines that settle an amount rather than price a quantity: their QTY (1) and rate (the amount
# itself) would only repeat the Amount column. A late-usage adjustment is one: the difference a
# closed period's late usage makes (docs/closing-periods.md).
ADJUSTMENT_LINE_TYPES = frozenset(
    {
        "minimum_true_up",
        "usage_true_up",
        "maximum_discount",
        "commitment_true_up",
        "late_usage_adjustment",
        "credit",
    }
)


def line_cells(line: InvoiceLine, invoice: Invoice) -> LineCells:
    """A line's text on the card; the terminal, the web pages and the PDF print the same, and
    the push describes a line with the same words (`line_text`)."""
    if line.is_tax:
        # Its rate and base in words; an inclusive rate's tax bracketed, as it adds nothing.
        return LineCells(
            tax_label(line, invoice.currency), "", "", tax_figure(line, invoice.currency)
        )
    amount = formatting.money(line.amount, invoice.currency)
    if line.line_type in ADJUSTMENT_LINE_TYPES or (
        line.line_type == "discount" and not line.is_percentage
    ):
        return LineCells(line.description, "", "", amount)
    if line.line_type == "discount":
        # A percentage taken whole: its base, money in the invoice's currency, × the rate.
        base = formatting.money(line.quantity, invoice.currency)
        return LineCells(line.description, base, formatting.percent(line.unit_price), amount)
    return LineCells(
        description=line_label(line),
        quantity=line_quantity(line),
        rate=line_rate(line, invoice.currency),
        amount=amount,
    )


# Plural endings that take "es" (batches, searches, boxes); any other plural "s" is dropped alone
# (caches, messages), and endings that are not plurals (status, access, analysis) are kept.
_ES_PLURALS = ("sses", "shes", "tches", "rches", "nches", "xes", "zzes")
_NOT_PLURALS = ("ss", "us", "is")


def unit_singular(unit: str) -> str:
    """The metric's unit after "per": its declared label is a plural, as it reads after a
    number (requests → request, GB-hours → GB-hour, queries → query, GB → GB); "unit" when the
    metric declares none."""
    if not unit:
        return "unit"
    if unit.endswith("ies") and len(unit) > 3:
        return unit[:-3] + "y"
    if unit.endswith(_ES_PLURALS):
        return unit[:-2]
    if unit.endswith("s") and not unit.endswith(_NOT_PLURALS):
        return unit[:-1]
    return unit


def usage_figures(metric: MetricUsage, currency: str) -> UsageFigures:
    """A metric's usage, amount and effective rate ($0.1198 per request, 0.48%) as text."""
    if metric.is_money:
        used = formatting.quantity(metric.quantity, metric.unit)
    else:
        used = f"{formatting.quantity(metric.quantity)} {metric.unit}".strip()
    effective = None
    if metric.effective_unit_price is not None:
        if metric.is_money:
            effective = formatting.percent(metric.effective_unit_price, places=2)
        else:
            effective = (
                formatting.unit_rate(formatting.rounded(metric.effective_unit_price, 4), currency)
                + f" per {unit_singular(metric.unit)}"
            )
    return UsageFigures(used, formatting.money(metric.amount, currency), effective)


# Why an invoice carries no tax, printed under its totals (invoices.tax_status).
TAX_STATUS_NOTES = {
    "reverse_charge": "Reverse charge: the customer accounts for the tax",
    "exempt": "Tax exempt",
}


def tax_status_note(invoice: Invoice) -> str | None:
    """The note a reverse-charged or exempt customer's invoice carries; None otherwise."""
    return TAX_STATUS_NOTES.get(invoice.tax_status)


def shows_subtotal(invoice: Invoice) -> bool:
    """The totals start from a subtotal when something comes between it and the total:
    prepaid credit or tax."""
    return bool(invoice.credits_applied or any(line.is_tax for line in invoice.lines))


def period_text(invoice: Invoice) -> str:
    """The period's local days, first to last: 01 Oct 2022 – 31 Oct 2022."""
    return f"{invoice.period_start_date:%d %b %Y} – {invoice.last_day:%d %b %Y}"
