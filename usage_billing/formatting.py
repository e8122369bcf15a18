"""How figures read on an invoice: currency symbols, thousands separators, rates as percents.

Only presentation: every number arrives from the marts already computed and rounded.
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal

from babel.numbers import format_currency, format_decimal, get_currency_symbol

LOCALE = "en_US"


def money(amount: Decimal, currency: str) -> str:
    """An amount in its currency's minor units: $99.05, £3,750.00, ¥1,200, BHD 1.234."""
    if get_currency_symbol(currency, locale=LOCALE) == currency:
        # No symbol: the code reads better apart from the digits, as CLDR's spacing rule asks.
        return format_currency(amount, currency, format="¤\xa0#,##0.00", locale=LOCALE)
    return format_currency(amount, currency, locale=LOCALE)


def unit_rate(rate: Decimal, currency: str) -> str:
    """A price per unit, keeping the digits that matter: $0.10, $0.0015."""
    return format_currency(
        rate, currency, format="¤#,##0.00########", locale=LOCALE, currency_digits=False
    )


def percent(rate: Decimal, places: int | None = None) -> str:
    """A rate as a percent: 0.007 → 0.7%; with `places`, rounded half-up to them."""
    value = rate * 100
    if places is not None:
        return format_decimal(rounded(value, places), locale=LOCALE) + "%"
    return format_decimal(value, format="#,##0.##########", locale=LOCALE) + "%"


def rounded(value: Decimal, places: int) -> Decimal:
    """`value` rounded half-up to `places` decimals, as invoices round."""
    return value.quantize(Decimal(1).scaleb(-places), ROUND_HALF_UP)


def quantity(value: Decimal, unit_currency: str | None = None) -> str:
    """A usage quantity; money quantities (payment volume) carry their currency: €500,000."""
    if unit_currency:
        return format_currency(
            value, unit_currency, format="¤#,##0.##", locale=LOCALE, currency_digits=False
        )
    return format_decimal(value, format="#,##0.##########", locale=LOCALE)
