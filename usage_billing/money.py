"""Amounts in a target's minor units, exactly or not at all."""

from __future__ import annotations

from decimal import Decimal

from usage_billing.errors import UnsupportedAmountError

# Stripe's API takes these without decimals (stripe.com/docs/currencies#zero-decimal).
STRIPE_ZERO_DECIMAL = frozenset(
    [
        "BIF",
        "CLP",
        "DJF",
        "GNF",
        "JPY",
        "KMF",
        "KRW",
        "MGA",
        "PYG",
        "RWF",
        "UGX",
        "VND",
        "VUV",
        "XAF",
        "XOF",
        "XPF",
    ]
)
# Three decimals, and Stripe requires the last digit to be 0.
STRIPE_THREE_DECIMAL = frozenset(["BHD", "JOD", "KWD", "OMR", "TND"])


def stripe_exponent(currency: str) -> int:
    code = currency.upper()
    if code in STRIPE_ZERO_DECIMAL:
        return 0
    if code in STRIPE_THREE_DECIMAL:
        return 3
    return 2


def stripe_minor_units(amount: Decimal, currency: str) -> int:
    """`amount` as Stripe's integer; UnsupportedAmountError when that would change the money."""
    exponent = stripe_exponent(currency)
    scaled = amount.scaleb(exponent)
    if scaled != scaled.to_integral_value():
        raise UnsupportedAmountError(
            f"{amount} {currency.upper()} has more decimals than Stripe takes for"
            f" {currency.upper()} ({exponent}); nothing was rounded, fix the price or currency"
        )
    units = int(scaled)
    if exponent == 3 and units % 10:
        raise UnsupportedAmountError(
            f"{amount} {currency.upper()}: Stripe takes {currency.upper()} amounts only in"
            " multiples of 0.010; nothing was rounded"
        )
    return units
