"""A reference pricing engine, independent of the SQL: plain Python and `decimal.Decimal`,
written from the pricing rules in README.md ("Pricing"), one function per rule, sequential where
the rules are sequential. The property tests hold every invoice line the dbt models produce to
what this module computes, to the cent.

Nothing here reads the SQL or the warehouse; inputs are plain dataclasses.
"""

from __future__ import annotations

import calendar
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, timedelta
from decimal import ROUND_CEILING, ROUND_HALF_UP, Decimal
from zoneinfo import ZoneInfo

D = Decimal
ZERO = Decimal(0)
MONTHS_PER_PERIOD = {"month": 1, "quarter": 3, "year": 12}
NOT_CHARGES = ("credit", "tax", "tax_included")
MINOR_UNITS = {"USD": 2, "EUR": 2, "GBP": 2, "JPY": 0, "BHD": 3, "CLF": 4}


@dataclass(frozen=True)
class Tier:
    tier: int
    up_to: Decimal | None
    unit_price: Decimal = ZERO
    flat_amount: Decimal = ZERO


@dataclass(frozen=True)
class Price:
    price_id: str
    pricing_model: str  # flat | per_unit | package | graduated | volume | per_transaction
    description: str
    metric: str | None = None
    unit_price: Decimal | None = None
    flat_amount: Decimal | None = None
    package_size: Decimal | None = None
    free_units: Decimal | None = None
    free_events: int | None = None
    free_allowance_rule: str | None = None  # events_then_units (default) | first_exhausted
    transaction_fixed_fee: Decimal | None = None
    transaction_minimum: Decimal | None = None
    transaction_maximum: Decimal | None = None
    minimum_amount: Decimal | None = None
    maximum_amount: Decimal | None = None
    billing_timing: str = "in_arrears"
    prorate: bool = False
    tier_1_flat_at_zero: bool = True
    tiers: tuple[Tier, ...] = ()
    effective_from: date = date(2000, 1, 1)
    effective_to: date | None = None
    cadence: str = "every_period"  # every_period | one_time
    charge_date: date | None = None  # a one_time fee's local date; None: the first period
    tax_code: str | None = None  # whose tax rates apply (tax.py); None: the rates of every code


@dataclass(frozen=True)
class Event:
    event_id: str
    at: datetime  # UTC, naive
    metric: str
    value: Decimal


@dataclass(frozen=True)
class Subscription:
    subscription_id: str
    customer_id: str
    currency: str
    start_date: date
    prices: tuple[Price, ...]
    end_date: date | None = None
    billing_interval: str = "month"
    billing_anchor_day: int = 1
    minimum_amount: Decimal | None = None
    timezone: str = "UTC"


@dataclass(frozen=True)
class Grant:
    grant_id: str
    customer_id: str
    currency: str
    amount: Decimal
    granted_at: datetime
    expires_at: datetime | None = None
    priority: int | None = None
    metric: str | None = None


@dataclass(frozen=True)
class Discount:
    discount_id: str
    customer_id: str
    description: str = "Discount"
    percent_off: Decimal | None = None  # 10 is 10%
    amount_off: Decimal | None = None
    currency: str | None = None  # amount_off's
    subscription_id: str | None = None
    price_id: str | None = None
    metric: str | None = None
    starts_on: date | None = None
    duration_periods: int | None = None


@dataclass(frozen=True)
class Period:
    start_date: date  # local, inclusive
    end_date: date  # local, exclusive
    start: datetime  # UTC instant of local midnight
    end: datetime
    service_days: int
    full_period_days: int
    status: str  # live | draft | final


@dataclass(frozen=True)
class Line:
    line_type: str  # fee | usage | usage_true_up | minimum_true_up | maximum_discount | ...
    price_id: str | None
    description: str
    tier: int | None
    quantity: Decimal
    unit_price: Decimal
    amount: Decimal
    metric: str | None = None
    credit_grant_id: str | None = None
    is_percentage: bool = False
    scope_price_id: str | None = None  # a discount's price, whose lines it reduces
    tax_rate_id: str | None = None
    tax_amount: Decimal | None = None  # a tax line's tax (an inclusive one's amount is 0)


