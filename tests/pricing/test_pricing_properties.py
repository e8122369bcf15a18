"""Property tests: thousands of random prices, tiers, usage, calendars and credit grants, drawn by
hypothesis up front and priced in ONE real dbt build (one customer per case), every invoice line,
invoice total and credit balance held to the independent oracle
(tests/support/pricing_oracle.py) to the cent. A failing case is shrunk in a few batched builds
and printed, ready to be kept in REGRESSIONS (tests/support/pricing_regressions.py). Set
USAGE_BILLING_PROPERTY_SEED to replay a run. The draws and the comparison are
tests/support/pricing_properties.py, which the portability suite runs on PostgreSQL and Spark."""

from __future__ import annotations

import datetime
from collections.abc import Sequence
from decimal import Decimal
from pathlib import Path

import pytest

from tests.support.pricing_cases import Case, build_vars, shrink, size, tables
from tests.support.pricing_oracle import Event
from tests.support.pricing_properties import (
    COMPARED_MARTS,
    DRAWN,
    REGRESSION_PREFIX,
    SEED,
    failure_report,
    problems_by_case,
    property_cases,
)
from tests.support.pricing_regressions import REGRESSIONS
from tests.support.warehouse_scenario import MARTS_SCHEMA, build


def built_problems(directory: Path, cases: Sequence[Case]) -> dict[str, list[str]]:
    """Build the cases in one DuckDB warehouse and compare with the oracle; case → problems."""
    pricing, events = tables(cases)
    scenario = build(directory, events, pricing, build_vars())
    marts = {
        mart: scenario.dicts(f"select * from {MARTS_SCHEMA}.{mart}") for mart in COMPARED_MARTS
    }
    return problems_by_case(cases, marts)


@pytest.fixture(scope="module")
def checked(tmp_path_factory: pytest.TempPathFactory) -> tuple[list[Case], dict[str, list[str]]]:
    cases = property_cases(SEED)
    return cases, built_problems(Path(tmp_path_factory.mktemp("properties")), cases)


def test_thousands_of_random_cases_are_generated(
    checked: tuple[list[Case], dict[str, list[str]]],
) -> None:
    cases, _ = checked
    usage = [case for case in cases if case.name.startswith("u")]
    assert len(usage) == DRAWN["u"][1] >= 2000
    assert len(cases) == sum(count for _, count in DRAWN.values()) + len(REGRESSIONS)
    models = {
        price.pricing_model
        for case in usage
        for subscription in case.subscriptions
        for price in subscription.prices
    }
    assert models == {"flat", "per_unit", "package", "graduated", "volume", "per_transaction"}
    one_time = [
        price
        for case in cases
        for subscription in case.subscriptions
        for price in subscription.prices
        if price.cadence == "one_time"
    ]
    assert any(price.charge_date is None for price in one_time)
    assert any(price.charge_date is not None for price in one_time)
    in_advance_usage = {
        price.pricing_model
        for case in usage
        for subscription in case.subscriptions
        for price in subscription.prices
        if price.billing_timing == "in_advance" and price.metric == "seats"
    }
    assert in_advance_usage == {"per_unit", "package", "graduated", "volume"}


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
        return set(built_problems(directory, batch))

    smallest = sorted(failing, key=size)[:5]
    pytest.fail(failure_report(cases, problems, SEED, shrink(smallest, still_fails)))


def test_regressions_are_checked_every_run(
    checked: tuple[list[Case], dict[str, list[str]]],
) -> None:
    cases, problems = checked
    names = [case.name for case in cases if case.name.startswith(REGRESSION_PREFIX)]
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
