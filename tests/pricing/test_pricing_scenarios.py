"""Hand-computed scenarios, one per pricing rule of issue 4, all in one real dbt build (one customer
each, billing clock 2024-04-15 12:00 UTC): percentages flat and tiered, per-transaction fees with a
free allowance and per-event limits, tier 1's flat fee at zero usage, price minimums and caps, a
minimum commitment, free units, prepaid credits, anchors, intervals and time zones across
daylight-saving changes, proration, in-advance fees on a live invoice, a plan change, plan
versions. Every expected figure is worked out in the comments."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from tests.support.warehouse_scenario import MARTS_SCHEMA, Pricing, Scenario, build

D = Decimal
AS_OF = "2024-04-15 12:00:00"

METRICS = [
    {"name": "units", "event_type": "usage", "aggregation": "sum", "property": "units"},
    {
        "name": "volume",
        "event_type": "payment",
        "aggregation": "sum",
        "property": "amount",
        "unit": "EUR",
    },
    {
        "name": "seat_hours",
        "event_type": "seats",
        "aggregation": "time_weighted",
        "property": "seats",
        "time_unit": "hour",
    },
]
PROPERTY = {
    "units": ("usage", "units"),
    "volume": ("payment", "amount"),
    "seat_hours": ("seats", "seats"),
}

pricing = Pricing()
events: list[tuple[Any, ...]] = []


def customer(name: str, timezone: str = "UTC") -> str:
    pricing.customers.append({"customer_id": name, "name": name, "timezone": timezone})
    pricing.customer_aliases.append({"alias": name, "customer_id": name})
    return name


def subscription(
    subscription_id: str,
    customer_id: str,
    prices: Sequence[dict[str, Any]],
    start: str = "2024-01-01",
    end: str | None = "2024-02-01",
    currency: str = "USD",
    **fields: Any,
) -> None:
    pricing.plans.append({"plan_id": subscription_id, "name": subscription_id})
    pricing.subscriptions.append(
        {
            "subscription_id": subscription_id,
            "customer_id": customer_id,
            "plan_id": subscription_id,
            "currency": currency,
            "start_date": start,
            "end_date": end,
            **fields,
        }
    )
    for number, price in enumerate(prices, start=1):
        tiers = price.pop("tiers", [])
        price_id = price.pop("price_id", f"{subscription_id}_p{number}")
        owner = (
            {"subscription_id": subscription_id}
            if price.pop("own", False)
            else {"plan_id": subscription_id}
        )
        pricing.prices.append(
            {
                "price_id": price_id,
                **owner,
                "currency": currency,
                "effective_from": "2020-01-01",
                **price,
            }
        )
        for tier, (up_to, unit_price, flat_amount) in enumerate(tiers, start=1):
            pricing.price_tiers.append(
                {
                    "price_id": price_id,
                    "tier": tier,
                    "up_to": up_to,
                    "unit_price": unit_price,
                    "flat_amount": flat_amount,
                }
            )


def usage(
    customer_id: str, metric: str, at: str, value: Decimal | int, event_id: str | None = None
) -> None:
    event_type, key = PROPERTY[metric]
    events.append(
        (
            event_id or f"{customer_id}_{len(events)}",
            customer_id,
            event_type,
            at,
            f'{{"{key}": {value}}}',
            "2024-04-15 00:00:00",
        )
    )


def per_unit(
    description: str, unit_price: str, metric: str = "units", **fields: Any
) -> dict[str, Any]:
    return {
        "metric": metric,
        "pricing_model": "per_unit",
        "description": description,
        "unit_price": D(unit_price),
        **fields,
    }


def flat(description: str, amount: str, **fields: Any) -> dict[str, Any]:
    return {"pricing_model": "flat", "description": description, "flat_amount": D(amount), **fields}


# 1. Percentages of a money metric, tiered: 1% up to €1,000, 0.5% above. €1,500 of volume.
#    Graduated: 1,000 x 1% = €10.00 + 500 x 0.5% = €2.50. Volume: 1,500 x 0.5% = €7.50.
PERCENT_TIERS = [(D(1000), D("0.01"), None), (None, D("0.005"), None)]
for model in ["graduated", "volume"]:
    name = customer(f"percent_{model}")
    subscription(
        f"sub_percent_{model}",
        name,
        [
            {
                "metric": "volume",
                "pricing_model": model,
                "description": "Payments",
                "tiers": PERCENT_TIERS,
            }
        ],
        currency="EUR",
    )
    usage(name, "volume", "2024-01-05T10:00:00Z", 1000)
    usage(name, "volume", "2024-01-06T10:00:00Z", 500)

# 2. Per transaction: 2.9% + €0.30, at least €0.50, at most €5.00; the first event and the next
#    €100 of volume free. In timestamp order (ids deliberately out of order):
#    z1 €50 first event: free · y2 €80: free units cover it: free · x3 €40: €20 left of the free
#    units, 20 x 2.9% + 0.30 = €0.88 · w4 €5: 0.145 + 0.30 = 0.445 → minimum €0.50 ·
#    v5 €1,000: 29.00 + 0.30 → maximum €5.00 · u6 €0: 0.30 → minimum €0.50.
#    Total €6.88 over 4 charged transactions, 2 free; charged volume 20 + 5 + 1,000 + 0 = 1,025.
name = customer("per_transaction")
subscription(
    "sub_per_transaction",
    name,
    [
        {
            "metric": "volume",
            "pricing_model": "per_transaction",
            "description": "Card fees",
            "unit_price": D("0.029"),
            "transaction_fixed_fee": D("0.30"),
            "transaction_minimum": D("0.50"),
            "transaction_maximum": D("5.00"),
            "free_events": 1,
            "free_units": D(100),
        }
    ],
    currency="EUR",
)
for event_id, day, amount in [
    ("z1", 2, 50),
    ("y2", 3, 80),
    ("x3", 4, 40),
    ("w4", 5, 5),
    ("v5", 6, 1000),
    ("u6", 7, 0),
]:
    usage(name, "volume", f"2024-01-0{day}T09:00:00Z", amount, event_id=f"pt_{event_id}")

# 2b. Both allowances under free_allowance_rule first_exhausted (Lago's): an event is free only
#     while neither allowance has run out. 2.9% + €0.30, no limits.
#     Events run out first (2 events, €100): a €30 free (€30 used) · b €50 free (€80 used) ·
#     c €40: the 2 free events are spent, 40 x 2.9% + 0.30 = 1.16 + 0.30 = €1.46 · d €10:
#     0.29 + 0.30 = €0.59. Total €2.05, 2 charged, 2 free, volume 50. (The default rule would
#     free c and d from the €20 of units left: €0.00.)
#     Units run out first (3 events, €100): a €60 free (€60 used) · b €70: €40 of units left, 30
#     charged, 0.87 + 0.30 = €1.17 · c €20: units spent, 0.58 + 0.30 = €0.88 · d €5: 0.145 +
#     0.30 = €0.445. Total €2.495 → €2.50, 3 charged, 1 free, volume 30 + 20 + 5 = 55. (The
#     default rule would free a, b and c as events, d from the units: €0.00.)
for label, free_events, amounts in [
    ("events_first", 2, [30, 50, 40, 10]),
    ("units_first", 3, [60, 70, 20, 5]),
]:
    name = customer(f"first_exhausted_{label}")
    subscription(
        f"sub_first_exhausted_{label}",
        name,
        [
            {
                "metric": "volume",
                "pricing_model": "per_transaction",
                "description": "Card fees",
                "unit_price": D("0.029"),
                "transaction_fixed_fee": D("0.30"),
                "free_events": free_events,
                "free_units": D(100),
                "free_allowance_rule": "first_exhausted",
            }
        ],
        currency="EUR",
    )
    for day, amount in enumerate(amounts, start=2):
        usage(name, "volume", f"2024-01-0{day}T09:00:00Z", amount)

# 3. Tier 1's flat fee at zero usage: charged by default, not when the price says so.
TIERS_WITH_FEE = [(D(100), D(1), D(10)), (None, D("0.5"), None)]
for model, charged in [("graduated", None), ("graduated", False), ("volume", False)]:
    label = f"tier_fee_{model}_{'default' if charged is None else 'off'}"
    subscription(
        f"sub_{label}",
        customer(label),
        [
            {
                "metric": "units",
                "pricing_model": model,
                "description": "Usage",
                "tier_1_flat_at_zero": charged,
                "tiers": TIERS_WITH_FEE,
            }
        ],
    )

# 4. A price's minimum (50 x $0.10 = $5.00, minimum $20 → $15.00 true-up), a price's cap
#    (5,000 x $0.10 = $500, cap $300 → -$200.00) and a minimum commitment ($30 fee + $5.00 usage
#    = $35.00 against $100 → $65.00 true-up).
name = customer("price_minimum")
subscription("sub_price_minimum", name, [per_unit("API calls", "0.10", minimum_amount=D(20))])
usage(name, "units", "2024-01-10T00:00:00Z", 50)
name = customer("price_cap")
subscription("sub_price_cap", name, [per_unit("API calls", "0.10", maximum_amount=D(300))])
usage(name, "units", "2024-01-10T00:00:00Z", 5000)
name = customer("commitment")
subscription(
    "sub_commitment",
    name,
    [flat("Platform fee", "30"), per_unit("API calls", "0.10")],
    minimum_amount=D(100),
)
usage(name, "units", "2024-01-10T00:00:00Z", 50)

# 5. Free allowance: free_units 1,000 (1,500 used → 500 x $0.01 = $5.00), or a zero-priced
#    first tier (1,000 x $0 + 500 x $0.01).
name = customer("free_units")
subscription("sub_free_units", name, [per_unit("API calls", "0.01", free_units=D(1000))])
usage(name, "units", "2024-01-10T00:00:00Z", 1500)
name = customer("free_tier")
subscription(
    "sub_free_tier",
    name,
    [
        {
            "metric": "units",
            "pricing_model": "graduated",
            "description": "API calls",
            "tiers": [(D(1000), D(0), None), (None, D("0.01"), None)],
        }
    ],
)
usage(name, "units", "2024-01-10T00:00:00Z", 1500)

# 6. Prepaid credit. Invoices at $1 a unit: January $50, February $80, March $30 (all final),
#    April live.
#    Grants (USD): gA $60 priority 2, no expiry · gB $40 priority 1, expires 2024-03-01 00:00 (the
#    end of February's period: still usable by it) · gC $100 priority 1, given 2024-02-20, expires
#    2024-12-31, units only · gD €25 (another currency, never used). Draw order: gB, gC, gA.
#    January: gB 40 (empty), gA 10 → total 0. February: gC 80 (gB empty, gA not needed) → 0.
#    March: gB expired; gC 20 (empty), gA 10 → 0. April is live: no credit.
#    Balances: gA used 20, 40 left · gB used 40, expired · gC used 100, used up · gD 25 left.
name = customer("credits")
subscription("sub_credits", name, [per_unit("Units", "1")], end=None)
for month, units in [(1, 50), (2, 80), (3, 30), (4, 7)]:
    usage(name, "units", f"2024-0{month}-10T00:00:00Z", units)
for grant_id, currency, amount, granted, expires, priority, metric in [
    ("gA", "USD", "60", "2023-12-15", None, 2, None),
    ("gB", "USD", "40", "2024-01-10", "2024-03-01", 1, None),
    ("gC", "USD", "100", "2024-02-20", "2024-12-31", 1, "units"),
    ("gD", "EUR", "25", "2024-01-01", None, None, None),
]:
    pricing.credit_grants.append(
        {
            "grant_id": grant_id,
            "customer_id": name,
            "currency": currency,
            "amount": D(amount),
            "granted_at": datetime.fromisoformat(granted),
            "expires_at": datetime.fromisoformat(expires) if expires else None,
            "priority": priority,
            "metric": metric,
        }
    )

# 7. Calendars. Anchor day 31 from 2024-01-31: periods start Jan 31, Feb 29, Mar 31 (Apr 30 next).
subscription(
    "sub_anchor_31", customer("anchor_31"), [], start="2024-01-31", end=None, billing_anchor_day=31
)
#    Quarterly from 2023-11-15 (anchor 1): Nov 15 - Feb 1 cut from the quarter Nov 1 - Feb 1
#    (78 of 92 days: $300 x 78/92 = $254.347… → $254.35), then Feb 1 - May 1 (live).
subscription(
    "sub_quarterly",
    customer("quarterly"),
    [flat("Support", "300", prorate=True)],
    start="2023-11-15",
    end=None,
    billing_interval="quarter",
)
#    Yearly on the 10th of March.
subscription(
    "sub_yearly",
    customer("yearly"),
    [],
    start="2023-03-10",
    end=None,
    billing_interval="year",
    billing_anchor_day=10,
)
#    New York: months start at local midnight (05:00 UTC in winter, 04:00 in summer). A seat held
#    from before January is billed by the hour: January 744 h, February 696 h, March 743 h (the
#    spring-forward day has 23 hours): no hour lost, none doubled. $0.01 an hour, plus $1 a unit
#    for events on either side of each boundary.
name = customer("new_york", "America/New_York")
subscription(
    "sub_new_york",
    name,
    [per_unit("Seat hours", "0.01", metric="seat_hours"), per_unit("Units", "1")],
    end=None,
)
usage(name, "seat_hours", "2023-12-20T00:00:00Z", 1)
for at, units in [
    ("2024-01-01T04:59:59Z", 100),  # 23:59:59 on Dec 31 in New York: before the subscription
    ("2024-02-01T04:59:59Z", 1),  # January
    ("2024-02-01T05:00:00Z", 2),  # February
    ("2024-04-01T03:59:59Z", 4),  # March (EDT from March 10)
    ("2024-04-01T04:00:00Z", 8),  # April
]:
    usage(name, "units", at, units)
#    November 2023 in New York has 30 days and 721 hours (fall back on the 5th).
name = customer("new_york_fall", "America/New_York")
subscription(
    "sub_new_york_fall",
    name,
    [per_unit("Seat hours", "0.01", metric="seat_hours")],
    start="2023-11-01",
    end="2023-12-01",
)
usage(name, "seat_hours", "2023-10-20T00:00:00Z", 1)
#    Havana: clocks go back from 01:00 to 00:00 on 2023-11-05, so that midnight happens twice;
#    the boundary is its second occurrence (05:00 UTC), shared by both periods.
name = customer("havana", "America/Havana")
subscription(
    "sub_havana",
    name,
    [per_unit("Units", "1")],
    start="2023-10-05",
    end="2023-12-05",
    billing_anchor_day=5,
)
usage(name, "units", "2023-11-05T04:30:00Z", 1)  # 00:30 the first time round: October's period
usage(name, "units", "2023-11-05T05:30:00Z", 2)  # 00:30 the second time: November's
#    Tokyo: February starts at 2024-01-31 15:00 UTC; the invoice is named by the local date.
name = customer("tokyo", "Asia/Tokyo")
subscription("sub_tokyo", name, [per_unit("Units", "1")], start="2024-02-01", end="2024-03-01")
usage(name, "units", "2024-01-31T14:59:59Z", 1)  # still January in Tokyo: not billed
usage(name, "units", "2024-01-31T15:00:00Z", 2)

# 8. Proration and timing. Starting on Jan 20: 12 of 31 days of $310 = $120.00.
subscription(
    "sub_prorated",
    customer("prorated"),
    [flat("Platform fee", "310", prorate=True)],
    start="2024-01-20",
)
#    April is live: the in-advance fee is on its invoice already, the in-arrears one is not yet.
subscription(
    "sub_live",
    customer("live"),
    [
        flat("Platform fee", "100", billing_timing="in_advance"),
        flat("Support", "50", billing_timing="in_arrears"),
    ],
    start="2024-04-01",
    end=None,
)
#    Plan change on Jan 13: Basic (12 of 31 days of $31 = $12.00, $1 a unit) ends where Pro (19 of
#    31 days of $62 = $38.00, $2 a unit) starts; usage splits at midnight.
name = customer("plan_change")
subscription(
    "sub_basic",
    name,
    [flat("Basic fee", "31", prorate=True), per_unit("Units", "1")],
    end="2024-01-13",
)
subscription(
    "sub_pro",
    name,
    [flat("Pro fee", "62", prorate=True), per_unit("Units", "2")],
    start="2024-01-13",
    end="2024-03-01",
)
usage(name, "units", "2024-01-12T23:59:59Z", 1)
usage(name, "units", "2024-01-13T00:00:00Z", 10)

# 9. Plan versions: $1 a unit in January, $2 from February; from March the subscription's own
#    price ($0.50) replaces the plan's.
name = customer("versions")
subscription(
    "sub_versions",
    name,
    [
        per_unit("Units", "1", effective_from="2024-01-01", effective_to="2024-02-01"),
        per_unit("Units", "2", effective_from="2024-02-01"),
        per_unit("Units (negotiated)", "0.5", effective_from="2024-03-01", own=True),
    ],
    end="2024-04-01",
)
for month in [1, 2, 3]:
    usage(name, "units", f"2024-0{month}-10T00:00:00Z", 10)


@pytest.fixture(scope="module")
def scenario(tmp_path_factory: pytest.TempPathFactory) -> Scenario:
    return build(
        Path(tmp_path_factory.mktemp("scenarios")),
        events,
        pricing,
        {"usage_billing_metrics": METRICS, "usage_billing_as_of": AS_OF},
    )


def lines(scenario: Scenario, invoice_id: str) -> list[tuple[Any, ...]]:
    return scenario.rows(
        f"""
        select line_type, description, tier, quantity, unit_price, amount
        from {MARTS_SCHEMA}.usage_billing__invoice_lines where invoice_id = ? order by line_number
        """,
        [invoice_id],
    )


def invoice(scenario: Scenario, invoice_id: str) -> dict[str, Any]:
    (row,) = scenario.dicts(
        f"select * from {MARTS_SCHEMA}.usage_billing__invoices where invoice_id = ?", [invoice_id]
    )
    return row


def test_percentages_tiered(scenario: Scenario) -> None:
    assert lines(scenario, "sub_percent_graduated/2024-01-01") == [
        ("usage", "Tier 1 - Payments", 1, D(1000), D("0.01"), D("10.00")),
        ("usage", "Tier 2 - Payments", 2, D(500), D("0.005"), D("2.50")),
    ]
    assert lines(scenario, "sub_percent_volume/2024-01-01") == [
        ("usage", "Tier 2 - Payments", 2, D(1500), D("0.005"), D("7.50")),
    ]
    flags = scenario.rows(
        f"select distinct is_percentage from {MARTS_SCHEMA}.usage_billing__invoice_lines"
        " where invoice_id like 'sub_percent_%'"
    )
    assert flags == [(True,)]


def test_per_transaction_fees_with_free_allowance_and_limits(scenario: Scenario) -> None:
    assert lines(scenario, "sub_per_transaction/2024-01-01") == [
        ("usage", "Card fees (4 transactions, 2 free)", None, D(1025), D("0.029"), D("6.88")),
    ]
    (flat_amount,) = scenario.rows(
        f"select flat_amount from {MARTS_SCHEMA}.usage_billing__invoice_lines"
        " where invoice_id = 'sub_per_transaction/2024-01-01'"
    )
    # Fixed fees and limits beyond the rate: 6.88 - 1,025 x 2.9% (29.725).
    assert flat_amount == (D("6.88") - D("29.725"),)


def test_per_transaction_free_allowance_whichever_runs_out_first(scenario: Scenario) -> None:
    assert lines(scenario, "sub_first_exhausted_events_first/2024-01-01") == [
        ("usage", "Card fees (2 transactions, 2 free)", None, D(50), D("0.029"), D("2.05")),
    ]
    assert lines(scenario, "sub_first_exhausted_units_first/2024-01-01") == [
        ("usage", "Card fees (3 transactions, 1 free)", None, D(55), D("0.029"), D("2.50")),
    ]


def test_tier_1_flat_fee_at_zero_usage(scenario: Scenario) -> None:
    assert lines(scenario, "sub_tier_fee_graduated_default/2024-01-01") == [
        ("usage", "Tier 1 - Usage", 1, D(0), D(1), D(10)),
    ]
    assert lines(scenario, "sub_tier_fee_graduated_off/2024-01-01") == [
        ("usage", "Tier 1 - Usage", 1, D(0), D(1), D(0)),
    ]
    assert lines(scenario, "sub_tier_fee_volume_off/2024-01-01") == [
        ("usage", "Tier 1 - Usage", 1, D(0), D(1), D(0)),
    ]


def test_price_minimum_and_cap_and_minimum_commitment(scenario: Scenario) -> None:
    assert lines(scenario, "sub_price_minimum/2024-01-01") == [
        ("usage", "API calls", None, D(50), D("0.1"), D("5.00")),
        ("minimum_true_up", "Minimum charge true-up - API calls", None, D(1), D(15), D(15)),
    ]
    assert lines(scenario, "sub_price_cap/2024-01-01") == [
        ("usage", "API calls", None, D(5000), D("0.1"), D(500)),
        ("maximum_discount", "Maximum charge discount - API calls", None, D(1), D(-200), D(-200)),
    ]
    assert lines(scenario, "sub_commitment/2024-01-01") == [
        ("fee", "Platform fee", None, D(1), D(30), D(30)),
        ("usage", "API calls", None, D(50), D("0.1"), D(5)),
        ("commitment_true_up", "Minimum commitment true-up", None, D(1), D(65), D(65)),
    ]
    assert invoice(scenario, "sub_commitment/2024-01-01")["total"] == D(100)


def test_free_units_and_zero_priced_first_tier(scenario: Scenario) -> None:
    assert lines(scenario, "sub_free_units/2024-01-01") == [
        ("usage", "API calls (first 1000 free)", None, D(500), D("0.01"), D(5)),
    ]
    assert lines(scenario, "sub_free_tier/2024-01-01") == [
        ("usage", "Tier 1 - API calls", 1, D(1000), D(0), D(0)),
        ("usage", "Tier 2 - API calls", 2, D(500), D("0.01"), D(5)),
    ]


def test_prepaid_credits_draw_in_priority_then_expiry_order(scenario: Scenario) -> None:
    credit_lines = scenario.rows(
        f"""
        select invoice_id, credit_grant_id, description, amount
        from {MARTS_SCHEMA}.usage_billing__invoice_lines where line_type = 'credit'
        order by invoice_id, line_number
        """
    )
    assert credit_lines == [
        ("sub_credits/2024-01-01", "gB", "Prepaid credit gB", D(-40)),
        ("sub_credits/2024-01-01", "gA", "Prepaid credit gA", D(-10)),
        ("sub_credits/2024-02-01", "gC", "Prepaid credit gC (Units only)", D(-80)),
        ("sub_credits/2024-03-01", "gC", "Prepaid credit gC (Units only)", D(-20)),
        ("sub_credits/2024-03-01", "gA", "Prepaid credit gA", D(-10)),
    ]
    totals = scenario.rows(
        f"""
        select invoice_id, status, subtotal, credits_applied, total
        from {MARTS_SCHEMA}.usage_billing__invoices
        where subscription_id = 'sub_credits' order by period_start
        """
    )
    assert totals == [
        ("sub_credits/2024-01-01", "final", D(50), D(50), D(0)),
        ("sub_credits/2024-02-01", "final", D(80), D(80), D(0)),
        ("sub_credits/2024-03-01", "final", D(30), D(30), D(0)),
        ("sub_credits/2024-04-01", "live", D(7), D(0), D(7)),
    ]
    balances = scenario.rows(
        f"""
        select grant_id, granted_amount, used_amount, expired_amount, remaining_amount, status,
            invoice_count
        from {MARTS_SCHEMA}.usage_billing__credit_balances order by grant_id
        """
    )
    assert balances == [
        ("gA", D(60), D(20), D(0), D(40), "active", 2),
        ("gB", D(40), D(40), D(0), D(0), "expired", 1),
        ("gC", D(100), D(100), D(0), D(0), "used_up", 2),
        ("gD", D(25), D(0), D(0), D(25), "active", 0),
    ]


def periods(scenario: Scenario, subscription_id: str) -> list[tuple[Any, ...]]:
    return scenario.rows(
        f"""
        select period_start_date, period_end_date, period_start, period_end, service_days,
            full_period_days, status
        from {MARTS_SCHEMA}.usage_billing__billing_periods where subscription_id = ? order by
        period_start
        """,
        [subscription_id],
    )


def test_anchor_day_31_is_the_last_day_of_shorter_months(scenario: Scenario) -> None:
    assert [row[:2] for row in periods(scenario, "sub_anchor_31")] == [
        (date(2024, 1, 31), date(2024, 2, 29)),
        (date(2024, 2, 29), date(2024, 3, 31)),
        (date(2024, 3, 31), date(2024, 4, 30)),
    ]


def test_quarters_and_years(scenario: Scenario) -> None:
    assert [
        (row[0], row[1], row[4], row[5], row[6]) for row in periods(scenario, "sub_quarterly")
    ] == [
        (date(2023, 11, 15), date(2024, 2, 1), 78, 92, "final"),
        (date(2024, 2, 1), date(2024, 5, 1), 90, 90, "live"),
    ]
    assert lines(scenario, "sub_quarterly/2023-11-15") == [
        ("fee", "Support (prorated 78/92 days)", None, D(1), D("254.35"), D("254.35")),
    ]
    assert [(row[0], row[1], row[6]) for row in periods(scenario, "sub_yearly")] == [
        (date(2023, 3, 10), date(2024, 3, 10), "final"),
        (date(2024, 3, 10), date(2025, 3, 10), "live"),
    ]


def test_periods_start_at_local_midnight_across_daylight_saving(scenario: Scenario) -> None:
    rows = periods(scenario, "sub_new_york")
    assert [row[2:4] for row in rows] == [
        (datetime(2024, 1, 1, 5), datetime(2024, 2, 1, 5)),
        (datetime(2024, 2, 1, 5), datetime(2024, 3, 1, 5)),
        (datetime(2024, 3, 1, 5), datetime(2024, 4, 1, 4)),
        (datetime(2024, 4, 1, 4), datetime(2024, 5, 1, 4)),
    ]
    usage_by_period = scenario.rows(
        f"""
        select invoice_id, metric_name, quantity from {MARTS_SCHEMA}.usage_billing__billable_usage
        where subscription_id = 'sub_new_york' and invoice_id < 'sub_new_york/2024-04'
        order by invoice_id, metric_name
        """
    )
    assert usage_by_period == [
        ("sub_new_york/2024-01-01", "seat_hours", D(744)),
        ("sub_new_york/2024-01-01", "units", D(1)),
        ("sub_new_york/2024-02-01", "seat_hours", D(696)),
        ("sub_new_york/2024-02-01", "units", D(2)),
        ("sub_new_york/2024-03-01", "seat_hours", D(743)),
        ("sub_new_york/2024-03-01", "units", D(4)),
    ]
    (november,) = scenario.rows(
        f"""
        select quantity, amount from {MARTS_SCHEMA}.usage_billing__billable_usage
        where invoice_id = 'sub_new_york_fall/2023-11-01'
        """
    )
    assert november == (D(721), D("7.21"))


def test_a_midnight_that_happens_twice_is_one_boundary(scenario: Scenario) -> None:
    rows = periods(scenario, "sub_havana")
    assert [row[2:4] for row in rows] == [
        (datetime(2023, 10, 5, 4), datetime(2023, 11, 5, 5)),
        (datetime(2023, 11, 5, 5), datetime(2023, 12, 5, 5)),
    ]
    assert [lines(scenario, f"sub_havana/2023-{month}-05")[0][3] for month in (10, 11)] == [
        D(1),
        D(2),
    ]


def test_invoices_are_named_by_the_local_date(scenario: Scenario) -> None:
    rows = periods(scenario, "sub_tokyo")
    assert [row[:4] for row in rows] == [
        (date(2024, 2, 1), date(2024, 3, 1), datetime(2024, 1, 31, 15), datetime(2024, 2, 29, 15)),
    ]
    assert lines(scenario, "sub_tokyo/2024-02-01") == [("usage", "Units", None, D(2), D(1), D(2))]


def test_proration_and_billing_timing(scenario: Scenario) -> None:
    assert lines(scenario, "sub_prorated/2024-01-20") == [
        ("fee", "Platform fee (prorated 12/31 days)", None, D(1), D(120), D(120)),
    ]
    live = invoice(scenario, "sub_live/2024-04-01")
    assert live["status"] == "live"
    assert lines(scenario, "sub_live/2024-04-01") == [
        ("fee", "Platform fee", None, D(1), D(100), D(100)),
    ]


def test_plan_change_splits_usage_at_the_instant(scenario: Scenario) -> None:
    assert lines(scenario, "sub_basic/2024-01-01") == [
        ("fee", "Basic fee (prorated 12/31 days)", None, D(1), D(12), D(12)),
        ("usage", "Units", None, D(1), D(1), D(1)),
    ]
    assert lines(scenario, "sub_pro/2024-01-13") == [
        ("fee", "Pro fee (prorated 19/31 days)", None, D(1), D(38), D(38)),
        ("usage", "Units", None, D(10), D(2), D(20)),
    ]
    assert lines(scenario, "sub_pro/2024-02-01") == [
        ("fee", "Pro fee", None, D(1), D(62), D(62)),
        ("usage", "Units", None, D(0), D(2), D(0)),
    ]


def test_plan_versions_and_subscription_override(scenario: Scenario) -> None:
    amounts = scenario.rows(
        f"""
        select invoice_id, description, unit_price, amount
        from {MARTS_SCHEMA}.usage_billing__invoice_lines
        where invoice_id like 'sub_versions/%' order by invoice_id, line_number
        """
    )
    assert amounts == [
        ("sub_versions/2024-01-01", "Units", D(1), D(10)),
        ("sub_versions/2024-02-01", "Units", D(2), D(20)),
        ("sub_versions/2024-03-01", "Units (negotiated)", D("0.5"), D(5)),
    ]
