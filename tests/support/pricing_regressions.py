"""Failing pricing cases found by earlier property runs, shrunk and kept so that every run of
the property check (on DuckDB, and on PostgreSQL and Spark in the portability suite) prices them
again. Paste a case a failing run prints at the end of REGRESSIONS."""

from __future__ import annotations

import datetime
from decimal import Decimal

from tests.support.pricing_cases import Case
from tests.support.pricing_oracle import Event, Grant, Price, Subscription, Tier

# These came from runs against deliberately broken SQL (each caught, then shrunk to what is left).
REGRESSIONS: list[Case] = [
    # A grant expiring exactly when October's period ends still pays October's invoice.
    Case(
        name="k101s3v3",
        subscriptions=(
            Subscription(
                subscription_id="s1",
                customer_id="",
                currency="USD",
                start_date=datetime.date(2023, 10, 1),
                prices=(
                    Price(
                        price_id="p1",
                        pricing_model="per_unit",
                        description="Units",
                        metric="units",
                        unit_price=Decimal("1"),
                    ),
                ),
                minimum_amount=Decimal("14.0"),
            ),
        ),
        grants=(
            Grant(
                grant_id="g0",
                customer_id="",
                currency="USD",
                amount=Decimal("35"),
                granted_at=datetime.datetime(2023, 9, 18, 12, 45, 36),
                expires_at=datetime.datetime(2023, 11, 1, 0, 0),
            ),
        ),
    ),
    # A yearly subscription starting on its anchor day: the first period starts that day.
    Case(
        name="c50s2v0",
        subscriptions=(
            Subscription(
                subscription_id="s1",
                customer_id="",
                currency="JPY",
                start_date=datetime.date(2022, 12, 1),
                prices=(
                    Price(
                        price_id="p0",
                        pricing_model="flat",
                        description="Platform fee",
                        flat_amount=Decimal("1"),
                        billing_timing="in_advance",
                    ),
                ),
                billing_interval="year",
                timezone="America/Los_Angeles",
            ),
        ),
    ),
    # Quarterly on day 31 from September 30th (September's last day is its anchor).
    Case(
        name="c174s3v0",
        subscriptions=(
            Subscription(
                subscription_id="s1",
                customer_id="",
                currency="USD",
                start_date=datetime.date(2022, 9, 30),
                prices=(
                    Price(
                        price_id="p1",
                        pricing_model="per_unit",
                        description="Units",
                        metric="units",
                        unit_price=Decimal("0"),
                    ),
                ),
                billing_interval="quarter",
                billing_anchor_day=31,
                timezone="Pacific/Chatham",
            ),
        ),
    ),
    # A price minimum is not trued up on February's live invoice, only on January's.
    Case(
        name="u5s0v2",
        subscriptions=(
            Subscription(
                subscription_id="s1",
                customer_id="",
                currency="USD",
                start_date=datetime.date(2024, 1, 20),
                prices=(
                    Price(
                        price_id="p1",
                        pricing_model="per_unit",
                        description="Usage",
                        metric="calls",
                        unit_price=Decimal("1"),
                        minimum_amount=Decimal("93"),
                    ),
                ),
            ),
        ),
    ),
    # Spark read the Havana midnight that happens twice (2023-11-05) at its first occurrence,
    # so the quarter started an hour early and took an event the other engines leave out.
    Case(
        name="havana",
        subscriptions=(
            Subscription(
                subscription_id="s1",
                customer_id="",
                currency="USD",
                start_date=datetime.date(2023, 11, 5),
                prices=(
                    Price(
                        price_id="p0",
                        pricing_model="flat",
                        description="Platform fee",
                        flat_amount=Decimal("1577.94"),
                    ),
                    Price(
                        price_id="p1",
                        pricing_model="per_unit",
                        description="Units",
                        metric="units",
                        unit_price=Decimal("2"),
                    ),
                ),
                billing_interval="quarter",
                billing_anchor_day=31,
                timezone="America/Havana",
            ),
        ),
        events=(
            Event(
                event_id="e0",
                at=datetime.datetime(2024, 4, 30, 4, 0),
                metric="units",
                value=Decimal("46"),
            ),
            Event(
                event_id="e1",
                at=datetime.datetime(2024, 4, 30, 3, 59, 59),
                metric="units",
                value=Decimal("0"),
            ),
            Event(
                event_id="e2",
                at=datetime.datetime(2023, 11, 5, 4, 59, 59),
                metric="units",
                value=Decimal("29.4"),
            ),
            Event(
                event_id="e3",
                at=datetime.datetime(2024, 1, 31, 5, 0),
                metric="units",
                value=Decimal("0"),
            ),
            Event(
                event_id="e4",
                at=datetime.datetime(2024, 4, 30, 5, 0),
                metric="units",
                value=Decimal("0"),
            ),
            Event(
                event_id="e5",
                at=datetime.datetime(2022, 8, 3, 0, 47, 52),
                metric="units",
                value=Decimal("0"),
            ),
        ),
    ),
]


# Referenced by the repr of shrunk cases pasted into REGRESSIONS.
__all__ = ["REGRESSIONS", "Decimal", "Event", "Grant", "Price", "Subscription", "Tier", "datetime"]
