"""Paid and promotional credit, a top-up bought mid-quarter and a monthly allowance that rolls
over (issue 26, docs/pricing.md "Prepaid credits") on a real dbt build, every figure worked out
here; the property tests (tests/pricing/test_pricing_properties.py) draw hundreds more against
the oracle.

The scenario (USD, UTC, billing clock 2024-05-10, three days' grace: January to April final, May
live). Customer c1 pays $0.10 a call: January 300 calls ($30), February 1,200 ($120), March 300
($30), April 500 ($50), May 100 so far. Discount d1 takes 10% off February. Tax: 10% on
everything of c1's, per invoice. Grants, none with a priority:
- promo: promotional $20, given 2023-12-20, never expires.
- promo2: promotional $40, given 2024-03-05, expires 2024-04-01.
- m1 … m4: the monthly allowance, paid $50 each, given on the 1st of January … April, each
  expiring a month later (its invoice's period end); up to $30 of what is left rolls over for one
  more month (rollover_expires_at a month after expires_at).
- topup: paid $100 bought for $90 on 2024-02-15 10:00, never expires.
Draw order: promotional before paid, then soonest expiry: promo2, promo, m1, m2, m3, m4, topup.
A rolled-over remainder keeps its grant's rank.
- January (ends Feb 1), owes 30: promo 20 (empty), m1 10. Total 0. At Feb 1 m1 has 40 left:
  30 rolls over, 10 expires.
- February (ends Mar 1): calls 120, d1 takes 12; the topup's purchase 90 is billed here (its
  period holds Feb 15), neither discounted nor paid by credit. Owed to credit: 108 = m1's
  rollover 30 + m2 50 + topup 28. Subtotal 120 - 12 + 90 = 198; tax 10% of (198 - 108) = 9 (the
  purchase, taxed whole); total 198 - 108 + 9 = 99. At Mar 1 m2 has nothing left to roll.
- March (ends Apr 1), owes 30: promo2 30 (promo2 given Mar 5 is usable; it ranks first). At Apr 1
  promo2's 10 expires; m3 has 50 left: 30 rolls over, 20 expires.
- April (ends May 1), owes 50: m3's rollover 30, m4 20. At May 1 m4 has 30 left, all of it rolls
  over (cap 30) until Jun 1, after the clock.
Balances: promo2 used 30, 10 expired · promo used up · m1 used 40, 30 rolled, 10 expired · m2
used 50 · m3 used 30 (its rollover), 30 rolled, 20 expired · m4 used 20, 30 rolled and still
there · topup 72 left. 102 left in all.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import duckdb
import pytest

from tests.support.warehouse_scenario import (
    MARTS_SCHEMA,
    Pricing,
    Scenario,
    build,
    failing_rows,
    run_dbt,
)

D = Decimal
VARS: dict[str, Any] = {
    "usage_billing_metrics": [{"name": "calls", "event_type": "call", "aggregation": "count"}],
    "usage_billing_as_of": "2024-05-10 00:00:00",
    "usage_billing_grace_days": 3,
    "usage_billing_pricing_schema": "pricing",
}


def allowance(month: int) -> dict[str, Any]:
    """The monthly $50: usable by its month's invoice, then up to $30 for one more month."""
    return {
        "grant_id": f"m{month}",
        "grant_type": "" if month == 1 else None,  # empty text or null: paid
        "amount": D(50),
        "granted_at": datetime(2024, month, 1),
        "expires_at": datetime(2024, month + 1, 1),
        "rollover_cap": D(30),
        "rollover_expires_at": datetime(2024, month + 2, 1),
    }


def pricing() -> Pricing:
    tables = Pricing()
    tables.plans.append({"plan_id": "api", "name": "API"})
    tables.customers.append({"customer_id": "c1", "name": "c1"})
    tables.customer_aliases.append({"alias": "c1", "customer_id": "c1"})
    tables.subscriptions.append(
        {"subscription_id": "s1", "customer_id": "c1", "plan_id": "api", "currency": "USD"}
        | {"start_date": "2024-01-01"}
    )
    tables.prices.append(
        {"price_id": "api_calls", "plan_id": "api", "pricing_model": "per_unit", "metric": "calls"}
        | {"description": "API calls", "unit_price": D("0.10"), "currency": "USD"}
        | {"effective_from": "2024-01-01"}
    )
    tables.discounts.append(
        {"discount_id": "d1", "customer_id": "c1", "description": "10% off February"}
        | {"percent_off": D(10), "starts_on": "2024-02-01", "duration_periods": 1}
    )
    tables.tax_rates.append(
        {"tax_rate_id": "vat", "customer_id": "c1", "description": "VAT", "percentage": D(10)}
    )
    grants = [
        {"grant_id": "promo", "grant_type": "promotional", "amount": D(20)}
        | {"granted_at": datetime(2023, 12, 20)},
        {"grant_id": "promo2", "grant_type": "promotional", "amount": D(40)}
        | {"granted_at": datetime(2024, 3, 5), "expires_at": datetime(2024, 4, 1)},
        *(allowance(month) for month in range(1, 5)),
        {"grant_id": "topup", "grant_type": "paid", "amount": D(100), "purchase_amount": D(90)}
        | {"granted_at": datetime(2024, 2, 15, 10)},
    ]
    tables.credit_grants += [{"customer_id": "c1", "currency": "USD"} | grant for grant in grants]
    return tables


