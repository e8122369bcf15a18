"""How figures read: currency symbols and minor units, rates as percents, exact decimals."""

from __future__ import annotations

from decimal import Decimal

import pytest

from usage_billing import formatting
from usage_billing.line_text import line_text
from usage_billing.marts.figures import usage_figures
from usage_billing.marts.model import Line, MetricUsage

D = Decimal


@pytest.mark.parametrize(
    ("amount", "currency", "expected"),
    [
        (D("99.05"), "USD", "$99.05"),
        (D("3750"), "GBP", "£3,750.00"),
        (D("7212.89"), "EUR", "€7,212.89"),
        (D("1200"), "JPY", "¥1,200"),
        (D("1.234"), "BHD", "BHD 1.234"),
    ],
)
def test_money_has_symbol_separators_and_minor_units(
    amount: Decimal, currency: str, expected: str
) -> None:
    assert formatting.money(amount, currency).replace("\xa0", " ") == expected


def test_rates_keep_significant_digits() -> None:
    assert formatting.unit_rate(D("0.1000000000"), "USD") == "$0.10"
    assert formatting.unit_rate(D("0.0015"), "USD") == "$0.0015"


def test_percent_drops_trailing_zeros_or_rounds_half_up() -> None:
    assert formatting.percent(D("0.0070000000")) == "0.7%"
    assert formatting.percent(D("0.0035")) == "0.35%"
    assert formatting.percent(D("0.0048486"), places=2) == "0.48%"
    assert formatting.percent(D("0.00125"), places=2) == "0.13%"


def test_money_quantities_carry_their_currency() -> None:
    assert formatting.quantity(D("237631.0000000000"), "EUR") == "€237,631"
    assert formatting.quantity(D("500.5")) == "500.5"


@pytest.mark.parametrize(
    ("flat_amount", "expected"),
    [
        (D("2.50"), "Tier 2 - Usage: 327 × $0.15 + $2.50"),
        (D("-2.50"), "Tier 2 - Usage: 327 × $0.15 - $2.50"),
        (D("0"), "Tier 2 - Usage: 327 × $0.15"),
    ],
)
def test_stripe_line_text_signs_its_flat_amount(flat_amount: Decimal, expected: str) -> None:
    line = Line(2, "Tier 2 - Usage", D("327"), D("0.15"), flat_amount, D("49.05") + flat_amount)
    assert line_text(line, "USD").replace("\xa0", " ") == expected


@pytest.mark.parametrize(
    ("unit", "expected"),
    [
        ("requests", "request"),
        ("GB-hours", "GB-hour"),
        ("queries", "query"),
        ("batches", "batch"),
        ("messages", "message"),
        ("addresses", "address"),
        ("GB", "GB"),
        ("status", "status"),
        ("", "unit"),
    ],
)
def test_an_effective_rate_is_per_one_of_the_metrics_units(unit: str, expected: str) -> None:
    usage = MetricUsage("m", None, D(827), D("99.05"), D("0.1197702539"), False, unit)
    assert usage_figures(usage, "USD").effective == f"$0.1198 per {expected}"
