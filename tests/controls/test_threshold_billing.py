"""Threshold billing (issue 26, docs/usage-controls.md "Threshold billing") on real dbt builds,
the billing clock advanced build by build and the events of each day loaded before the build
that sees it, every figure worked out here.

Plan `api`: API calls at $1.00 (price api_calls, tax code saas); everyone's 10% tax on saas.
- c1 (s_c1) from 2024-01-01, `threshold_billing_amount` $100, $10 of prepaid credit (g1).
- c2 (s_c2) from 2024-01-01, the same $100 threshold, 30 calls in January: never reached.

January for c1, build by build (three days' grace, so January is final from 2024-02-04):
1. clock 01-10: 60 calls (01-05). $60 < $100: no threshold invoice.
2. clock 01-15: +50 (01-12) = $110 ≥ $100: s_c1/2024-01-01/t1, DEMO-000001: 110 calls $110,
   tax $11, total $121.
3. clock 01-20: +40 (01-18): $150 - $110 billed = $40 < $100: nothing.
4. clock 01-25: +80 (01-22): $230 - $110 = $120: t2, DEMO-000002: 230 calls $230, "Billed on
   invoice DEMO-000001" -$110, tax 10% of $120 = $12, total $132.
5. clock 02-05 with 25 late calls: 5 on 01-10 (before t1 was issued) and 20 on 01-24; then a
   `--full-refresh` build. t1 and t2 stay as issued. January's invoice (DEMO-000003; c2's
   is DEMO-000004): 255 calls $255, -$110, -$120, credit -$10, tax 10% of $15 = $1.50,
   total $16.50. Subtotals 110 + 120 + 25 = 255, the period priced once; the tax 11 + 12 +
   1.50 = 24.50 = 10% of (255 - 10).
"""

from __future__ import annotations

import os
import re
import subprocess
from datetime import datetime
from decimal import Decimal
from html import unescape
from pathlib import Path
from typing import Any

import duckdb
import httpx
import pytest

from tests.controls.test_thresholds import calls
from tests.support.billing_fakes import FakeBilling, serve
from tests.support.pages_server import serving
from tests.support.sync_harness import push_to_webhook
from tests.support.warehouse_scenario import (
    BIN_DIR,
    MARTS_SCHEMA,
    REPO_DIR,
    Pricing,
    Scenario,
    build,
    failing_rows,
    run_dbt,
)

D = Decimal
METRICS = [{"name": "calls", "event_type": "call", "aggregation": "count"}]
JANUARY = "s_c1/2024-01-01"
T1, T2 = f"{JANUARY}/t1", f"{JANUARY}/t2"


def clock(day: str) -> dict[str, Any]:
    return {
        "usage_billing_metrics": METRICS,
        "usage_billing_as_of": f"{day} 00:00:00",
        "usage_billing_grace_days": 3,
        "usage_billing_pricing_schema": "pricing",
    }


def pricing() -> Pricing:
    tables = Pricing()
    tables.plans.append({"plan_id": "api", "name": "API"})
    for customer in ("c1", "c2"):
        tables.customers.append({"customer_id": customer, "name": customer})
        tables.customer_aliases.append({"alias": customer, "customer_id": customer})
        tables.subscriptions.append(
            {"subscription_id": f"s_{customer}", "customer_id": customer, "plan_id": "api"}
            | {"currency": "USD", "start_date": "2024-01-01", "threshold_billing_amount": D(100)}
        )
    tables.prices.append(
        {"price_id": "api_calls", "pricing_model": "per_unit", "metric": "calls"}
        | {"description": "API calls", "unit_price": D("1.00"), "plan_id": "api"}
        | {"currency": "USD", "effective_from": "2024-01-01", "tax_code": "saas"}
    )
    tables.tax_rates.append(
        {"tax_rate_id": "vat", "tax_code": "saas", "description": "Tax", "percentage": D(10)}
    )
    # An amount threshold watches the period's spending, threshold invoices included.
    tables.usage_thresholds.append(
        {"threshold_id": "spend200", "customer_id": "c1", "amount": D(200)}
    )
    tables.credit_grants.append(
        {"grant_id": "g1", "customer_id": "c1", "currency": "USD", "amount": D(10)}
        | {"granted_at": datetime(2023, 12, 1)}
    )
    return tables


