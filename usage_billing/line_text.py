"""How an invoice line reads, the same on the page, in the CLI, in the PDF and in what the
push sends: a tier by its metric's display name and range ("API requests, 501 requests and
above"), not by its number; a tax line by its rate and base ("State sales tax 6.25% on
$100.00").

The marts give the figures (invoice_lines' tier_first_unit, tier_last_unit,
metric_display_name, metric_unit); only the words and number formats are chosen here.
"""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Protocol

from usage_billing import formatting


class LineFacts(Protocol):
    """What the text of a line reads: the fields an invoice line and a pushed line share."""

    @property
    def description(self) -> str: ...
    @property
    def quantity(self) -> Decimal: ...
    @property
    def unit_price(self) -> Decimal: ...
    @property
    def flat_amount(self) -> Decimal: ...
    @property
    def is_percentage(self) -> bool: ...
    @property
    def group_value(self) -> str | None: ...
    @property
    def tier_first_unit(self) -> Decimal | None: ...
    @property
    def tier_last_unit(self) -> Decimal | None: ...
    @property
    def metric_display_name(self) -> str | None: ...
    @property
    def metric_unit(self) -> str | None: ...
    @property
    def line_type(self) -> str | None: ...
    @property
    def is_tax(self) -> bool: ...
    @property
    def tax_amount(self) -> Decimal | None: ...
    @property
    def child_customer_name(self) -> str | None: ...


def _amount_in_units(value: Decimal, line: LineFacts) -> str:
    """A bound of the range: money in the metric's currency (€500,000), else a number."""
    if line.is_percentage and line.metric_unit:
        return formatting.quantity(value, line.metric_unit)
    return formatting.quantity(value)


def _count_unit(line: LineFacts) -> str:
    """The unit after a count (" requests"); none after money, which names its currency."""
    return "" if line.is_percentage or not line.metric_unit else f" {line.metric_unit}"


def tier_range(line: LineFacts) -> str | None:
    """The units a tier covers: "1 – 500 requests", "501 requests and above",
    "€0 – €500,000"; None for a line that is not a tier with a known range."""
    if line.tier_first_unit is None:
        return None
    first = _amount_in_units(line.tier_first_unit, line)
    # A money range names its currency on each bound; a count names its unit once, at the end.
    unit = _count_unit(line)
    if line.tier_last_unit is None:
        return f"{first}{unit} and above"
    return f"{first} – {_amount_in_units(line.tier_last_unit, line)}{unit}"


# The note int_prices_with_usage adds to the description of a price with free_units; a tier's
# description carries it after "Tier N - ", and its label words it again with the unit.
FREE_UNITS_NOTE = re.compile(r" \(first (\d+(?:\.\d+)?) free\)$")


def free_note(line: LineFacts) -> str | None:
    """What a tier line gives away: "free" for a tier priced at zero, else the price's free
    units ("first 100 requests free", "first €1,000 free"); None when nothing is free."""
    if not line.unit_price and not line.flat_amount:
        return "free"
    note = FREE_UNITS_NOTE.search(line.description)
    if note is None:
        return None
    free_units = Decimal(note.group(1))
    return f"first {_amount_in_units(free_units, line)}{_count_unit(line)} free"


def line_label(line: LineFacts) -> str:
    """A line's description cell: a tier by its metric and range ("API requests, 1 – 500
    requests"; with its group: "Payment volume · EUR|card, €0 – €500,000"), and what it gives
    free ("API requests, 1 – 100 requests (free)", "… (first 100 requests free)"); a child's
    usage on its parent's invoice by the child's name ("API requests — Acme EU, 1 – 500
    requests"); every other
    line (fees, per-unit and package charges, adjustments, credits, and tiers frozen before
    lines carried their range) by its own description."""
    span = tier_range(line)
    if span is None or not line.metric_display_name:
        return line.description
    name = line.metric_display_name
    if line.group_value:
        name += f" · {line.group_value}"
    if line.child_customer_name:
        name += f" — {line.child_customer_name}"
    note = free_note(line)
    return f"{name}, {span} ({note})" if note else f"{name}, {span}"


def line_rate(line: LineFacts, currency: str) -> str:
    """The line's price: a unit price ($0.15) or a rate (0.7%), with a flat amount it adds or
    takes off ("$0.15 + $2.50", "2.9% - €22.85")."""
    rate = (
        formatting.percent(line.unit_price)
        if line.is_percentage
        else formatting.unit_rate(line.unit_price, currency)
    )
    if line.flat_amount:
        sign = "-" if line.flat_amount < 0 else "+"
        rate += f" {sign} {formatting.money(abs(line.flat_amount), currency)}"
    return rate


def line_quantity(line: LineFacts) -> str:
    """The quantity charged: 327, or for a money metric an amount (€500,000)."""
    return formatting.quantity(line.quantity, line.metric_unit if line.is_percentage else None)


def tax_label(line: LineFacts, currency: str) -> str:
    """A tax line's words: its rate's description, the rate and the base it is taken on
    ("State sales tax 6.25% on $100.00"); an inclusive rate says its tax is inside that base
    ("VAT 20% (included) on $55.00")."""
    included = " (included)" if line.line_type == "tax_included" else ""
    rate = formatting.percent(line.unit_price)
    return f"{line.description} {rate}{included} on {formatting.money(line.quantity, currency)}"


def tax_figure(line: LineFacts, currency: str) -> str:
    """A tax line's tax: "$6.25", added to the total; an inclusive rate's in words and
    brackets, "($9.17 included)", since it is already inside the charges and adds nothing."""
    tax = formatting.money(line.tax_amount or Decimal(0), currency)
    return f"({tax} included)" if line.line_type == "tax_included" else tax


def included_tax_note(line: LineFacts, currency: str) -> str:
    """An inclusive rate under the total: "Includes VAT $9.17"."""
    tax = formatting.money(line.tax_amount or Decimal(0), currency)
    return f"Includes {line.description} {tax}"


def line_text(line: LineFacts, currency: str) -> str:
    """A line in one sentence, as the push's targets describe it: "API requests, 501
    requests and above: 327 × $0.15", "Payment volume, €0 – €500,000: €500,000 × 0.7%";
    a tax line as its label and tax, "State sales tax 6.25% on $100.00: $6.25"."""
    if line.is_tax:
        return f"{tax_label(line, currency)}: {tax_figure(line, currency)}"
    return f"{line_label(line)}: {line_quantity(line)} × {line_rate(line, currency)}"
