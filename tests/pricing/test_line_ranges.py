"""Invoice lines say which units a tier covers and name the metric as the YAML does: every tiered
pricing model at its bounds (a quantity exactly at a tier's top, one unit above it), money
tiers as money ranges, what is free (free units, a zero-priced tier), and lines that are not
tiers keep their own description. One real
`dbt build`; then a closed_invoice_lines frozen before the range columns existed still builds."""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import duckdb
import pytest

from tests.support.warehouse_scenario import MARTS_SCHEMA, Pricing, Scenario, build, run_dbt
from usage_billing.line_text import line_label
from usage_billing.marts.model import InvoiceLine

D = Decimal
VARS = {
    "usage_billing_as_of": "2024-03-01 00:00:00",
    "usage_billing_metrics": [
        {
            "name": "api_requests",
            "display_name": "API requests",
            "event_type": "request",
            "aggregation": "sum",
            "property": "n",
            "unit": "requests",
        },
        {
            "name": "volume_eur",
            "display_name": "Payment volume",
            "event_type": "payment",
            "aggregation": "sum",
            "property": "n",
            "unit": "EUR",
        },
        # No display_name and no unit: the name in words, and ranges without a unit.
        {"name": "paid_orders", "event_type": "order", "aggregation": "sum", "property": "n"},
    ],
}
COUNT_TIERS = [(1, D(500), D("0.10")), (2, D(1000), D("0.15")), (3, None, D("0.20"))]
MONEY_TIERS = [(1, D(500000), D("0.007")), (2, None, D("0.004"))]


@dataclass(frozen=True)
class Case:
    name: str
    pricing_model: str
    metric: str
    quantity: Decimal
    # (tier, quantity, tier_first_unit, tier_last_unit, the line's label)
    lines: list[tuple[int | None, Decimal, Decimal | None, Decimal | None, str]]
    currency: str = "USD"
    free_units: Decimal | None = None
    tiers: list[tuple[int, Decimal | None, Decimal]] | None = None  # else the metric's tiers


