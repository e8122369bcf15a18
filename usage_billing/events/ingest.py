"""`POST /api/usage-events`: the Sequence usage-events call, and a batch form (a JSON array).

A request is checked whole before anything is written: one bad field anywhere gets a 400
listing every bad field (with its index in a batch) and stores nothing. A good request's
events are appended to the journal and fsynced before the 201, which returns each stored
event shaped as Sequence's response (`id`, `customerEventId`, `customerAlias`, `eventType`,
`sequenceAccountId`, `eventTimestamp`, `eventProperties`).

What is stored: `customerEventId` (a new UUID when absent), alias and type as sent,
`eventTimestamp` normalised to UTC (`2022-10-01T00:00:00Z`; absent means now, as Sequence
does), `eventProperties` as sent with its whitespace removed, so numbers keep their exact
digits and strings their escapes (absent is `{}`). `id` is a UUID of that stored version,
so a retried request gets the same id. Error codes reuse the loader's and dbt's rejection
reasons (`missing_customer_alias`, `missing_event_type`, `bad_timestamp`, `bad_properties`)
where they mean the same. The body's text and nesting are checked first (request_body.py).
"""

from __future__ import annotations

import itertools
from datetime import UTC, datetime

import msgspec
from fastapi import Request, Response

from usage_billing.events.auth import require_api_key
from usage_billing.events.journal import Journal, JournalClosedError
from usage_billing.events.recent_events import RecentEvents
from usage_billing.events.request_body import decode_events
from usage_billing.events.usage_event import (
    FieldError,
    InvalidRequestError,
    JournalLine,
    StoredEvent,
    UsageEvent,
)

# Responses and journal lines: decimals written as JSON numbers, exact.
_encode = msgspec.json.Encoder(decimal_format="number")


class Ingest:
    """What the endpoint needs: the journal, the request limits and, when the entitlements
    endpoint serves, where it learns of the events accepted since the build."""

    def __init__(
        self,
        journal: Journal,
        account_id: str,
        max_body_bytes: int,
        max_batch_events: int,
        recent: RecentEvents | None = None,
    ) -> None:
        self.journal = journal
        self.recent = recent
        self.account_id = account_id
        self.max_body_bytes = max_body_bytes
        self.max_batch_events = max_batch_events
        self._sequence = itertools.count(1)
        self._requests = itertools.count(1)

    def journal_lines(self, events: list[UsageEvent]) -> bytes:
        """The request's journal lines, one JSON object a line."""
        request = next(self._requests)
        return _encode.encode_lines(
            [
                JournalLine(
                    next(self._sequence),
                    request,
                    len(events),
                    event.event_id,
                    event.customer_alias,
                    event.event_type,
                    event.event_timestamp,
                    event.event_properties.decode(),
                )
                for event in events
            ]
        )

    def stored(self, event: UsageEvent) -> StoredEvent:
        return StoredEvent(
            event.version_id,
            event.event_id,
            event.customer_alias,
            event.event_type,
            self.account_id,
            event.event_timestamp,
            msgspec.Raw(event.event_properties),
        )


def _error_response(status_code: int, errors: list[FieldError]) -> Response:
    return Response(
        _encode.encode(
            {
                "error": "invalid_request",
                "message": "; ".join(error.message for error in errors[:5]),
                "errors": [error.as_dict() for error in errors],
            }
        ),
        status_code=status_code,
        media_type="application/json",
    )


async def _read_body(request: Request, limit: int) -> bytes:
    too_large = InvalidRequestError(
        [FieldError("body_too_large", f"the body is larger than {limit} bytes")]
    )
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise too_large
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise too_large
        chunks.append(chunk)
    return b"".join(chunks)


def _is_json(content_type: str | None) -> bool:
    if not content_type:
        return False
    media_type = content_type.split(";", 1)[0].strip().lower()
    return media_type == "application/json"


async def create_usage_events(request: Request) -> Response:
    """Store one event (a JSON object) or a batch (a JSON array); 201 with what was stored."""
    require_api_key(request)
    ingest: Ingest = request.app.state.ingest
    try:
        if not _is_json(request.headers.get("content-type")):
            raise InvalidRequestError(
                [
                    FieldError(
                        "unsupported_media_type",
                        "send the body as JSON with Content-Type: application/json",
                        "Content-Type",
                    )
                ]
            )
        body = await _read_body(request, ingest.max_body_bytes)
        events, is_batch = decode_events(body, ingest.max_batch_events, datetime.now(UTC))
    except InvalidRequestError as invalid:
        return _error_response(400, invalid.errors)
    try:
        await ingest.journal.append(ingest.journal_lines(events))
    except JournalClosedError:
        return Response(
            _encode.encode({"error": "unavailable", "message": "the server is shutting down"}),
            status_code=503,
            media_type="application/json",
            headers={"Retry-After": "1"},
        )
    if ingest.recent is not None:
        ingest.recent.add(events)
    items = [ingest.stored(event) for event in events]
    return Response(
        _encode.encode(items if is_batch else items[0]),
        status_code=201,
        media_type="application/json",
    )
