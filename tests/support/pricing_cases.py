"""Random pricing cases for the property tests: hypothesis strategies drawing a customer's
subscriptions, prices, tiers, usage events and credit grants; the tables and events that put a
batch of cases into one dbt build; what the oracle expects of each; and simpler variants of a
failing case, for shrinking it in batched builds."""

from __future__ import annotations

import dataclasses
import json
import random
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import seed as hypothesis_seed
from hypothesis import strategies as st

from tests.support import pricing_oracle as oracle
from tests.support import pricing_oracle_tax as tax
from tests.support.warehouse_scenario import Pricing

D = Decimal
AS_OF = datetime(2024, 2, 15, 12, 0, 0)
GRACE_DAYS = 3
MONEY_METRICS = ("volume",)

# Four metrics: a plain sum, a money sum (rates on it are percents), a count, and a level
# (latest seats) that only in-advance usage prices price.
METRICS: list[dict[str, Any]] = [
    {"name": "units", "event_type": "usage", "aggregation": "sum", "property": "units"},
    {
        "name": "volume",
        "event_type": "payment",
        "aggregation": "sum",
        "property": "amount",
        "unit": "USD",
    },
    {"name": "calls", "event_type": "call", "aggregation": "count"},
    {"name": "seats", "event_type": "seats", "aggregation": "latest", "property": "seats"},
]
EVENT_TYPES = {
    "units": ("usage", "units"),
    "volume": ("payment", "amount"),
    "calls": ("call", None),
    "seats": ("seats", "seats"),
}

TIME_ZONES = [
    "UTC",
    "America/New_York",
    "America/Los_Angeles",
    "America/Santiago",  # daylight saving starts at local midnight: that midnight does not exist
    "America/Havana",  # daylight saving ends at 01:00 back to 00:00: midnight happens twice
    "America/St_Johns",  # UTC-03:30
    "Europe/London",
    "Europe/Berlin",
    "Asia/Tokyo",
    "Asia/Kolkata",
    "Australia/Lord_Howe",  # 30-minute daylight-saving shift
    "Pacific/Chatham",  # UTC+12:45
    "Pacific/Kiritimati",  # UTC+14
]


@dataclass(frozen=True)
class Case:
    """One customer: its subscriptions (each with its plan's prices), events and credit."""

    name: str
    subscriptions: tuple[oracle.Subscription, ...]
    events: tuple[oracle.Event, ...] = ()
    grants: tuple[oracle.Grant, ...] = ()
    discounts: tuple[oracle.Discount, ...] = ()
    tax_rates: tuple[tax.TaxRate, ...] = ()  # the customer's own (every case shares a warehouse)
    tax_exempt: str | None = None  # none | exempt | reverse

    @property
    def customer_id(self) -> str:
        return f"cus_{self.name}"


def qualified(case: Case) -> Case:
    """The case with every id prefixed by its name, so a batch of cases shares one warehouse."""
    prefix = case.name
    subscriptions = tuple(
        replace(
            subscription,
            subscription_id=f"{prefix}_{subscription.subscription_id}",
            customer_id=case.customer_id,
            prices=tuple(
                replace(price, price_id=f"{prefix}_{price.price_id}")
                for price in subscription.prices
            ),
        )
        for subscription in case.subscriptions
    )
    events = tuple(replace(event, event_id=f"{prefix}_{event.event_id}") for event in case.events)
    grants = tuple(
        replace(grant, grant_id=f"{prefix}_{grant.grant_id}", customer_id=case.customer_id)
        for grant in case.grants
    )
    discounts = tuple(
        replace(
            discount,
            discount_id=f"{prefix}_{discount.discount_id}",
            customer_id=case.customer_id,
            subscription_id=discount.subscription_id and f"{prefix}_{discount.subscription_id}",
            price_id=discount.price_id and f"{prefix}_{discount.price_id}",
        )
        for discount in case.discounts
    )
    tax_rates = tuple(
        replace(rate, tax_rate_id=f"{prefix}_{rate.tax_rate_id}", customer_id=case.customer_id)
        for rate in case.tax_rates
    )
    return replace(
        case,
        subscriptions=subscriptions,
        events=events,
        grants=grants,
        discounts=discounts,
        tax_rates=tax_rates,
    )


# --- into the warehouse ---------------------------------------------------------------------


