"""The demo reproduces the seed's three invoices exactly, end to end: demo events written by
the CLI, the real `dbt build` on the demo seeds, and the invoices printed by the CLI."""

from __future__ import annotations

import json
import os
import subprocess
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path

import duckdb
import pytest

from tests.support.warehouse_scenario import BIN_DIR, MARTS_SCHEMA, REPO_DIR, Scenario
from usage_billing import formatting
from usage_billing.events.demo import LOADED_AT, USD_TRANSACTION_COUNT, demo_events

D = Decimal


@pytest.fixture(scope="module")
def demo(demo_warehouse: Scenario) -> tuple[Scenario, str]:
    printed = subprocess.run(
        [str(BIN_DIR / "usage-billing"), "invoices", "--profiles-dir", str(REPO_DIR)],
        env={
            **os.environ,
            "USAGE_BILLING_DUCKDB_PATH": str(demo_warehouse.database),
            "COLUMNS": "120",
        },
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    return demo_warehouse, printed


def _lines(scenario: Scenario, invoice_id: str) -> list[tuple[object, ...]]:
    return scenario.rows(
        f"""
        select description, tier, quantity, unit_price, amount, currency
        from {MARTS_SCHEMA}.usage_billing__invoice_lines where invoice_id = ? order by line_number
        """,
        [invoice_id],
    )


def test_api_product_graduated_count(demo: tuple[Scenario, str]) -> None:
    scenario, _ = demo
    assert _lines(scenario, "sub_acme_api/2022-10-01") == [
        ("Tier 1 - Usage", 1, D(500), D("0.10"), D("50.00"), "USD"),
        ("Tier 2 - Usage", 2, D(327), D("0.15"), D("49.05"), "USD"),
    ]
    assert scenario.rows(
        f"""
        select quantity, amount, round(effective_unit_price, 4)
        from {MARTS_SCHEMA}.usage_billing__billable_usage
        where invoice_id = 'sub_acme_api/2022-10-01'
        """
    ) == [(D(827), D("99.05"), D("0.1198"))]


def test_platform_access_flat_fees(demo: tuple[Scenario, str]) -> None:
    scenario, _ = demo
    assert _lines(scenario, "sub_acme_platform/2022-10-01") == [
        ("Platform fee", None, D(1), D(2500), D(2500), "GBP"),
        ("Implementation fee", None, D(1), D(1250), D(1250), "GBP"),
    ]


def test_embedded_payments_graduated_percentage(demo: tuple[Scenario, str]) -> None:
    scenario, _ = demo
    assert _lines(scenario, "sub_acme_payments/2022-10-01") == [
        ("Tier 1 - Payments", 1, D(500000), D("0.007"), D("3500.00"), "EUR"),
        ("Tier 2 - Payments", 2, D(750000), D("0.004"), D("3000.00"), "EUR"),
        ("Tier 3 - Payments", 3, D(237631), D("0.003"), D("712.89"), "EUR"),
    ]
    assert scenario.rows(
        f"""
        select quantity, amount, round(effective_unit_price, 4)
        from {MARTS_SCHEMA}.usage_billing__billable_usage
        where invoice_id = 'sub_acme_payments/2022-10-01'
        """
    ) == [(D(1487631), D("7212.89"), D("0.0048"))]


def test_three_final_invoices_with_their_totals(demo: tuple[Scenario, str]) -> None:
    scenario, _ = demo
    assert scenario.rows(
        f"""
        select plan_name, currency, total, status, line_count
        from {MARTS_SCHEMA}.usage_billing__invoices
        order by plan_name
        """
    ) == [
        ("API Product", "USD", D("99.05"), "final", 2),
        ("Embedded payments", "EUR", D("7212.89"), "final", 3),
        ("Platform access", "GBP", D("3750.00"), "final", 2),
    ]


def test_daily_series_covers_the_month(demo: tuple[Scenario, str]) -> None:
    scenario, _ = demo
    days = scenario.rows(
        f"""
        select count(*), sum(quantity) from {MARTS_SCHEMA}.usage_billing__metric_usage_daily
        where metric_name = 'payment_volume' and usage_date between '2022-10-01' and '2022-10-31'
        """
    )
    assert days == [(31, D(1487631))]


def _euro_card_amounts() -> dict[str, Decimal]:
    """The demo's euro card and Apple Pay transactions (first loads; re-sends repeat them)."""
    amounts: dict[str, Decimal] = {}
    for event in demo_events():
        if not (str(event.event_id).startswith("evt_txn_") and event.loaded_at == LOADED_AT):
            continue
        properties = json.loads(str(event.event_properties))
        if properties.get("currency") == "EUR" and properties.get("method") in {
            "card",
            "apple_pay",
        }:
            amounts[str(event.event_id)] = Decimal(properties["amount"])
    return amounts


def test_several_metrics_read_one_event_type(demo: tuple[Scenario, str]) -> None:
    """card_payment_volume keeps only euro card and Apple Pay transactions, counted once."""
    scenario, _ = demo
    expected = _euro_card_amounts()
    (total,) = scenario.rows(
        f"""
        select sum(quantity) from {MARTS_SCHEMA}.usage_billing__metric_usage_daily
        where metric_name = 'card_payment_volume'
        """
    )
    assert total == (sum(expected.values()),)
    assert 0 < total[0] < D(1487631)


def test_unbilled_usage_lists_what_no_invoice_bills(demo: tuple[Scenario, str]) -> None:
    """The US-dollar transactions, the API calls a second either side of October, and two
    metrics no plan prices; the reconciliation test of the build balanced it all."""
    scenario, _ = demo
    card = _euro_card_amounts()
    assert scenario.rows(
        f"""
        select reason, metric_name, event_type, sum(event_count), sum(quantity)
        from {MARTS_SCHEMA}.usage_billing__unbilled_usage
        group by reason, metric_name, event_type
        order by reason, metric_name
        """
    ) == [
        # The euro metrics filter the dollars out and no other metric reads transactions.
        ("matches_no_metric", None, "transaction", USD_TRANSACTION_COUNT, None),
        ("metric_not_priced", "card_payment_volume", None, len(card), sum(card.values())),
        # the demo's integration_tests/seeds/orders.csv: four paid October orders, one refunded.
        ("metric_not_priced", "paid_orders", None, 4, D(4)),
        ("no_subscription", "api_requests", None, 2, D(2)),
        # ord_1006 of 2 November: the subscriptions end on 1 November.
        ("no_subscription", "paid_orders", None, 1, D(1)),
    ]
    assert scenario.rows(
        f"""
        select usage_date, first_event_at, event_count
        from {MARTS_SCHEMA}.usage_billing__unbilled_usage
        where metric_name = 'api_requests' order by usage_date
        """
    ) == [
        (date(2022, 9, 30), datetime(2022, 9, 30, 23, 59, 59), 1),
        (date(2022, 11, 1), datetime(2022, 11, 1, 0, 0, 0), 1),
    ]


def test_duplicates_and_bad_rows_are_rejected_not_billed(demo: tuple[Scenario, str]) -> None:
    scenario, _ = demo
    reasons = dict(
        scenario.rows(
            f"""
            select rejection_reason, count(*)
            from {MARTS_SCHEMA}.usage_billing__usage_events_rejected
            group by rejection_reason
            """
        )
    )
    assert reasons == {
        "duplicate": 4,
        "unknown_customer": 1,
        "bad_timestamp": 1,
        "missing_timestamp": 1,
        "bad_properties": 1,
        "missing_event_id": 1,
    }


def test_printed_invoices_read_like_the_seed(demo: tuple[Scenario, str]) -> None:
    _, printed = demo
    for figure in [
        "API requests, 1 – 500 requests",
        "API requests, 501 requests and above",
        "Payment volume, €0 – €500,000",
        "Payment volume, €1,250,000 and above",
        "$50.00",
        "$49.05",
        "$99.05",
        "$0.1198 per request",
        "£2,500.00",
        "£1,250.00",
        "£3,750.00",
        "€500,000",
        "0.7%",
        "0.4%",
        "0.3%",
        "€712.89",
        "€7,212.89",
        "effective 0.48%",
    ]:
        assert figure in printed, figure
    # Display names, never the metrics' keys or tier numbers.
    for raw in ["api_requests", "payment_volume", "Tier 1"]:
        assert raw not in printed, raw


def test_printed_invoices_carry_number_dates_and_parties(demo: tuple[Scenario, str]) -> None:
    """Each final invoice's number and dates as the marts hold them, the demo's seller and the
    customer's address (docs/invoices.md)."""
    scenario, printed = demo
    rows = scenario.rows(
        f"""
        select invoice_number, issue_date, due_date, payment_terms_days, amount_due, currency
        from {MARTS_SCHEMA}.usage_billing__invoices where status = 'final' order by invoice_number
        """
    )
    assert [row[0] for row in rows] == ["DEMO-000001", "DEMO-000002", "DEMO-000003"]
    for number, issued, due, days, amount_due, currency in rows:
        assert f"Invoice {number}" in printed
        assert f"Issued {issued} · due {due} (net {days})" in printed
        assert f"Amount due: {formatting.money(amount_due, currency)}" in printed
    for text in [
        "Demo Metering Ltd",
        "10 Example Road",
        "1 Harbour Street",
        "Springfield, CA 12345",
    ]:
        assert printed.count(text) == 3, text


def test_demo_events_land_in_the_table_the_project_vars_name(tmp_path: Path) -> None:
    project = tmp_path / "project"
    project.mkdir()
    (project / "dbt_project.yml").write_text(
        "vars:\n"
        "  usage_billing_events_schema: landing\n"
        "  usage_billing_events_table: events\n"
        "  usage_billing_column_event_id: id\n"
        "  usage_billing_column_loaded_at: arrived_at\n"
    )
    database = tmp_path / "warehouse.duckdb"
    written = subprocess.run(
        [
            str(BIN_DIR / "usage-billing"),
            "demo-events",
            "--profiles-dir",
            str(REPO_DIR),
            "--project-dir",
            str(project),
        ],
        env={**os.environ, "USAGE_BILLING_DUCKDB_PATH": str(database)},
        capture_output=True,
        text=True,
        check=False,
    )
    assert written.returncode == 0, written.stderr
    assert "to landing.events" in written.stdout
    with duckdb.connect(str(database), read_only=True) as connection:
        columns = [row[0] for row in connection.execute("describe landing.events").fetchall()]
        ids = connection.execute("select id from landing.events").fetchall()
    assert columns == [
        "id",
        "customer_alias",
        "event_type",
        "event_timestamp",
        "event_properties",
        "arrived_at",
    ]
    assert sorted(ids, key=str) == sorted(((e.event_id,) for e in demo_events()), key=str)
