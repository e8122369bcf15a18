"""Closed periods (issue 21, docs/closing-periods.md) on real dbt builds: a closed final invoice
never changes, late usage for it is billed on the subscription's next open invoice at the closed
period's own marginal price (policy next_open_period, the default) or revises it (amend_closed),
prepaid credit drawn by a closed invoice stays drawn, `--full-refresh` keeps what was frozen, and
the sync never pushes a closed invoice again. Every figure is worked out in the comments.

The scenario (USD, UTC, billing clock 2024-04-15 12:00, so January to March are final):
- `grad`: a flat $10 fee (in arrears) and units graduated at $1 up to 100, $0.50 above; prepaid
  credit g1 of $200. Usage: January 150, February 20, March 40, April 5 (live).
- `other`: $2 a unit. January 10, February 3.
- `ended`: $1 a unit, January only (the subscription ends on 1 February). January 10.
- `corrected`: a $10 fee and $1 a unit; prepaid credit g2 of $100. January 50 units, February
  5, March none.
Closed from the first build: `grad`, `ended` and `corrected` through 2024-01-31.

Build 1 (either policy):
- grad January: fee 10 + tier 1 100 x $1 + tier 2 50 x $0.50 = 25 -> 135; g1 pays 135 -> 0.
- grad February: 10 + 20 = 30; g1 pays 30 -> 0. March: 10 + 40 = 50; g1 has 35 left -> 15.
- other January 10 x $2 = 20; ended January 10.
- corrected January 10 + 50 = 60, February 15, March 10, all paid by g2 (85 of 100).
Build 2 loads late usage: grad January +30 units, other January +5, ended January +3, and
corrected's January event again with 20 units instead of 50 (a correction).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import duckdb
import pytest

from tests.support.warehouse_scenario import MARTS_SCHEMA, Pricing, Scenario, build, run_dbt
from usage_billing.marts.model import InvoiceVersion
from usage_billing.marts.reader import MartsReader
from usage_billing.marts.relations import MartRelations
from usage_billing.push.documents import Document
from usage_billing.push.ledger import LedgerEntry
from usage_billing.push.run import entry_of, plan
from usage_billing.push.targets.sequence import line_specs
from usage_billing.push.targets.stripe import item_params
from usage_billing.warehouse.duckdb import DuckDBWarehouse

D = Decimal
METRICS = [{"name": "units", "event_type": "usage", "aggregation": "sum", "property": "units"}]
BASE_VARS: dict[str, Any] = {
    "usage_billing_metrics": METRICS,
    "usage_billing_as_of": "2024-04-15 12:00:00",
    "usage_billing_pricing_schema": "pricing",
}
JAN, FEB, MAR = "sub_grad/2024-01-01", "sub_grad/2024-02-01", "sub_grad/2024-03-01"
LATE_JAN = "Late usage for 2024-01-01 to 2024-01-31: Units"
LATE_FEB = "Late usage for 2024-02-01 to 2024-02-29: Units"


def pricing() -> Pricing:
    tables = Pricing()
    for customer in ["grad", "other", "ended", "corrected"]:
        tables.customers.append({"customer_id": customer, "name": customer})
        tables.customer_aliases.append({"alias": customer, "customer_id": customer})
        tables.plans.append({"plan_id": customer, "name": customer})
        tables.subscriptions.append(
            {
                "subscription_id": f"sub_{customer}",
                "customer_id": customer,
                "plan_id": customer,
                "currency": "USD",
                "start_date": "2024-01-01",
                "end_date": "2024-02-01" if customer == "ended" else None,
            }
        )
    common = {"currency": "USD", "effective_from": "2020-01-01"}
    tables.prices += [
        {"price_id": "grad_fee", "plan_id": "grad", "pricing_model": "flat"}
        | {"description": "Fee", "flat_amount": D(10), **common},
        {"price_id": "grad_units", "plan_id": "grad", "pricing_model": "graduated"}
        | {"metric": "units", "description": "Units", **common},
        {"price_id": "other_units", "plan_id": "other", "pricing_model": "per_unit"}
        | {"metric": "units", "description": "Units", "unit_price": D(2), **common},
        {"price_id": "ended_units", "plan_id": "ended", "pricing_model": "per_unit"}
        | {"metric": "units", "description": "Units", "unit_price": D(1), **common},
        {"price_id": "corrected_fee", "plan_id": "corrected", "pricing_model": "flat"}
        | {"description": "Fee", "flat_amount": D(10), **common},
        {"price_id": "corrected_units", "plan_id": "corrected", "pricing_model": "per_unit"}
        | {"metric": "units", "description": "Units", "unit_price": D(1), **common},
    ]
    tables.price_tiers += [
        {"price_id": "grad_units", "tier": 1, "up_to": D(100), "unit_price": D(1)},
        {"price_id": "grad_units", "tier": 2, "up_to": None, "unit_price": D("0.5")},
    ]
    tables.credit_grants += [
        {
            "grant_id": grant_id,
            "customer_id": customer,
            "currency": "USD",
            "amount": D(amount),
            "granted_at": datetime(2023, 12, 1),
            "priority": 1,
        }
        for grant_id, customer, amount in [("g1", "grad", 200), ("g2", "corrected", 100)]
    ]
    tables.closed_periods += [
        {"customer_id": customer, "closed_through": "2024-01-31", "closed_at": datetime(2024, 2, 5)}
        for customer in ["grad", "ended", "corrected"]
    ]
    return tables


def usage(event_id: str, customer: str, day: str, units: int, loaded: str) -> tuple[Any, ...]:
    return (event_id, customer, "usage", f"{day}T12:00:00Z", f'{{"units": {units}}}', loaded)


FIRST_LOAD = "2024-04-01 00:00:00"
EVENTS = [
    usage("g_jan", "grad", "2024-01-10", 150, FIRST_LOAD),
    usage("g_feb", "grad", "2024-02-10", 20, FIRST_LOAD),
    usage("g_mar", "grad", "2024-03-10", 40, FIRST_LOAD),
    usage("g_apr", "grad", "2024-04-10", 5, FIRST_LOAD),
    usage("o_jan", "other", "2024-01-10", 10, FIRST_LOAD),
    usage("o_feb", "other", "2024-02-10", 3, FIRST_LOAD),
    usage("e_jan", "ended", "2024-01-10", 10, FIRST_LOAD),
    usage("c_jan", "corrected", "2024-01-10", 50, FIRST_LOAD),
    usage("c_feb", "corrected", "2024-02-10", 5, FIRST_LOAD),
]
LATE_2 = [
    usage("g_jan_late", "grad", "2024-01-20", 30, "2024-04-02 00:00:00"),
    usage("o_jan_late", "other", "2024-01-20", 5, "2024-04-02 00:00:00"),
    usage("e_jan_late", "ended", "2024-01-20", 3, "2024-04-02 00:00:00"),
    usage("c_jan", "corrected", "2024-01-10", 20, "2024-04-02 00:00:00"),
]


@dataclass
class Stage:
    """What one build left in the marts (the database changes with the next build)."""

    lines: dict[str, list[tuple[Any, ...]]]
    invoices: dict[str, dict[str, Any]]
    adjustments: list[tuple[Any, ...]]
    balances: list[tuple[Any, ...]]
    frozen_invoices: list[str]
    closings: list[tuple[Any, ...]]
    versions: dict[str, InvoiceVersion]


def capture(scenario: Scenario) -> Stage:
    lines: dict[str, list[tuple[Any, ...]]] = {}
    for invoice_id, *line in scenario.rows(
        f"""
        select invoice_id, line_type, description, amount, adjusted_invoice_id
        from {MARTS_SCHEMA}.usage_billing__invoice_lines order by invoice_id, line_number
        """
    ):
        lines.setdefault(invoice_id, []).append(tuple(line))
    invoices = {
        row["invoice_id"]: row
        for row in scenario.dicts(
            f"select * from {MARTS_SCHEMA}.usage_billing__invoices order by invoice_id"
        )
    }
    adjustments = scenario.rows(
        f"""
        select adjusted_invoice_id, target_invoice_id, description, current_amount, frozen_amount,
            billed_before_amount, amount, status
        from {MARTS_SCHEMA}.usage_billing__late_usage_adjustments order by adjustment_id
        """
    )
    balances = scenario.rows(
        f"""
        select grant_id, used_amount, remaining_amount, invoice_count
        from {MARTS_SCHEMA}.usage_billing__credit_balances order by grant_id
        """
    )
    frozen = [
        row[0]
        for row in scenario.rows(
            f"select distinct invoice_id from {MARTS_SCHEMA}.usage_billing__closed_invoice_lines"
            " order by 1"
        )
    ]
    closings = scenario.rows(
        f"""
        select distinct invoice_id, closed_through, closed_at
        from {MARTS_SCHEMA}.usage_billing__closed_invoice_lines order by invoice_id
        """
    )
    with duckdb.connect(str(scenario.database), read_only=True) as connection:
        versions = MartsReader(
            DuckDBWarehouse(connection), MartRelations.in_schema(MARTS_SCHEMA)
        ).final_invoices()
    return Stage(
        lines,
        invoices,
        adjustments,
        balances,
        frozen,
        closings,
        {v.invoice_id: v for v in versions},
    )


def load(scenario: Scenario, events: Sequence[tuple[Any, ...]], closed: Sequence[Any] = ()) -> None:
    with duckdb.connect(str(scenario.database)) as connection:
        connection.executemany("insert into raw.usage_events values (?, ?, ?, ?, ?, ?)", events)
        if closed:
            connection.executemany("insert into pricing.closed_periods values (?, ?, ?, ?)", closed)


def rebuild(scenario: Scenario, policy: str, *flags: str) -> Stage:
    run_dbt(
        ["build", *flags],
        scenario.database,
        {**BASE_VARS, "usage_billing_late_usage_policy": policy},
    )
    return capture(scenario)


@pytest.fixture(scope="module")
def next_open(tmp_path_factory: pytest.TempPathFactory) -> list[Stage]:
    """Four builds under next_open_period: stages[0] to stages[3] (see each test)."""
    directory = Path(tmp_path_factory.mktemp("closed_next_open"))
    scenario = build(directory, EVENTS, pricing(), BASE_VARS)
    stages = [capture(scenario)]
    load(scenario, LATE_2)
    stages.append(rebuild(scenario, "next_open_period"))
    # Build 3: every customer closed through February, one more late unit for other's January
    # and 10 for grad's January, in a `--full-refresh` build.
    load(
        scenario,
        [
            usage("g_jan_late3", "grad", "2024-01-21", 10, "2024-04-03 00:00:00"),
            usage("o_jan_late3", "other", "2024-01-21", 1, "2024-04-03 00:00:00"),
        ],
        [(None, "2024-02-29", datetime(2024, 3, 5), "February books")],
    )
    stages.append(rebuild(scenario, "next_open_period", "--full-refresh"))
    # Build 4: late usage for both of grad's closed months.
    load(
        scenario,
        [
            usage("g_jan_late4", "grad", "2024-01-22", 4, "2024-04-04 00:00:00"),
            usage("g_feb_late4", "grad", "2024-02-22", 2, "2024-04-04 00:00:00"),
        ],
    )
    stages.append(rebuild(scenario, "next_open_period"))
    return stages


@pytest.fixture(scope="module")
def amended(tmp_path_factory: pytest.TempPathFactory) -> list[Stage]:
    """Two builds under amend_closed, the late usage of build 2 as above."""
    directory = Path(tmp_path_factory.mktemp("closed_amend"))
    amend_vars = {**BASE_VARS, "usage_billing_late_usage_policy": "amend_closed"}
    scenario = build(directory, EVENTS, pricing(), amend_vars)
    stages = [capture(scenario)]
    load(scenario, LATE_2)
    stages.append(rebuild(scenario, "amend_closed"))
    return stages


def test_first_build_freezes_the_closed_final_invoices(next_open: list[Stage]) -> None:
    first = next_open[0]
    assert first.lines[JAN] == [
        ("fee", "Fee", D(10), None),
        ("usage", "Tier 1 - Units", D(100), None),
        ("usage", "Tier 2 - Units", D(25), None),
        ("credit", "Prepaid credit g1", D(-135), None),
    ]
    assert first.frozen_invoices == ["sub_corrected/2024-01-01", "sub_ended/2024-01-01", JAN]
    assert [(k, first.invoices[k]["is_closed"]) for k in [JAN, FEB, "sub_other/2024-01-01"]] == [
        (JAN, True),
        (FEB, False),
        ("sub_other/2024-01-01", False),
    ]
    assert (JAN, date(2024, 1, 31), datetime(2024, 2, 5)) in first.closings
    # g1: 135 + 30 + 35 = 200.
    assert [first.invoices[k]["total"] for k in [JAN, FEB, MAR]] == [D(0), D(0), D(15)]
    assert first.adjustments == []


def test_late_usage_leaves_the_closed_invoice_unchanged(next_open: list[Stage]) -> None:
    first, second = next_open[0], next_open[1]
    assert second.lines[JAN] == first.lines[JAN]
    for column in ["subtotal", "credits_applied", "total", "line_count", "content_hash"]:
        assert second.invoices[JAN][column] == first.invoices[JAN][column], column
    assert second.lines["sub_ended/2024-01-01"] == [("usage", "Units", D(10), None)]


def test_late_usage_is_billed_at_the_closed_periods_marginal_price(next_open: list[Stage]) -> None:
    second = next_open[1]
    # January would now be 180 units: 100 x $1 + 80 x $0.50 = 140 against 125 frozen, so the 30
    # late units cost 30 x $0.50 = $15.00 (tier 2 of January), not February's tier-1 $30.00.
    # The fee did not change: no line for it.
    assert second.lines[FEB] == [
        ("fee", "Fee", D(10), None),
        ("usage", "Tier 1 - Units", D(20), None),
        ("late_usage_adjustment", LATE_JAN, D(15), JAN),
        # Before credit: g1 had 200 - 135 (frozen on January) = 65 left; February owes 45.
        ("credit", "Prepaid credit g1", D(-45), None),
    ]
    assert (second.invoices[FEB]["subtotal"], second.invoices[FEB]["total"]) == (D(45), D(0))
    # March: 50, g1's last 65 - 45 = 20 -> 30 due (build 1: 35 drawn, 15 due).
    assert second.lines[MAR][-1] == ("credit", "Prepaid credit g1", D(-20), None)
    assert second.invoices[MAR]["total"] == D(30)
    assert second.balances[0] == ("g1", D(200), D(0), 3)


def test_an_open_period_of_another_customer_is_still_revised(next_open: list[Stage]) -> None:
    # other's January is not closed (the rows name grad and ended): 15 x $2.
    assert next_open[1].lines["sub_other/2024-01-01"] == [("usage", "Units", D(30), None)]


def test_late_usage_without_a_later_period_is_listed_unbilled(next_open: list[Stage]) -> None:
    second = next_open[1]
    assert second.adjustments[1:] == [
        ("sub_ended/2024-01-01", None, LATE_JAN, D(13), D(10), D(0), D(3), "unbilled"),
        (JAN, FEB, LATE_JAN, D(140), D(125), D(0), D(15), "on_invoice"),
    ]
    assert "sub_ended/2024-01-01" not in {
        line[3] for lines in second.lines.values() for line in lines if line[3]
    }


def test_a_correction_down_is_a_negative_adjustment_credit_does_not_pay(
    next_open: list[Stage],
) -> None:
    first, second = next_open[0], next_open[1]
    corrected = "sub_corrected/2024-01-01"
    assert second.lines[corrected] == first.lines[corrected]
    assert first.lines[corrected][-1] == ("credit", "Prepaid credit g2", D(-60), None)
    # January billed 50 units, now 20: -$30.00 on February, which then owes 10 + 5 - 30 = -15.
    # The fee's bucket (10) is offset by the units' bucket (5 - 30 = -25) before credit, so g2
    # pays nothing of February (it paid 15 in build 1): its total is -$15.00, a credit due.
    assert second.lines["sub_corrected/2024-02-01"] == [
        ("fee", "Fee", D(10), None),
        ("usage", "Units", D(5), None),
        ("late_usage_adjustment", LATE_JAN, D(-30), corrected),
    ]
    february = second.invoices["sub_corrected/2024-02-01"]
    assert (february["subtotal"], february["credits_applied"], february["total"]) == (
        D(-15),
        D(0),
        D(-15),
    )
    # March's fee 10 from g2's 100 - 60 frozen = 40: used 70, 30 left.
    assert second.invoices["sub_corrected/2024-03-01"]["total"] == D(0)
    assert second.balances[1] == ("g2", D(70), D(30), 2)
    assert second.adjustments[0] == (
        corrected,
        "sub_corrected/2024-02-01",
        LATE_JAN,
        D(20),
        D(50),
        D(0),
        D(-30),
        "on_invoice",
    )


def test_full_refresh_keeps_frozen_invoices_and_closing_for_all_customers(
    next_open: list[Stage],
) -> None:
    first, third = next_open[0], next_open[2]
    assert third.lines[JAN] == first.lines[JAN]
    assert third.invoices[JAN]["content_hash"] == first.invoices[JAN]["content_hash"]
    # The row without a customer closes everyone's February (and other's January).
    assert third.frozen_invoices == [
        "sub_corrected/2024-01-01",
        "sub_corrected/2024-02-01",
        "sub_ended/2024-01-01",
        JAN,
        FEB,
        "sub_other/2024-01-01",
        "sub_other/2024-02-01",
    ]
    assert not third.invoices[MAR]["is_closed"]
    assert (FEB, date(2024, 2, 29), datetime(2024, 3, 5)) in third.closings
    # The unit loaded in the build that closes other's January is in it: 16 x $2.
    assert third.lines["sub_other/2024-01-01"] == [("usage", "Units", D(32), None)]
    # grad's January now 190 units: 100 + 90 x 0.50 = 145, 125 frozen, nothing billed before
    # (February's line was not frozen): $20.00, on February, which this build closes with it.
    assert third.lines[FEB] == [
        ("fee", "Fee", D(10), None),
        ("usage", "Tier 1 - Units", D(20), None),
        ("late_usage_adjustment", LATE_JAN, D(20), JAN),
        ("credit", "Prepaid credit g1", D(-50), None),
    ]
    # March: g1 has 200 - 135 - 50 = 15 left -> 50 - 15 = 35.
    assert third.invoices[MAR]["total"] == D(35)


def test_adjustments_frozen_on_a_closed_invoice_are_not_billed_again(
    next_open: list[Stage],
) -> None:
    third, fourth = next_open[2], next_open[3]
    assert fourth.lines[FEB] == third.lines[FEB]
    assert fourth.invoices[FEB]["content_hash"] == third.invoices[FEB]["content_hash"]
    # January: 194 units -> 100 + 94 x 0.50 = 147; 125 frozen and 20 frozen on February: $2.00.
    # February: 22 units -> fee 10 + 22 = 32 against 30 frozen (its own adjustment aside): $2.00.
    # Both on March, by the period adjusted, before credit: g1's last 15 pays part of 54.
    assert fourth.lines[MAR] == [
        ("fee", "Fee", D(10), None),
        ("usage", "Tier 1 - Units", D(40), None),
        ("late_usage_adjustment", LATE_JAN, D(2), JAN),
        ("late_usage_adjustment", LATE_FEB, D(2), FEB),
        ("credit", "Prepaid credit g1", D(-15), None),
    ]
    assert fourth.invoices[MAR]["total"] == D(39)
    assert (JAN, MAR, LATE_JAN, D(147), D(125), D(20), D(2), "on_invoice") in fourth.adjustments
    assert fourth.balances == [("g1", D(200), D(0), 3), ("g2", D(70), D(30), 2)]


def test_amend_closed_revises_the_closed_invoice(amended: list[Stage]) -> None:
    first, second = amended
    assert first.frozen_invoices == [] and second.frozen_invoices == []
    assert second.invoices[JAN]["is_closed"]
    # January revised: 100 + 80 x 0.50 = 140, fee 10 -> 150, all paid by g1; February 30;
    # March gets g1's last 20 -> 30 due. No adjustment lines anywhere.
    assert second.lines[JAN] == [
        ("fee", "Fee", D(10), None),
        ("usage", "Tier 1 - Units", D(100), None),
        ("usage", "Tier 2 - Units", D(40), None),
        ("credit", "Prepaid credit g1", D(-150), None),
    ]
    assert second.invoices[JAN]["content_hash"] != first.invoices[JAN]["content_hash"]
    assert second.invoices[MAR]["total"] == D(30)
    assert second.lines["sub_ended/2024-01-01"] == [("usage", "Units", D(13), None)]
    assert second.adjustments == []
    assert not any(
        line[0] == "late_usage_adjustment" for lines in second.lines.values() for line in lines
    )


def _pushed(stage: Stage) -> list[LedgerEntry]:
    """Ledger rows as if every final invoice of `stage` had been sent to the webhook."""
    steps, _ = plan("webhook", stage.versions.values(), [], None)
    return [entry_of(step.document, "done", 1) for step in steps]


def test_sync_never_amends_a_closed_invoice(next_open: list[Stage], amended: list[Stage]) -> None:
    steps, up_to_date = plan("webhook", next_open[1].versions.values(), _pushed(next_open[0]), None)
    amendments = {step.document.invoice_id: step.document for step in steps}
    # Changed: February (the adjustment and its credit), March (credit), other's open January,
    # corrected's February (its negative adjustment and credit).
    assert sorted(amendments) == [
        "sub_corrected/2024-02-01",
        FEB,
        MAR,
        "sub_other/2024-01-01",
    ]
    assert up_to_date == len(next_open[1].versions) - 4
    february = amendments[FEB]
    assert february.kind == "amendment"
    assert sorted((change.description, change.amount) for change in february.changes) == [
        (LATE_JAN, D(15)),
        ("Prepaid credit g1", D(-15)),
    ]
    # Under amend_closed the closed January is pushed again, as an amendment.
    steps, _ = plan("webhook", amended[1].versions.values(), _pushed(amended[0]), None)
    assert JAN in {step.document.invoice_id for step in steps}


def test_targets_send_the_adjustment_as_a_normal_line(next_open: list[Stage]) -> None:
    version = next_open[1].versions[FEB]
    document = Document(target="sequence", revision=0, current=version, key="k")
    specs = line_specs(document)
    assert (LATE_JAN, f"{LATE_JAN}: 1 × $15.00", "1", "15") in specs
    items = item_params(Document(target="stripe", revision=0, current=version, key="k"), "c", "i")
    assert [item["amount"] for item in items] == [1000, 2000, 1500, -4500]
