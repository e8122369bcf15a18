"""Property tests: thousands of random prices, tiers, usage, calendars and credit grants, drawn by
hypothesis up front and priced in ONE real dbt build (one customer per case), every invoice line,
invoice total and credit balance held to the independent oracle
(tests/support/pricing_oracle.py) to the cent. A failing case is shrunk in a few batched builds
and printed, ready to be kept in REGRESSIONS below. Set USAGE_BILLING_PROPERTY_SEED to replay a
run."""

from __future__ import annotations

import datetime
import os
import random
from collections import defaultdict
from collections.abc import Sequence
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from tests.support.pricing_cases import (
    Case,
    build_vars,
    calendar_cases,
    compact_repr,
    credit_cases,
    draw_cases,
    expected,
    shrink,
    size,
    tables,
    usage_cases,
)
from tests.support.pricing_oracle import Event, Grant, Price, Subscription, Tier
from tests.support.warehouse_scenario import MARTS_SCHEMA, build

SEED = int(os.environ.get("USAGE_BILLING_PROPERTY_SEED") or random.randrange(2**32))
USAGE_CASES = 2000
CALENDAR_CASES = 300
CREDIT_CASES = 200

# Failing cases found by earlier runs, shrunk by `shrink`, kept so every run checks them. These
# came from runs against deliberately broken SQL (each caught, then shrunk to what is left here).
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
]


def _cases() -> list[Case]:
    return [
        *draw_cases(usage_cases, USAGE_CASES, "u", SEED),
        *draw_cases(calendar_cases, CALENDAR_CASES, "c", SEED + 1),
        *draw_cases(credit_cases, CREDIT_CASES, "k", SEED + 2),
        *(
            case.__class__(f"r{number}", case.subscriptions, case.events, case.grants)
            for number, case in enumerate(REGRESSIONS)
        ),
    ]


def _case_of(key: str) -> str:
    return key.split("_", 1)[0]


def problems_by_case(directory: Path, cases: Sequence[Case]) -> dict[str, list[str]]:
    """Build the cases in one warehouse and compare with the oracle; case name → problems."""
    pricing, events = tables(cases)
    scenario = build(directory, events, pricing, build_vars())
    actual_lines: dict[str, list[tuple[Any, ...]]] = defaultdict(list)
    for invoice_id, *line in scenario.rows(
        f"""
        select invoice_id, line_type, price_id, credit_grant_id, description, tier, quantity,
            unit_price, amount, is_percentage
        from {MARTS_SCHEMA}.usage_billing__invoice_lines order by invoice_id, line_number
        """
    ):
        actual_lines[invoice_id].append(tuple(line))
    actual_invoices = {
        invoice_id: tuple(rest)
        for invoice_id, *rest in scenario.rows(
            f"""
            select invoice_id, period_start, period_end, status, subtotal, credits_applied, total
            from {MARTS_SCHEMA}.usage_billing__invoices
            """
        )
    }
    actual_balances = {
        grant_id: tuple(rest)
        for grant_id, *rest in scenario.rows(
            f"""
            select grant_id, used_amount, expired_amount, remaining_amount, status
            from {MARTS_SCHEMA}.usage_billing__credit_balances
            """
        )
    }
    problems: dict[str, list[str]] = defaultdict(list)
    for case in cases:
        want = expected(case)
        got_invoices = {
            key: value for key, value in actual_invoices.items() if _case_of(key) == case.name
        }
        if set(got_invoices) != set(want.invoices):
            problems[case.name].append(
                f"invoices {sorted(got_invoices)} != expected {sorted(want.invoices)}"
            )
        for invoice_id, invoice in want.invoices.items():
            if invoice_id in got_invoices and got_invoices[invoice_id] != invoice:
                problems[case.name].append(
                    f"{invoice_id}: (start, end, status, subtotal, credits, total)"
                    f" {got_invoices[invoice_id]} != expected {invoice}"
                )
            if actual_lines.get(invoice_id, []) != want.lines[invoice_id]:
                problems[case.name].append(
                    f"{invoice_id} lines:\n    got      {actual_lines.get(invoice_id, [])}"
                    f"\n    expected {want.lines[invoice_id]}"
                )
        for grant_id, balance in want.balances.items():
            if actual_balances.get(grant_id) != balance:
                problems[case.name].append(
                    f"{grant_id}: (used, expired, remaining, status)"
                    f" {actual_balances.get(grant_id)} != expected {balance}"
                )
    return problems


@pytest.fixture(scope="module")
def checked(tmp_path_factory: pytest.TempPathFactory) -> tuple[list[Case], dict[str, list[str]]]:
    cases = _cases()
    return cases, problems_by_case(Path(tmp_path_factory.mktemp("properties")), cases)


def test_thousands_of_random_cases_are_generated(
    checked: tuple[list[Case], dict[str, list[str]]],
) -> None:
    cases, _ = checked
    usage = [case for case in cases if case.name.startswith("u")]
    assert len(usage) == USAGE_CASES >= 2000
    assert len(cases) >= USAGE_CASES + CALENDAR_CASES + CREDIT_CASES
    models = {
        price.pricing_model
        for case in usage
        for subscription in case.subscriptions
        for price in subscription.prices
    }
    assert models == {"flat", "per_unit", "package", "graduated", "volume", "per_transaction"}


def test_sql_invoices_equal_the_oracle_to_the_cent(
    checked: tuple[list[Case], dict[str, list[str]]],
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    cases, problems = checked
    if not problems:
        return
    failing = [case for case in cases if case.name in problems]
    rounds = iter(range(100))

    def still_fails(batch: Sequence[Case]) -> set[str]:
        directory = Path(tmp_path_factory.mktemp(f"shrink{next(rounds)}"))
        return set(problems_by_case(directory, batch))

    smallest = sorted(failing, key=size)[:5]
    shrunk = shrink(smallest, still_fails)
    report = [f"{len(failing)} of {len(cases)} cases differ from the oracle (seed {SEED})."]
    for case in failing[:5]:
        report.append(f"{case.name}: " + "\n  ".join(problems[case.name]))
    report.append("Shrunk, to keep in REGRESSIONS:")
    report += [f"    {compact_repr(case)}," for case in shrunk]
    pytest.fail("\n".join(report))


def test_regressions_are_checked_every_run(
    checked: tuple[list[Case], dict[str, list[str]]],
) -> None:
    cases, problems = checked
    names = [case.name for case in cases if case.name.startswith("r")]
    assert len(names) == len(REGRESSIONS)
    assert not [name for name in names if name in problems]


def test_shrinking_keeps_the_smallest_variant_that_still_fails() -> None:
    """The shrinker on a fake check (a case "fails" while it has an event worth more than 10):
    four rounds cut thirteen events down to the one that matters."""
    events = tuple(
        Event(f"e{number}", datetime.datetime(2024, 1, 1 + number), "units", Decimal(number))
        for number in range(12)
    )
    case = Case(name="x", subscriptions=(), events=(*events, events[11]))

    def still_fails(batch: Sequence[Case]) -> set[str]:
        return {item.name for item in batch if any(event.value > 10 for event in item.events)}

    (shrunk,) = shrink([case], still_fails)
    assert [event.value for event in shrunk.events] == [Decimal(11)]
    assert size(shrunk) < size(case)


# Referenced by the repr of shrunk cases pasted into REGRESSIONS.
__all__ = ["Decimal", "Event", "Grant", "Price", "Subscription", "Tier", "datetime"]