@dataclass
class Invoice:
    invoice_id: str
    subscription: Subscription
    period: Period
    lines: list[Line] = field(default_factory=list)

    @property
    def subtotal(self) -> Decimal:
        return sum((line.amount for line in self.lines if line.line_type not in NOT_CHARGES), ZERO)

    @property
    def tax_amount(self) -> Decimal:
        return sum((line.amount for line in self.lines if line.line_type == "tax"), ZERO)

    @property
    def tax_included(self) -> Decimal:
        return sum(
            (line.tax_amount or ZERO for line in self.lines if line.line_type == "tax_included"),
            ZERO,
        )

    @property
    def credits_applied(self) -> Decimal:
        return -sum((line.amount for line in self.lines if line.line_type == "credit"), ZERO)

    @property
    def total(self) -> Decimal:
        return sum((line.amount for line in self.lines), ZERO)


# --- money ---------------------------------------------------------------------------------


def round_money(amount: Decimal, currency: str) -> Decimal:
    """Half-up (away from zero) to the currency's minor units."""
    return amount.quantize(D(1).scaleb(-MINOR_UNITS[currency]), ROUND_HALF_UP)


def round_10(value: Decimal) -> Decimal:
    """Exact to 10 decimals, rounded half-up (away from zero), as divide_exact stores a quotient
    (docs/metrics.md)."""
    return value.quantize(D("1e-10"), ROUND_HALF_UP)


def text(value: Decimal) -> str:
    """A quantity as descriptions print it: 1000, 0.5, 12.25."""
    normalized = value.normalize()
    return format(normalized, "f")


# --- billing periods -----------------------------------------------------------------------


def _add_months(year: int, month: int, months: int) -> tuple[int, int]:
    index = year * 12 + (month - 1) + months
    return index // 12, index % 12 + 1


def _anchor(year: int, month: int, anchor_day: int) -> date:
    """The anchor day in that month; past the month's end it is the month's last day."""
    return date(year, month, min(anchor_day, calendar.monthrange(year, month)[1]))


def local_midnight_utc(day: date, timezone: str) -> datetime:
    """Midnight at the start of `day` in `timezone`, as a naive UTC datetime. A midnight that
    does not exist (clocks jump over it) is read with the offset before the jump; one that
    happens twice (clocks go back over it) with the offset after, i.e. its second occurrence."""
    zone = ZoneInfo(timezone)
    first = datetime(day.year, day.month, day.day, tzinfo=zone, fold=0)
    second = first.replace(fold=1)
    round_trip = first.astimezone(UTC).astimezone(zone).replace(tzinfo=None)
    exists = round_trip == first.replace(tzinfo=None)
    chosen = second if exists and first.utcoffset() != second.utcoffset() else first
    return chosen.astimezone(UTC).replace(tzinfo=None)


def period_status(end: datetime, as_of: datetime, grace_days: int) -> str:
    if as_of < end:
        return "live"
    if as_of < end + timedelta(days=grace_days):
        return "draft"
    return "final"


def billing_periods(
    subscription: Subscription, as_of: datetime, grace_days: int = 3
) -> list[Period]:
    """Every period that has started by `as_of`: anchor to anchor every 1, 3 or 12 months,
    counted from the anchor on or before the start date, cut at start and end dates."""
    months = MONTHS_PER_PERIOD[subscription.billing_interval]
    anchor_day = subscription.billing_anchor_day
    start = subscription.start_date
    year, month = start.year, start.month
    if _anchor(year, month, anchor_day) > start:
        year, month = _add_months(year, month, -1)
    periods = []
    number = 0
    while True:
        calendar_start = _anchor(*_add_months(year, month, number * months), anchor_day)
        calendar_end = _anchor(*_add_months(year, month, (number + 1) * months), anchor_day)
        number += 1
        start_date = max(calendar_start, start)
        end_date = calendar_end
        if subscription.end_date is not None:
            end_date = min(end_date, subscription.end_date)
        if start_date >= end_date:
            break
        period_start = local_midnight_utc(start_date, subscription.timezone)
        if period_start > as_of:
            break
        period_end = local_midnight_utc(end_date, subscription.timezone)
        periods.append(
            Period(
                start_date=start_date,
                end_date=end_date,
                start=period_start,
                end=period_end,
                service_days=(end_date - start_date).days,
                full_period_days=(calendar_end - calendar_start).days,
                status=period_status(period_end, as_of, grace_days),
            )
        )
    return periods


