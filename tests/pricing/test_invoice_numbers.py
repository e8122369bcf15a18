"""Invoice numbers and terms (issue 25, docs/invoices.md) on real dbt builds: a final invoice
gets a number from its issuer's gapless counter at the first build that sees it final, and keeps
it, its issue date and its due date through later builds, `--full-refresh`, a prefix change and a
change of payment terms; a numbered invoice that disappears, an unknown issuer or negative terms
fail the build; a customers table without the new columns still builds.

The scenario (USD, UTC, monthly from 2024-01-01, a $10 flat fee each, grace 3 days):
- issuers `acme` (prefix ACME-, 4 digits, the default) and `beta` (prefix B-, 6 digits);
- customers `a` (acme, net 14), `b` (beta, terms empty) and `c` (no issuer: acme; no terms).
Build 1, clock 2024-03-15: January and February are final, March live. Ordered by period end,
then invoice id: acme numbers a/Jan 1, c/Jan 2, a/Feb 3, c/Feb 4; beta b/Jan 1, b/Feb 2. Issued
2024-03-15: a's due 2024-03-29 (14 days), b's and c's 2024-04-14 (the default 30).
Build 2, clock 2024-04-02: March is draft (final from 2024-04-04): nothing new.
Build 3, clock 2024-04-10, `--full-refresh`, acme's prefix now AC-, default terms 45: March is
final: AC-0005 (a), AC-0006 (c), B-000003; issued 2024-04-10, c's due 2024-05-25 (45 days).
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

import duckdb
import pytest
import yaml

from tests.support.warehouse_scenario import (
    MARTS_SCHEMA,
    REPO_DIR,
    DbtFailedError,
    Pricing,
    Scenario,
    build,
    parse_error,
    run_dbt,
    write_table,
)
from usage_billing.pricing_tables import PRICING_TABLES

ISSUERS: list[dict[str, Any]] = [
    {
        "issuer_id": "acme",
        "name": "Acme Billing Inc.",
        "address": ["1 Main Street", "Springfield, CA 12345", "US"],
        "email": "ar@acme.example",
        "tax_id": "US-12-3456789",
        "invoice_number_prefix": "ACME-",
        "invoice_number_digits": 4,
    },
    {"issuer_id": "beta", "name": "Beta GmbH", "invoice_number_prefix": "B-"},
]
# The project needs a metric; no events use it, so each invoice is its $10 fee.
METRICS = [{"name": "units", "event_type": "usage", "aggregation": "sum", "property": "units"}]
BASE_VARS: dict[str, Any] = {"usage_billing_issuers": ISSUERS, "usage_billing_metrics": METRICS}
OLD_CUSTOMERS_DDL = "customer_id varchar, name varchar, billing_email varchar, timezone varchar"


def pricing(customers: list[dict[str, Any]]) -> Pricing:
    tables = Pricing(customers=customers)
    for customer in customers:
        name = customer["customer_id"]
        tables.plans.append({"plan_id": name, "name": f"Plan {name}"})
        tables.subscriptions.append(
            {
                "subscription_id": f"sub_{name}",
                "customer_id": name,
                "plan_id": name,
                "currency": "USD",
                "start_date": "2024-01-01",
            }
        )
        tables.prices.append(
            {
                "price_id": f"fee_{name}",
                "plan_id": name,
                "pricing_model": "flat",
                "description": "Fee",
                "flat_amount": Decimal(10),
                "currency": "USD",
                "effective_from": "2020-01-01",
            }
        )
    return tables


CUSTOMERS = [
    {"customer_id": "a", "name": "A", "issuer_id": "acme", "payment_terms_days": 14}
    | {"address_line1": "5 Side St", "address_city": "Berlin", "address_country": "DE"},
    {"customer_id": "b", "name": "B", "issuer_id": "beta"},
    {"customer_id": "c", "name": "C"},
]


def numbers(scenario: Scenario) -> dict[str, tuple[Any, ...]]:
    return {
        row[0]: row[1:]
        for row in scenario.rows(
            f"""
            select invoice_id, issuer_id, invoice_sequence, invoice_number, issue_date, due_date,
                payment_terms_days
            from {MARTS_SCHEMA}.usage_billing__invoice_numbers order by invoice_id
            """
        )
    }


def invoices(scenario: Scenario) -> dict[str, dict[str, Any]]:
    return {
        row["invoice_id"]: row
        for row in scenario.dicts(f"select * from {MARTS_SCHEMA}.usage_billing__invoices")
    }


@pytest.fixture(scope="module")
def stages(tmp_path_factory: pytest.TempPathFactory) -> list[dict[str, Any]]:
    """Three builds as the clock moves (see the module's docstring), then a fourth after
    sub_b is deleted, which must fail: each stage's numbers and invoices, and the failure."""
    scenario = build(
        Path(tmp_path_factory.mktemp("invoice_numbers")),
        [],
        pricing(CUSTOMERS),
        {**BASE_VARS, "usage_billing_as_of": "2024-03-15 12:00:00"},
    )
    result: list[dict[str, Any]] = [{"numbers": numbers(scenario), "invoices": invoices(scenario)}]
    run_dbt(
        ["build"],
        scenario.database,
        {
            **BASE_VARS,
            "usage_billing_as_of": "2024-04-02 12:00:00",
            "usage_billing_pricing_schema": "pricing",
        },
    )
    result.append({"numbers": numbers(scenario), "invoices": invoices(scenario)})
    renamed = [ISSUERS[0] | {"invoice_number_prefix": "AC-"}, ISSUERS[1]]
    third_vars = {
        "usage_billing_issuers": renamed,
        "usage_billing_metrics": METRICS,
        "usage_billing_as_of": "2024-04-10 12:00:00",
        "usage_billing_payment_terms_days": 45,
        "usage_billing_pricing_schema": "pricing",
    }
    run_dbt(["build", "--full-refresh"], scenario.database, third_vars)
    result.append({"numbers": numbers(scenario), "invoices": invoices(scenario)})
    with duckdb.connect(str(scenario.database)) as connection:
        connection.execute("delete from pricing.subscriptions where subscription_id = 'sub_b'")
    with pytest.raises(DbtFailedError) as failure:
        run_dbt(["build"], scenario.database, third_vars)
    result.append({"numbers": numbers(scenario), "error": str(failure.value)})
    return result


def test_final_invoices_are_numbered_per_issuer_in_period_order(
    stages: list[dict[str, Any]],
) -> None:
    issued, due_14, due_30 = date(2024, 3, 15), date(2024, 3, 29), date(2024, 4, 14)
    assert stages[0]["numbers"] == {
        "sub_a/2024-01-01": ("acme", 1, "ACME-0001", issued, due_14, 14),
        "sub_a/2024-02-01": ("acme", 3, "ACME-0003", issued, due_14, 14),
        "sub_b/2024-01-01": ("beta", 1, "B-000001", issued, due_30, 30),
        "sub_b/2024-02-01": ("beta", 2, "B-000002", issued, due_30, 30),
        "sub_c/2024-01-01": ("acme", 2, "ACME-0002", issued, due_30, 30),
        "sub_c/2024-02-01": ("acme", 4, "ACME-0004", issued, due_30, 30),
    }


def test_live_and_draft_invoices_have_no_number(stages: list[dict[str, Any]]) -> None:
    first, second = stages[0]["invoices"], stages[1]["invoices"]
    assert first["sub_a/2024-03-01"]["status"] == "live"
    assert second["sub_a/2024-03-01"]["status"] == "draft"
    for invoice in [first["sub_a/2024-03-01"], second["sub_a/2024-03-01"]]:
        assert (invoice["invoice_number"], invoice["issue_date"], invoice["due_date"]) == (
            None,
            None,
            None,
        )
        assert invoice["payment_terms_days"] == 14  # the customer's terms, to be applied
    assert stages[1]["numbers"] == stages[0]["numbers"]


def test_later_builds_continue_the_counters_and_keep_issued_numbers(
    stages: list[dict[str, Any]],
) -> None:
    """Build 3 is a `--full-refresh` with a new prefix and new default terms: every number
    of build 1 is kept as issued, and March continues each issuer's counter."""
    third = stages[2]["numbers"]
    assert {key: third[key] for key in stages[0]["numbers"]} == stages[0]["numbers"]
    issued = date(2024, 4, 10)
    assert {key: value for key, value in third.items() if key not in stages[0]["numbers"]} == {
        "sub_a/2024-03-01": ("acme", 5, "AC-0005", issued, date(2024, 4, 24), 14),
        "sub_b/2024-03-01": ("beta", 3, "B-000003", issued, date(2024, 5, 25), 45),
        "sub_c/2024-03-01": ("acme", 6, "AC-0006", issued, date(2024, 5, 25), 45),
    }


def test_invoices_carry_number_terms_buyer_and_amount_due(stages: list[dict[str, Any]]) -> None:
    before, after = stages[1]["invoices"], stages[2]["invoices"]
    march = after["sub_a/2024-03-01"]
    assert march["invoice_number"] == "AC-0005"
    assert (march["issue_date"], march["due_date"]) == (date(2024, 4, 10), date(2024, 4, 24))
    assert march["amount_due"] == march["total"] == Decimal(10)
    assert (march["issuer_id"], march["address_line1"], march["address_city"]) == (
        "acme",
        "5 Side St",
        "Berlin",
    )
    assert march["address_country"] == "DE"
    assert after["sub_c/2024-03-01"]["issuer_id"] == "acme"  # no issuer_id: the default
    # A number is not content: the draft's hash is the numbered final invoice's.
    assert march["content_hash"] == before["sub_a/2024-03-01"]["content_hash"]


def test_a_numbered_invoice_whose_subscription_is_deleted_fails_the_build(
    stages: list[dict[str, Any]],
) -> None:
    error = stages[3]["error"]
    assert "sub_b/2024-01-01 (B-000001)" in error
    assert "sub_b/2024-03-01 (B-000003)" in error
    assert "usage_billing__invoice_numbers" in error
    assert stages[3]["numbers"] == stages[2]["numbers"]  # nothing numbered, nothing reused


def test_a_customers_table_without_the_new_columns_builds_and_bad_terms_fail(
    tmp_path: Path,
) -> None:
    """Customers in the first release's columns: the default issuer and terms. Then the new
    columns with an unknown issuer and negative terms: the build fails, naming both customers."""
    scenario = build(
        tmp_path,
        [],
        pricing([{"customer_id": "old", "name": "Old"}]),
        {"usage_billing_metrics": METRICS, "usage_billing_as_of": "2024-02-10 00:00:00"},
    )
    # build() wrote the current columns; write the old ones and build again from scratch.
    with duckdb.connect(str(scenario.database)) as connection:
        write_table(connection, "pricing", "customers", OLD_CUSTOMERS_DDL, [{"customer_id": "old"}])
        connection.execute(f"drop schema {MARTS_SCHEMA} cascade")
    old_vars = {
        "usage_billing_metrics": METRICS,
        "usage_billing_as_of": "2024-02-10 00:00:00",
        "usage_billing_pricing_schema": "pricing",
    }
    run_dbt(["build"], scenario.database, old_vars)
    assert list(numbers(scenario).values()) == [
        # The project's first issuer (integration_tests/dbt_project.yml) and the default terms.
        ("demo", 1, "DEMO-000001", date(2024, 2, 10), date(2024, 3, 11), 30)
    ]
    with duckdb.connect(str(scenario.database)) as connection:
        write_table(
            connection,
            "pricing",
            "customers",
            PRICING_TABLES["customers"],
            [
                {"customer_id": "old", "issuer_id": "nobody"},
                {"customer_id": "neg", "payment_terms_days": -5},
            ],
        )
    with pytest.raises(DbtFailedError, match="assert_customer_terms_are_valid"):
        run_dbt(["build"], scenario.database, old_vars)
    # The test's own query (target/run holds it wrapped in dbt's failure count): the rows name
    # each customer and its problem.
    compiled = next((tmp_path / "target" / "compiled").rglob("assert_customer_terms_are_valid.sql"))
    assert sorted(scenario.rows(compiled.read_text())) == [
        ("neg", "payment_terms_days is negative"),
        ("old", "customer names unknown issuer_id nobody"),
    ]


def test_the_package_default_issuer_numbers_inv_gaplessly(tmp_path: Path) -> None:
    """The package's own usage_billing_issuers (its dbt_project.yml; the demo project sets its
    own, so --vars puts the package's back): every final invoice gets INV- and six digits, one
    counter with no gap, in period order then invoice id."""
    package_vars = yaml.safe_load((REPO_DIR / "dbt_project.yml").read_text())["vars"]
    customers = [{"customer_id": "x", "name": "X"}, {"customer_id": "y", "name": "Y"}]
    scenario = build(
        tmp_path,
        [],
        pricing(customers),
        {
            "usage_billing_issuers": package_vars["usage_billing_issuers"],
            "usage_billing_metrics": METRICS,
            # January to March are final (grace 3 days), April live.
            "usage_billing_as_of": "2024-04-10 12:00:00",
        },
    )
    issued = numbers(scenario)
    by_number = sorted(issued, key=lambda invoice_id: issued[invoice_id][1])
    assert by_number == [
        f"sub_{customer}/2024-{month:02d}-01" for month in (1, 2, 3) for customer in "xy"
    ]
    assert [issued[invoice_id][:3] for invoice_id in by_number] == [
        ("default", sequence, f"INV-{sequence:06d}") for sequence in range(1, 7)
    ]


@pytest.mark.parametrize(
    ("issuers", "message"),
    [
        (
            [ISSUERS[0], ISSUERS[0] | {"invoice_number_prefix": "X-"}],
            "issuer 'acme': issuer_id is used by two issuers",
        ),
        (
            [ISSUERS[0] | {"invoice_number_prefix": ""}],
            "issuer 'acme': invoice_number_prefix is empty",
        ),
        (
            [ISSUERS[0], ISSUERS[1] | {"invoice_number_prefix": "ACME-"}],
            "issuer 'beta': invoice_number_prefix 'ACME-' is also issuer 'acme''s",
        ),
        (
            [ISSUERS[0] | {"invoice_number_digits": 0}],
            "issuer 'acme': invoice_number_digits must be a whole number from 1 to 18",
        ),
    ],
)
def test_bad_issuers_fail_at_compile_time(
    tmp_path: Path, issuers: list[dict[str, Any]], message: str
) -> None:
    assert message in parse_error(tmp_path, {"usage_billing_issuers": issuers})
