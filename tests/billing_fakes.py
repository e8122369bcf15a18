"""Fake billing APIs on 127.0.0.1 that fail on purpose, and record what they accepted.

One `FakeBilling` holds the state of a Stripe, a Sequence and a webhook receiver subset (just
the calls the sync makes, with the vendors' semantics: Stripe replays an Idempotency-Key and
refuses it with other parameters; Sequence has no idempotency; webhooks are verified per
Standard Webhooks and de-duplicated by webhook-id). `serve()` runs it on port 0 in a thread.

Faults, drawn per request when `faults` is set:
    429        Retry-After: 0, nothing done
    500        nothing done (Stripe paths add Stripe-Should-Retry: true)
    409        Stripe only: "request with the same key in progress", nothing done
    drop       the connection is closed before anything is done
    slow       the request is done, then the answer comes after the client's timeout
    lost       the request is done, then the connection is closed without an answer
"""

from __future__ import annotations

import contextlib
import json
import random
import socket
import threading
import time
import urllib.parse
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from standardwebhooks import Webhook

WEBHOOK_SECRET = "whsec_" + "c2VjcmV0LWZvci10ZXN0cy1vbmx5LTEyMzQ1Njc4OTA="  # base64, tests only
PAGE = 3  # small pages, so the sync's pagination is exercised


@dataclass
class Faults:
    rng: random.Random
    rates: dict[str, float]
    slow_seconds: float = 0.15

    def draw(self, kinds: tuple[str, ...]) -> str | None:
        roll = self.rng.random()
        for kind in kinds:
            rate = self.rates.get(kind, 0.0)
            if roll < rate:
                return kind
            roll -= rate
        return None


@dataclass
class Answer:
    status: int
    body: Any
    headers: dict[str, str] = field(default_factory=dict)


class FakeBilling:
    def __init__(self) -> None:
        self.lock = threading.RLock()
        self.faults: Faults | None = None
        self.latency = 0.0  # seconds added to every answer
        self.reset()

    def reset(self) -> None:
        with self.lock:
            self.counter = 0
            self.requests = 0
            self.log: list[tuple[str, str, str | None]] = []  # method, path, Idempotency-Key
            self.stripe_invoices: dict[str, dict[str, Any]] = {}
            self.stripe_items: dict[str, dict[str, Any]] = {}
            self.idempotency: dict[str, tuple[str, Answer]] = {}
            self.sequence: dict[str, dict[str, dict[str, Any]]] = {
                "invoices": {},
                "credit-notes": {},
            }
            self.deliveries: dict[str, dict[str, Any]] = {}
            self.delivery_attempts = 0

    def forget_idempotency_keys(self) -> None:
        """As Stripe does after 24 hours."""
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
            }
            self.stripe_items[item["id"]] = item
            return Answer(200, item)
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
        invoice = self.stripe_invoices.get(path.rsplit("/", 1)[-1])
        if invoice is None:
            return Answer(404, {"error": {"message": "No such invoice"}})
        return Answer(200, invoice)

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
            with fake.lock:
                fake.log.append((self.command, parsed.path, headers.get("idempotency-key")))
            stripe = parsed.path.startswith("/v1/")
            kinds = ("429", "500", "drop", "slow", "lost") + (("409",) if stripe else ())
            fault = fake.faults.draw(kinds) if fake.faults is not None else None
            if fault == "429":
                return self._respond(
                    Answer(429, {"error": {"message": "Too many requests"}}, {"Retry-After": "0"})
                )
            if fault == "500":
                extra = {"Stripe-Should-Retry": "true"} if stripe else {}
                return self._respond(Answer(500, {"error": {"message": "boom"}}, extra))
            if fault == "409":
                return self._respond(Answer(409, {"error": {"message": "key in use"}}))
            if fault == "drop":
                return self._drop()
            answer = fake.handle(self.command, parsed.path, query, headers, body)
            if fake.latency:
                time.sleep(fake.latency)
            if fault == "lost":
                return self._drop()
            if fault == "slow":
                assert fake.faults is not None
                time.sleep(fake.faults.slow_seconds)
            return self._respond(answer)

        do_GET = do_POST = _serve  # noqa: N815 - http.server's naming

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