# --- one price in one period -------------------------------------------------------------


def _usage_description(price: Price) -> str:
    if price.free_units is not None and price.free_units > 0:
        return f"{price.description} (first {text(price.free_units)} free)"
    return price.description


def _billable(price: Price, quantity: Decimal) -> Decimal:
    return max(quantity - (price.free_units or ZERO), ZERO)


def flat_lines(price: Price, period: Period, currency: str) -> list[Line]:
    if price.billing_timing == "in_arrears" and period.status == "live":
        return []  # billed once the period has ended
    assert price.flat_amount is not None
    if price.prorate and period.service_days < period.full_period_days:
        exact = round_10(price.flat_amount * period.service_days / period.full_period_days)
        amount = round_money(exact, currency)
        description = (
            f"{price.description} (prorated {period.service_days}/{period.full_period_days} days)"
        )
        return [Line("fee", price.price_id, description, None, D(1), amount, amount)]
    amount = round_money(price.flat_amount, currency)
    return [Line("fee", price.price_id, price.description, None, D(1), price.flat_amount, amount)]


def per_unit_lines(price: Price, quantity: Decimal, currency: str, is_money: bool) -> list[Line]:
    billable = _billable(price, quantity)
    rate = price.unit_price or ZERO
    amount = round_money(billable * rate, currency)
    description = _usage_description(price)
    return [
        Line(
            "usage",
            price.price_id,
            description,
            None,
            billable,
            rate,
            amount,
            price.metric,
            None,
            is_money,
        )
    ]


def package_lines(price: Price, quantity: Decimal, currency: str) -> list[Line]:
    assert price.package_size is not None
    assert price.package_size > 0
    billable = _billable(price, quantity)
    packages = (billable / price.package_size).to_integral_value(ROUND_CEILING)
    rate = price.unit_price or ZERO
    amount = round_money(packages * rate, currency)
    return [
        Line(
            "usage",
            price.price_id,
            _usage_description(price),
            None,
            packages,
            rate,
            amount,
            price.metric,
        )
    ]


def _tier_flat(price: Price, tier: Tier, billable: Decimal) -> Decimal:
    if tier.tier == 1 and billable == 0 and not price.tier_1_flat_at_zero:
        return ZERO
    return tier.flat_amount


def graduated_lines(price: Price, quantity: Decimal, currency: str, is_money: bool) -> list[Line]:
    """Each unit at the rate of the tier it falls in; a tier's flat amount once usage enters it
    (tier 1 entered at zero unless tier_1_flat_at_zero is false). Tier 1 is always shown."""
    billable = _billable(price, quantity)
    lines = []
    floor = ZERO
    for tier in price.tiers:
        if tier.tier == 1 or billable > floor:
            top = billable if tier.up_to is None else min(billable, tier.up_to)
            in_tier = max(top - floor, ZERO)
            flat = _tier_flat(price, tier, billable)
            amount = round_money(in_tier * tier.unit_price + flat, currency)
            lines.append(
                Line(
                    "usage",
                    price.price_id,
                    f"Tier {tier.tier} - {_usage_description(price)}",
                    tier.tier,
                    in_tier,
                    tier.unit_price,
                    amount,
                    price.metric,
                    None,
                    is_money,
                )
            )
        if tier.up_to is not None:
            floor = tier.up_to
    return lines