def _timestamp(at: datetime) -> str:
    return at.strftime("%Y-%m-%dT%H:%M:%SZ")


def tables(cases: Sequence[Case]) -> tuple[Pricing, list[tuple[Any, ...]]]:
    """The pricing tables and raw events of a batch of (unqualified) cases."""
    pricing = Pricing()
    events: list[tuple[Any, ...]] = []
    for case in map(qualified, cases):
        timezone = case.subscriptions[0].timezone if case.subscriptions else "UTC"
        pricing.customers.append(
            {"customer_id": case.customer_id, "name": case.name, "timezone": timezone}
            | {"tax_exempt": case.tax_exempt}
        )
        pricing.customer_aliases.append({"alias": case.name, "customer_id": case.customer_id})
        for subscription in case.subscriptions:
            plan_id = subscription.subscription_id
            pricing.plans.append({"plan_id": plan_id, "name": plan_id})
            pricing.subscriptions.append(
                {
                    "subscription_id": subscription.subscription_id,
                    "customer_id": case.customer_id,
                    "plan_id": plan_id,
                    "currency": subscription.currency,
                    "start_date": subscription.start_date,
                    "end_date": subscription.end_date,
                    "billing_interval": subscription.billing_interval,
                    "billing_anchor_day": subscription.billing_anchor_day,
                    "minimum_amount": subscription.minimum_amount,
                }
            )
            for price in subscription.prices:
                pricing.prices.append(
                    {
                        "price_id": price.price_id,
                        "plan_id": plan_id,
                        "metric": price.metric,
                        "pricing_model": price.pricing_model,
                        "description": price.description,
                        "currency": subscription.currency,
                        "unit_price": price.unit_price,
                        "flat_amount": price.flat_amount,
                        "package_size": price.package_size,
                        "free_units": price.free_units,
                        "free_events": price.free_events,
                        "free_allowance_rule": price.free_allowance_rule,
                        "transaction_fixed_fee": price.transaction_fixed_fee,
                        "transaction_minimum": price.transaction_minimum,
                        "transaction_maximum": price.transaction_maximum,
                        "minimum_amount": price.minimum_amount,
                        "maximum_amount": price.maximum_amount,
                        "billing_timing": price.billing_timing,
                        "prorate": price.prorate,
                        "tier_1_flat_at_zero": price.tier_1_flat_at_zero,
                        "effective_from": price.effective_from,
                        "effective_to": price.effective_to,
                        "cadence": price.cadence,
                        "charge_date": price.charge_date,
                        "tax_code": price.tax_code,
                    }
                )
                for tier in price.tiers:
                    pricing.price_tiers.append(
                        {
                            "price_id": price.price_id,
                            "tier": tier.tier,
                            "up_to": tier.up_to,
                            "unit_price": tier.unit_price,
                            "flat_amount": tier.flat_amount,
                        }
                    )
        for grant in case.grants:
            pricing.credit_grants.append(
                {
                    "grant_id": grant.grant_id,
                    "customer_id": grant.customer_id,
                    "currency": grant.currency,
                    "amount": grant.amount,
                    "granted_at": grant.granted_at,
                    "expires_at": grant.expires_at,
                    "priority": grant.priority,
                    "metric": grant.metric,
                }
            )
        for discount in case.discounts:
            pricing.discounts.append(
                {
                    "discount_id": discount.discount_id,
                    "customer_id": discount.customer_id,
                    "subscription_id": discount.subscription_id,
                    "description": discount.description,
                    "percent_off": discount.percent_off,
                    "amount_off": discount.amount_off,
                    "currency": discount.currency,
                    "price_id": discount.price_id,
                    "metric": discount.metric,
                    "starts_on": discount.starts_on,
                    "duration_periods": discount.duration_periods,
                }
            )
        for rate in case.tax_rates:
            pricing.tax_rates.append(
                {
                    "tax_rate_id": rate.tax_rate_id,
                    "customer_id": rate.customer_id,
                    "tax_code": rate.tax_code,
                    "description": rate.description,
                    "percentage": rate.percentage,
                    "inclusive": rate.inclusive,
                    "calculation": rate.calculation,
                    "effective_from": rate.effective_from,
                    "effective_to": rate.effective_to,
                }
            )
        for event in case.events:
            event_type, key = EVENT_TYPES[event.metric]
            properties = json.dumps({key: str(event.value)} if key else {})
            events.append(
                (event.event_id, case.name, event_type, _timestamp(event.at), properties, AS_OF)
            )
    return pricing, events