def calls(day: str, count: int) -> list[tuple[Any, ...]]:
    return [(f"c1_{day}_{n}", "c1", "call", f"{day}T12:00:00Z", "{}", None) for n in range(count)]


EVENTS = calls("2024-01-10", 300) + calls("2024-02-10", 1200) + calls("2024-03-10", 300)
EVENTS += calls("2024-04-10", 500) + calls("2024-05-05", 100)


@pytest.fixture(scope="module")
def scenario(tmp_path_factory: pytest.TempPathFactory) -> Scenario:
    return build(Path(tmp_path_factory.mktemp("credit_rollover")), EVENTS, pricing(), VARS)


def lines(scenario: Scenario, invoice_id: str) -> list[tuple[Any, ...]]:
    return scenario.rows(
        f"select line_type, credit_grant_id, description, amount"
        f" from {MARTS_SCHEMA}.usage_billing__invoice_lines"
        f" where invoice_id = ? and line_type <> 'tax' order by line_number",
        [invoice_id],
    )


def test_promotional_credit_first_then_allowances_by_expiry_with_their_rollover(
    scenario: Scenario,
) -> None:
    assert lines(scenario, "s1/2024-01-01") == [
        ("usage", None, "API calls", D(30)),
        ("credit", "promo", "Promotional credit promo", D(-20)),
        ("credit", "m1", "Prepaid credit m1", D(-10)),
    ]
    assert lines(scenario, "s1/2024-03-01") == [
        ("usage", None, "API calls", D(30)),
        ("credit", "promo2", "Promotional credit promo2", D(-30)),
    ]
    # m3's rolled-over 30 keeps m3's rank: before m4.
    assert lines(scenario, "s1/2024-04-01") == [
        ("usage", None, "API calls", D(50)),
        ("credit", "m3", "Prepaid credit m3", D(-30)),
        ("credit", "m4", "Prepaid credit m4", D(-20)),
    ]
    assert lines(scenario, "s1/2024-05-01") == [("usage", None, "API calls", D(10))]


def test_a_top_up_is_billed_whole_taxed_and_never_paid_by_credit(scenario: Scenario) -> None:
    assert lines(scenario, "s1/2024-02-01") == [
        ("usage", None, "API calls", D(120)),
        ("discount", None, "10% off February", D(-12)),
        ("credit_purchase", "topup", "Prepaid credit purchase topup", D(90)),
        ("credit", "m1", "Prepaid credit m1", D(-30)),
        ("credit", "m2", "Prepaid credit m2", D(-50)),
        ("credit", "topup", "Prepaid credit topup", D(-28)),
    ]
    totals = scenario.rows(
        f"select invoice_id, subtotal, credits_applied, tax_amount, total"
        f" from {MARTS_SCHEMA}.usage_billing__invoices where status = 'final' order by invoice_id"
    )
    assert totals == [
        ("s1/2024-01-01", D(30), D(30), D(0), D(0)),
        ("s1/2024-02-01", D(198), D(108), D(9), D(99)),
        ("s1/2024-03-01", D(30), D(30), D(0), D(0)),
        ("s1/2024-04-01", D(50), D(50), D(0), D(0)),
    ]


def test_balances_show_what_rolled_over_expired_and_is_left(scenario: Scenario) -> None:
    balances = scenario.rows(
        f"select grant_id, grant_type, used_amount, rolled_over_amount, expired_amount,"
        f" remaining_amount, status, purchase_amount"
        f" from {MARTS_SCHEMA}.usage_billing__credit_balances order by grant_id"
    )
    assert balances == [
        ("m1", "paid", D(40), D(30), D(10), D(0), "expired", None),
        ("m2", "paid", D(50), D(0), D(0), D(0), "expired", None),
        ("m3", "paid", D(30), D(30), D(20), D(0), "expired", None),
        ("m4", "paid", D(20), D(30), D(0), D(30), "rolled_over", None),
        ("promo", "promotional", D(20), D(0), D(0), D(0), "used_up", None),
        ("promo2", "promotional", D(30), D(0), D(10), D(0), "expired", None),
        ("topup", "paid", D(28), D(0), D(0), D(72), "active", D(90)),
    ]