def volume_lines(price: Price, quantity: Decimal, currency: str, is_money: bool) -> list[Line]:
    """Every unit at the rate of the tier the total reaches; zero usage sits in tier 1."""
    billable = _billable(price, quantity)
    floor = ZERO
    for tier in price.tiers:
        inside = billable > floor and (tier.up_to is None or billable <= tier.up_to)
        if inside or (billable == 0 and tier.tier == 1):
            flat = _tier_flat(price, tier, billable)
            amount = round_money(billable * tier.unit_price + flat, currency)
            return [
                Line(
                    "usage",
                    price.price_id,
                    f"Tier {tier.tier} - {_usage_description(price)}",
                    tier.tier,
                    billable,
                    tier.unit_price,
                    amount,
                    price.metric,
                    None,
                    is_money,
                )
            ]
        if tier.up_to is not None:
            floor = tier.up_to
    raise AssertionError(f"{price.price_id}: no tier holds {billable}")


def transaction_lines(
    price: Price, events: Sequence[Event], currency: str, is_money: bool
) -> list[Line]:
    """Each event on its own: value * rate + fixed fee, clamped to [minimum, maximum], in
    timestamp order. By default (events_then_units) the first free_events events are free, then
    free_units come off the values of the events that follow. Under first_exhausted, with both
    allowances set, an event is free only while neither has run out: its value comes off the
    units left (the event that exhausts them is partly free), and it spends one free event. An
    event made entirely free costs nothing."""
    rate = price.unit_price or ZERO
    fixed = price.transaction_fixed_fee or ZERO
    free_events_left = price.free_events or 0
    free_units_left = price.free_units or ZERO
    first_exhausted = (
        price.free_allowance_rule == "first_exhausted"
        and free_events_left > 0
        and free_units_left > 0
    )
    charged_value = ZERO
    fees = ZERO
    charged = free = 0
    for event in sorted(events, key=lambda event: (event.at, event.event_id)):
        value = event.value
        if first_exhausted:
            if free_events_left == 0 or free_units_left <= 0:
                free_part = ZERO
            else:
                free_events_left -= 1
                free_part = value if value <= free_units_left else free_units_left
                free_units_left -= max(free_part, ZERO)  # a refund spends no units
                if free_part == value:
                    free += 1
                    continue
        else:
            if free_events_left > 0:
                free_events_left -= 1
                free += 1
                continue
            free_part = ZERO
            if value > 0 and free_units_left > 0:
                free_part = min(free_units_left, value)
                free_units_left -= free_part
            if free_part > 0 and free_part == value:
                free += 1
                continue
        value -= free_part
        fee = value * rate + fixed
        if price.transaction_minimum is not None:
            fee = max(fee, price.transaction_minimum)
        if price.transaction_maximum is not None:
            fee = min(fee, price.transaction_maximum)
        fees += fee
        charged_value += value
        charged += 1
    description = f"{price.description} ({charged} transaction{'' if charged == 1 else 's'}"
    description += f", {free} free)" if free else ")"
    amount = round_money(fees, currency)
    return [
        Line(
            "usage",
            price.price_id,
            description,
            None,
            charged_value,
            rate,
            amount,
            price.metric,
            None,
            is_money,
        )
    ]


def _metric_display_name(metric: str) -> str:
    words = metric.replace("_", " ")
    return f"{words[:1].upper()}{words[1:]}"


def _prorated_level_lines(
    price: Price, quantity: Decimal, period: Period, currency: str, is_money: bool
) -> list[Line]:
    """A level priced by the price's model; for a cut period, each line's exact amount (units
    × rate + the tier's flat amount) over the days served, as a flat fee is prorated."""
    lines = model_lines(price, quantity, (), currency, is_money)
    if not (price.prorate and period.service_days < period.full_period_days):
        return lines
    billable = _billable(price, quantity)
    flats = {tier.tier: _tier_flat(price, tier, billable) for tier in price.tiers}
    days = f"(prorated {period.service_days}/{period.full_period_days} days)"
    prorated = []
    for line in lines:
        exact = line.quantity * line.unit_price + (flats[line.tier] if line.tier else ZERO)
        share = round_10(exact * period.service_days / period.full_period_days)
        prorated.append(
            replace(
                line, amount=round_money(share, currency), description=f"{line.description} {days}"
            )
        )
    return prorated


