"""Fake billing APIs on 127.0.0.1 that fail on purpose, and record what they accepted.

One `FakeBilling` holds the state of a Stripe, a Sequence and a webhook receiver subset (just
the calls the sync makes, with the vendors' semantics: Stripe replays an Idempotency-Key and
refuses it with other parameters, and computes an invoice's tax from its items' tax rates;
Sequence has no idempotency, deletes only drafts, and adds line items only to a draft; webhooks
are verified per Standard Webhooks and de-duplicated by webhook-id). `serve()` runs it on port
0 in a thread.

Faults, drawn per request when `faults` is set:
    429        Retry-After: 0, nothing done
    500        nothing done (Stripe paths add Stripe-Should-Retry: true)
    409        Stripe only: "request with the same key in progress", nothing done
    drop       the connection is closed before anything is done
    slow       the request is done, then the answer comes after the client's timeout
    lost       the request is done, then the connection is closed without an answer
    late       nothing done yet: the connection is closed without an answer, and the request is
               done right after the next request the server handles (on any connection,
               before that one is answered), as by a busy server that had queued it. A
               client's timeout or a dropped connection cancels nothing at a server, and HTTP
               orders nothing across connections: a request whose answer never came can land
               after the client's later look-up.

`Script` injects chosen faults into chosen requests instead, for tests that force one exact
interleaving.

Requests that carry a ticket (the `TICKET` header, numbered by `FakeBilling.ticket()` as the
client sends them) are done in the order they were sent, whatever order a busy machine's
scheduler runs the server's threads in: a request that is slow to reach the server is then
just a slow answer, and the only requests done out of order are the `late` ones, where the
test chose it. (Without tickets, a server thread that the scheduler starves past the client's
timeout did its request after any number of the client's later ones: a `late` with no bound,
including after the 24 hours that `forget_idempotency_keys` stands for.)
"""

from __future__ import annotations

import contextlib
import json
import random
import re
import socket
import threading
import time
import urllib.parse
from collections.abc import Iterator
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from standardwebhooks import Webhook

TICKET = "x-fake-ticket"  # request header: the client's sending order, from FakeBilling.ticket()
TURN_WAIT = 2.0  # seconds a ticket waits for an earlier one that never arrives (never sent)
WEBHOOK_SECRET = "whsec_" + "c2VjcmV0LWZvci10ZXN0cy1vbmx5LTEyMzQ1Njc4OTA="  # base64, tests only
PAGE = 3  # small pages, so the sync's pagination is exercised


@dataclass
class Faults:
    rng: random.Random
    rates: dict[str, float]
    slow_seconds: float = 0.15

    def draw(self, kinds: tuple[str, ...], method: str = "", path: str = "") -> str | None:
        roll = self.rng.random()
        for kind in kinds:
            rate = self.rates.get(kind, 0.0)
            if roll < rate:
                return kind
            roll -= rate
        return None


@dataclass
class Script:
    """Faults on chosen requests: each rule (method, path regex, kind) hits the first request
    that matches it, once, in order of arrival. `late_by` holds a `late` request for that many
    further requests instead of one."""

    rules: list[tuple[str, str, str]]
    late_by: int = 1
    slow_seconds: float = 0.15

    def draw(self, kinds: tuple[str, ...], method: str = "", path: str = "") -> str | None:
        for number, (rule_method, pattern, kind) in enumerate(self.rules):
            if rule_method == method and re.fullmatch(pattern, path):
                del self.rules[number]
                return kind
        return None


@dataclass(eq=False)
class Deferred:
    """A `late` request, waiting to be done."""

    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    body: bytes
    after: int  # requests still to be handled before this one


@dataclass
class Answer:
    status: int
    body: Any
    headers: dict[str, str] = field(default_factory=dict)