def build_vars() -> dict[str, Any]:
    return {
        "usage_billing_metrics": METRICS,
        "usage_billing_as_of": AS_OF.strftime("%Y-%m-%d %H:%M:%S"),
        "usage_billing_grace_days": GRACE_DAYS,
    }


# --- what the oracle expects ------------------------------------------------------------------

LineRow = tuple[Any, ...]


def line_row(line: oracle.Line) -> LineRow:
    return (
        line.line_type,
        line.price_id,
        line.credit_grant_id,
        line.description,
        line.tier,
        line.quantity,
        line.unit_price,
        line.amount,
        line.is_percentage,
        line.tax_rate_id,
        line.tax_amount,
    )


@dataclass
class Expected:
    # invoice_id → (period_start, period_end, status, subtotal, credits, tax, tax included, total)
    invoices: dict[str, tuple[Any, ...]]
    lines: dict[str, list[LineRow]]  # invoice_id → lines in line_number order
    balances: dict[str, tuple[Any, ...]]  # grant_id → (used, expired, remaining, status)


def expected(case: Case) -> Expected:
    case = qualified(case)
    all_invoices = [
        invoice
        for subscription in case.subscriptions
        for invoice in oracle.invoices(subscription, case.events, AS_OF, MONEY_METRICS, GRACE_DAYS)
    ]
    oracle.apply_discounts(all_invoices, case.discounts)
    left = oracle.apply_credits(all_invoices, case.grants)
    tax_codes = {
        price.price_id: price.tax_code or ""
        for subscription in case.subscriptions
        for price in subscription.prices
    }
    tax.apply_taxes(
        all_invoices, case.tax_rates, tax_codes, {case.customer_id: case.tax_exempt or "none"}
    )
    balances = {}
    for grant in case.grants:
        used = grant.amount - left[grant.grant_id]
        expired = grant.expires_at is not None and grant.expires_at <= AS_OF
        if grant.granted_at > AS_OF:
            status = "scheduled"
        elif expired:
            status = "expired"
        elif grant.amount - used <= 0:
            status = "used_up"
        else:
            status = "active"
        remaining = D(0) if expired else grant.amount - used
        balances[grant.grant_id] = (
            used,
            grant.amount - used if expired else D(0),
            remaining,
            status,
        )
    return Expected(
        invoices={
            invoice.invoice_id: (
                invoice.period.start,
                invoice.period.end,
                invoice.period.status,
                invoice.subtotal,
                invoice.credits_applied,
                invoice.tax_amount,
                invoice.tax_included,
                invoice.total,
            )
            for invoice in all_invoices
        },
        lines={
            invoice.invoice_id: [line_row(line) for line in invoice.lines]
            for invoice in all_invoices
        },
        balances=balances,
    )


# --- random cases ------------------------------------------------------------------------------
# Hypothesis draws each case's random source (st.randoms), seeded from its own data, and these
# builders pick the values with a bias to the edges (zero, whole numbers, exact tier bounds,
# period boundaries): drawing thousands of cases value by value through hypothesis costs ~10 ms
# each, this way ~0.1 ms, and the run still replays from the hypothesis seed.

Random = random.Random


def decimal(rng: Random, low: int, high: int, max_places: int) -> Decimal:
    """From low to high with up to max_places decimals; the ends and whole numbers likelier."""
    roll = rng.random()
    if roll < 0.1:
        return D(low)
    if roll < 0.15:
        return D(high)
    places = rng.randint(0, max_places)
    return D(rng.randint(low * 10**places, high * 10**places)).scaleb(-places)


def money(rng: Random, currency: str, high: int) -> Decimal:
    return decimal(rng, 0, high, oracle.MINOR_UNITS[currency])


def maybe(rng: Random, chance_none: float, make: Callable[[], Any]) -> Any:
    return None if rng.random() < chance_none else make()


def tiers(rng: Random, rate: Callable[[], Decimal], currency: str) -> tuple[oracle.Tier, ...]:
    count = rng.randint(1, 4)
    bound = D(0)
    result = []
    for number in range(1, count + 1):
        up_to = None
        if number < count:
            bound += decimal(rng, 1, 60, 2)
            up_to = bound
        flat = D(0) if rng.random() < 0.5 else money(rng, currency, 20)
        result.append(oracle.Tier(number, up_to, rate(), flat))
    return tuple(result)