def test_the_ledger_lists_every_movement_with_the_running_balance(scenario: Scenario) -> None:
    ledger = scenario.rows(
        f"select movement_number, movement_at, movement_type, grant_id, invoice_id, amount,"
        f" balance_after from {MARTS_SCHEMA}.usage_billing__credit_ledger"
        f" where customer_id = 'c1' and currency = 'USD' order by movement_number"
    )
    jan, feb, mar, apr = (f"s1/2024-0{month}-01" for month in range(1, 5))
    at = datetime
    assert [row[1:] for row in ledger] == [
        (at(2023, 12, 20), "grant", "promo", None, D(20), D(20)),
        (at(2024, 1, 1), "grant", "m1", None, D(50), D(70)),
        (at(2024, 2, 1), "grant", "m2", None, D(50), D(120)),
        (at(2024, 2, 1), "draw", "m1", jan, D(-10), D(110)),
        (at(2024, 2, 1), "draw", "promo", jan, D(-20), D(90)),
        (at(2024, 2, 1), "rollover_expiry", "m1", None, D(-10), D(80)),
        (at(2024, 2, 15, 10), "grant", "topup", None, D(100), D(180)),
        (at(2024, 3, 1), "grant", "m3", None, D(50), D(230)),
        (at(2024, 3, 1), "draw", "m1", feb, D(-30), D(200)),
        (at(2024, 3, 1), "draw", "m2", feb, D(-50), D(150)),
        (at(2024, 3, 1), "draw", "topup", feb, D(-28), D(122)),
        (at(2024, 3, 5), "grant", "promo2", None, D(40), D(162)),
        (at(2024, 4, 1), "grant", "m4", None, D(50), D(212)),
        (at(2024, 4, 1), "draw", "promo2", mar, D(-30), D(182)),
        (at(2024, 4, 1), "rollover_expiry", "m3", None, D(-20), D(162)),
        (at(2024, 4, 1), "expiry", "promo2", None, D(-10), D(152)),
        (at(2024, 5, 1), "draw", "m3", apr, D(-30), D(122)),
        (at(2024, 5, 1), "draw", "m4", apr, D(-20), D(102)),
    ]
    assert [row[0] for row in ledger] == list(range(1, 19))


def test_rolled_over_credit_expires_with_its_rollover(scenario: Scenario, tmp_path: Path) -> None:
    """A month later (clock 2024-06-10, May final at $10): m4's 30 rolled over pays May's 10 and
    its last 20 expire at Jun 1; the ledger ends on the topup's 72."""
    database = tmp_path / "warehouse.duckdb"
    database.write_bytes(scenario.database.read_bytes())
    later = VARS | {"usage_billing_as_of": "2024-06-10 00:00:00"}
    run_dbt(["build"], database, later)
    built = Scenario(database)
    assert lines(built, "s1/2024-05-01") == [
        ("usage", None, "API calls", D(10)),
        ("credit", "m4", "Prepaid credit m4", D(-10)),
    ]
    (m4,) = built.rows(
        f"select used_amount, rolled_over_amount, expired_amount, remaining_amount, status"
        f" from {MARTS_SCHEMA}.usage_billing__credit_balances where grant_id = 'm4'"
    )
    assert m4 == (D(30), D(30), D(20), D(0), "expired")
    last = built.rows(
        f"select movement_at, movement_type, grant_id, amount, balance_after"
        f" from {MARTS_SCHEMA}.usage_billing__credit_ledger order by movement_number desc limit 2"
    )
    assert last == [
        (datetime(2024, 6, 1), "expiry", "m4", D(-20), D(72)),
        (datetime(2024, 6, 1), "draw", "m4", D(-10), D(92)),
    ]
    # Closing January to April changes nothing: the frozen draws stay, m4 comes into May with
    # its 30 (50 less April's frozen 20) and m3 with no rollover left (April drew it, frozen).
    closed = tmp_path / "closed" / "warehouse.duckdb"
    closed.parent.mkdir()
    closed.write_bytes(scenario.database.read_bytes())
    with duckdb.connect(str(closed)) as connection:
        connection.execute(
            "insert into pricing.closed_periods values"
            " ('c1', date '2024-04-30', timestamp '2024-05-20 00:00:00', 'April books')"
        )
    for _ in range(2):  # the first build freezes, the second draws with the frozen draws fixed
        run_dbt(["build"], closed, later)
    for query in (
        f"select * exclude (as_of_at) from {MARTS_SCHEMA}.usage_billing__credit_ledger",
        f"select * from {MARTS_SCHEMA}.usage_billing__credit_balances",
        f"select invoice_id, line_number, line_type, credit_grant_id, amount"
        f" from {MARTS_SCHEMA}.usage_billing__invoice_lines",
    ):
        assert sorted(Scenario(closed).rows(query), key=str) == sorted(built.rows(query), key=str)
    assert Scenario(closed).rows(
        f"select count(*) from {MARTS_SCHEMA}.usage_billing__closed_invoice_lines"
        f" where line_type = 'credit'"
    ) == [(8,)]