class FakeBilling:
    def __init__(self) -> None:
        self.lock = threading.RLock()
        self.turns = threading.Condition(threading.Lock())
        self.tickets = 0  # tickets handed out
        self.turn = 0  # the ticket whose request is done next
        self.void: set[int] = set()  # tickets of requests that were never sent
        self.first_ticket = 0  # older tickets were sent to the server before a reset
        self.skipped_tickets = 0
        self.faults: Faults | Script | None = None
        self.deferred: list[Deferred] = []
        self.latency = 0.0  # seconds added to every answer
        self.reset()

    # The order requests are done in.

    def ticket(self) -> int:
        """A number for a request about to be sent, for its `TICKET` header."""
        with self.turns:
            self.tickets += 1
            return self.tickets - 1

    def take_turn(self, ticket: int) -> bool:
        """Wait until the requests sent before this one are done; False for a request sent
        before a reset (to a server that is gone)."""
        with self.turns:
            if not self.turns.wait_for(lambda: self.turn >= ticket, TURN_WAIT):
                self.skipped_tickets += ticket - self.turn
                self.turn = ticket  # the ones before never came
                self._pass_void()
            return ticket >= self.first_ticket

    def end_turn(self, ticket: int) -> None:
        with self.turns:
            self.turn = max(self.turn, ticket + 1)
            self._pass_void()

    def unsent(self, ticket: int) -> None:
        """The request with this ticket never left the client (it could not connect)."""
        with self.turns:
            self.void.add(ticket)
            self._pass_void()

    def _pass_void(self) -> None:
        while self.turn in self.void:
            self.void.discard(self.turn)
            self.turn += 1
        self.turns.notify_all()

    def settle(self, wait: float = 10.0) -> None:
        """Wait until every ticketed request sent so far is done, then land the late ones:
        what the server holds once nothing is in flight any more."""
        with self.turns:
            if not self.turns.wait_for(lambda: self.turn >= self.tickets, wait):
                self.skipped_tickets += self.tickets - self.turn
                self.turn = self.tickets
                self.void.clear()
        self.land_deferred()

    def reset(self) -> None:
        with self.turns:
            self.first_ticket = self.turn = self.tickets
            self.void.clear()
            self.turns.notify_all()
        with self.lock:
            self.deferred = []  # a fresh server: what was still waiting is gone
            self.landed: list[tuple[str, str, int]] = []  # late requests done: method, path, status
            self.counter = 0
            self.requests = 0
            self.log: list[tuple[str, str, str | None]] = []  # method, path, Idempotency-Key
            self.stripe_invoices: dict[str, dict[str, Any]] = {}
            self.stripe_items: dict[str, dict[str, Any]] = {}
            self.stripe_tax_rates: dict[str, dict[str, Any]] = {}
            self.idempotency: dict[str, tuple[str, Answer]] = {}
            self.sequence: dict[str, dict[str, dict[str, Any]]] = {
                "invoices": {},
                "credit-notes": {},
            }
            self.deliveries: dict[str, dict[str, Any]] = {}
            self.delivery_attempts = 0

    def forget_idempotency_keys(self) -> None:
        """As Stripe does after 24 hours (by when every request sent has landed)."""
        self.settle()
        with self.lock:
            self.idempotency.clear()

    def _id(self, prefix: str) -> str:
        self.counter += 1
        return f"{prefix}{self.counter:06d}"

    # Dispatch.

    def handle(
        self, method: str, path: str, query: dict[str, str], headers: dict[str, str], body: bytes
    ) -> Answer:
        with self.lock:
            self.requests += 1
            answer = self._dispatch(method, path, query, headers, body)
            for waiting in self.deferred:
                waiting.after -= 1
            self.land_deferred(only_due=True)
            return answer

    def defer(
        self,
        method: str,
        path: str,
        query: dict[str, str],
        headers: dict[str, str],
        body: bytes,
        after: int = 1,
    ) -> None:
        """Hold a request until `after` more requests have been handled, then do it."""
        with self.lock:
            self.deferred.append(Deferred(method, path, query, headers, body, after))

    def land_deferred(self, only_due: bool = False) -> None:
        """Do the held requests (those due, or all), in order of arrival."""
        with self.lock:
            due = [w for w in self.deferred if w.after <= 0 or not only_due]
            self.deferred = [w for w in self.deferred if w not in due]  # identity (eq=False)
            for waiting in due:
                self.requests += 1
                answer = self._dispatch(
                    waiting.method, waiting.path, waiting.query, waiting.headers, waiting.body
                )
                self.landed.append((waiting.method, waiting.path, answer.status))

    def _dispatch(
        self, method: str, path: str, query: dict[str, str], headers: dict[str, str], body: bytes
    ) -> Answer:
        with self.lock:
            if path.startswith("/v1/"):
                return self._stripe(method, path, query, headers, body)
            if path == "/webhook":
                return self._webhook(headers, body)
            return self._sequence(method, path, query, body)

    # Stripe.

    def _stripe(
        self, method: str, path: str, query: dict[str, str], headers: dict[str, str], body: bytes
    ) -> Answer:
        if headers.get("authorization") != "Bearer sk_test_fake":
            return Answer(401, {"error": {"message": "Invalid API Key provided"}})
        if "cus_refused" in body.decode():
            return Answer(400, {"error": {"message": "No such customer: 'cus_refused'"}})
        if method == "GET":
            return self._stripe_get(path, query)
        form = urllib.parse.parse_qsl(body.decode(), keep_blank_values=True)
        key = headers.get("idempotency-key")
        fingerprint = json.dumps([path, sorted(form)])
        if key is not None and key in self.idempotency:
            stored_fingerprint, answer = self.idempotency[key]
            if stored_fingerprint != fingerprint:
                return Answer(
                    400,
                    {
                        "error": {
                            "type": "idempotency_error",
                            "message": (
                                "Keys for idempotent requests can only be used with the same"
                                " parameters"
                            ),
                        }
                    },
                )
            return Answer(answer.status, answer.body, {"Idempotent-Replayed": "true"})
        answer = self._stripe_post(path, dict(form))
        if key is not None and answer.status < 500:
            self.idempotency[key] = (fingerprint, answer)
        return answer

    def _stripe_post(self, path: str, form: dict[str, str]) -> Answer:
        metadata = {
            name[len("metadata[") : -1]: value
            for name, value in form.items()
            if name.startswith("metadata[")
        }
        if path == "/v1/invoices":
            invoice = {
                "id": self._id("in_"),
                "object": "invoice",
                "customer": form["customer"],
                "currency": form["currency"],
                "status": "draft",
                "metadata": metadata,
                "description": form.get("description"),
            }
            self.stripe_invoices[invoice["id"]] = invoice
            return Answer(200, invoice)
        if path == "/v1/invoiceitems":
            invoice = self.stripe_invoices.get(form.get("invoice", ""))
            if invoice is None or invoice["status"] != "draft":
                return Answer(400, {"error": {"message": "invoice is not a draft"}})
            item = {
                "id": self._id("ii_"),
                "object": "invoiceitem",
                "invoice": invoice["id"],
                "amount": int(form["amount"]),
                "currency": form["currency"],
                "description": form.get("description"),
                "metadata": metadata,
                "tax_rates": [
                    value for name, value in form.items() if name.startswith("tax_rates[")
                ],
            }
            unknown = [rate for rate in item["tax_rates"] if rate not in self.stripe_tax_rates]
            if unknown:
                return Answer(400, {"error": {"message": f"No such tax rate: '{unknown[0]}'"}})
            self.stripe_items[item["id"]] = item
            return Answer(200, item)
        if path == "/v1/tax_rates":
            rate = {
                "id": self._id("txr_"),
                "object": "tax_rate",
                "display_name": form["display_name"],
                "percentage": form["percentage"],  # a decimal string: the fake computes exactly
                "inclusive": form["inclusive"] == "true",
                "metadata": metadata,
            }
            self.stripe_tax_rates[rate["id"]] = rate
            return Answer(200, rate)
        if path.endswith("/finalize"):
            invoice = self.stripe_invoices.get(path.split("/")[3])
            if invoice is None:
                return Answer(404, {"error": {"message": "No such invoice"}})
            if invoice["status"] != "draft":
                return Answer(400, {"error": {"message": "This invoice is already finalized"}})
            invoice["status"] = "open"
            return Answer(200, invoice)
        return Answer(404, {"error": {"message": f"no route {path}"}})

    def _stripe_get(self, path: str, query: dict[str, str]) -> Answer:
        if path == "/v1/invoices":
            found = [
                i for i in self.stripe_invoices.values() if i["customer"] == query.get("customer")
            ]
            return self._stripe_page(found, query)
        if path == "/v1/invoiceitems":
            found = [i for i in self.stripe_items.values() if i["invoice"] == query.get("invoice")]
            return self._stripe_page(found, query)
        if path == "/v1/tax_rates":
            return self._stripe_page(list(self.stripe_tax_rates.values()), query)
        invoice = self.stripe_invoices.get(path.rsplit("/", 1)[-1])
        if invoice is None:
            return Answer(404, {"error": {"message": "No such invoice"}})
        return Answer(200, {**invoice, **self._stripe_amounts(invoice["id"])})

    def _stripe_amounts(self, invoice_id: str) -> dict[str, Any]:
        """An invoice's `total` and `total_taxes` as Stripe computes them from its items' tax
        rates: each item's tax per rate, rounded half-up to minor units; an inclusive rate's
        tax found inside the amount (amount x rate / (100% + the item's inclusive rates))."""
        total = 0
        taxes: dict[str, int] = {}
        for item in self.stripe_items.values():
            if item["invoice"] != invoice_id:
                continue
            total += item["amount"]
            rates = [self.stripe_tax_rates[rate] for rate in item["tax_rates"]]
            gross = 100 + sum(Decimal(r["percentage"]) for r in rates if r["inclusive"])
            for rate in rates:
                share = Decimal(rate["percentage"]) / (gross if rate["inclusive"] else 100)
                tax = int((item["amount"] * share).quantize(Decimal(1), ROUND_HALF_UP))
                taxes[rate["id"]] = taxes.get(rate["id"], 0) + tax
                if not rate["inclusive"]:
                    total += tax
        return {
            "total": total,
            "total_taxes": [
                {
                    "amount": amount,
                    "tax_behavior": (
                        "inclusive" if self.stripe_tax_rates[rate]["inclusive"] else "exclusive"
                    ),
                    "tax_rate_details": {"tax_rate": rate},
                }
                for rate, amount in taxes.items()
            ],
        }

    def _stripe_page(self, found: list[dict[str, Any]], query: dict[str, str]) -> Answer:
        found = sorted(found, key=lambda item: item["id"], reverse=True)  # newest first
        after = query.get("starting_after")
        if after:
            found = [item for item in found if item["id"] < after]
        size = min(int(query.get("limit", "10")), PAGE)
        return Answer(200, {"object": "list", "data": found[:size], "has_more": len(found) > size})

    # Sequence.

    def _sequence(self, method: str, path: str, query: dict[str, str], body: bytes) -> Answer:
        parts = [part for part in path.split("/") if part]
        if not parts or parts[0] not in self.sequence:
            return Answer(404, {"message": f"no route {path}"})
        store = self.sequence[parts[0]]
        if len(parts) == 1 and method == "POST":
            data = json.loads(body)
            document = {
                "id": self._id("seq-"),
                "status": "DRAFT",
                "customerId": data["customerId"],
                "currency": data["currency"],
                "metadata": data.get("metadata", []),
                "invoiceId": data.get("invoiceId"),
                "lines": [],
            }
            store[document["id"]] = document
            return Answer(201, _public(document))
        if len(parts) == 1:
            found = [d for d in store.values() if d["customerId"] == query.get("customerId")]
            return self._sequence_page([_public(d) for d in found], query)
        document = store.get(parts[1])
        if document is None:
            return Answer(404, {"message": "not found"})
        if len(parts) == 2 and method == "DELETE":
            if document["status"] != "DRAFT":  # "You can only delete a draft" (the spec)
                return Answer(400, {"message": "only a draft can be deleted"})
            del store[parts[1]]
            return Answer(200, _public(document))
        if len(parts) == 2:
            return Answer(200, _public(document))
        if parts[2] == "finalize":
            if document["status"] != "DRAFT":
                return Answer(400, {"message": "only a draft can be finalized"})
            document["status"] = "FINAL"
            return Answer(200, _public(document))
        if parts[2] == "line-items" and method == "POST":
            if document["status"] != "DRAFT":
                return Answer(400, {"message": "only a draft takes line items"})
            data = json.loads(body)
            line = {"id": self._id("line-"), **data}
            document["lines"].append(line)
            return Answer(201, line)
        if parts[2] == "line-items":
            return self._sequence_page(list(document["lines"]), query)
        return Answer(404, {"message": f"no route {path}"})

    def _sequence_page(self, items: list[dict[str, Any]], query: dict[str, str]) -> Answer:
        start = int(query.get("after") or 0)
        size = min(int(query.get("limit", "10")), PAGE)
        page = items[start : start + size]
        after = str(start + size) if start + size < len(items) else None
        return Answer(
            200,
            {
                "items": page,
                "pagination": {"after": after, "before": None, "totalResultSize": len(items)},
            },
        )

    # Webhooks.

    def _webhook(self, headers: dict[str, str], body: bytes) -> Answer:
        self.delivery_attempts += 1
        try:
            Webhook(WEBHOOK_SECRET).verify(body.decode(), headers)
        except Exception as error:
            return Answer(400, {"message": f"bad signature: {error}"})
        message_id = headers["webhook-id"]
        self.deliveries.setdefault(message_id, json.loads(body))  # de-duplicated by webhook-id
        return Answer(204, None)

    # Views for assertions.

    def sequence_documents(self) -> list[dict[str, Any]]:
        return [
            {**document, "collection": collection}
            for collection, store in self.sequence.items()
            for document in store.values()
        ]