def usage_price(rng: Random, currency: str) -> oracle.Price:
    in_advance = rng.random() < 0.15  # seats billed in advance, trued up to the peak
    models = ["per_unit", "package", "graduated", "volume"]
    model = rng.choice(models if in_advance else [*models, "per_transaction"])
    metric = "seats" if in_advance else rng.choice(["units", "volume", "calls"])

    def rate() -> Decimal:
        return decimal(rng, 0, 1, 5) if metric == "volume" else decimal(rng, 0, 20, 4)

    price: dict[str, Any] = {
        "price_id": "p1",
        "pricing_model": model,
        "description": "Usage",
        "metric": metric,
        "free_units": maybe(rng, 0.6, lambda: decimal(rng, 0, 80, 2)),
        "minimum_amount": maybe(rng, 0.75, lambda: money(rng, currency, 150)),
        "maximum_amount": maybe(rng, 0.75, lambda: money(rng, currency, 400)),
    }
    if in_advance:
        price["billing_timing"] = "in_advance"
        price["prorate"] = rng.random() < 0.5
    low, high = price["minimum_amount"], price["maximum_amount"]
    if low is not None and high is not None and low > high:
        price["minimum_amount"], price["maximum_amount"] = high, low
    if model in ("per_unit", "package", "per_transaction"):
        price["unit_price"] = rate()
    if model == "package":
        price["package_size"] = decimal(rng, 1, 40, 1)
    if model in ("graduated", "volume"):
        price["tiers"] = tiers(rng, rate, currency)
        price["tier_1_flat_at_zero"] = rng.random() < 0.5
    if model == "per_transaction":
        price["transaction_fixed_fee"] = maybe(rng, 0.4, lambda: money(rng, currency, 3))
        low = maybe(rng, 0.5, lambda: money(rng, currency, 4))
        high = maybe(rng, 0.5, lambda: money(rng, currency, 12))
        if low is not None and high is not None and low > high:
            low, high = high, low
        price["transaction_minimum"] = low
        price["transaction_maximum"] = high
        price["free_events"] = maybe(rng, 0.6, lambda: rng.randint(0, 3))
        # Empty (the default) or either rule named; Lago's rule oftener, as it differs.
        price["free_allowance_rule"] = rng.choice(
            [None, "events_then_units", "first_exhausted", "first_exhausted"]
        )
    return oracle.Price(**price)


def flat_price(
    rng: Random, currency: str, price_id: str = "p0", charge_dates: Sequence[date] = ()
) -> oracle.Price:
    """A recurring fee, or one time in five a one-time fee (not prorated): on the first period,
    or on one of `charge_dates` when given."""
    one_time = rng.random() < 0.2
    return oracle.Price(
        price_id=price_id,
        pricing_model="flat",
        description="Setup fee" if one_time else "Platform fee",
        flat_amount=decimal(rng, 0, 3000, 4),
        prorate=not one_time and rng.random() < 0.5,
        billing_timing=rng.choice(["in_arrears", "in_advance"]),
        minimum_amount=maybe(rng, 0.9, lambda: money(rng, currency, 100)),
        cadence="one_time" if one_time else "every_period",
        charge_date=rng.choice([None, *charge_dates]) if one_time and charge_dates else None,
    )


def events(
    rng: Random, metrics: Sequence[str], start: datetime, end: datetime, most: int
) -> tuple[oracle.Event, ...]:
    seconds = int((end - start).total_seconds())
    result = []
    for number in range(rng.randint(0, most)):
        metric = rng.choice(metrics)
        at = start + timedelta(seconds=rng.randint(0, seconds))
        if metric == "calls":
            value = D(1)
        elif metric == "volume":
            value = decimal(rng, 0, 900, 2)
        elif metric == "seats":
            value = decimal(rng, 0, 40, 1)
        else:
            value = decimal(rng, 0, 90, 4)
        result.append(oracle.Event(f"e{number}", at, metric, value))
    return tuple(result)