def in_advance_usage_lines(
    price: Price, period: Period, metric_events: Sequence[Event], currency: str, is_money: bool
) -> list[Line]:
    """A usage price billed in advance on a level (a latest metric: seats). The level in force
    at the period's start, the last value reported before it (0 when none), is charged from the
    period's first instant. Once the period has ended, its peak (the start level or any value
    reported in the period, whichever is highest) is priced the same way and what it adds is a
    true-up; a decrease is not refunded, it only lowers the next period's start level.
    `metric_events` are all the customer's events of the metric."""
    ordered = sorted(metric_events, key=lambda event: (event.at, event.event_id))
    before = [event.value for event in ordered if event.at < period.start]
    start_level = before[-1] if before else ZERO
    lines = _prorated_level_lines(price, start_level, period, currency, is_money)
    if period.status == "live":
        return lines
    reported = [event.value for event in ordered if period.start <= event.at < period.end]
    peak = max([start_level, *reported])
    peak_lines = _prorated_level_lines(price, peak, period, currency, is_money)
    increase = sum((line.amount for line in peak_lines), ZERO) - sum(
        (line.amount for line in lines), ZERO
    )
    if increase > 0:
        assert price.metric is not None
        description = f"{_metric_display_name(price.metric)} increase true-up"
        true_up = Line("usage_true_up", price.price_id, description, None, D(1), increase, increase)
        lines.append(replace(true_up, metric=price.metric))
    return lines


def model_lines(
    price: Price, quantity: Decimal, events: Sequence[Event], currency: str, is_money: bool
) -> list[Line]:
    """A quantity (or the period's events, per transaction) priced by the price's model."""
    model = price.pricing_model
    if model == "per_unit":
        lines = per_unit_lines(price, quantity, currency, is_money)
    elif model == "package":
        lines = package_lines(price, quantity, currency)
    elif model == "graduated":
        lines = graduated_lines(price, quantity, currency, is_money)
    elif model == "volume":
        lines = volume_lines(price, quantity, currency, is_money)
    elif model == "per_transaction":
        lines = transaction_lines(price, events, currency, is_money)
    else:
        raise AssertionError(model)
    return lines


def price_lines(
    price: Price,
    period: Period,
    events: Sequence[Event],
    currency: str,
    money_metrics: Iterable[str],
    metric_events: Sequence[Event] = (),
) -> list[Line]:
    """The lines of one price for one period, then its minimum true-up or its cap's discount.
    `events` are the period's events of the price's metric, `metric_events` all of them (an
    in-advance usage price reads the level reported before the period)."""
    is_money = price.metric in set(money_metrics)
    quantity = sum((event.value for event in events), ZERO)
    if price.pricing_model == "flat":
        lines = flat_lines(price, period, currency)
    elif price.billing_timing == "in_advance":
        lines = in_advance_usage_lines(price, period, metric_events, currency, is_money)
    else:
        lines = model_lines(price, quantity, events, currency, is_money)
    total = sum((line.amount for line in lines), ZERO)
    if price.minimum_amount is not None and period.status != "live":
        minimum = round_money(price.minimum_amount, currency)
        if total < minimum:
            lines.append(
                Line(
                    "minimum_true_up",
                    price.price_id,
                    f"Minimum charge true-up - {price.description}",
                    None,
                    D(1),
                    minimum - total,
                    minimum - total,
                    price.metric,
                )
            )
            return lines
    if price.maximum_amount is not None:
        maximum = round_money(price.maximum_amount, currency)
        if total > maximum:
            lines.append(
                Line(
                    "maximum_discount",
                    price.price_id,
                    f"Maximum charge discount - {price.description}",
                    None,
                    D(1),
                    maximum - total,
                    maximum - total,
                    price.metric,
                )
            )
    return lines


# --- invoices --------------------------------------------------------------------------------