def _public(document: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in document.items() if key != "lines"}


def _handler(fake: FakeBilling) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def setup(self) -> None:
            super().setup()
            # One segment per answer: without this, Nagle and delayed ACKs add 40 ms a request.
            self.request.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

        def log_message(self, *_: object) -> None:
            pass

        def _drop(self) -> None:
            self.close_connection = True
            with contextlib.suppress(OSError):
                self.connection.shutdown(socket.SHUT_RDWR)

        def _respond(self, answer: Answer) -> None:
            body = b"" if answer.body is None else json.dumps(answer.body).encode()
            try:
                self.send_response(answer.status)
                for name, value in answer.headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)
            except OSError:
                self.close_connection = True

        def _serve(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            parsed = urllib.parse.urlsplit(self.path)
            query = dict(urllib.parse.parse_qsl(parsed.query))
            headers = {name.lower(): value for name, value in self.headers.items()}
            ticket = int(headers[TICKET]) if TICKET in headers else None
            if ticket is not None and not fake.take_turn(ticket):
                return self._drop()
            try:
                fault, answer, slow_seconds = self._do(parsed.path, query, headers, body)
            finally:
                if ticket is not None:
                    fake.end_turn(ticket)
            if answer is None:  # drop, late
                return self._drop()
            if fault in ("429", "500", "409"):
                return self._respond(answer)
            if fake.latency:
                time.sleep(fake.latency)
            if fault == "lost":
                return self._drop()
            if fault == "slow":
                time.sleep(slow_seconds)
            return self._respond(answer)

        def _do(
            self, path: str, query: dict[str, str], headers: dict[str, str], body: bytes
        ) -> tuple[str | None, Answer | None, float]:
            """What the server does with the request: (fault, answer, slow seconds)."""
            with fake.lock:
                fake.log.append((self.command, path, headers.get("idempotency-key")))
            stripe = path.startswith("/v1/")
            kinds = ("429", "500", "drop", "slow", "lost", "late") + (("409",) if stripe else ())
            faults = fake.faults
            if faults is None:
                return None, fake.handle(self.command, path, query, headers, body), 0.0
            fault = faults.draw(kinds, self.command, path)
            if fault == "429":
                too_many = {"error": {"message": "Too many requests"}}
                return fault, Answer(429, too_many, {"Retry-After": "0"}), 0.0
            if fault == "500":
                extra = {"Stripe-Should-Retry": "true"} if stripe else {}
                return fault, Answer(500, {"error": {"message": "boom"}}, extra), 0.0
            if fault == "409":
                return fault, Answer(409, {"error": {"message": "key in use"}}), 0.0
            if fault == "drop":
                return fault, None, 0.0
            if fault == "late":
                after = faults.late_by if isinstance(faults, Script) else 1
                fake.defer(self.command, path, query, headers, body, after)
                return fault, None, 0.0
            answer = fake.handle(self.command, path, query, headers, body)
            return fault, answer, faults.slow_seconds if fault == "slow" else 0.0

        do_GET = do_POST = do_DELETE = _serve  # noqa: N815 - http.server's naming

    return Handler


@contextlib.contextmanager
def serve(fake: FakeBilling) -> Iterator[str]:
    """Run `fake` on 127.0.0.1, a free port, in a thread; yields its base URL."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(fake))
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