def usage_case(rng: Random) -> Case:
    """One price of any usage model (or a flat fee) and its edges: free units and events,
    tier flat fees at zero, per-event minimums and maximums, price minimums and caps, a
    commitment, a start or end inside the period, a period that is final, draft or live."""
    currency = rng.choice(["USD", "EUR", "JPY", "BHD"])
    month_start = rng.choice([date(2024, 1, 1), date(2024, 2, 1)])
    start = month_start + timedelta(days=rng.choice([0, 0, 0, 0, 3, 11, 19, 27]))
    end = rng.choice(
        [None, None, None, start + timedelta(days=10), date(2024, 2, 1), date(2024, 2, 13)]
    )
    if end is not None and end <= start:
        end = None
    prices = [usage_price(rng, currency)]
    if rng.random() < 0.25:
        prices.append(flat_price(rng, currency))
    if rng.random() < 0.15:
        prices = [flat_price(rng, currency, "p1")]
    subscription = oracle.Subscription(
        subscription_id="s1",
        customer_id="",
        currency=currency,
        start_date=start,
        end_date=end,
        prices=tuple(prices),
        minimum_amount=maybe(rng, 0.8, lambda: money(rng, currency, 300)),
    )
    metric = prices[0].metric or "units"
    window = (datetime(2023, 12, 30), datetime(2024, 3, 2))
    return Case("", (subscription,), events(rng, [metric], *window, 6))


def _days_within(rng: Random, start: date, end: date | None) -> tuple[date, ...]:
    """Days a dated one-time fee may fall on: the first and last day of the subscription and a
    day between (its end is exclusive; an open one is given 800 days)."""
    last = (end or start + timedelta(days=800)) - timedelta(days=1)
    return (start, last, start + timedelta(days=rng.randint(0, (last - start).days)))


def calendar_case(rng: Random) -> Case:
    """Periods in a customer's time zone: month, quarter or year from any anchor day, started
    and ended anywhere, with a prorated or not, in-advance or in-arrears fee and a per-unit
    price, and events on both sides of the period boundaries (local midnight)."""
    timezone = rng.choice(TIME_ZONES)
    interval = rng.choice(["month", "month", "quarter", "year"])
    anchor = rng.choice([1, 1, 15, 28, 29, 30, 31, rng.randint(1, 31)])
    start = date(2022, 1, 1) + timedelta(days=rng.randint(0, 770))
    end = maybe(rng, 0.5, lambda: start + timedelta(days=rng.randint(1, 700)))
    currency = rng.choice(["USD", "JPY"])
    subscription = oracle.Subscription(
        subscription_id="s1",
        customer_id="",
        currency=currency,
        start_date=start,
        end_date=end,
        billing_interval=interval,
        billing_anchor_day=anchor,
        timezone=timezone,
        prices=(
            flat_price(rng, currency, charge_dates=_days_within(rng, start, end)),
            oracle.Price(
                price_id="p1",
                pricing_model="per_unit",
                description="Units",
                metric="units",
                unit_price=decimal(rng, 0, 5, 2),
            ),
        ),
    )
    periods = oracle.billing_periods(subscription, AS_OF)
    boundaries = [period.start for period in periods] + [period.end for period in periods]
    offsets = [timedelta(0), timedelta(seconds=-1), timedelta(hours=1), timedelta(hours=-1)]
    found = []
    for number in range(rng.randint(0, 6)):
        if boundaries and rng.random() < 0.5:
            at = rng.choice(boundaries) + rng.choice(offsets)
        else:
            at = datetime(2022, 1, 1) + timedelta(seconds=rng.randint(0, 800 * 86400))
        found.append(oracle.Event(f"e{number}", at, "units", decimal(rng, 0, 50, 1)))
    return Case("", (subscription,), tuple(found))