CASES = [
    Case(
        "graduated_at_top",
        "graduated",
        "api_requests",
        D(500),
        [(1, D(500), D(1), D(500), "API requests, 1 – 500 requests")],
    ),
    Case(
        "graduated_one_above",
        "graduated",
        "api_requests",
        D(501),
        [
            (1, D(500), D(1), D(500), "API requests, 1 – 500 requests"),
            (2, D(1), D(501), D(1000), "API requests, 501 – 1,000 requests"),
        ],
    ),
    Case(
        "graduated_into_open_top",
        "graduated",
        "api_requests",
        D(1001),
        [
            (1, D(500), D(1), D(500), "API requests, 1 – 500 requests"),
            (2, D(500), D(501), D(1000), "API requests, 501 – 1,000 requests"),
            (3, D(1), D(1001), None, "API requests, 1,001 requests and above"),
        ],
    ),
    # Volume: the whole quantity at the tier reached, shown with the range that tier covers.
    Case(
        "volume_at_top",
        "volume",
        "api_requests",
        D(1000),
        [(2, D(1000), D(501), D(1000), "API requests, 501 – 1,000 requests")],
    ),
    Case(
        "volume_one_above",
        "volume",
        "api_requests",
        D(1001),
        [(3, D(1001), D(1001), None, "API requests, 1,001 requests and above")],
    ),
    Case(
        "percentage_at_top",
        "graduated",
        "volume_eur",
        D(500000),
        [(1, D(500000), D(0), D(500000), "Payment volume, €0 – €500,000")],
        currency="EUR",
    ),
    Case(
        "percentage_one_above",
        "graduated",
        "volume_eur",
        D(500001),
        [
            (1, D(500000), D(0), D(500000), "Payment volume, €0 – €500,000"),
            (2, D(1), D(500000), None, "Payment volume, €500,000 and above"),
        ],
        currency="EUR",
    ),
    Case(
        "default_display_name",
        "graduated",
        "paid_orders",
        D(600),
        [
            (1, D(500), D(1), D(500), "Paid orders, 1 – 500"),
            (2, D(100), D(501), D(1000), "Paid orders, 501 – 1,000"),
        ],
    ),
    # What is free says so: the price's free units (taken before the tiers, so the tiers
    # price the 500 above them), or a tier priced at zero.
    Case(
        "graduated_free_units",
        "graduated",
        "api_requests",
        D(600),
        [(1, D(500), D(1), D(500), "API requests, 1 – 500 requests (first 100 requests free)")],
        free_units=D(100),
    ),
    Case(
        "volume_free_units",
        "volume",
        "api_requests",
        D("1600.5"),
        [
            (
                3,
                D("1500.5"),
                D(1001),
                None,
                "API requests, 1,001 requests and above (first 100 requests free)",
            )
        ],
        free_units=D(100),
    ),
    Case(
        "money_free_units",
        "graduated",
        "volume_eur",
        D(600000),
        [(1, D(500000), D(0), D(500000), "Payment volume, €0 – €500,000 (first €100,000 free)")],
        currency="EUR",
        free_units=D(100000),
    ),
    Case(
        "graduated_free_first_tier",
        "graduated",
        "paid_orders",
        D(150),
        [
            (1, D(100), D(1), D(100), "Paid orders, 1 – 100 (free)"),
            (2, D(50), D(101), None, "Paid orders, 101 and above"),
        ],
        tiers=[(1, D(100), D(0)), (2, None, D("0.10"))],
    ),
    # Not a tier: no range, the price's own description.
    Case("package", "package", "api_requests", D(1001), [(None, D(2), None, None, "Calls")]),
]
EVENT_TYPES = {"api_requests": "request", "volume_eur": "payment", "paid_orders": "order"}


def _pricing() -> Pricing:
    pricing = Pricing()
    for case in CASES:
        pricing.customers.append({"customer_id": case.name, "name": case.name})
        pricing.customer_aliases.append({"alias": case.name, "customer_id": case.name})
        pricing.plans.append({"plan_id": case.name, "name": case.name})
        # The January invoices are closed, so closed_invoice_lines freezes them.
        pricing.subscriptions.append(
            {
                "subscription_id": f"sub_{case.name}",
                "customer_id": case.name,
                "plan_id": case.name,
                "currency": case.currency,
                "start_date": "2024-01-01",
                "end_date": "2024-02-01",
            }
        )
        pricing.closed_periods.append(
            {
                "customer_id": case.name,
                "closed_through": "2024-01-31",
                "closed_at": datetime(2024, 2, 5),
            }
        )
        price: dict[str, Any] = {
            "price_id": f"price_{case.name}",
            "plan_id": case.name,
            "metric": case.metric,
            "pricing_model": case.pricing_model,
            "description": "Calls",
            "currency": case.currency,
            "effective_from": "2023-01-01",
        }
        if case.pricing_model == "package":
            price |= {"unit_price": D(2), "package_size": D(1000)}
        if case.free_units is not None:
            price["free_units"] = case.free_units
        pricing.prices.append(price)
        tiers = case.tiers or (MONEY_TIERS if case.metric == "volume_eur" else COUNT_TIERS)
        for tier, up_to, unit_price in tiers if case.pricing_model != "package" else []:
            pricing.price_tiers.append(
                {
                    "price_id": f"price_{case.name}",
                    "tier": tier,
                    "up_to": up_to,
                    "unit_price": unit_price,
                }
            )
    return pricing


@pytest.fixture(scope="module")
def scenario(tmp_path_factory: pytest.TempPathFactory) -> Scenario:
    events = [
        (
            f"evt_{case.name}",
            case.name,
            EVENT_TYPES[case.metric],
            "2024-01-15T12:00:00Z",
            f'{{"n": {case.quantity}}}',
            "2024-01-16 00:00:00",
        )
        for case in CASES
    ]
    return build(Path(tmp_path_factory.mktemp("ranges")), events, _pricing(), VARS)


