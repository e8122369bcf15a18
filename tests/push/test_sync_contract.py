"""Contract: every request the sync sends is checked against the vendors' published specs.

- Stripe and Sequence requests go to the spec-enforcing mock server `@stdy/cli` (steady,
  installed by `make test` from tests/mock_servers/package-lock.json), which answers 400 to any
  request its spec rejects; a non-2xx answer fails the test. Stripe's is Stripe's published
  spec; Sequence's is the project's own description of the calls the sync makes (Sequence's
  spec states no licence, so it is not kept here).
- Stripe's parameters are also validated in-process with openapi-schema-validator against
  both the 2023-08-16 spec the mock serves and the current API's request bodies.
- Webhooks are verified per Standard Webhooks by the receiver.
The documents are the demo's three final invoices from a real `dbt build`, amendments of
them (up and down), and currencies with 0 and 3 decimals. The same invoices pushed to the
fake servers arrive exactly, cent for cent.

The specs are in tests/support/specs/ (README.md there: sources and licences).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from dataclasses import replace
from datetime import timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

import duckdb
import httpx
import pytest
from openapi_schema_validator import OAS30Validator
from standardwebhooks import Webhook

from tests.support.api_specs import (
    SEQUENCE,
    STRIPE_2023,
    STRIPE_CURRENT,
    load,
    resolve,
    stripe_validator,
)
from tests.support.billing_fakes import WEBHOOK_SECRET, FakeBilling, serve
from tests.support.sync_harness import make_version, settings_for
from tests.support.warehouse_scenario import BIN_DIR, MARTS_SCHEMA, REPO_DIR, run_dbt
from usage_billing.http import ssl_context
from usage_billing.marts.model import InvoiceVersion
from usage_billing.marts.reader import MartsReader
from usage_billing.marts.relations import MartRelations
from usage_billing.push.documents import Document, idempotency_key
from usage_billing.push.ledger import Ledger
from usage_billing.push.run import plan, push
from usage_billing.push.targets.base import Job
from usage_billing.push.targets.registry import make_target
from usage_billing.push.targets.sequence import invoice_body
from usage_billing.push.targets.stripe import invoice_params, item_params
from usage_billing.push.targets.webhook import payload as webhook_payload
from usage_billing.settings import load_settings
from usage_billing.warehouse.duckdb import DuckDBWarehouse

STEADY = REPO_DIR / "tests" / "mock_servers" / "node_modules" / "@stdy" / "cli" / "steady.js"
STRIPE_FLAGS = [
    f"--validator-{where}-{shape}-format=brackets"
    for where in ("query", "form")
    for shape in ("array", "object")
]


@pytest.fixture(scope="module")
def demo_invoices(tmp_path_factory: pytest.TempPathFactory) -> list[InvoiceVersion]:
    """The demo's final invoices, from the CLI's demo events and a real dbt build."""
    directory = Path(tmp_path_factory.mktemp("demo"))
    database = directory / "warehouse.duckdb"
    environment = {**os.environ, "USAGE_BILLING_DUCKDB_PATH": str(database)}
    subprocess.run(
        [str(BIN_DIR / "usage-billing"), "demo-events", "--profiles-dir", str(REPO_DIR)],
        env=environment,
        check=True,
        capture_output=True,
    )
    run_dbt(["build"], database)
    with duckdb.connect(str(database), read_only=True) as connection:
        invoices = MartsReader(
            DuckDBWarehouse(connection), MartRelations.in_schema(MARTS_SCHEMA)
        ).final_invoices()
    assert len(invoices) == 3
    return invoices


def documents(target: str, invoices: list[InvoiceVersion]) -> list[Document]:
    """Each invoice, an amendment up and one down of the first, and 0- and 3-decimal ones."""
    result = [
        Document(
            target,
            0,
            version,
            key=idempotency_key(target, version.invoice_id, version.content_hash, 0),
        )
        for version in invoices
    ]
    first = invoices[0]
    more = replace(
        first.lines[-1],
        quantity=first.lines[-1].quantity + 100,
        amount=first.lines[-1].amount + Decimal("15.00"),
    )
    up = replace(
        first,
        lines=(*first.lines[:-1], more),
        total=first.total + Decimal("15.00"),
        content_hash="up",
    )
    down = replace(
        first,
        lines=first.lines[:-1],
        total=first.total - first.lines[-1].amount,
        content_hash="down",
    )
    for revision, version in ((1, up), (2, down)):
        result.append(
            Document(
                target,
                revision,
                version,
                previous=first,
                original_external_id="in_original",
                key=idempotency_key(target, first.invoice_id, version.content_hash, revision),
            )
        )
    currencies = ["JPY"] + (["KWD"] if target == "stripe" else ["CHF"])
    for currency in currencies:
        version = make_version(
            f"sub_{currency}/2022-10-01", "cust_1", currency, [("Usage", 1234, Decimal("0.15"))]
        )
        result.append(Document(target, 0, version, key=f"ub_test_{currency}"))
    # A credit line (prepaid credit, discount): a negative amount on an invoice that stays
    # positive. Both specs take it: Stripe's `amount` is a signed integer ("a negative amount
    # reduces the amount due"), Sequence's `rate` a decimal string.
    credited = make_version(
        "sub_credit/2022-10-01",
        "cust_1",
        "USD",
        [("Usage", 1234, Decimal("0.15")), ("Prepaid credit", 1, Decimal("-50.00"))],
    )
    assert credited.total == Decimal("135.10")
    result.append(Document(target, 0, credited, key="ub_test_credit"))
    return result


@pytest.mark.parametrize("spec", [STRIPE_2023, STRIPE_CURRENT], ids=["2023-08-16", "current"])
def test_stripe_parameters_validate_against_the_spec(
    demo_invoices: list[InvoiceVersion], spec: Path
) -> None:
    invoices = stripe_validator(spec, "/v1/invoices")
    items = stripe_validator(spec, "/v1/invoiceitems")
    finalize = stripe_validator(spec, "/v1/invoices/{invoice}/finalize")
    checked = 0
    for document in documents("stripe", demo_invoices):
        invoices.validate(invoice_params(document, "cus_123"))
        for params in item_params(document, "cus_123", "in_123"):
            items.validate(params)
            checked += 1
        finalize.validate({"auto_advance": True})
    assert checked >= 10


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture(scope="module")
def steady() -> Iterator[Any]:
    if shutil.which("node") is None or not STEADY.exists():
        pytest.fail(
            "the mock server is not installed: run `make test` (npm ci in tests/mock_servers)"
        )
    processes: list[subprocess.Popen[bytes]] = []

    def start(spec: Path, flags: list[str]) -> str:
        port = _free_port()
        process = subprocess.Popen(
            [
                "node",
                str(STEADY),
                "--host",
                "127.0.0.1",
                "-p",
                str(port),
                "--quiet",
                *flags,
                str(spec),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        processes.append(process)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                    return f"http://127.0.0.1:{port}"
            except OSError:
                time.sleep(0.1)
        raise AssertionError(f"steady did not start for {spec.name}")

    yield start
    for process in processes:
        process.terminate()
        process.wait(10)


class Recorder(httpx.BaseTransport):
    """Keeps every request and answer that passed. The mock generates only a schema's required
    fields, and Stripe's invoice schema does not require `id` (upcoming invoices have none): an
    answer without one gets a made-up id, so the next requests can be checked too."""

    def __init__(self) -> None:
        self.inner = httpx.HTTPTransport(verify=ssl_context())
        self.exchanges: list[tuple[httpx.Request, httpx.Response]] = []

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        response = self.inner.handle_request(request)
        response.read()
        self.exchanges.append((request, response))
        if request.method == "POST" and response.status_code < 300 and response.content:
            body = response.json()
            if isinstance(body, dict) and not body.get("id"):
                body["id"] = f"mock_{len(self.exchanges)}"
                return httpx.Response(response.status_code, json=body, request=request)
        return response


def sequence_body_validator(method: str, path: str) -> OAS30Validator:
    """The request body schema of the Sequence call at `path` (a concrete path, such as
    /invoices/abc/line-items), from the project's description of those calls."""
    spec = load(SEQUENCE)
    for template, operations in spec["paths"].items():
        pattern = "^" + re.sub(r"\{[^/]+\}", "[^/]+", template) + "$"
        if re.match(pattern, path) and method.lower() in operations:
            body = operations[method.lower()]["requestBody"]["content"]["application/json"]
            return OAS30Validator(resolve(body["schema"], spec))
    raise AssertionError(f"{method} {path} is not a call the description names")