def credit_case(rng: Random) -> Case:
    """Several final invoices of one customer drawing on up to five grants: priorities,
    expiries (some exactly at a period end), grants given mid-way, scoped to a metric or not,
    in another currency; two subscriptions in one currency share the grants (the second's price
    sometimes seats billed in advance, so credit, discounts and tax meet its true-ups)."""
    currency = rng.choice(["USD", "USD", "JPY"])
    start = date(2023, 8, 1) + timedelta(days=rng.choice([0, 0, 14, 31, 61]))
    subscriptions = [
        oracle.Subscription(
            subscription_id="s1",
            customer_id="",
            currency=currency,
            start_date=start,
            minimum_amount=maybe(rng, 0.7, lambda: money(rng, currency, 200)),
            prices=(
                oracle.Price("p1", "per_unit", "Units", "units", unit_price=decimal(rng, 0, 5, 2)),
                *([flat_price(rng, currency, "p0")] if rng.random() < 0.5 else []),
            ),
        )
    ]
    second = oracle.Price("p2", "per_unit", "Calls", "calls", unit_price=D(1))
    if rng.random() < 0.4:
        second = oracle.Price(
            "p2", "per_unit", "Seats", "seats", unit_price=D(1), billing_timing="in_advance"
        )
    if rng.random() < 0.5:
        subscriptions.append(
            oracle.Subscription(
                subscription_id="s2",
                customer_id="",
                currency=currency,
                start_date=date(2023, 10, 1),
                prices=(second,),
            )
        )
    period_ends = [datetime(2023, month, 1) for month in range(9, 13)]
    period_ends += [datetime(2024, 1, 1), datetime(2024, 2, 1)]
    grants = []
    for number in range(rng.randint(0, 5)):
        if rng.random() < 0.3:
            granted_at = rng.choice(period_ends)
        else:
            granted_at = datetime(2023, 7, 15) + timedelta(seconds=rng.randint(0, 200 * 86400))
        expires_at = None
        if rng.random() < 0.6:
            if rng.random() < 0.4:
                expires_at = rng.choice(period_ends)
            else:
                expires_at = granted_at + timedelta(days=rng.randint(1, 150))
        if expires_at is not None and expires_at <= granted_at:
            expires_at = None
        amount = D(0)
        while amount <= 0:
            amount = money(rng, currency, 120)
        grants.append(
            oracle.Grant(
                grant_id=f"g{number}",
                customer_id="",
                currency=rng.choice([currency, currency, currency, "EUR"]),
                amount=amount,
                granted_at=granted_at,
                expires_at=expires_at,
                priority=rng.choice([None, None, 1, 2, 3]),
                metric=rng.choice([None, None, "units", "calls", "seats"]),
            )
        )
    window = (datetime(2023, 7, 25), datetime(2024, 2, 20))
    case = Case(
        "",
        tuple(subscriptions),
        events(rng, ["units", "units", "calls", "seats"], *window, 14),
        tuple(grants),
        discounts(rng, currency, has_fee=len(subscriptions[0].prices) > 1),
    )
    return taxed(rng, case) if rng.random() < 0.6 else case


def taxed(rng: Random, case: Case) -> Case:
    """The case with tax: its prices' tax codes (a, b or none), up to three rates of its
    customer's (for every code or one), all exclusive or all inclusive, rounded per invoice or
    per line, some from or until a period boundary; now and then exempt or reverse-charged."""
    subscriptions = tuple(
        dataclasses.replace(
            subscription,
            prices=tuple(
                dataclasses.replace(price, tax_code=rng.choice([None, "a", "b"]))
                for price in subscription.prices
            ),
        )
        for subscription in case.subscriptions
    )
    inclusive = rng.random() < 0.3
    boundaries = [None, None, date(2023, 10, 1), date(2023, 12, 1)]
    rates = []
    for number in range(rng.randint(1, 3)):
        start, end = rng.choice(boundaries), rng.choice(boundaries)
        if start is not None and end is not None and end <= start:
            start, end = None, end
        rates.append(
            tax.TaxRate(
                tax_rate_id=f"t{number}",
                percentage=rng.choice([D(0), D(20), decimal(rng, 0, 30, 3)]),
                tax_code=rng.choice([None, None, "a", "b"]),
                description=f"Tax {number}",
                inclusive=inclusive,
                calculation=rng.choice(["per_invoice", "per_line"]),
                effective_from=start,
                effective_to=end,
            )
        )
    exempt = rng.choice([None] * 8 + ["exempt", "reverse"])
    return dataclasses.replace(
        case, subscriptions=subscriptions, tax_rates=tuple(rates), tax_exempt=exempt
    )