LINE_COLUMNS = """line_number, line_type, description, tier, quantity, unit_price, flat_amount,
    amount, is_percentage, metric_name, group_value, tier_first_unit, tier_last_unit,
    metric_display_name, metric_unit"""


def _lines(scenario: Scenario, invoice_id: str) -> list[InvoiceLine]:
    """The invoice's lines as the CLI, the page and the PDF read them (MartsReader's columns)."""
    return [
        InvoiceLine(**row)
        for row in scenario.dicts(
            f"select {LINE_COLUMNS} from {MARTS_SCHEMA}.usage_billing__invoice_lines"
            " where invoice_id = ? order by line_number",
            [invoice_id],
        )
    ]


@pytest.mark.parametrize("case", CASES, ids=lambda case: case.name)
def test_each_tier_line_carries_its_range(scenario: Scenario, case: Case) -> None:
    lines = _lines(scenario, f"sub_{case.name}/2024-01-01")
    assert [
        (line.tier, line.quantity, line.tier_first_unit, line.tier_last_unit, line_label(line))
        for line in lines
    ] == case.lines
    for line in lines:
        assert case.metric not in line_label(line)  # the display name, never the raw key


def test_frozen_lines_keep_their_range(scenario: Scenario) -> None:
    """The invoices are closed: invoice_lines shows them from closed_invoice_lines, which
    froze the ranges with the amounts."""
    frozen = scenario.rows(
        f"select invoice_id, tier, tier_first_unit, tier_last_unit from {MARTS_SCHEMA}."
        "usage_billing__closed_invoice_lines where tier is not null order by invoice_id, tier"
    )
    shown = scenario.rows(
        f"select invoice_id, tier, tier_first_unit, tier_last_unit from {MARTS_SCHEMA}."
        "usage_billing__invoice_lines where tier is not null order by invoice_id, tier"
    )
    assert frozen == shown
    assert len(frozen) == sum(len(case.lines) for case in CASES if case.pricing_model != "package")


def test_a_table_frozen_before_the_range_columns_still_builds(
    scenario: Scenario, tmp_path: Path
) -> None:
    """A closed_invoice_lines made by a release without the range columns: the next build
    appends them, the old rows read null (and their lines fall back to the description they
    were frozen with), and no invoice's content_hash changes, so the push amends nothing."""
    database = tmp_path / "warehouse.duckdb"
    shutil.copy(scenario.database, database)
    old = Scenario(database)
    hashes = old.rows(
        f"select invoice_id, content_hash from {MARTS_SCHEMA}.usage_billing__invoices order by 1"
    )
    with duckdb.connect(str(database)) as connection:
        for column in ["tier_first_unit", "tier_last_unit"]:
            connection.execute(
                f"alter table {MARTS_SCHEMA}.usage_billing__closed_invoice_lines"
                f" drop column {column}"
            )
    run_dbt(["build"], database, {**VARS, "usage_billing_pricing_schema": "pricing"})
    assert (
        old.rows(
            f"select invoice_id, content_hash from {MARTS_SCHEMA}.usage_billing__invoices"
            " order by 1"
        )
        == hashes
    )
    assert old.rows(
        f"select count(*), count(tier_first_unit), count(tier_last_unit) from {MARTS_SCHEMA}."
        "usage_billing__closed_invoice_lines"
    ) == [(sum(len(case.lines) for case in CASES), 0, 0)]
    [first, second] = _lines(old, "sub_graduated_one_above/2024-01-01")
    assert (first.tier_first_unit, first.metric_display_name) == (None, "API requests")
    assert [line_label(first), line_label(second)] == ["Tier 1 - Calls", "Tier 2 - Calls"]
