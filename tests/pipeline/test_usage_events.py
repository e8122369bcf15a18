"""Raw events to billed usage: last-loaded repeats win, every bad row is rejected with its
reason, period edges and UTC offsets land in the right month, and statuses follow the clock."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Any

import duckdb
import pytest

from tests.support.warehouse_scenario import MARTS_SCHEMA, Pricing, Scenario, build, run_dbt

D = Decimal
T1 = "2024-03-01 00:00:00"
T2 = "2024-03-01 06:00:00"

EVENTS = [
    # event_id, alias, type, timestamp, properties, loaded_at
    ("e_plain", "c1", "usage", "2024-01-10T08:00:00Z", '{"units": 1}', T1),
    ("e_corrected", "c1", "usage", "2024-01-11T08:00:00Z", '{"units": 5}', T1),
    ("e_corrected", "c1", "usage", "2024-01-11T08:00:00Z", '{"units": 7}', T2),
    ("e_last_instant", "c1", "usage", "2024-01-31T23:59:59.999Z", '{"units": 10}', T1),
    ("e_next_month", "c1", "usage", "2024-02-01T00:00:00Z", '{"units": 100}', T1),
    ("e_offset", "c1", "usage", "2024-02-01T01:00:00+02:00", '{"units": 1000}', T1),
    ("e_resent_badly", "c1", "usage", "2024-01-12T08:00:00Z", '{"units": 10000}', T1),
    ("e_resent_badly", "c1", "usage", "2024-01-12T08:00:00Z", '{"units": ', T2),
    ("e_march", "c1", "usage", "2024-03-02T08:00:00Z", '{"units": 3}', T2),
    ("e_no_properties", "c1", "ping", "2024-01-13T08:00:00Z", None, T1),
    ("e_unknown", "nobody", "usage", "2024-01-14T08:00:00Z", '{"units": 1}', T1),
    ("e_no_time", "c1", "usage", None, '{"units": 1}', T1),
    ("e_bad_time", "c1", "usage", "31/01/2024", '{"units": 1}', T1),
    ("e_array", "c1", "usage", "2024-01-15T08:00:00Z", "[1, 2]", T1),
    ("e_no_alias", None, "usage", "2024-01-15T08:00:00Z", '{"units": 1}', T1),
    (None, "c1", "usage", "2024-01-15T08:00:00Z", '{"units": 1}', T1),
]


def _build(directory: Path, extra_vars: dict[str, Any] | None = None) -> Scenario:
    pricing = Pricing(
        customers=[{"customer_id": "cus_1", "name": "One"}],
        customer_aliases=[{"alias": "c1", "customer_id": "cus_1"}],
        plans=[{"plan_id": "metered", "name": "Metered"}],
        subscriptions=[
            {
                "subscription_id": "sub_1",
                "customer_id": "cus_1",
                "plan_id": "metered",
                "currency": "USD",
                "start_date": "2024-01-01",
            }
        ],
        prices=[
            {
                "price_id": "per_unit",
                "plan_id": "metered",
                "metric": "units",
                "pricing_model": "per_unit",
                "description": "Units",
                "unit_price": D(1),
                "effective_from": "2024-01-01",
            }
        ],
    )
    metrics = [{"name": "units", "event_type": "usage", "aggregation": "sum", "property": "units"}]
    return build(
        directory,
        EVENTS,
        pricing,
        {
            "usage_billing_metrics": metrics,
            "usage_billing_as_of": "2024-03-02 12:00:00",
            "usage_billing_grace_days": 3,
            **(extra_vars or {}),
        },
    )


@pytest.fixture(scope="module")
def scenario(tmp_path_factory: pytest.TempPathFactory) -> Scenario:
    return _build(Path(tmp_path_factory.mktemp("events")))


def test_every_raw_row_is_accepted_or_rejected_with_a_reason(scenario: Scenario) -> None:
    rejected = scenario.rows(
        f"""
        select event_id, customer_alias, rejection_reason, event_properties
        from {MARTS_SCHEMA}.usage_billing__usage_events_rejected
        order by event_id, rejection_reason
        """
    )
    assert rejected == [
        ("e_array", "c1", "bad_properties", "[1, 2]"),
        ("e_bad_time", "c1", "bad_timestamp", '{"units": 1}'),
        ("e_corrected", "c1", "duplicate", '{"units": 5}'),
        ("e_no_alias", None, "missing_customer_alias", '{"units": 1}'),
        ("e_no_time", "c1", "missing_timestamp", '{"units": 1}'),
        ("e_resent_badly", "c1", "bad_properties", '{"units": '),
        ("e_unknown", "nobody", "unknown_customer", '{"units": 1}'),
        (None, "c1", "missing_event_id", '{"units": 1}'),
    ]
    (accepted,) = scenario.rows(
        f"select count(*) from {MARTS_SCHEMA}.usage_billing__int_usage_events_validated"
        " where rejection_reason is null"
    )
    assert accepted[0] + len(rejected) == len(EVENTS)


def test_accepted_events_store_no_raw_text_no_metric_reads(scenario: Scenario) -> None:
    # No metric here has raw `where:` or `value:` SQL, so an accepted event keeps only its key
    # and parsed fields (the raw text is the costly part of the write); its key is its id.
    # test_metrics' raw_where metric checks the other way: there event_id is kept and read.
    stored = scenario.rows(
        f"""
        select
            count(*),
            count(event_id) + count(customer_alias) + count(event_timestamp_text)
                + count(event_properties),
            count(*) filter (where event_key like 'e\\_%' escape '\\')
        from {MARTS_SCHEMA}.usage_billing__int_usage_events_validated
        where rejection_reason is null
        """
    )
    assert stored == [(8, 0, 8)]  # e_no_properties too: accepted, though no metric counts it
    matched = scenario.rows(
        "select distinct event_id from"
        f" {MARTS_SCHEMA}.usage_billing__int_usage_events_matched_to_metrics"
        " order by event_id"
    )
    assert matched == [
        ("e_corrected",),
        ("e_last_instant",),
        ("e_march",),
        ("e_next_month",),
        ("e_offset",),
        ("e_plain",),
        ("e_resent_badly",),
    ]


def test_usage_lands_in_the_right_period(scenario: Scenario) -> None:
    quantities = scenario.rows(
        f"""
        select invoice_id, quantity, event_count from {MARTS_SCHEMA}.usage_billing__billable_usage
        order by invoice_id
        """
    )
    # January: 1 + 7 (the correction, not 5) + 10 (last instant) + 1000 (01:00+02:00 is
    # 23:00 UTC on the 31st) + 10000 (the good row of a badly re-sent event).
    assert quantities == [
        ("sub_1/2024-01-01", D(11018), 5),
        ("sub_1/2024-02-01", D(100), 1),
        ("sub_1/2024-03-01", D(3), 1),
    ]


def test_statuses_follow_the_clock_and_grace_days(scenario: Scenario) -> None:
    statuses = scenario.rows(
        f"select invoice_id, status, total from {MARTS_SCHEMA}.usage_billing__invoices order by"
        " invoice_id"
    )
    assert statuses == [
        ("sub_1/2024-01-01", "final", D("11018.00")),
        ("sub_1/2024-02-01", "draft", D("100.00")),
        ("sub_1/2024-03-01", "live", D("3.00")),
    ]


def test_content_hash_differs_when_lines_differ(scenario: Scenario) -> None:
    hashes = scenario.rows(
        f"select distinct content_hash from {MARTS_SCHEMA}.usage_billing__invoices"
    )
    assert len(hashes) == 3


def test_first_wins_policy_keeps_the_first_load(tmp_path: Path) -> None:
    scenario = _build(tmp_path, {"usage_billing_dedup_policy": "first_wins"})
    assert scenario.rows(
        f"""
        select event_properties from {MARTS_SCHEMA}.usage_billing__usage_events_rejected
        where event_id = 'e_corrected'
        """
    ) == [('{"units": 7}',)]
    (january,) = scenario.rows(
        f"""
        select quantity
        from {MARTS_SCHEMA}.usage_billing__billable_usage where invoice_id = 'sub_1/2024-01-01'
        """
    )
    assert january == (D(11016),)  # 5, the first load, instead of the correction's 7


def test_column_vars_name_columns_even_with_quotes_and_spaces(tmp_path: Path) -> None:
    # A column var is a name, quoted as given: one with a double quote or a space once was
    # pasted into the SQL as it was, and broke it (or worse, ran as SQL).
    columns = {
        "event_id": 'order "id"',
        "customer_alias": "Customer Alias",
        "event_type": "event_type",
        "event_timestamp": "at",
        "event_properties": "properties",
        "loaded_at": "loaded at",
    }
    odd = tmp_path / "odd"
    _build(odd)  # the pricing tables and a first database to copy them from
    database = odd / "warehouse.duckdb"
    quoted = ", ".join('"' + name.replace('"', '""') + '"' for name in columns.values())
    with duckdb.connect(str(database)) as connection:
        connection.execute("drop table raw.usage_events")
        connection.execute(
            "create table raw.usage_events ("
            + ", ".join(
                '"'
                + name.replace('"', '""')
                + '" '
                + ("timestamp" if field == "loaded_at" else "varchar")
                for field, name in columns.items()
            )
            + ")"
        )
        connection.executemany(
            f"insert into raw.usage_events ({quoted}) values (?, ?, ?, ?, ?, ?)",
            [list(row) for row in EVENTS],
        )
    run_dbt(
        ["build", "--full-refresh"],
        database,
        {
            "usage_billing_metrics": [
                {"name": "units", "event_type": "usage", "aggregation": "sum", "property": "units"}
            ],
            "usage_billing_as_of": "2024-03-02 12:00:00",
            "usage_billing_grace_days": 3,
            "usage_billing_pricing_schema": "pricing",
            **{f"usage_billing_column_{field}": name for field, name in columns.items()},
        },
    )
    (january,) = Scenario(database).rows(
        f"""
        select quantity
        from {MARTS_SCHEMA}.usage_billing__billable_usage where invoice_id = 'sub_1/2024-01-01'
        """
    )
    assert january == (D(11018),)  # as with the usual column names
