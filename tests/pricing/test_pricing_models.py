"""Every pricing model at its edges (zero, exactly at a tier bound, a fraction above, far
above), package rounding, per-line rounding in 0-, 2- and 3-decimal currencies, and
percentages of money metrics: one real `dbt build`, one subscription per case."""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from tests.support.warehouse_scenario import MARTS_SCHEMA, Pricing, Scenario, build

D = Decimal
AS_OF = "2024-03-01 00:00:00"

METRICS = [
    {"name": "units", "event_type": "usage", "aggregation": "sum", "property": "units"},
    {
        "name": "volume_eur",
        "event_type": "payment",
        "aggregation": "sum",
        "property": "amount",
        "unit": "EUR",
    },
]

# Tiers shared by the graduated and volume cases: 0-100 at 1.00, 100-200 at 0.50 plus a
# 5.00 fee for entering the tier, above 200 at 0.10.
TIERS = [
    (1, D(100), D("1.00"), None),
    (2, D(200), D("0.50"), D("5.00")),
    (3, None, D("0.10"), None),
]


@dataclass(frozen=True)
class Case:
    name: str
    pricing_model: str
    quantity: Decimal | None  # None: no events at all
    expected: list[tuple[str, int | None, Decimal, Decimal, Decimal]]
    currency: str = "USD"
    metric: str | None = "units"
    price: dict[str, Any] = field(default_factory=dict)
    tiers: list[tuple[int, Decimal | None, Decimal, Decimal | None]] = field(default_factory=list)


CASES = [
    Case(
        "flat_fee",
        "flat",
        None,
        [("Fee", None, D(1), D("49.99"), D("49.99"))],
        metric=None,
        price={"flat_amount": D("49.99")},
    ),
    Case(
        "per_unit_zero",
        "per_unit",
        None,
        [("Fee", None, D(0), D("0.25"), D(0))],
        price={"unit_price": D("0.25")},
    ),
    Case(
        "per_unit_fraction",
        "per_unit",
        D("3"),
        [("Fee", None, D(3), D("0.0125"), D("0.04"))],
        price={"unit_price": D("0.0125")},
    ),
    Case(
        "per_unit_half_up",
        "per_unit",
        D("1"),
        [("Fee", None, D(1), D("0.125"), D("0.13"))],
        price={"unit_price": D("0.125")},
    ),
    Case(
        "per_unit_jpy",
        "per_unit",
        D("3"),
        [("Fee", None, D(3), D("0.5"), D(2))],
        currency="JPY",
        price={"unit_price": D("0.5")},
    ),
    Case(
        "per_unit_bhd",
        "per_unit",
        D("3"),
        [("Fee", None, D(3), D("0.0005"), D("0.002"))],
        currency="BHD",
        price={"unit_price": D("0.0005")},
    ),
    Case("graduated_zero", "graduated", None, [("Tier 1 - Fee", 1, D(0), D(1), D(0))], tiers=TIERS),
    Case(
        "graduated_at_bound",
        "graduated",
        D(100),
        [("Tier 1 - Fee", 1, D(100), D(1), D(100))],
        tiers=TIERS,
    ),
    Case(
        "graduated_fraction_above",
        "graduated",
        D("100.5"),
        [
            ("Tier 1 - Fee", 1, D(100), D(1), D(100)),
            ("Tier 2 - Fee", 2, D("0.5"), D("0.5"), D("5.25")),
        ],
        tiers=TIERS,
    ),
    Case(
        "graduated_far_above",
        "graduated",
        D(1000),
        [
            ("Tier 1 - Fee", 1, D(100), D(1), D(100)),
            ("Tier 2 - Fee", 2, D(100), D("0.5"), D(55)),
            ("Tier 3 - Fee", 3, D(800), D("0.1"), D(80)),
        ],
        tiers=TIERS,
    ),
    Case("volume_zero", "volume", None, [("Tier 1 - Fee", 1, D(0), D(1), D(0))], tiers=TIERS),
    Case(
        "volume_at_bound",
        "volume",
        D(100),
        [("Tier 1 - Fee", 1, D(100), D(1), D(100))],
        tiers=TIERS,
    ),
    Case(
        "volume_fraction_above",
        "volume",
        D("100.5"),
        [("Tier 2 - Fee", 2, D("100.5"), D("0.5"), D("55.25"))],
        tiers=TIERS,
    ),
    Case(
        "volume_far_above",
        "volume",
        D(1000),
        [("Tier 3 - Fee", 3, D(1000), D("0.1"), D(100))],
        tiers=TIERS,
    ),
    Case(
        "package_zero",
        "package",
        None,
        [("Fee", None, D(0), D(2), D(0))],
        price={"unit_price": D(2), "package_size": D(1000)},
    ),
    Case(
        "package_exact",
        "package",
        D(1000),
        [("Fee", None, D(1), D(2), D(2))],
        price={"unit_price": D(2), "package_size": D(1000)},
    ),
    Case(
        "package_fraction_above",
        "package",
        D("1000.5"),
        [("Fee", None, D(2), D(2), D(4))],
        price={"unit_price": D(2), "package_size": D(1000)},
    ),
    Case(
        "package_tenths",
        "package",
        D("0.3"),
        [("Fee", None, D(3), D(2), D(6))],
        price={"unit_price": D(2), "package_size": D("0.1")},
    ),
    Case(
        "percentage_flat_rate",
        "per_unit",
        D(237631),
        [("Fee", None, D(237631), D("0.007"), D("1663.42"))],
        currency="EUR",
        metric="volume_eur",
        price={"unit_price": D("0.007")},
    ),
]


