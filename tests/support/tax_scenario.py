"""A small taxed scenario for the surfaces that show and push tax (the page, the CLI, the PDF,
Stripe, Sequence, the webhook); the tax rules themselves are tested in tests/pricing.

USD, UTC, billing clock 2024-04-10, three days' grace: March is final. Plan `api`: API calls at
$0.10 and a $60 platform fee. Everyone pays a 5% sales tax unless they have rates of their own.
- c1 (exclusive, two rates): 400 calls → $40, fee $60, subtotal $100. State sales tax 6.25% →
  $6.25, county sales tax 1% → $1.00. Total $107.25.
- c2 (inclusive): 120 calls → $12, fee $60 = $72 with VAT 20% inside: 72 × 20/120 = $12.00.
  Total $72.
- c3 (reverse charge, tax ID DE123456789) and c4 (exempt): the $60 fee, no tax (the 5% is
  not charged).
Every charge's tax is exact in cents, so a target that computes tax per line (Stripe) finds
the same figures.
"""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Any

from tests.support.warehouse_scenario import Pricing, Scenario, build

D = Decimal
VARS: dict[str, Any] = {
    "usage_billing_metrics": [{"name": "calls", "event_type": "call", "aggregation": "count"}],
    "usage_billing_as_of": "2024-04-10 00:00:00",
    "usage_billing_grace_days": 3,
    "usage_billing_pricing_schema": "pricing",
}
EXCLUSIVE = "s_c1/2024-03-01"
INCLUSIVE = "s_c2/2024-03-01"
REVERSE = "s_c3/2024-03-01"
EXEMPT = "s_c4/2024-03-01"
REVERSE_TAX_ID = "DE123456789"
CALLS = {"c1": 400, "c2": 120, "c3": 0, "c4": 0}


def pricing() -> Pricing:
    tables = Pricing()
    tables.plans.append({"plan_id": "api", "name": "API"})
    names = {"c1": "Northwind Inc", "c2": "Brightly Ltd", "c3": "Kunde GmbH", "c4": "City School"}
    exemptions = {
        "c3": {"tax_exempt": "reverse", "tax_id": REVERSE_TAX_ID},
        "c4": {"tax_exempt": "exempt"},
    }
    for customer, name in names.items():
        tables.customers.append(
            {"customer_id": customer, "name": name} | exemptions.get(customer, {})
        )
        tables.customer_aliases.append({"alias": customer, "customer_id": customer})
        tables.subscriptions.append(
            {"subscription_id": f"s_{customer}", "customer_id": customer, "plan_id": "api"}
            | {"currency": "USD", "start_date": "2024-03-01"}
        )
    common = {"plan_id": "api", "currency": "USD", "effective_from": "2024-01-01"}
    tables.prices += [
        {"price_id": "api_calls", "pricing_model": "per_unit", "metric": "calls"}
        | {"description": "API calls", "unit_price": D("0.10"), **common},
        {"price_id": "platform", "pricing_model": "flat", "description": "Platform fee"}
        | {"flat_amount": D(60), **common},
    ]
    tables.tax_rates += [
        {"tax_rate_id": "sales", "description": "Sales tax", "percentage": D(5)},
        {"tax_rate_id": "state", "customer_id": "c1", "description": "State sales tax"}
        | {"percentage": D("6.25")},
        {"tax_rate_id": "county", "customer_id": "c1", "description": "County sales tax"}
        | {"percentage": D(1)},
        {"tax_rate_id": "vat", "customer_id": "c2", "description": "VAT"}
        | {"percentage": D(20), "inclusive": True},
    ]
    return tables


def events() -> list[tuple[Any, ...]]:
    return [
        (f"{customer}_{number}", customer, "call", "2024-03-10T12:00:00Z", "{}", None)
        for customer, count in CALLS.items()
        for number in range(count)
    ]


def build_taxed(directory: Path) -> Scenario:
    return build(directory, events(), pricing(), VARS)