def prices_in_force(subscription: Subscription, period: Period, is_first: bool) -> list[Price]:
    """The price versions effective on the period's first local day; a one-time fee only on the
    subscription's first period (`is_first`), or, when dated, on the period holding its date."""
    in_force = []
    for price in subscription.prices:
        if price.charge_date is not None:
            if period.start_date <= price.charge_date < period.end_date:
                in_force.append(price)
            continue
        if price.effective_from > period.start_date:
            continue
        if price.effective_to is not None and price.effective_to <= period.start_date:
            continue
        if price.cadence == "one_time" and not is_first:
            continue
        in_force.append(price)
    return in_force


def invoices(
    subscription: Subscription,
    events: Sequence[Event],
    as_of: datetime,
    money_metrics: Iterable[str] = (),
    grace_days: int = 3,
) -> list[Invoice]:
    """The subscription's invoices before credits: its prices' lines per period (ordered by
    price id), then the minimum commitment true-up. `events` are the customer's events."""
    result = []
    for number, period in enumerate(billing_periods(subscription, as_of, grace_days)):
        invoice = Invoice(
            f"{subscription.subscription_id}/{period.start_date}", subscription, period
        )
        in_force = prices_in_force(subscription, period, is_first=number == 0)
        for price in sorted(in_force, key=lambda price: price.price_id):
            in_period = [
                event
                for event in events
                if event.metric == price.metric and period.start <= event.at < period.end
            ]
            of_metric = [event for event in events if event.metric == price.metric]
            invoice.lines += price_lines(
                price, period, in_period, subscription.currency, money_metrics, of_metric
            )
        if subscription.minimum_amount is not None and period.status != "live":
            commitment = round_money(subscription.minimum_amount, subscription.currency)
            charged = invoice.subtotal
            if charged < commitment:
                invoice.lines.append(
                    Line(
                        "commitment_true_up",
                        None,
                        "Minimum commitment true-up",
                        None,
                        D(1),
                        commitment - charged,
                        commitment - charged,
                    )
                )
        result.append(invoice)
    return result


# --- discounts -------------------------------------------------------------------------------


def _discounted_invoices(
    invoices_of_subscription: Sequence[Invoice], discount: Discount
) -> list[Invoice]:
    """The invoices a discount applies to: its customer's (or its subscription's), periods
    starting on or after starts_on, the first duration_periods of them (all when empty), in
    its currency when it is an amount."""
    found = []
    for invoice in sorted(invoices_of_subscription, key=lambda item: item.period.start_date):
        subscription = invoice.subscription
        if subscription.customer_id != discount.customer_id:
            continue
        if discount.subscription_id not in (None, subscription.subscription_id):
            continue
        if discount.starts_on is not None and invoice.period.start_date < discount.starts_on:
            continue
        if discount.amount_off is not None and discount.currency != subscription.currency:
            continue
        found.append(invoice)
    if discount.duration_periods is not None:
        found = found[: discount.duration_periods]
    return found


def _discount_id(discount: Discount) -> str:
    return discount.discount_id


def apply_discounts(all_invoices: Sequence[Invoice], discounts: Sequence[Discount]) -> None:
    """Append discount lines, before credit. Each takes percent_off of its base (the invoice's
    charges, or its price's or metric's lines), rounded half-up, or amount_off; at most its base;
    and an invoice's discounts, in discount_id order, at most the invoice's charges."""
    applied: dict[str, list[Discount]] = {}
    by_subscription: dict[str, list[Invoice]] = {}
    for invoice in all_invoices:
        by_subscription.setdefault(invoice.subscription.subscription_id, []).append(invoice)
    for discount in discounts:
        for invoices_of_subscription in by_subscription.values():
            for invoice in _discounted_invoices(invoices_of_subscription, discount):
                applied.setdefault(invoice.invoice_id, []).append(discount)
    for invoice in all_invoices:
        charge_lines = list(invoice.lines)  # prices and the commitment true-up
        charges = max(invoice.subtotal, ZERO)
        already = ZERO
        prices = {price.price_id: price for price in invoice.subscription.prices}
        for discount in sorted(applied.get(invoice.invoice_id, []), key=_discount_id):
            base = sum(
                (
                    line.amount
                    for line in charge_lines
                    if (discount.price_id is None or line.price_id == discount.price_id)
                    and (discount.metric is None or line.metric == discount.metric)
                ),
                ZERO,
            )
            if discount.percent_off is not None:
                raw = round_money(base * discount.percent_off / 100, invoice.subscription.currency)
            else:
                assert discount.amount_off is not None
                raw = discount.amount_off
            capped = max(min(raw, base), ZERO)
            amount = min(capped, max(charges - already, ZERO))
            already += amount
            if amount <= 0:
                continue
            price = prices.get(discount.price_id or "")
            metric = discount.metric or (price.metric if price else None)
            whole = discount.percent_off is not None and amount == raw
            invoice.lines.append(
                Line(
                    "discount",
                    None,
                    discount.description,
                    None,
                    base if whole else D(1),
                    -discount.percent_off / 100 if whole and discount.percent_off else -amount,
                    -amount,
                    metric,
                    None,
                    whole,
                    scope_price_id=discount.price_id,
                )
            )