def _events(case: Case) -> list[tuple[Any, ...]]:
    if case.quantity is None:
        return []
    event_type, key = ("payment", "amount") if case.metric == "volume_eur" else ("usage", "units")
    return [
        (
            f"evt_{case.name}",
            case.name,
            event_type,
            "2024-01-15T12:00:00Z",
            f'{{"{key}": {case.quantity}}}',
            "2024-01-16 00:00:00",
        )
    ]


def _pricing() -> Pricing:
    pricing = Pricing()
    for case in CASES:
        pricing.customers.append({"customer_id": f"cus_{case.name}", "name": case.name})
        pricing.customer_aliases.append({"alias": case.name, "customer_id": f"cus_{case.name}"})
        pricing.plans.append({"plan_id": f"plan_{case.name}", "name": case.name})
        pricing.subscriptions.append(
            {
                "subscription_id": f"sub_{case.name}",
                "customer_id": f"cus_{case.name}",
                "plan_id": f"plan_{case.name}",
                "currency": case.currency,
                "start_date": "2024-01-01",
                "end_date": "2024-02-01",
            }
        )
        pricing.prices.append(
            {
                "price_id": f"price_{case.name}",
                "plan_id": f"plan_{case.name}",
                "metric": case.metric,
                "pricing_model": case.pricing_model,
                "description": "Fee",
                "currency": case.currency,
                "effective_from": "2023-01-01",
                **case.price,
            }
        )
        for tier, up_to, unit_price, flat_amount in case.tiers:
            pricing.price_tiers.append(
                {
                    "price_id": f"price_{case.name}",
                    "tier": tier,
                    "up_to": up_to,
                    "unit_price": unit_price,
                    "flat_amount": flat_amount,
                }
            )
    return pricing


@pytest.fixture(scope="module")
def scenario(tmp_path_factory: pytest.TempPathFactory) -> Scenario:
    events = [event for case in CASES for event in _events(case)]
    return build(
        Path(tmp_path_factory.mktemp("pricing")),
        events,
        _pricing(),
        {"usage_billing_metrics": METRICS, "usage_billing_as_of": AS_OF},
    )


@pytest.mark.parametrize("case", CASES, ids=lambda case: case.name)
def test_lines_of_each_pricing_model(scenario: Scenario, case: Case) -> None:
    lines = scenario.rows(
        f"""
        select description, tier, quantity, unit_price, amount
        from {MARTS_SCHEMA}.usage_billing__invoice_lines
        where invoice_id = ?
        order by line_number
        """,
        [f"sub_{case.name}/2024-01-01"],
    )
    assert lines == case.expected


@pytest.mark.parametrize("case", CASES, ids=lambda case: case.name)
def test_invoice_total_is_the_sum_of_rounded_lines(scenario: Scenario, case: Case) -> None:
    (invoice,) = scenario.dicts(
        f"select * from {MARTS_SCHEMA}.usage_billing__invoices where invoice_id = ?",
        [f"sub_{case.name}/2024-01-01"],
    )
    assert invoice["total"] == sum(line[4] for line in case.expected)
    assert invoice["currency"] == case.currency
    assert invoice["status"] == "final"
    assert invoice["line_count"] == len(case.expected)


def test_percentage_lines_are_flagged_for_display(scenario: Scenario) -> None:
    flags = dict(
        scenario.rows(
            f"""
            select invoice_id, is_percentage from {MARTS_SCHEMA}.usage_billing__invoice_lines
            where invoice_id in (
                'sub_percentage_flat_rate/2024-01-01', 'sub_per_unit_bhd/2024-01-01'
            )
            """
        )
    )
    assert flags == {
        "sub_percentage_flat_rate/2024-01-01": True,
        "sub_per_unit_bhd/2024-01-01": False,
    }


def test_effective_rate_is_exact(scenario: Scenario) -> None:
    (rate,) = scenario.rows(
        f"""
        select effective_unit_price from {MARTS_SCHEMA}.usage_billing__billable_usage
        where invoice_id = 'sub_graduated_far_above/2024-01-01'
        """
    )
    assert rate == (D("0.235"),)
