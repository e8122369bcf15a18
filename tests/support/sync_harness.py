"""Shared pieces of the sync tests: random invoices, crash injection, push-until-done, and the
exactly-once checks of what a fake billing server holds against the ledger."""

from __future__ import annotations

import hashlib
import os
import random
import subprocess
from collections import Counter
from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from typing import Any

import duckdb
import httpx

from tests.support.billing_fakes import TICKET, WEBHOOK_SECRET, FakeBilling
from tests.support.warehouse_scenario import BIN_DIR, MARTS_SCHEMA, REPO_DIR
from usage_billing.http import ssl_context
from usage_billing.marts.model import InvoiceVersion, Line
from usage_billing.money import stripe_minor_units
from usage_billing.push.documents import Document
from usage_billing.push.ledger import Ledger
from usage_billing.push.run import document_of, plan, push
from usage_billing.push.targets.registry import make_target
from usage_billing.push.targets.sequence import line_specs
from usage_billing.push.targets.stripe import item_params
from usage_billing.settings import Settings, load_settings
from usage_billing.warehouse.duckdb import DuckDBWarehouse

MINOR_UNITS = {"USD": 2, "EUR": 2, "GBP": 2, "JPY": 0, "CHF": 2, "KWD": 3}
CURRENCIES = {
    "stripe": ["USD", "EUR", "GBP", "JPY", "KWD"],
    "sequence": ["USD", "EUR", "GBP", "JPY", "CHF"],
    "webhook": ["USD", "EUR", "JPY", "KWD"],
}
RATES = [
    Decimal("0.10"),
    Decimal("0.15"),
    Decimal("0.007"),
    Decimal("2.5"),
    Decimal("12"),
    Decimal("0.0015"),
]


class Crash(BaseException):
    """A simulated SIGKILL: unwinds everything, caught by nothing in the sync."""


def settings_for(base_url: str, timeout: float = 0.1) -> Settings:
    return load_settings(
        {
            "USAGE_BILLING_STRIPE_API_KEY": "sk_test_fake",
            "USAGE_BILLING_STRIPE_API_BASE": base_url,
            "USAGE_BILLING_SEQUENCE_CLIENT_ID": "client",
            "USAGE_BILLING_SEQUENCE_CLIENT_SECRET": "secret",
            "USAGE_BILLING_SEQUENCE_API_BASE": base_url,
            "USAGE_BILLING_WEBHOOK_URL": base_url + "/webhook",
            "USAGE_BILLING_WEBHOOK_SECRET": WEBHOOK_SECRET,
            "USAGE_BILLING_HTTP_TIMEOUT": str(timeout),
            "USAGE_BILLING_HTTP_MAX_ATTEMPTS": "8",
            "USAGE_BILLING_HTTP_BACKOFF_INITIAL": "0.001",
            "USAGE_BILLING_HTTP_BACKOFF_MAX": "0.002",
        }
    )


def environment_for(base_url: str) -> dict[str, str]:
    return {
        "USAGE_BILLING_STRIPE_API_KEY": "sk_test_fake",
        "USAGE_BILLING_STRIPE_API_BASE": base_url,
        "USAGE_BILLING_SEQUENCE_CLIENT_ID": "client",
        "USAGE_BILLING_SEQUENCE_CLIENT_SECRET": "secret",
        "USAGE_BILLING_SEQUENCE_API_BASE": base_url,
        "USAGE_BILLING_WEBHOOK_URL": base_url + "/webhook",
        "USAGE_BILLING_WEBHOOK_SECRET": WEBHOOK_SECRET,
        "USAGE_BILLING_HTTP_TIMEOUT": "0.5",
        "USAGE_BILLING_HTTP_BACKOFF_INITIAL": "0.01",
        "USAGE_BILLING_HTTP_BACKOFF_MAX": "0.05",
    }