# --- prepaid credits -------------------------------------------------------------------------


def grant_order(grant: Grant) -> tuple[object, ...]:
    """Priority 1 first (empty last), then soonest expiry (never last), then granted_at, id."""
    return (
        grant.priority is None,
        grant.priority or 0,
        grant.expires_at is None,
        grant.expires_at or datetime.min,
        grant.granted_at,
        grant.grant_id,
    )


def apply_credits(all_invoices: Sequence[Invoice], grants: Sequence[Grant]) -> dict[str, Decimal]:
    """Append credit lines to the final invoices, drawing sequentially, and return what each
    grant has left. Per customer and currency, final invoices draw in the order their periods end
    (then invoice id); each from the grants given before its period ended and not expired before
    it ended, in grant_order. A grant on a metric pays only that metric's lines; an unscoped one
    pays fees and commitment true-ups first, then metrics by name."""
    balance = {grant.grant_id: grant.amount for grant in grants}
    finals = sorted(
        (invoice for invoice in all_invoices if invoice.period.status == "final"),
        key=lambda invoice: (invoice.period.end, invoice.invoice_id),
    )
    for invoice in finals:
        owed: dict[str, Decimal] = {}
        for line in invoice.lines:
            bucket = line.metric or ""
            owed[bucket] = owed.get(bucket, ZERO) + line.amount
        buckets = sorted(owed, key=lambda bucket: (bucket != "", bucket))
        # A bucket below zero (a discount on the whole invoice above its fees) is taken off the
        # other buckets, in draw order, before credit pays them.
        deficit = sum((-amount for amount in owed.values() if amount < 0), ZERO)
        for bucket in buckets:
            offset = min(max(owed[bucket], ZERO), deficit)
            owed[bucket] -= offset
            deficit -= offset
        owed = {bucket: max(amount, ZERO) for bucket, amount in owed.items()}
        usable = sorted(
            (
                grant
                for grant in grants
                if grant.customer_id == invoice.subscription.customer_id
                and grant.currency == invoice.subscription.currency
                and grant.granted_at < invoice.period.end
                and (grant.expires_at is None or grant.expires_at >= invoice.period.end)
            ),
            key=grant_order,
        )
        for grant in usable:
            drawn = ZERO
            for bucket in buckets:
                if grant.metric is not None and grant.metric != bucket:
                    continue
                take = min(owed[bucket], balance[grant.grant_id])
                owed[bucket] -= take
                balance[grant.grant_id] -= take
                drawn += take
            if drawn > 0:
                # The metric by its display name; these metrics declare none: the name in words.
                words = (grant.metric or "").replace("_", " ")
                scope = f" ({words[:1].upper()}{words[1:]} only)" if grant.metric else ""
                invoice.lines.append(
                    Line(
                        "credit",
                        None,
                        f"Prepaid credit {grant.grant_id}{scope}",
                        None,
                        D(1),
                        -drawn,
                        -drawn,
                        grant.metric,
                        grant.grant_id,
                    )
                )
    return balance
