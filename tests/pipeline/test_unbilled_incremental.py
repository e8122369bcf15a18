"""unbilled_usage built incrementally: after each kind of change that moves a row's reason or
counts (a subscription added, the billing clock moved, a late event, a correction moving an
event to another day, an alias re-pointed, a gauge report ending another's level, new events
added to stored rows of every reason, a new report of a metric that is not additive), an
incremental run's rows equal those of the model rebuilt with --full-refresh over the same
upstream tables; and the run was incremental, the rows changed."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import duckdb
import pytest

from tests.pipeline.test_unbilled_usage import EVENTS, PRICING, VARS
from tests.support.warehouse_scenario import (
    MARTS_SCHEMA,
    PRICING_TABLES,
    RAW_EVENTS_COLUMNS,
    Scenario,
    build,
    column_names,
    run_dbt,
    write_table,
)

MODEL = "usage_billing__unbilled_usage"
LATER = "2024-03-11 00:00:00"  # loaded after the first build's events
BUILD_VARS = {**VARS, "usage_billing_pricing_schema": "pricing"}


@pytest.fixture(scope="module")
def first_build(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build(Path(tmp_path_factory.mktemp("first")), EVENTS, PRICING, VARS).database


def _load(database: Path, *events: tuple[str, str, str, str, str]) -> None:
    with duckdb.connect(str(database)) as connection:
        connection.executemany(
            f"insert into raw.usage_events ({', '.join(column_names(RAW_EVENTS_COLUMNS))})"
            " values (?, ?, ?, ?, ?, ?)",
            [[*event, LATER] for event in events],
        )


def _write_pricing(database: Path, table: str, rows: list[dict[str, Any]]) -> None:
    with duckdb.connect(str(database)) as connection:
        write_table(connection, "pricing", table, PRICING_TABLES[table], rows)


def _subscription_added(database: Path) -> dict[str, Any]:
    # cus_b's two February calls had no subscription: now a plan bills them.
    subscription = {**PRICING.subscriptions[0], "subscription_id": "sub_b", "customer_id": "cus_b"}
    _write_pricing(database, "subscriptions", [*PRICING.subscriptions, subscription])
    return BUILD_VARS


def _clock_moved(database: Path) -> dict[str, Any]:
    # a7 (20 March, after the clock) is now before it, in no period: no_subscription.
    return {**BUILD_VARS, "usage_billing_as_of": "2024-03-25 00:00:00"}


def _late_event(database: Path) -> dict[str, Any]:
    # A second call on 9 January, beside a1, before sub_a starts.
    _load(database, ("a8", "a", "api_call", "2024-01-09T10:00:00Z", "{}"))
    return BUILD_VARS


def _event_moved(database: Path) -> dict[str, Any]:
    # a6 corrected from 1 March to 3 March: 1 March keeps a5 alone.
    _load(database, ("a6", "a", "api_call", "2024-03-03T08:00:00Z", "{}"))
    return BUILD_VARS


def _alias_repointed(database: Path) -> dict[str, Any]:
    # b's calls now belong to cus_c: cus_b has none left.
    aliases = [
        {**alias, "customer_id": "cus_c"} if alias["alias"] == "b" else alias
        for alias in PRICING.customer_aliases
    ]
    _write_pricing(database, "customer_aliases", aliases)
    return BUILD_VARS


def _gauge_report(database: Path) -> dict[str, Any]:
    # A report on 9 January replaces g2's level (8 January) before sub_a starts: g2, on a day
    # with no new event, is now held in no period.
    _load(database, ("g0", "a", "seats", "2024-01-09T12:00:00Z", '{"seats": 6}'))
    return BUILD_VARS


BANK_EUROS = '{"amount": 1.5, "currency": "EUR", "method": "bank"}'


def _events_added_to_stored_rows(database: Path) -> dict[str, Any]:
    # New events of count and sum metrics and of no metric, each falling in a stored row (added
    # to it: counts, the euro sum, the first and last instants move) or in a new one.
    _load(
        database,
        ("o2", "a", "page_view", "2024-01-12T04:00:00Z", "{}"),  # beside o1: matches_no_metric
        ("p6", "a", "payment", "2024-01-12T05:00:00Z", '{"amount": 9, "currency": "USD"}'),
        ("c9", "c", "payment", "2024-02-05T02:00:00Z", BANK_EUROS),  # beside c4: group_not_priced
        ("b0", "b", "api_call", "2024-02-09T23:00:00Z", "{}"),  # a new day of cus_b's
        ("b3", "b", "api_call", "2024-02-10T23:59:59Z", "{}"),  # last of b1 and b2's day
        ("b4", "b", "api_call", "2024-02-10T00:00:00Z", "{}"),  # b1's instant, first of the day
        ("a9", "a", "api_call", "2024-03-20T05:00:00Z", "{}"),  # beside a7, after the clock
    )
    return BUILD_VARS


def _max_metric_report(database: Path) -> dict[str, Any]:
    # storage_gb is a day's max, no sum: its days are aggregated again from all their reports.
    _load(
        database,
        ("s5", "a", "storage", "2024-01-15T03:00:00Z", '{"gb": 50}'),  # a new max on 15 January
        ("s6", "a", "storage", "2024-01-16T01:00:00Z", '{"gb": 1}'),  # below 16 January's 5
    )
    return BUILD_VARS


def _rows(database: Path) -> list[tuple[Any, ...]]:
    return Scenario(database).rows(f"select * from {MARTS_SCHEMA}.{MODEL} order by all")


def _rebuilt_run(database: Path) -> Any:
    ((rebuilt_run,),) = Scenario(database).rows(
        f"select rebuilt_run from {MARTS_SCHEMA}.usage_billing__build_state where model_name = ?",
        [MODEL],
    )
    return rebuilt_run


@pytest.mark.parametrize(
    "change",
    [
        _subscription_added,
        _clock_moved,
        _late_event,
        _event_moved,
        _alias_repointed,
        _gauge_report,
        _events_added_to_stored_rows,
        _max_metric_report,
    ],
)
def test_an_incremental_run_equals_a_full_refresh(
    first_build: Path, tmp_path: Path, change: Callable[[Path], dict[str, Any]]
) -> None:
    database = tmp_path / "incremental" / "warehouse.duckdb"
    database.parent.mkdir()
    shutil.copy(first_build, database)
    before = _rows(database)
    first_rebuilt = _rebuilt_run(database)

    build_vars = change(database)
    run_dbt(["run", "--select", f"+{MODEL}"], database, build_vars)
    assert _rebuilt_run(database) == first_rebuilt, "the run rebuilt the model in full"
    incremental = _rows(database)
    assert incremental != before, "the change left unbilled_usage as it was"

    full = tmp_path / "full" / "warehouse.duckdb"
    full.parent.mkdir()
    shutil.copy(database, full)
    run_dbt(["run", "--select", MODEL, "--full-refresh"], full, build_vars)
    assert incremental == _rows(full)