@pytest.mark.parametrize("target", ["stripe", "sequence"])
def test_every_request_passes_the_spec_enforcing_mock(
    demo_invoices: list[InvoiceVersion], steady: Any, target: str
) -> None:
    base_url = steady(STRIPE_2023, STRIPE_FLAGS) if target == "stripe" else steady(SEQUENCE, [])
    recorder = Recorder()
    client = make_target(target, settings_for(base_url, timeout=10), transport=recorder)
    customer = "cus_123" if target == "stripe" else "61b083e0-1faa-47ca-9aeb-6205da8f6c47"
    try:
        for document in documents(target, demo_invoices):
            for resumed in (False, True):  # fresh, and resumed (look-ups before creates)
                job = Job(document, customer, resumed, None, lambda _: None)
                client.push(job)
    finally:
        client.close()
    refused = [
        f"{request.method} {request.url.path}: {response.status_code} {response.text[:400]}"
        for request, response in recorder.exchanges
        if not 200 <= response.status_code < 300
    ]
    assert not refused, "\n".join(refused)
    if target == "stripe":
        amounts = [
            parse_qs(request.content.decode()).get("amount", [""])[0]
            for request, _ in recorder.exchanges
            if request.url.path == "/v1/invoiceitems" and request.method == "POST"
        ]
        assert "-5000" in amounts  # the credit line, in cents, through the spec
    else:
        rates = [
            Decimal(json.loads(request.content)["rate"])
            for request, _ in recorder.exchanges
            if request.method == "POST" and request.url.path.endswith("/line-items")
        ]
        assert Decimal("-50") in rates
        # The mock checks fields, types and required-ness, not a string's `pattern` (decimal
        # strings, dates): every body is validated here as well, in full.
        bodies = 0
        for request, _ in recorder.exchanges:
            if request.content:
                validator = sequence_body_validator(request.method, request.url.path)
                validator.validate(json.loads(request.content))
                bodies += 1
        assert bodies > 20
        # The mock does not check credentials: every call must carry Basic auth (client id and
        # secret), and the version header the description requires.
        for request, _ in recorder.exchanges:
            assert request.headers["authorization"].startswith("Basic "), request.url
            assert request.headers["sequence-version"] == "2024-07-30", request.url
    methods = {
        (request.method, request.url.path.split("/")[1]) for request, _ in recorder.exchanges
    }
    assert ("GET", "v1" if target == "stripe" else "invoices") in methods
    assert len(recorder.exchanges) > 20