def load(database: Path, events: list[tuple[Any, ...]]) -> None:
    with duckdb.connect(str(database)) as connection:
        connection.executemany(
            "insert into raw.usage_events values (?, ?, ?, ?, ?, now())",
            [row[:5] for row in events],
        )


def invoices(scenario: Scenario) -> dict[str, dict[str, Any]]:
    return {
        row["invoice_id"]: row
        for row in scenario.dicts(
            "select invoice_id, invoice_kind, threshold_of_invoice_id, status, invoice_number,"
            " issue_date, subtotal, credits_applied, tax_amount, total, content_hash"
            f" from {MARTS_SCHEMA}.usage_billing__invoices"
        )
    }


def lines(scenario: Scenario, invoice_id: str) -> list[tuple[Any, ...]]:
    return scenario.rows(
        "select line_type, description, quantity, amount"
        f" from {MARTS_SCHEMA}.usage_billing__invoice_lines"
        " where invoice_id = ? order by line_number",
        [invoice_id],
    )


@pytest.fixture(scope="module")
def history(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """The builds 1-5, with what the marts held after each that matters."""
    directory = Path(tmp_path_factory.mktemp("threshold_billing"))
    scenario = build(directory, calls("c1", "2024-01-05", 60), pricing(), clock("2024-01-10"))
    seen: dict[str, Any] = {"after_1": invoices(scenario)}
    load(scenario.database, calls("c1", "2024-01-12", 50) + calls("c2", "2024-01-13", 30))
    run_dbt(["build"], scenario.database, clock("2024-01-15"))
    seen["after_2"] = invoices(scenario)
    seen["t1_lines"] = lines(scenario, T1)
    load(scenario.database, calls("c1", "2024-01-18", 40))
    run_dbt(["build"], scenario.database, clock("2024-01-20"))
    seen["after_3"] = invoices(scenario)
    load(scenario.database, calls("c1", "2024-01-22", 80))
    run_dbt(["build"], scenario.database, clock("2024-01-25"))
    seen["after_4"] = invoices(scenario)
    seen["t2_lines"] = lines(scenario, T2)
    seen["copy_after_4"] = directory / "after_4.duckdb"
    seen["copy_after_4"].write_bytes(scenario.database.read_bytes())
    load(scenario.database, calls("c1", "2024-01-10", 5) + calls("c1", "2024-01-24", 20))
    run_dbt(["build"], scenario.database, clock("2024-02-05"))
    seen["after_5"] = invoices(scenario)
    run_dbt(["build", "--full-refresh"], scenario.database, clock("2024-02-05"))
    seen["after_refresh"] = invoices(scenario)
    seen["scenario"] = scenario
    return seen


def test_no_threshold_invoice_below_the_level(history: dict[str, Any]) -> None:
    assert [i for i, row in history["after_1"].items() if row["invoice_kind"] == "threshold"] == []


def test_the_first_build_at_the_level_issues_a_numbered_final_threshold_invoice(
    history: dict[str, Any],
) -> None:
    t1 = history["after_2"][T1]
    assert t1["invoice_kind"] == "threshold" and t1["threshold_of_invoice_id"] == JANUARY
    assert (t1["status"], t1["invoice_number"], str(t1["issue_date"])) == (
        "final",
        "DEMO-000001",
        "2024-01-15",
    )
    assert (t1["subtotal"], t1["tax_amount"], t1["total"]) == (D(110), D(11), D(121))
    assert history["t1_lines"] == [
        ("usage", "API calls", D(110), D(110)),
        ("tax", "Tax", D(110), D(11)),
    ]
    # The live period invoice is not billed early for what t1 billed from the next build on.
    assert history["after_3"][JANUARY]["subtotal"] == D(40)
    assert T2 not in history["after_3"]


def test_the_level_reached_again_issues_a_second_that_nets_the_first(
    history: dict[str, Any],
) -> None:
    t2 = history["after_4"][T2]
    assert (t2["invoice_number"], str(t2["issue_date"])) == ("DEMO-000002", "2024-01-25")
    assert (t2["subtotal"], t2["tax_amount"], t2["total"]) == (D(120), D(12), D(132))
    assert history["t2_lines"] == [
        ("usage", "API calls", D(230), D(230)),
        ("threshold_billed", "Billed on invoice DEMO-000001", D(1), D(-110)),
        ("tax", "Tax", D(120), D(12)),
    ]


@pytest.mark.parametrize("after", ["after_5", "after_refresh"])
def test_issued_threshold_invoices_never_change(history: dict[str, Any], after: str) -> None:
    """Late calls, some before t1 was issued, and a full refresh change neither."""
    for invoice_id, issued in [(T1, "after_2"), (T2, "after_4")]:
        assert history[after][invoice_id] == history[issued][invoice_id]


@pytest.mark.parametrize("after", ["after_5", "after_refresh"])
def test_the_final_invoice_nets_both_and_all_three_bill_the_period_once(
    history: dict[str, Any], after: str
) -> None:
    final = history[after][JANUARY]
    assert (final["status"], final["invoice_kind"], final["invoice_number"]) == (
        "final",
        "period",
        "DEMO-000003",
    )
    assert (final["subtotal"], final["credits_applied"], final["tax_amount"], final["total"]) == (
        D(25),
        D(10),
        D("1.50"),
        D("16.50"),
    )
    assert lines(history["scenario"], JANUARY) == [
        ("usage", "API calls", D(255), D(255)),
        ("threshold_billed", "Billed on invoice DEMO-000001", D(1), D(-110)),
        ("threshold_billed", "Billed on invoice DEMO-000002", D(1), D(-120)),
        ("credit", "Prepaid credit g1", D(1), D(-10)),
        ("tax", "Tax", D(15), D("1.50")),
    ]
    period = [history[after][i] for i in (T1, T2, JANUARY)]
    assert sum(row["subtotal"] for row in period) == D(255)  # 255 calls at $1, once
    assert sum(row["tax_amount"] for row in period) == D("24.50")  # 10% of 255 - 10 credit
    assert history["scenario"].rows(
        f"select crossing_id, value_so_far from {MARTS_SCHEMA}.usage_billing__threshold_crossings"
    ) == [(f"spend200|{JANUARY}", D(255))]


def test_a_period_below_the_level_has_only_its_own_invoice(history: dict[str, Any]) -> None:
    c2 = {i: row for i, row in history["after_refresh"].items() if i.startswith("s_c2/2024-01")}
    assert list(c2) == ["s_c2/2024-01-01"]
    assert (c2["s_c2/2024-01-01"]["invoice_number"], c2["s_c2/2024-01-01"]["total"]) == (
        "DEMO-000004",
        D(33),
    )


def test_corrections_below_what_was_billed_leave_a_negative_amount_due(
    history: dict[str, Any], tmp_path: Path
) -> None:
    """After build 4, January's calls of the 18th and 22nd are corrected to 2024-02-02:
    January holds 110 calls, $120 less than t1 and t2 billed. Its invoice shows it: 110 - 110
    - 120 = -$120, no credit drawn (there is nothing to pay), tax -$12, -$132 due."""
    database = tmp_path / "warehouse.duckdb"
    database.write_bytes(history["copy_after_4"].read_bytes())
    moved = calls("c1", "2024-01-18", 40) + calls("c1", "2024-01-22", 80)
    load(
        database,
        [(*row[:3], "2024-02-02" + row[3][10:], row[4]) for row in moved],
    )
    run_dbt(["build"], database, clock("2024-02-05"))
    scenario = Scenario(database)
    january = invoices(scenario)[JANUARY]
    assert (january["subtotal"], january["credits_applied"], january["tax_amount"]) == (
        D(-120),
        D(0),
        D(-12),
    )
    assert january["total"] == D(-132)
    assert lines(scenario, JANUARY)[0] == ("usage", "API calls", D(110), D(110))
    for invoice_id, issued in [(T1, "after_2"), (T2, "after_4")]:
        assert invoices(scenario)[invoice_id] == history[issued][invoice_id]


def test_the_push_sends_each_threshold_invoice_once(
    history: dict[str, Any], tmp_path: Path
) -> None:
    database = tmp_path / "warehouse.duckdb"
    database.write_bytes(history["scenario"].database.read_bytes())
    fake = FakeBilling()
    with serve(fake) as base_url:
        first = push_to_webhook(database, base_url)
        assert first.returncode == 0, first.stderr
        sent = [body["data"] for body in fake.deliveries.values()]
        attempts = fake.delivery_attempts
        second = push_to_webhook(database, base_url)
        assert second.returncode == 0, second.stderr
        assert fake.delivery_attempts == attempts  # nothing sent again
    by_invoice = {data["invoice_id"]: data for data in sent if "invoice_id" in data}
    assert {T1, T2, JANUARY, "s_c2/2024-01-01"} <= set(by_invoice)
    assert [data["invoice_id"] for data in sent].count(T1) == 1
    assert [data["invoice_id"] for data in sent].count(T2) == 1


def test_the_data_tests_name_a_bad_amount_and_a_netting_that_does_not_match(
    history: dict[str, Any], tmp_path: Path
) -> None:
    database = tmp_path / "warehouse.duckdb"
    database.write_bytes(history["scenario"].database.read_bytes())
    vars_ = clock("2024-02-05")
    with duckdb.connect(str(database)) as connection:
        connection.execute(
            "update pricing.subscriptions set threshold_billing_amount = case subscription_id"
            " when 's_c1' then 0.005 else -1 end"
        )
        # t2's netting on January's invoice altered: it no longer matches what t2 billed.
        connection.execute(
            f"update {MARTS_SCHEMA}.usage_billing__invoice_lines set amount = -119"
            " where invoice_id = ? and adjusted_invoice_id = ?",
            [JANUARY, T2],
        )
    problem = "threshold_billing_amount must be positive and in whole minor units of the currency"
    assert failing_rows(database, "assert_threshold_billing_amounts_are_valid", vars_) == [
        ("s_c1", D("0.005"), problem),
        ("s_c2", D(-1), problem),
    ]
    assert failing_rows(database, "assert_threshold_billing_adds_up", vars_) == [
        (JANUARY, T2, D(120), JANUARY, T2, D(119), 1)
    ]


def test_the_page_and_the_cli_show_a_threshold_invoice_as_billed_early(
    history: dict[str, Any],
) -> None:
    database = history["scenario"].database
    note = f"Threshold invoice: billed early in the period of {JANUARY}"
    with serving(database) as site:
        answer = httpx.get(f"{site}/invoices/{T1}")
        period_page = httpx.get(f"{site}/invoices/{JANUARY}")
    assert answer.status_code == 200 and period_page.status_code == 200
    page = unescape(answer.text)
    assert re.search(rf'data-field="billed-early"[^>]*>{re.escape(note)}</p>', page)
    assert "DEMO-000001" in page
    assert 'data-field="billed-early"' not in period_page.text
    assert "Billed on invoice DEMO-000002" in unescape(period_page.text)
    printed = subprocess.run(
        [
            *(str(BIN_DIR / "usage-billing"), "invoices", "--status", "final"),
            *("--customer", "c1", "--profiles-dir", str(REPO_DIR)),
        ],
        env={**os.environ, "USAGE_BILLING_DUCKDB_PATH": str(database), "COLUMNS": "120"},
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    assert printed.count(note) == 2  # t1 and t2, not the period's own invoice
    assert f"{T1} · final" in printed and f"{JANUARY} · final" in printed
