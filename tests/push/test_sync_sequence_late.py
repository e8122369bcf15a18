"""Sequence has no idempotency key, and a request whose answer never came may still be done by
the server later: after the client's timeout, after its look-up found nothing, after it sent
the request again. (A timeout cancels nothing at a server; a request can wait in a busy
server's queue, and HTTP orders nothing across connections.) The fake server's `late` fault
holds one chosen request and does it right after the next request it handles, which forces
that interleaving exactly, with no timing involved. Before the sync stopped trusting look-ups
alone, each test here failed: a document or a line item billed twice, or (finalize) an
invoice finalized at Sequence but failed in the ledger. The randomized exactly-once test met
the first by chance on a busy machine."""

from __future__ import annotations

import re
from collections.abc import Iterator
from decimal import Decimal

import duckdb
import httpx
import pytest

from tests.support.billing_fakes import FakeBilling, Script, serve
from tests.support.sync_harness import (
    Crash,
    check_exactly_once,
    make_version,
    new_ledger,
    settings_for,
)
from usage_billing.http import ssl_context
from usage_billing.marts.model import InvoiceVersion
from usage_billing.push.ledger import Ledger
from usage_billing.push.run import PushReport, plan, push
from usage_billing.push.targets.registry import make_target
from usage_billing.warehouse.duckdb import DuckDBWarehouse

LINES = r"/(invoices|credit-notes)/[^/]+/line-items"
TIMEOUT = 5.0  # no request here is slow on purpose: a busy machine causes no extra faults


@pytest.fixture(scope="module")
def server() -> Iterator[tuple[FakeBilling, str]]:
    fake = FakeBilling()
    with serve(fake) as base_url:
        yield fake, base_url


@pytest.fixture
def connection() -> Iterator[duckdb.DuckDBPyConnection]:
    with duckdb.connect() as connection:
        yield connection


class DiesWithRequestInFlight(httpx.BaseTransport):
    """A push process killed while a request is in flight: nothing runs after it."""

    def __init__(self) -> None:
        self.inner = httpx.HTTPTransport(verify=ssl_context())

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        try:
            return self.inner.handle_request(request)
        except httpx.TransportError:
            raise Crash("killed with a request in flight") from None

    def close(self) -> None:
        self.inner.close()


def _invoice(*quantities: int) -> InvoiceVersion:
    usage = [(f"Usage {n}", q, Decimal("0.15")) for n, q in enumerate(quantities)]
    return make_version("sub_0/2022-10-01", "cust_1", "EUR", usage)


def _push(
    connection: duckdb.DuckDBPyConnection,
    base_url: str,
    versions: list[InvoiceVersion],
    transport: httpx.BaseTransport | None = None,
) -> PushReport:
    """One `usage-billing push` to Sequence."""
    ledger = Ledger(DuckDBWarehouse(connection), "billing")
    client = make_target(
        "sequence", settings_for(base_url, TIMEOUT), transport=transport, sleep=lambda _: None
    )
    try:
        mapping = ledger.customer_external_ids("sequence")
        steps, _ = plan("sequence", versions, ledger.entries("sequence"), mapping)
        return push(ledger, client, steps)
    finally:
        client.close()


def _requests(fake: FakeBilling, method: str, pattern: str) -> int:
    return sum(1 for m, path, _ in fake.log if m == method and re.fullmatch(pattern, path))


@pytest.mark.parametrize(
    ("late", "amended"),
    [
        ("/invoices", None),  # the failure seen: an invoice created after the look-up
        (LINES, None),  # a line item added after the look-up of the lines
        (r"/invoices/[^/]+/finalize", None),  # finalized after the status was read
        ("/credit-notes", 300),  # an amendment down: a credit note
        (LINES, 300),  # ... and its line items
        ("/invoices", 3000),  # an amendment up: a further invoice
    ],
)
def test_a_request_done_after_the_look_up_bills_nothing_twice(
    server: tuple[FakeBilling, str],
    connection: duckdb.DuckDBPyConnection,
    late: str,
    amended: int | None,
) -> None:
    fake, base_url = server
    fake.reset()
    ledger = new_ledger(connection, "sequence")
    versions = [_invoice(1000, 2000, 40)]
    if amended is not None:
        assert _push(connection, base_url, versions).ok
        versions = [_invoice(1000, amended, 40, 7)]
    fake.faults = Script([("POST", late, "late")])
    report = _push(connection, base_url, versions)
    fake.faults = None
    [(_, path, _)] = fake.landed  # sent, held, done after a later request
    assert re.fullmatch(late, path)
    assert report.ok, report.failed
    check_exactly_once(fake, ledger, "sequence", versions)


def test_a_resumed_push_never_finishes_a_draft_an_earlier_process_may_still_add_to(
    server: tuple[FakeBilling, str], connection: duckdb.DuckDBPyConnection
) -> None:
    """The first process dies with a line item in flight; the server adds it only once the
    next process has read the draft and its lines."""
    fake, base_url = server
    fake.reset()
    ledger = new_ledger(connection, "sequence")
    versions = [_invoice(1000, 2000, 40)]
    fake.faults = Script([("POST", LINES, "late")], late_by=2)
    with pytest.raises(Crash):
        _push(connection, base_url, versions, DiesWithRequestInFlight())
    [entry] = ledger.entries("sequence")
    assert (entry.state, entry.external_id is not None) == ("pending", True)
    assert _requests(fake, "POST", LINES) == 1
    report = _push(connection, base_url, versions)
    fake.faults = None
    [(_, path, _)] = fake.landed  # the first process's line item, done during the second
    assert re.fullmatch(LINES, path)
    assert report.ok, report.failed
    check_exactly_once(fake, ledger, "sequence", versions)