def discounts(rng: Random, currency: str, has_fee: bool) -> tuple[oracle.Discount, ...]:
    """Up to three discounts, half the time: a percentage (0 to 100) or an amount (now and then
    in another currency, which applies nowhere), on the whole invoice, a price or a metric, on
    every subscription or one, from a start date, for some periods or forever."""
    if rng.random() < 0.5:
        return ()
    scopes: list[dict[str, Any]] = [{}, {}, {"price_id": "p1"}, {"metric": "units"}]
    scopes += [{"metric": "calls"}, {"metric": "seats"}, *([{"price_id": "p0"}] if has_fee else [])]
    found = []
    for number in range(rng.randint(1, 3)):
        if rng.random() < 0.5:
            percent = rng.choice([D(100), decimal(rng, 0, 100, 2)])
            size: dict[str, Any] = {"percent_off": percent or D("0.01")}
        else:
            amount = money(rng, currency, 150) or D(1)
            other = rng.random() < 0.15
            size = {"amount_off": amount, "currency": "EUR" if other else currency}
        found.append(
            oracle.Discount(
                discount_id=f"d{number}",
                customer_id="",
                description=f"Discount {number}",
                subscription_id=rng.choice([None, None, "s1"]),
                starts_on=rng.choice([None, date(2023, 9, 1), date(2023, 10, 15)]),
                duration_periods=rng.choice([None, None, 1, 2]),
                **size,
                **rng.choice(scopes),
            )
        )
    return tuple(found)


usage_cases = st.randoms(use_true_random=True).map(usage_case)
calendar_cases = st.randoms(use_true_random=True).map(calendar_case)
credit_cases = st.randoms(use_true_random=True).map(credit_case)


def draw_cases(strategy: st.SearchStrategy[Case], count: int, prefix: str, seed: int) -> list[Case]:
    """`count` cases drawn by hypothesis up front (one dbt build checks them all), named
    prefix0, prefix1, …"""
    found: list[Case] = []

    @hypothesis_seed(seed)
    @settings(
        max_examples=count,
        database=None,
        phases=[Phase.generate],
        deadline=None,
        suppress_health_check=list(HealthCheck),
    )
    @given(strategy)
    def collect(case: Case) -> None:
        found.append(case)

    collect()
    return [replace(case, name=f"{prefix}{number}") for number, case in enumerate(found[:count])]