def test_a_grants_table_without_the_new_columns_builds_as_before(
    scenario: Scenario, tmp_path: Path
) -> None:
    """Dropping the optional columns: every grant is paid and never rolls over, nothing is
    bought; an invoice the new columns did not touch keeps its content_hash."""
    database = tmp_path / "warehouse.duckdb"
    database.write_bytes(scenario.database.read_bytes())
    hash_of_may = (
        f"select content_hash from {MARTS_SCHEMA}.usage_billing__invoices"
        " where invoice_id = 's1/2024-05-01'"
    )
    before = Scenario(database).rows(hash_of_may)
    with duckdb.connect(str(database)) as connection:
        for column in ("grant_type", "purchase_amount", "rollover_cap", "rollover_expires_at"):
            connection.execute(f"alter table pricing.credit_grants drop column {column}")
    run_dbt(["build"], database, VARS)
    built = Scenario(database)
    assert built.rows(hash_of_may) == before
    # Without types promo2 (expiring sooner) and promo are ordered with the allowances by expiry
    # alone: January draws m1 (Feb 1) before promo (never); February has no purchase line.
    assert lines(built, "s1/2024-01-01") == [
        ("usage", None, "API calls", D(30)),
        ("credit", "m1", "Prepaid credit m1", D(-30)),
    ]
    assert not built.rows(
        f"select 1 from {MARTS_SCHEMA}.usage_billing__invoice_lines"
        f" where line_type = 'credit_purchase'"
    )
    assert built.rows(
        f"select distinct grant_type from {MARTS_SCHEMA}.usage_billing__credit_balances"
    ) == [("paid",)]


def test_invalid_grants_and_unbilled_purchases_fail_the_build(
    scenario: Scenario, tmp_path: Path
) -> None:
    database = tmp_path / "warehouse.duckdb"
    database.write_bytes(scenario.database.read_bytes())
    common = "'c1', 'USD', 10, timestamp '2024-01-05'"
    with duckdb.connect(str(database)) as connection:
        connection.execute(
            "insert into pricing.credit_grants"
            " (grant_id, customer_id, currency, amount, granted_at, expires_at, grant_type,"
            " purchase_amount, rollover_cap, rollover_expires_at) values"
            f" ('bad_type', {common}, null, 'gift', null, null, null),"
            f" ('promo_bought', {common}, null, 'promotional', 5, null, null),"
            f" ('free_purchase', {common}, null, 'paid', 0, null, null),"
            f" ('cent_fraction', {common}, null, 'paid', 1.005, null, null),"
            f" ('no_expiry', {common}, null, null, null, 5, null),"
            f" ('rollover_first', {common}, timestamp '2024-03-01', null, null, 5,"
            " timestamp '2024-02-01'),"
            f" ('negative_cap', {common}, timestamp '2024-03-01', null, null, -1, null),"
            # Bought before the subscription started: no invoice holds it.
            " ('too_early', 'c1', 'USD', 10, timestamp '2023-12-01', null, 'paid', 9, null, null)"
        )
    run_dbt(["run", "--select", "usage_billing__int_credit_purchases"], database, VARS)
    rows = failing_rows(database, "assert_subscriptions_and_credit_grants_are_valid", VARS)
    assert sorted(grant for grant, _ in rows) == [
        "bad_type",
        "cent_fraction",
        "free_purchase",
        "negative_cap",
        "no_expiry",
        "promo_bought",
        "rollover_first",
    ]
    assert failing_rows(database, "assert_credit_purchases_are_billed", VARS) == [
        (
            "too_early",
            "credit purchase on no invoice: no subscription of the customer in its currency"
            " holds granted_at",
        )
    ]