def test_webhooks_are_signed_per_standard_webhooks(demo_invoices: list[InvoiceVersion]) -> None:
    fake = FakeBilling()
    with serve(fake) as base_url:
        recorder = Recorder()
        client = make_target("webhook", settings_for(base_url), transport=recorder)
        for document in documents("webhook", demo_invoices):
            client.push(Job(document, document.current.customer_id, False, None, lambda _: None))
        client.close()
    for request, response in recorder.exchanges:
        assert response.status_code == 204
        headers = dict(request.headers.items())
        assert headers["webhook-signature"].startswith("v1,")
        assert abs(int(headers["webhook-timestamp"]) - time.time()) < 60
        payload = Webhook(WEBHOOK_SECRET).verify(request.content.decode(), headers)
        assert payload["type"] in {"invoice.finalized", "invoice.amended"}
        assert payload["data"]["idempotency_key"] == headers["webhook-id"]
    types = [body["type"] for body in fake.deliveries.values()]
    assert types.count("invoice.amended") == 2


def test_the_demo_invoices_arrive_exactly(demo_invoices: list[InvoiceVersion]) -> None:
    """The real dbt build's invoices, pushed through the ledger to each fake target."""
    fake = FakeBilling()
    with serve(fake) as base_url, duckdb.connect() as connection:
        ledger = Ledger(DuckDBWarehouse(connection), "billing")
        ledger.ensure_tables()
        ledger.map_customers("stripe", [("cus_acme", "cus_stripe_acme")])
        ledger.map_customers("sequence", [("cus_acme", "seq-acme")])
        for target in ("stripe", "sequence", "webhook"):
            client = make_target(target, settings_for(base_url, timeout=5))
            mapping = None if target == "webhook" else ledger.customer_external_ids(target)
            steps, _ = plan(target, demo_invoices, ledger.entries(target), mapping)
            assert len(steps) == 3
            assert push(ledger, client, steps).ok
            again, up_to_date = plan(target, demo_invoices, ledger.entries(target), mapping)
            assert (again, up_to_date) == ([], 3)
            client.close()
    by_currency = {
        invoice["currency"]: sorted(
            item["amount"]
            for item in fake.stripe_items.values()
            if item["invoice"] == invoice["id"]
        )
        for invoice in fake.stripe_invoices.values()
    }
    assert by_currency == {
        "usd": [4905, 5000],
        "gbp": [125000, 250000],
        "eur": [71289, 300000, 350000],
    }
    assert all(invoice["status"] == "open" for invoice in fake.stripe_invoices.values())
    sequence_totals = {
        document["currency"]: sum(
            Decimal(line["quantity"]) * Decimal(line["rate"]) for line in document["lines"]
        )
        for document in fake.sequence_documents()
    }
    assert sequence_totals == {
        "USD": Decimal("99.05"),
        "GBP": Decimal("3750"),
        "EUR": Decimal("7212.89"),
    }
    totals = sorted(Decimal(body["data"]["invoice"]["total"]) for body in fake.deliveries.values())
    assert totals == [Decimal("99.05"), Decimal("3750"), Decimal("7212.89")]
    # Lines read as on the invoice page: a tier by its metric's display name and range.
    stripe_usd = sorted(
        str(item["description"]).replace("\xa0", " ")
        for item in fake.stripe_items.values()
        if item["currency"] == "usd"
    )
    assert stripe_usd == [
        "API requests, 1 – 500 requests: 500 × $0.10",
        "API requests, 501 requests and above: 327 × $0.15",
    ]
    sequence_eur = [
        (line["title"], line["description"].replace("\xa0", " "))
        for document in fake.sequence_documents()
        if document["currency"] == "EUR"
        for line in document["lines"]
    ]
    assert sequence_eur == [
        ("Payment volume, €0 – €500,000", "Payment volume, €0 – €500,000: €500,000 × 0.7%"),
        (
            "Payment volume, €500,000 – €1,250,000",
            "Payment volume, €500,000 – €1,250,000: €750,000 × 0.4%",
        ),
        (
            "Payment volume, €1,250,000 and above",
            "Payment volume, €1,250,000 and above: €237,631 × 0.3%",
        ),
    ]
    sent = [str(item["description"]) for item in fake.stripe_items.values()] + [
        line["description"] for document in fake.sequence_documents() for line in document["lines"]
    ]
    assert not [text for text in sent if "api_requests" in text or "payment_volume" in text]
    # Each target got the invoice's number from the marts (docs/invoices.md).
    numbers = sorted(version.terms.invoice_number for version in demo_invoices if version.terms)
    assert numbers == ["DEMO-000001", "DEMO-000002", "DEMO-000003"]
    stripe_numbers = [
        invoice["metadata"]["usage_billing_invoice_number"]
        for invoice in fake.stripe_invoices.values()
    ]
    sequence_numbers = [
        pair["value"]
        for document in fake.sequence_documents()
        for pair in document["metadata"]
        if pair["key"] == "usage_billing_invoice_number"
    ]
    webhook_numbers = [
        body["data"]["invoice"]["terms"]["invoice_number"] for body in fake.deliveries.values()
    ]
    assert sorted(stripe_numbers) == sorted(sequence_numbers) == sorted(webhook_numbers) == numbers


