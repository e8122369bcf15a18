"""The reference engine's tax (docs/invoices.md, "Tax"), written from the rules there, apart
from the SQL: which rates tax each charge, how discounts and credit are shared among tax codes,
and the rounding per invoice or per line. Runs after discounts and credit (pricing_oracle)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal, localcontext

from tests.support.pricing_oracle import ZERO, Invoice, Line, round_money

D = Decimal
CHARGE_TYPES = (
    "fee",
    "usage",
    "usage_true_up",
    "minimum_true_up",
    "maximum_discount",
    "commitment_true_up",
)


@dataclass(frozen=True)
class TaxRate:
    tax_rate_id: str
    percentage: Decimal  # 20 is 20%
    customer_id: str | None = None  # None: every customer
    tax_code: str | None = None  # None: every code
    description: str = "Tax"
    inclusive: bool = False
    calculation: str = "per_invoice"  # per_invoice | per_line
    effective_from: date | None = None
    effective_to: date | None = None  # exclusive


def _quotient(numerator: Decimal, denominator: Decimal) -> Decimal:
    """numerator / denominator half-up to 10 places, as the SQL's exact division."""
    with localcontext() as context:
        context.prec = 80
        return (numerator / denominator).quantize(D("1e-10"), ROUND_HALF_UP)


def _shares(amount: Decimal, weights: Sequence[Decimal], currency: str) -> list[Decimal]:
    """`amount` shared in proportion to `weights` to the minor unit by cumulative rounding (each
    part: the rounded share through it less the rounded share before it); all of it to the
    first when every weight is zero."""
    total = sum(weights, ZERO)
    if total == 0:
        return [amount] + [ZERO] * (len(weights) - 1)
    parts, before = [], ZERO
    for weight in weights:
        rounded_before = round_money(_quotient(amount * before, total), currency)
        before += weight
        parts.append(round_money(_quotient(amount * before, total), currency) - rounded_before)
    return parts


def _charges(invoice: Invoice, tax_codes: dict[str, str]) -> list[tuple[Line, str]]:
    return [
        (line, tax_codes.get(line.price_id or "", ""))
        for line in invoice.lines
        if line.line_type in CHARGE_TYPES
    ]


def tax_bases(invoice: Invoice, tax_codes: dict[str, str]) -> dict[str, tuple[Decimal, Decimal]]:
    """tax code → (charges, taxable amount): each discount and credit line shared among the
    codes of the charges in its scope (a price, a metric or all), in proportion to them; then a
    code below zero brought to zero, its deficit shared among the positive codes, unless the
    invoice nets below zero."""
    currency = invoice.subscription.currency
    charges = _charges(invoice, tax_codes)
    gross: dict[str, Decimal] = {}
    for line, code in charges:
        gross[code] = gross.get(code, ZERO) + line.amount
    net = dict(gross)
    for reduction in invoice.lines:
        if reduction.line_type not in ("discount", "credit"):
            continue
        scope: dict[str, Decimal] = {}
        for line, code in charges:
            if reduction.scope_price_id not in (None, line.price_id):
                continue
            if reduction.metric is not None and reduction.metric != line.metric:
                continue
            scope[code] = scope.get(code, ZERO) + line.amount
        codes = sorted(scope) or [""]
        weights = [max(scope.get(code, ZERO), ZERO) for code in codes]
        for code, part in zip(codes, _shares(-reduction.amount, weights, currency), strict=True):
            net[code] = net.get(code, ZERO) - part
    codes = sorted(net)
    deficit = sum((-net[code] for code in codes if net[code] < 0), ZERO)
    if deficit > 0 and sum(net.values(), ZERO) >= 0:
        positive = [max(net[code], ZERO) for code in codes]
        offsets = _shares(deficit, positive, currency)
        net = {
            code: net[code] - offset if net[code] > 0 else ZERO
            for code, offset in zip(codes, offsets, strict=True)
        }
    return {code: (gross.get(code, ZERO), net[code]) for code in codes}


def _tax_of(amount: Decimal, rate: TaxRate, divisor: Decimal, currency: str) -> Decimal:
    """amount x percentage / divisor (100, or 100 plus the inclusive rates), half-up."""
    return round_money(_quotient(amount * rate.percentage, divisor), currency)


def _in_force(rate: TaxRate, last_day: date) -> bool:
    return (rate.effective_from is None or rate.effective_from <= last_day) and (
        rate.effective_to is None or last_day < rate.effective_to
    )


def rates_for(
    rates: Sequence[TaxRate], customer_id: str, code: str, last_day: date
) -> list[TaxRate]:
    """The rates of the most specific level with any in force: the customer's for the code,
    the customer's for every code, everyone's for the code, everyone's for every code."""
    levels = [(customer_id, code), (customer_id, None), (None, code), (None, None)]
    for customer, tax_code in levels:
        found = [
            rate
            for rate in rates
            if rate.customer_id == customer
            and rate.tax_code == tax_code
            and _in_force(rate, last_day)
        ]
        if found:
            return found
    return []


def apply_taxes(
    all_invoices: Sequence[Invoice],
    rates: Sequence[TaxRate],
    tax_codes: dict[str, str],
    exempt: dict[str, str],
) -> None:
    """Append a tax line per rate (and inclusive share), after credit. `tax_codes`: price id →
    tax code; `exempt`: customer id → none | exempt | reverse."""
    for invoice in all_invoices:
        customer = invoice.subscription.customer_id
        if exempt.get(customer, "none") != "none":
            continue
        currency = invoice.subscription.currency
        last_day = invoice.period.end_date - timedelta(days=1)
        bases = tax_bases(invoice, tax_codes)
        charges = _charges(invoice, tax_codes)
        # (rate id, gross percentage) → [rate, taxable, per-line tax]
        by_rate: dict[tuple[str, Decimal], list[object]] = {}
        for code, (gross, taxable) in bases.items():
            applied = rates_for(rates, customer, code, last_day)
            grossed = 100 + sum((rate.percentage for rate in applied if rate.inclusive), ZERO)
            for rate in applied:
                divisor = grossed if rate.inclusive else D(100)
                line_tax = sum(
                    (
                        _tax_of(line.amount, rate, divisor, currency)
                        for line, line_code in charges
                        if line_code == code
                    ),
                    ZERO,
                ) + _tax_of(taxable - gross, rate, divisor, currency)
                entry = by_rate.setdefault((rate.tax_rate_id, divisor), [rate, ZERO, ZERO])
                entry[1] = entry[1] + taxable  # type: ignore[operator]
                entry[2] = entry[2] + line_tax  # type: ignore[operator]
        for (_, divisor), (rate, taxable, line_tax) in sorted(by_rate.items()):
            assert isinstance(rate, TaxRate)
            assert isinstance(taxable, Decimal) and isinstance(line_tax, Decimal)
            if taxable == 0:
                continue
            if rate.calculation == "per_line":
                tax = line_tax
            else:
                tax = _tax_of(taxable, rate, divisor, currency)
            invoice.lines.append(
                Line(
                    "tax_included" if rate.inclusive else "tax",
                    None,
                    rate.description,
                    None,
                    taxable,
                    _quotient(rate.percentage, D(100)),
                    ZERO if rate.inclusive else tax,
                    is_percentage=True,
                    tax_rate_id=rate.tax_rate_id,
                    tax_amount=tax,
                )
            )
