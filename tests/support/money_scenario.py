"""The money scenario: small, and every money rule at once, so that one data set shows each
engine bills to the cent what DuckDB bills. Built on DuckDB by tests/pricing/test_money_scenario.py
(which asserts the figures worked out below) and on Spark, PostgreSQL and fakesnow by the
portability suite (tests/engines/scenarios.py), which compares their marts with DuckDB's.

Billing clock 2024-04-15 12:00 UTC: the February and March 2024 invoices are final. Seven customers:

- ny_credits (New York, USD): periods start at local midnight, 05:00 UTC in winter, 04:00 after
  clocks go forward on March 10; seat hours held across it; four credit grants, one expiring.
- berlin_fees (Berlin, EUR): card fees of 2.9% + €0.30 clamped to €0.50-€5.00 per payment in
  March, which ends at 22:00 UTC (clocks go forward on March 31).
- la_plan_change (Los Angeles, USD): Basic to Pro on March 13, both prorated, after the change
  to summer time; usage splits at local midnight.
- price_minimum, price_maximum, commitment (UTC, USD): a price's minimum and maximum, and the
  subscription's minimum commitment.
- tokyo_jpy (JPY, 0 decimals) and kuwait_kwd (KWD, 3 decimals): percentage tiers on payments in
  that currency, with a half-way amount rounded up.
- micro_prices (UTC, USD): a price of 10 decimal places times a quantity of 10, which keeps its
  cent only if no step rounds below 20 places (Spark's default rules keep 6 of a product).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from decimal import Decimal
from typing import Any

from tests.support.warehouse_scenario import Pricing

D = Decimal
AS_OF = "2024-04-15 12:00:00"
LOADED_AT = "2024-04-15 00:00:00"

METRICS: list[dict[str, Any]] = [
    {"name": "units", "event_type": "usage", "aggregation": "sum", "property": "units"},
    {
        "name": "seat_hours",
        "event_type": "seats",
        "aggregation": "time_weighted",
        "property": "seats",
        "time_unit": "hour",
    },
    *[
        {
            "name": f"volume_{currency.lower()}",
            "event_type": "payment",
            "aggregation": "sum",
            "property": "amount",
            "filter": {"currency": currency},
            "unit": currency,
        }
        for currency in ["EUR", "JPY", "KWD"]
    ],
]
VARS: dict[str, Any] = {"usage_billing_metrics": METRICS, "usage_billing_as_of": AS_OF}

PRICING = Pricing()
EVENTS: list[tuple[Any, ...]] = []


def _customer(customer_id: str, timezone: str = "UTC") -> str:
    PRICING.customers.append(
        {"customer_id": customer_id, "name": customer_id, "timezone": timezone}
    )
    PRICING.customer_aliases.append({"alias": customer_id, "customer_id": customer_id})
    return customer_id


def _subscription(
    subscription_id: str,
    customer_id: str,
    currency: str,
    prices: Sequence[dict[str, Any]],
    start: str = "2024-03-01",
    end: str = "2024-04-01",
    minimum_amount: Decimal | None = None,
) -> None:
    PRICING.plans.append({"plan_id": subscription_id, "name": subscription_id})
    PRICING.subscriptions.append(
        {
            "subscription_id": subscription_id,
            "customer_id": customer_id,
            "plan_id": subscription_id,
            "currency": currency,
            "start_date": start,
            "end_date": end,
            "minimum_amount": minimum_amount,
        }
    )
    for number, given in enumerate(prices, start=1):
        price = dict(given)
        price_id = f"{subscription_id}_p{number}"
        for tier, (up_to, unit_price) in enumerate(price.pop("tiers", []), start=1):
            PRICING.price_tiers.append(
                {"price_id": price_id, "tier": tier, "up_to": up_to, "unit_price": unit_price}
            )
        PRICING.prices.append(
            {
                "price_id": price_id,
                "plan_id": subscription_id,
                "currency": currency,
                "effective_from": "2024-01-01",
                **price,
            }
        )


def _per_unit(description: str, metric: str, unit_price: str, **fields: Any) -> dict[str, Any]:
    return {
        "metric": metric,
        "pricing_model": "per_unit",
        "description": description,
        "unit_price": D(unit_price),
        **fields,
    }


def _flat(description: str, amount: str) -> dict[str, Any]:
    return {
        "pricing_model": "flat",
        "description": description,
        "flat_amount": D(amount),
        "prorate": True,
    }


def _event(customer_id: str, event_type: str, at: str, properties: str) -> None:
    event_id = f"{customer_id}_{len(EVENTS):02d}"
    EVENTS.append((event_id, customer_id, event_type, at, properties, LOADED_AT))


def _units(customer_id: str, at: str, units: int) -> None:
    _event(customer_id, "usage", at, f'{{"units": {units}}}')


def _payment(customer_id: str, at: str, amount: str, currency: str) -> None:
    _event(customer_id, "payment", at, f'{{"amount": {amount}, "currency": "{currency}"}}')


# New York, February and March at $1 a unit and $0.01 a seat hour; one seat held since January.
# February: 2024-02-01 05:00 to 03-01 05:00 UTC, 696 h = $6.96, 10 + 20 units: $36.96.
# March: to 04-01 04:00 UTC, 743 h (one lost to summer time) = $7.43, 40 + 30 units: $77.43.
# Events just before February and just after March fall outside the subscription: unbilled.
NY = _customer("ny_credits", "America/New_York")
_subscription(
    "sub_ny",
    NY,
    "USD",
    [_per_unit("Units", "units", "1"), _per_unit("Seat hours", "seat_hours", "0.01")],
    start="2024-02-01",
)
_event(NY, "seats", "2024-01-20T00:00:00Z", '{"seats": 1}')
for at, units in [
    ("2024-02-01T04:59:59Z", 100),  # January 31 in New York: unbilled
    ("2024-02-01T05:00:00Z", 10),
    ("2024-03-01T04:59:59Z", 20),  # February 29, 23:59:59 EST
    ("2024-03-01T05:00:00Z", 40),
    ("2024-04-01T03:59:59Z", 30),  # March 31, 23:59:59 EDT
    ("2024-04-01T04:00:00Z", 5),  # April 1 in New York: unbilled
]:
    _units(NY, at, units)
# Grants, in draw order: priority 1 first, the sooner expiry first, priority 2 last.
#   gB $45, expires at February's end (03-01 05:00 UTC): usable by February, not by March.
#   gC $50 from 02-20, units only.  gA $25, priority 2.  gD €10: no EUR invoice, never drawn.
# February ($36.96): gB pays it all (seat hours, then units), $8.04 of gB expires unused.
# March ($77.43): gC pays $50 of the $70 units; gA pays $7.43 seat hours + $17.57 units.
# March total: 77.43 - 50 - 25 = $2.43.
for grant_id, currency, amount, granted, expires, priority, metric in [
    ("gA", "USD", "25", "2024-01-15 00:00:00", None, 2, None),
    ("gB", "USD", "45", "2024-01-15 00:00:00", "2024-03-01 05:00:00", 1, None),
    ("gC", "USD", "50", "2024-02-20 00:00:00", "2024-12-31 00:00:00", 1, "units"),
    ("gD", "EUR", "10", "2024-01-15 00:00:00", None, 1, None),
]:
    PRICING.credit_grants.append(
        {
            "grant_id": grant_id,
            "customer_id": NY,
            "currency": currency,
            "amount": D(amount),
            "granted_at": datetime.fromisoformat(granted),
            "expires_at": datetime.fromisoformat(expires) if expires else None,
            "priority": priority,
            "metric": metric,
        }
    )

# Berlin, March (2024-02-29 23:00 to 03-31 22:00 UTC): 2.9% + €0.30 a payment, at least €0.50,
# at most €5.00. €50: 1.45 + 0.30 = €1.75 · €5: 0.145 + 0.30 = 0.445 → €0.50 · €1,000:
# 29.00 + 0.30 → €5.00. Total €7.25 on €1,055. The payments either side of March: unbilled.
BERLIN = _customer("berlin_fees", "Europe/Berlin")
_subscription(
    "sub_berlin",
    BERLIN,
    "EUR",
    [
        {
            "metric": "volume_eur",
            "pricing_model": "per_transaction",
            "description": "Card fees",
            "unit_price": D("0.029"),
            "transaction_fixed_fee": D("0.30"),
            "transaction_minimum": D("0.50"),
            "transaction_maximum": D("5.00"),
        }
    ],
)
for at, amount in [
    ("2024-02-29T22:59:59Z", "100"),  # February 29 in Berlin: unbilled
    ("2024-02-29T23:00:00Z", "50"),
    ("2024-03-15T10:00:00Z", "5"),
    ("2024-03-31T21:59:59Z", "1000"),  # March 31, 23:59:59 CEST
    ("2024-03-31T22:00:00Z", "60"),  # April 1 in Berlin: unbilled
]:
    _payment(BERLIN, at, amount, "EUR")

# Los Angeles: Basic ($31 a month, $1 a unit) to March 13, then Pro ($62, $2 a unit); March has
# 31 days. Basic: 12/31 x $31 = $12.00 + 3 units = $15.00. Pro: 19/31 x $62 = $38.00 + 5 units x
# $2 = $48.00. Midnight of March 13 in Los Angeles (summer time since March 10) is 07:00 UTC.
LA = _customer("la_plan_change", "America/Los_Angeles")
_subscription(
    "sub_la_basic",
    LA,
    "USD",
    [_flat("Basic fee", "31"), _per_unit("Units", "units", "1")],
    end="2024-03-13",
)
_subscription(
    "sub_la_pro",
    LA,
    "USD",
    [_flat("Pro fee", "62"), _per_unit("Units", "units", "2")],
    start="2024-03-13",
)
_units(LA, "2024-03-13T06:59:59Z", 3)
_units(LA, "2024-03-13T07:00:00Z", 5)

# A price's minimum: 73 units x $0.25 = $18.25, at least $25 → $6.75 true-up.
MINIMUM = _customer("price_minimum")
_subscription(
    "sub_minimum", MINIMUM, "USD", [_per_unit("API calls", "units", "0.25", minimum_amount=D(25))]
)
_units(MINIMUM, "2024-03-10T12:00:00Z", 73)
# A price's maximum: 4,321 units x $0.04 = $172.84, at most $150 → -$22.84 discount.
MAXIMUM = _customer("price_maximum")
_subscription(
    "sub_maximum", MAXIMUM, "USD", [_per_unit("API calls", "units", "0.04", maximum_amount=D(150))]
)
_units(MAXIMUM, "2024-03-10T12:00:00Z", 4321)
# A minimum commitment: $40 fee + 37 x $0.50 = $58.50 against $150 → $91.50 true-up.
COMMITMENT = _customer("commitment")
_subscription(
    "sub_commitment",
    COMMITMENT,
    "USD",
    [
        {"pricing_model": "flat", "description": "Platform fee", "flat_amount": D(40)},
        _per_unit("API calls", "units", "0.5"),
    ],
    minimum_amount=D(150),
)
_units(COMMITMENT, "2024-03-10T12:00:00Z", 37)

# Tokyo, yen, graduated: 3% of the first ¥10,000, 2% above. ¥12,345 + ¥7,880 = ¥20,225:
# ¥300 + 10,225 x 2% = ¥204.50 → ¥205 (half up). March starts at 02-29 15:00 UTC.
TOKYO = _customer("tokyo_jpy", "Asia/Tokyo")
_subscription(
    "sub_tokyo",
    TOKYO,
    "JPY",
    [
        {
            "metric": "volume_jpy",
            "pricing_model": "graduated",
            "description": "Payments",
            "tiers": [(D(10000), D("0.03")), (None, D("0.02"))],
        }
    ],
)
_payment(TOKYO, "2024-02-29T14:59:59Z", "999", "JPY")  # February 29 in Tokyo: unbilled
_payment(TOKYO, "2024-02-29T15:00:00Z", "12345", "JPY")
_payment(TOKYO, "2024-03-20T03:00:00Z", "7880", "JPY")
_payment(TOKYO, "2024-03-20T03:00:01Z", "500", "EUR")  # another currency: not this metric

# Kuwait, dinars (3 decimals), volume tiers: 1.5% up to KWD 1,000, 1.25% on all of it above.
# KWD 1,000.1 + 234.5 = 1,234.6 x 1.25% = 15.4325 → KWD 15.433 (half up).
KUWAIT = _customer("kuwait_kwd", "Asia/Kuwait")
_subscription(
    "sub_kuwait",
    KUWAIT,
    "KWD",
    [
        {
            "metric": "volume_kwd",
            "pricing_model": "volume",
            "description": "Payments",
            "tiers": [(D(1000), D("0.015")), (None, D("0.0125"))],
        }
    ],
)
_payment(KUWAIT, "2024-03-02T09:00:00Z", "1000.1", "KWD")
_payment(KUWAIT, "2024-03-28T09:00:00Z", "234.5", "KWD")

# Micro-prices: $0.0000012345 a unit, the first 0.5 units free. 987,691,373 + 0.5000000001 units
# less 0.5 free = 987,691,373.0000000001 x $0.0000012345 = $1,219.3049999685 (+ 10^-16) → $1,219.30.
# A step cutting the quantity to 9 places or the product to 6 (1,219.305000) would bill $1,219.31.
MICRO = _customer("micro_prices")
_subscription(
    "sub_micro",
    MICRO,
    "USD",
    [_per_unit("Tokens", "units", "0.0000012345", free_units=D("0.5"))],
)
_units(MICRO, "2024-03-05T12:00:00Z", 987691373)
_event(MICRO, "usage", "2024-03-06T12:00:00Z", '{"units": 0.5000000001}')