def test_the_demo_invoices_carry_number_terms_and_buyer(
    demo_invoices: list[InvoiceVersion],
) -> None:
    """Number, due date and the buyer's details (the demo's customers seed: net 30, a US
    address) in the fields each target takes; the specs accept them (tests above)."""
    for version in demo_invoices:
        terms = version.terms
        assert terms is not None and terms.invoice_number and terms.issue_date
        assert terms.due_date == terms.issue_date + timedelta(days=30)
        assert terms.amount_due == version.total
        document = Document("stripe", 0, version, key="k")
        stripe = invoice_params(document, "cus_x")
        assert stripe["days_until_due"] == 30
        assert stripe["custom_fields"] == [
            {"name": "Invoice number", "value": terms.invoice_number}
        ]
        sequence = invoice_body(document, "seq_x")
        assert sequence["dueDate"] == terms.due_date.isoformat()
        assert sequence["memo"].startswith(f"Invoice {terms.invoice_number} · ")
        assert sequence["customerEmails"] == ["billing@acme.example"]
        assert sequence["customerBillingAddress"] == {
            "line1": "1 Harbour Street",
            "line2": "Suite 400",
            "town": "Springfield",
            "state": "CA",
            "postcode": "12345",
            "country": "US",
        }
        body = webhook_payload(document)["data"]["invoice"]
        assert body["terms"]["due_date"] == terms.due_date.isoformat()
        assert body["terms"]["seller"]["name"] == "Demo Metering Ltd"
        assert body["terms"]["buyer"]["address"] == [
            "1 Harbour Street",
            "Suite 400",
            "Springfield, CA 12345",
            "US",
        ]


def test_secrets_are_never_printed() -> None:
    settings = load_settings(
        {
            "USAGE_BILLING_STRIPE_API_KEY": "sk_live_topsecret",
            "USAGE_BILLING_WEBHOOK_SECRET": WEBHOOK_SECRET,
        }
    )
    assert "topsecret" not in repr(settings) and "topsecret" not in str(settings)
    assert WEBHOOK_SECRET not in repr(settings)
