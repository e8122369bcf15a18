"""Raw rows committed with a `loaded_at` from before the window an incremental run reads (a
re-loaded file, a backfill stamped with its original load time) are found by the next run, not
left out of every invoice: it counts the raw rows from before the window against the stored
ones and, when they differ, checks those rows' events (docs/build-guarantees.md)."""

from __future__ import annotations

import shutil
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import duckdb

from tests.support.arrival_replay import FIRST_LOAD, VARS, event, pricing
from tests.support.warehouse_scenario import (
    MARTS_SCHEMA,
    PRICING_TABLES,
    RAW_EVENTS_COLUMNS,
    Scenario,
    column_names,
    run_dbt,
    write_table,
)

D = Decimal
VALIDATED = "billing_usage_billing.usage_billing__int_usage_events_validated"
SWEEP_LOG = "raw rows were committed with a loaded_at before the window"
COMPARED = [
    "usage_billing__invoices",
    "usage_billing__invoice_lines",
    "usage_billing__metric_usage_daily",
    "usage_billing__usage_events_rejected",
    "usage_billing__unbilled_usage",
]


def _load(database: Path, rows: list[tuple[dict[str, Any], Any]]) -> None:
    names = column_names(RAW_EVENTS_COLUMNS)
    with duckdb.connect(str(database)) as connection:
        connection.executemany(
            f"insert into raw.usage_events ({', '.join(names)}) values (?, ?, ?, ?, ?, ?)",
            [[*(row[name] for name in names[:-1]), loaded_at] for row, loaded_at in rows],
        )


def _sweeps_logged(database: Path) -> int:
    return (database.parent / "logs" / "dbt.log").read_text().count(SWEEP_LOG)


def _mart(scenario: Scenario, table: str) -> list[tuple[Any, ...]]:
    columns = [
        name
        for (name,) in scenario.rows(
            "select column_name from information_schema.columns"
            " where table_schema = ? and table_name = ? order by ordinal_position",
            [MARTS_SCHEMA, table],
        )
        if name != "processed_at"
    ]
    return scenario.rows(f"select {', '.join(columns)} from {MARTS_SCHEMA}.{table} order by all")


def test_rows_loaded_before_the_window_are_billed_by_the_next_run(tmp_path: Path) -> None:
    database = tmp_path / "warehouse.duckdb"
    with duckdb.connect(str(database)) as connection:
        write_table(connection, "raw", "usage_events", RAW_EVENTS_COLUMNS, [])
        for table, ddl in PRICING_TABLES.items():
            write_table(connection, "pricing", table, ddl, getattr(pricing(False), table))
    build_vars = {**VARS, "usage_billing_pricing_schema": "pricing"}
    scenario = Scenario(database)

    early = FIRST_LOAD - timedelta(days=3)
    first = [
        (event("e1", "payment", "2024-02-10T10:00:00Z", {"amount": 10}), early),
        (event("e2", "payment", "2024-02-11T10:00:00Z", {"amount": 5}), early),
        (event("e3", "request", "2024-03-01T10:00:00Z", {"user": "a"}), FIRST_LOAD),
    ]
    _load(database, first)
    run_dbt(["build"], database, build_vars)
    assert _sweeps_logged(database) == 0

    # All stamped days before the window (the newest stored load time minus the lookback): the
    # same file loaded again (e1's row, identical), a new event, a correction of e2 stamped
    # before e2's own row (so e2's row still wins), a row without an id (keyed by its content,
    # rejected) and a malformed one.
    backfill = early - timedelta(days=1)
    _load(
        database,
        [
            first[0],
            (event("e9", "payment", "2024-02-12T10:00:00Z", {"amount": 7.5}), backfill),
            (event("e2", "payment", "2024-02-11T10:00:00Z", {"amount": 500}), backfill),
            (event(None, "payment", "2024-02-13T10:00:00Z", {"amount": 1}), backfill),
            (event("e8", "payment", "2024-02-14T10:00:00Z", "{broken"), backfill),
        ],
    )
    run_dbt(["build"], database, build_vars)  # its data tests balance every raw row
    assert _sweeps_logged(database) == 1

    assert scenario.rows(
        f"select event_key, rejection_reason from {VALIDATED}"
        " where event_key in ('e1', 'e2', 'e8', 'e9') order by all"
    ) == [
        ("e1", "duplicate"),
        ("e1", None),
        ("e2", "duplicate"),
        ("e2", None),
        ("e8", "bad_properties"),
        ("e9", None),
    ]
    assert scenario.rows(
        f"select usage_date, quantity from {MARTS_SCHEMA}.usage_billing__metric_usage_daily"
        " where metric_name = 'volume' order by all"
    ) == [(date(2024, 2, day), D(amount)) for day, amount in [(10, 10), (11, 5), (12, "7.5")]]
    assert scenario.rows(
        f"select rejection_reason from {VALIDATED} where event_key like 'row:%'"
    ) == [("missing_event_id",)]

    # Nothing new: the counts agree, so the next run sweeps nothing.
    run_dbt(["build"], database, build_vars)
    assert _sweeps_logged(database) == 1

    full = tmp_path / "full" / "warehouse.duckdb"
    full.parent.mkdir()
    shutil.copy(database, full)
    run_dbt(["build", "--full-refresh"], full, build_vars)
    for table in COMPARED:
        assert _mart(scenario, table) == _mart(Scenario(full), table), table