def compact_repr(value: Any) -> str:
    """Python source for `value`, leaving out dataclass fields at their defaults: what a shrunk
    case looks like in REGRESSIONS."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        parts = []
        for item in dataclasses.fields(value):
            current = getattr(value, item.name)
            default = item.default
            if default is dataclasses.MISSING and item.default_factory is not dataclasses.MISSING:
                default = item.default_factory()
            if default is dataclasses.MISSING or current != default:
                parts.append(f"{item.name}={compact_repr(current)}")
        return f"{type(value).__name__}({', '.join(parts)})"
    if isinstance(value, tuple):
        inner = ", ".join(compact_repr(item) for item in value)
        return f"({inner},)" if len(value) == 1 else f"({inner})"
    return repr(value)


# --- shrinking --------------------------------------------------------------------------------


def _size(value: Any) -> int:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return sum(_size(getattr(value, item.name)) for item in dataclasses.fields(value))
    if isinstance(value, tuple | list):
        return 1 + sum(_size(item) for item in value)
    if isinstance(value, Decimal):
        return len(value.normalize().as_tuple().digits)
    return 0 if value is None or value is False else 1


def size(case: Case) -> int:
    """How complicated a case is: smaller is simpler."""
    return _size(replace(case, name=""))


def _simpler_decimals(value: Decimal) -> Iterator[Decimal]:
    for candidate in (D(0), D(1), value.to_integral_value(), value.quantize(D("0.1"))):
        if candidate != value and abs(candidate) <= abs(value):
            yield candidate


def _simpler_prices(price: oracle.Price) -> Iterator[oracle.Price]:
    for name in [
        "free_units",
        "free_events",
        "free_allowance_rule",
        "transaction_fixed_fee",
        "transaction_minimum",
        "transaction_maximum",
        "minimum_amount",
        "maximum_amount",
    ]:
        if getattr(price, name) is not None:
            yield replace(price, **{name: None})
    for name in ["unit_price", "flat_amount", "package_size"]:
        value = getattr(price, name)
        if value is not None:
            for candidate in _simpler_decimals(value):
                if name != "package_size" or candidate > 0:
                    yield replace(price, **{name: candidate})
    if price.prorate:
        yield replace(price, prorate=False)
    # In advance is a flat fee's choice; an in-advance usage price must stay so.
    if price.billing_timing != "in_arrears" and price.pricing_model == "flat":
        yield replace(price, billing_timing="in_arrears")
    if len(price.tiers) > 1:
        kept = price.tiers[:-1]
        yield replace(price, tiers=(*kept[:-1], replace(kept[-1], up_to=None)))
    for index, tier in enumerate(price.tiers):
        for name in ["unit_price", "flat_amount"]:
            for candidate in _simpler_decimals(getattr(tier, name)):
                changed = replace(tier, **{name: candidate})
                yield replace(
                    price, tiers=(*price.tiers[:index], changed, *price.tiers[index + 1 :])
                )


def simpler(case: Case) -> Iterator[Case]:
    """Variants of `case` with one thing removed or made rounder (big cuts first); a discount
    left naming a removed subscription or price goes with it, as the data tests would refuse it."""
    for variant in _variants(case):
        subscriptions = {subscription.subscription_id for subscription in variant.subscriptions}
        prices = {price.price_id for item in variant.subscriptions for price in item.prices}
        kept = tuple(
            discount
            for discount in variant.discounts
            if discount.subscription_id in (None, *subscriptions)
            and discount.price_id in (None, *prices)
        )
        yield replace(variant, discounts=kept)


def _variants(case: Case) -> Iterator[Case]:
    half = len(case.events) // 2
    if half:
        yield replace(case, events=case.events[:half])
        yield replace(case, events=case.events[half:])
    if len(case.grants) > 1:
        for grant in case.grants:
            yield replace(case, grants=(grant,))
    for index in range(len(case.events)):
        yield replace(case, events=case.events[:index] + case.events[index + 1 :])
    for index, event in enumerate(case.events):
        for value in _simpler_decimals(event.value):
            if event.metric != "calls":
                changed = replace(event, value=value)
                yield replace(
                    case, events=(*case.events[:index], changed, *case.events[index + 1 :])
                )
    for index in range(len(case.grants)):
        yield replace(case, grants=case.grants[:index] + case.grants[index + 1 :])
    for index in range(len(case.discounts)):
        yield replace(case, discounts=case.discounts[:index] + case.discounts[index + 1 :])
    for index, subscription in enumerate(case.subscriptions):

        def with_subscription(changed: oracle.Subscription, index: int = index) -> Case:
            return replace(
                case,
                subscriptions=(
                    *case.subscriptions[:index],
                    changed,
                    *case.subscriptions[index + 1 :],
                ),
            )

        if len(case.subscriptions) > 1:
            yield replace(
                case, subscriptions=case.subscriptions[:index] + case.subscriptions[index + 1 :]
            )
        if subscription.minimum_amount is not None:
            yield with_subscription(replace(subscription, minimum_amount=None))
        if subscription.end_date is not None:
            yield with_subscription(replace(subscription, end_date=None))
        if len(subscription.prices) > 1:
            for drop in range(len(subscription.prices)):
                kept = subscription.prices[:drop] + subscription.prices[drop + 1 :]
                yield with_subscription(replace(subscription, prices=kept))
        for position, price in enumerate(subscription.prices):
            for changed_price in _simpler_prices(price):
                prices = (
                    *subscription.prices[:position],
                    changed_price,
                    *subscription.prices[position + 1 :],
                )
                yield with_subscription(replace(subscription, prices=prices))


def shrink(
    failing: Sequence[Case],
    still_fails: Callable[[Sequence[Case]], set[str]],
    rounds: int = 4,
) -> list[Case]:
    """Simplest variants of the failing cases that still fail, found in `rounds` batched builds:
    each round builds every one-step simplification of every case at once and keeps, per case,
    the smallest that still fails. `still_fails` builds a batch and names the cases that fail."""
    current = {case.name: case for case in failing}
    for round_number in range(rounds):
        candidates: dict[str, tuple[str, Case]] = {}
        for name, case in current.items():
            for number, variant in enumerate(simpler(case)):
                variant_name = f"{name}s{round_number}v{number}"
                candidates[variant_name] = (name, replace(variant, name=variant_name))
        if not candidates:
            break
        failed = still_fails([variant for _, variant in candidates.values()])
        improved = False
        for variant_name in failed:
            origin, variant = candidates[variant_name]
            if size(variant) < size(current[origin]):
                current[origin] = variant
                improved = True
        if not improved:
            break
    return list(current.values())