def push_to_webhook(database: Path, base_url: str) -> subprocess.CompletedProcess[str]:
    """`usage-billing push --to webhook` as a user runs it, against the fake server at base_url."""
    environment = {
        **os.environ,
        **environment_for(base_url),
        "USAGE_BILLING_DUCKDB_PATH": str(database),
    }
    return subprocess.run(
        [
            str(BIN_DIR / "usage-billing"),
            *("push", "--to", "webhook", "--profiles-dir", str(REPO_DIR)),
        ],
        env=environment,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


class CrashingTransport(httpx.BaseTransport):
    """Crashes the client at random just before a request leaves or just after its answer.
    With `fake`, each request carries a ticket: the fake does them in the order sent."""

    def __init__(
        self, rng: random.Random, probability: float, fake: FakeBilling | None = None
    ) -> None:
        self.inner = httpx.HTTPTransport(verify=ssl_context())
        self.rng = rng
        self.probability = probability
        self.fake = fake

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        if self.rng.random() < self.probability / 2:
            raise Crash("before the request")
        ticket = None
        if self.fake is not None:
            ticket = self.fake.ticket()
            request.headers[TICKET] = str(ticket)
        try:
            response = self.inner.handle_request(request)
        except (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout):
            if self.fake is not None and ticket is not None:
                self.fake.unsent(ticket)
            raise
        response.read()
        if self.rng.random() < self.probability / 2:
            raise Crash("after the answer")
        return response

    def close(self) -> None:
        self.inner.close()


class CrashingWarehouse(DuckDBWarehouse):
    """Crashes at random just before or just after a ledger write commits."""

    def __init__(
        self, connection: duckdb.DuckDBPyConnection, rng: random.Random, probability: float
    ) -> None:
        super().__init__(connection)
        self.rng = rng
        self.probability = probability

    def execute(self, sql: str, parameters: Sequence[Any] = ()) -> None:
        if self.rng.random() < self.probability / 2:
            raise Crash("before a ledger write")
        super().execute(sql, parameters)
        if self.rng.random() < self.probability / 2:
            raise Crash("after a ledger write")


def _round(value: Decimal, currency: str) -> Decimal:
    return value.quantize(Decimal(1).scaleb(-MINOR_UNITS[currency]), ROUND_HALF_UP)


def _hash(lines: Sequence[Line]) -> str:
    text = ";".join(
        f"{line.line_number}|{line.description}|{line.quantity}|{line.amount}" for line in lines
    )
    return hashlib.md5(text.encode()).hexdigest()  # noqa: S324 - a content hash, as dbt's


def make_version(
    invoice_id: str, customer_id: str, currency: str, quantities: Sequence[tuple[str, int, Decimal]]
) -> InvoiceVersion:
    lines = []
    for number, (description, quantity, rate) in enumerate(quantities, start=1):
        amount = _round(Decimal(quantity) * rate, currency)
        if currency == "KWD":  # Stripe takes 3-decimal currencies in multiples of 0.010
            amount = amount.quantize(Decimal("0.01"), ROUND_HALF_UP)
        lines.append(
            Line(
                number,
                description,
                Decimal(quantity),
                rate,
                Decimal(0),
                amount,
                price_id=f"price_{description}",
            )
        )
    return InvoiceVersion(
        invoice_id=invoice_id,
        customer_id=customer_id,
        currency=currency,
        period_start=datetime(2022, 10, 1),
        period_end=datetime(2022, 11, 1),
        total=sum((line.amount for line in lines), Decimal(0)),
        content_hash=_hash(lines),
        lines=tuple(lines),
        customer_name=customer_id.title(),
        plan_name="Plan",
    )


def random_invoices(
    rng: random.Random, target: str
) -> list[tuple[InvoiceVersion, list[tuple[str, int, Decimal]]]]:
    invoices = []
    for number in range(rng.randint(1, 3)):
        currency = rng.choice(CURRENCIES[target])
        quantities = [
            (f"Usage {tier}", rng.randint(0, 5000), rng.choice(RATES))
            for tier in range(rng.randint(1, 4))
        ]
        customer = f"cust_{rng.randint(1, 2)}"
        invoices.append(
            (make_version(f"sub_{number}/2022-10-01", customer, currency, quantities), quantities)
        )
    return invoices


def mutate(
    rng: random.Random, invoices: list[tuple[InvoiceVersion, list[tuple[str, int, Decimal]]]]
) -> list[tuple[InvoiceVersion, list[tuple[str, int, Decimal]]]]:
    """Late usage: some invoices change up or down, gain or lose a line."""
    changed = []
    for version, quantities in invoices:
        if rng.random() < 0.6:
            quantities = [
                (name, max(0, quantity + rng.randint(-300, 300)), rate)
                for name, quantity, rate in quantities
            ]
            if rng.random() < 0.2:
                quantities.append(
                    (f"Usage late {rng.randint(0, 9)}", rng.randint(1, 900), rng.choice(RATES))
                )
            if rng.random() < 0.2 and len(quantities) > 1:
                quantities.pop(rng.randrange(len(quantities)))
            version = make_version(
                version.invoice_id, version.customer_id, version.currency, quantities
            )
        changed.append((version, quantities))
    return changed


def new_ledger(connection: duckdb.DuckDBPyConnection, target: str) -> Ledger:
    ledger = Ledger(DuckDBWarehouse(connection), "billing")
    ledger.ensure_tables()
    if target != "webhook":
        ledger.map_customers(
            target,
            [
                ("cust_1", external_customer(target, "cust_1")),
                ("cust_2", external_customer(target, "cust_2")),
            ],
        )
    return ledger


def external_customer(target: str, customer: str) -> str:
    return f"cus_{customer}" if target == "stripe" else f"seq-customer-{customer}"


def push_once(
    connection: duckdb.DuckDBPyConnection,
    target: str,
    settings: Settings,
    versions: list[InvoiceVersion],
    rng: random.Random,
    crash: float,
    fake: FakeBilling | None = None,
) -> bool:
    """One `usage-billing push` process: True when it finished with nothing left to do."""
    ledger = Ledger(CrashingWarehouse(connection, rng, crash), "billing")
    client = make_target(
        target, settings, transport=CrashingTransport(rng, crash, fake), sleep=lambda _: None
    )
    try:
        mapping = None if target == "webhook" else ledger.customer_external_ids(target)
        steps, _ = plan(target, versions, ledger.entries(target), mapping)
        if not steps:
            return True
        push(ledger, client, steps)
    except Crash:
        return False
    finally:
        client.close()
    return False


def push_until_done(
    connection: duckdb.DuckDBPyConnection,
    target: str,
    settings: Settings,
    versions: list[InvoiceVersion],
    rng: random.Random,
    fake: FakeBilling,
    crash: float,
) -> int:
    for runs in range(1, 80):
        if target == "stripe" and rng.random() < 0.2:
            fake.forget_idempotency_keys()  # as if the re-run came a day later
        if push_once(
            connection, target, settings, versions, rng, crash if runs < 40 else 0.0, fake
        ):
            return runs
    raise AssertionError("push never finished")


def check_exactly_once(
    fake: FakeBilling, ledger: Ledger, target: str, versions: list[InvoiceVersion]
) -> None:
    """Each document exactly once at the server, the ledger agreeing, the money adding up."""
    entries = ledger.entries(target)
    assert {entry.state for entry in entries} <= {"done", "superseded"}, entries
    done = {entry.idempotency_key: entry for entry in entries if entry.state == "done"}
    originals = {
        entry.invoice_id: entry.external_id
        for entry in entries
        if entry.state == "done" and entry.kind == "invoice"
    }
    documents = {
        key: document_of(entry, originals.get(entry.invoice_id)) for key, entry in done.items()
    }
    totals = {version.invoice_id: version.total for version in versions}
    currency = {version.invoice_id: version.currency for version in versions}
    billed: Counter[str] = Counter()
    if target == "stripe":
        by_key = Counter(
            invoice["metadata"]["usage_billing_key"] for invoice in fake.stripe_invoices.values()
        )
        assert all(count == 1 for count in by_key.values()), by_key
        sent = {
            key
            for key, document in documents.items()
            if document.previous is None or document.changes
        }
        assert set(by_key) == sent
        for invoice in fake.stripe_invoices.values():
            key = invoice["metadata"]["usage_billing_key"]
            assert invoice["status"] == "open"
            assert done[key].external_id == invoice["id"]
            document = documents[key]
            items = [
                item for item in fake.stripe_items.values() if item["invoice"] == invoice["id"]
            ]
            expected = item_params(document, "cus", invoice["id"])
            assert sorted(i["amount"] for i in items) == sorted(p["amount"] for p in expected)
            billed[document.invoice_id] += sum(item["amount"] for item in items)
        for invoice_id, total in totals.items():
            assert billed[invoice_id] == stripe_minor_units(total, currency[invoice_id]), invoice_id
    elif target == "sequence":
        found = fake.sequence_documents()
        by_key = Counter(
            next(p["value"] for p in d["metadata"] if p["key"] == "usage_billing_key")
            for d in found
        )
        assert all(count == 1 for count in by_key.values()), by_key
        sent = {
            key
            for key, document in documents.items()
            if document.previous is None or document.changes
        }
        assert set(by_key) == sent
        net: Counter[str] = Counter()
        for record in found:
            key = next(p["value"] for p in record["metadata"] if p["key"] == "usage_billing_key")
            assert record["status"] == "FINAL"
            assert done[key].external_id == record["id"]
            document = documents[key]
            lines = Counter(
                (line["title"], line["quantity"], line["rate"]) for line in record["lines"]
            )
            assert lines == Counter(
                (title, quantity, rate) for title, _, quantity, rate in line_specs(document)
            )
            sign = -1 if record["collection"] == "credit-notes" else 1
            amount = sum(
                (Decimal(line["quantity"]) * Decimal(line["rate"]) for line in record["lines"]),
                Decimal(0),
            )
            net[document.invoice_id] += sign * amount  # type: ignore[assignment]
        for invoice_id, total in totals.items():
            assert net[invoice_id] == total, invoice_id
    else:
        assert set(fake.deliveries) == set(done)
        amounts: dict[str, Decimal] = {}
        for message_id, body in fake.deliveries.items():
            data = body["data"]
            if body["type"] == "invoice.finalized":
                change = Decimal(data["invoice"]["total"])
            else:
                change = Decimal(data["amount_change"])
            assert data["idempotency_key"] == message_id
            amounts[data["invoice_id"]] = amounts.get(data["invoice_id"], Decimal(0)) + change
        for invoice_id, total in totals.items():
            assert amounts[invoice_id] == total, invoice_id


_shared: list[duckdb.DuckDBPyConnection] = []


class _Connection:
    """One in-memory DuckDB reused by every run (its schema dropped in between): connecting
    anew costs more than a whole run."""

    def __enter__(self) -> duckdb.DuckDBPyConnection:
        if not _shared:
            _shared.append(duckdb.connect())
        return _shared[0]

    def __exit__(self, *_: object) -> None:
        pass


def randomized_run(seed: int, target: str, fake: FakeBilling, base_url: str, faults: Any) -> None:
    rng = random.Random(seed)
    fake.reset()
    fake.faults = faults(random.Random(seed + 1))
    settings = settings_for(base_url)
    with _Connection() as connection:
        connection.execute("drop schema if exists billing cascade")
        ledger = new_ledger(connection, target)
        invoices = random_invoices(rng, target)
        for phase in range(rng.randint(1, 3)):
            if phase:
                invoices = mutate(rng, invoices)
            versions = [version for version, _ in invoices]
            if rng.random() < 0.3:  # a crashed run, then the invoices change before the next
                push_once(connection, target, settings, versions, rng, 0.5, fake)
                invoices = mutate(rng, invoices)
                versions = [version for version, _ in invoices]
            push_until_done(connection, target, settings, versions, rng, fake, crash=0.04)
        fake.settle()  # whatever is still in flight lands
        fake.faults = None
        check_exactly_once(fake, ledger, target, versions)


INVOICES_DDL = (
    "invoice_id varchar, subscription_id varchar, customer_id varchar, customer_name varchar,"
    " plan_id varchar, plan_name varchar, period_start timestamp, period_end timestamp,"
    " currency varchar, subtotal decimal(38, 10), total decimal(38, 10), status varchar,"
    " line_count integer, content_hash varchar,"
    # Number, terms and buyer (docs/invoices.md): none yet, the default issuer and terms.
    " issuer_id varchar default 'default', invoice_number varchar, issue_date date,"
    " due_date date, payment_terms_days integer default 30, amount_due decimal(38, 10),"
    " billing_email varchar, address_line1 varchar, address_line2 varchar,"
    " address_city varchar, address_postal_code varchar, address_state varchar,"
    " address_country varchar, tax_id varchar,"
    # Tax (docs/invoices.md, "Tax"): none.
    " tax_amount decimal(38, 10) default 0, tax_included decimal(38, 10) default 0,"
    " tax_status varchar default 'untaxed'"
)
INVOICE_COLUMNS = (
    "invoice_id, subscription_id, customer_id, customer_name, plan_id, plan_name, period_start,"
    " period_end, currency, subtotal, total, status, line_count, content_hash"
)
ISSUERS_SQL = (
    "select 'default' as issuer_id, null::varchar as name, null::varchar as email,"
    " null::varchar as tax_id, '[]' as address_lines, 'INV-' as invoice_number_prefix,"
    " 6 as invoice_number_digits, true as is_default"
)
LINES_DDL = (
    "invoice_line_id varchar, invoice_id varchar, line_number integer, price_id varchar,"
    " metric_name varchar, group_value varchar, description varchar, tier integer,"
    " quantity decimal(38, 10), unit_price decimal(38, 10), flat_amount decimal(38, 10),"
    " amount decimal(38, 10), currency varchar, is_percentage boolean,"
    " tier_first_unit decimal(38, 10), tier_last_unit decimal(38, 10),"
    " metric_display_name varchar, metric_unit varchar, line_type varchar, tax_rate_id varchar,"
    " tax_amount decimal(38, 10), child_customer_id varchar, child_customer_name varchar"
)


def write_marts(database: Path, versions: list[InvoiceVersion]) -> None:
    """The marts as dbt would leave them, for a test about the sync only."""
    with duckdb.connect(str(database)) as connection:
        connection.execute(f"create schema if not exists {MARTS_SCHEMA}")
        connection.execute(
            "create or replace table billing_usage_billing.usage_billing__invoices"
            f" ({INVOICES_DDL})"
        )
        connection.execute(
            "create or replace table billing_usage_billing.usage_billing__invoice_lines"
            f" ({LINES_DDL})"
        )
        connection.execute(
            f"create or replace table billing_usage_billing.usage_billing__issuers as {ISSUERS_SQL}"
        )
        for version in versions:
            connection.execute(
                f"insert into billing_usage_billing.usage_billing__invoices ({INVOICE_COLUMNS})"
                " values (?, ?, ?, ?,"
                " 'plan', ?, ?, ?, ?, ?, ?,"
                " 'final', ?, ?)",
                [
                    version.invoice_id,
                    version.invoice_id.split("/")[0],
                    version.customer_id,
                    version.customer_name,
                    version.plan_name,
                    version.period_start,
                    version.period_end,
                    version.currency,
                    version.total,
                    version.total,
                    len(version.lines),
                    version.content_hash,
                ],
            )
            for line in version.lines:
                connection.execute(
                    "insert into billing_usage_billing.usage_billing__invoice_lines values (?, ?,"
                    " ?, ?, null, null, ?, null,"
                    " ?, ?, ?, ?, ?, false, null, null, null, null, 'usage', null, null,"
                    " null, null)",
                    [
                        f"{version.invoice_id}/{line.line_number}",
                        version.invoice_id,
                        line.line_number,
                        line.price_id,
                        line.description,
                        line.quantity,
                        line.unit_price,
                        line.flat_amount,
                        line.amount,
                        version.currency,
                    ],
                )
        connection.execute(
            "update billing_usage_billing.usage_billing__invoices set amount_due = total"
        )


__all__ = ["Crash", "Document", "randomized_run", "replace"]
