"""A usage event as the ingestion API takes it: the body parsed and checked field by field,
the event's stored version (its id a UUID of the content) and its line in the journal.

Every field is checked by the event contract (contract.py), so an event the API accepts is one
the build bills or reports; an error's code is the contract's rejection reason.
`customerEventId` is a new UUID when absent; alias and type are kept as sent;
`eventTimestamp` is normalised to UTC (absent means now, as Sequence does); `eventProperties`
is kept as sent with its whitespace removed, so numbers keep their exact digits and strings
their escapes (absent is `{}`).
"""

from __future__ import annotations

import hashlib
import uuid
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

import msgspec

from usage_billing.events.contract import (
    MAX_PROPERTIES_DEPTH,
    REASON_MEANINGS,
    nesting_depth,
    parse_timestamp,
    text_reason,
    timestamp_reason,
    utc_text,
)

# Stable namespace for the ids of stored event versions (uuid5 of the version's content).
EVENT_VERSION_NAMESPACE = uuid.UUID("5a0f3c9e-2f4b-4c51-9d36-7b1e0c2a8e41")

_decode_document = msgspec.json.Decoder(list[msgspec.Raw] | dict[str, msgspec.Raw])
_NAMESPACE_BYTES = EVENT_VERSION_NAMESPACE.bytes


class _WellTypedEvent(msgspec.Struct, rename="camel"):
    """The fast path's shape of an event: a body that decodes into it needs only the value
    checks; any other body takes the field-by-field path, which names every problem.
    `eventProperties` stays undecoded JSON text (any value; the fast path takes objects)."""

    customer_alias: str
    event_type: str
    customer_event_id: str | None = None
    event_timestamp: str | None = None
    event_properties: msgspec.Raw = msgspec.Raw(b"{}")


_decode_well_typed = msgspec.json.Decoder(list[_WellTypedEvent] | _WellTypedEvent)
_decode_object = msgspec.json.Decoder(dict[str, msgspec.Raw])
_decode_value = msgspec.json.Decoder(float_hook=Decimal)


def compact_object(raw: msgspec.Raw | bytes) -> bytes | None:
    """A JSON value's text without whitespace, every number's digits as sent; None when the
    value is not an object."""
    compact = msgspec.json.format(raw, indent=-1)
    return compact if compact[:1] == b"{" else None


@dataclass(frozen=True)
class FieldError:
    """One bad field (or the body itself when `field` is None)."""

    code: str
    message: str
    field: str | None = None
    index: int | None = None

    def as_dict(self) -> dict[str, Any]:
        shown: dict[str, Any] = {"code": self.code, "message": self.message}
        if self.field is not None:
            shown["field"] = self.field
        if self.index is not None:
            shown["index"] = self.index
        return shown


class InvalidRequestError(Exception):
    """The request cannot be accepted; `errors` says why, field by field."""

    def __init__(self, errors: list[FieldError]) -> None:
        super().__init__("; ".join(error.message for error in errors))
        self.errors = errors


class UsageEvent(msgspec.Struct, frozen=True, gc=False):
    """One event as it is stored."""

    event_id: str
    customer_alias: str
    event_type: str
    event_timestamp: str
    event_properties: bytes  # compact JSON object text

    @property
    def version_id(self) -> str:
        """uuid5 of the stored content (computed here as RFC 4122 does, without the cost of
        UUID objects)."""
        content = "\x1f".join(
            (self.event_id, self.customer_alias, self.event_type, self.event_timestamp)
        )
        digest = bytearray(
            hashlib.sha1(
                _NAMESPACE_BYTES + content.encode() + b"\x1f" + self.event_properties,
                usedforsecurity=False,
            ).digest()[:16]
        )
        digest[6] = (digest[6] & 0x0F) | 0x50
        digest[8] = (digest[8] & 0x3F) | 0x80
        text = digest.hex()
        return f"{text[:8]}-{text[8:12]}-{text[12:16]}-{text[16:20]}-{text[20:]}"


class StoredEvent(msgspec.Struct, rename="camel", gc=False):
    """A 201's item: the stored event in Sequence's response shape."""

    id: str
    customer_event_id: str
    customer_alias: str
    event_type: str
    sequence_account_id: str
    event_timestamp: str
    event_properties: msgspec.Raw


class JournalLine(msgspec.Struct, gc=False):
    """One event in the journal, naming its request and how many lines the request wrote, so
    the loader can drop a request a crash cut short."""

    seq: int
    request: int
    lines: int
    event_id: str
    customer_alias: str
    event_type: str
    event_timestamp: str
    event_properties: str


def stored_timestamp(text: str) -> str:
    """An event_timestamp as stored: in UTC, `utc_text`'s form. ValueError naming the event
    contract's reason when it refuses the text. Text already in that form is only checked."""
    reason = timestamp_reason(text)
    if reason is not None:
        raise ValueError(reason)
    if len(text) == 20 and text[19] == "Z" and text[10] == "T":
        return text
    moment = parse_timestamp(text)
    assert moment is not None
    return utc_text(moment)


def _text_field(
    item: dict[str, msgspec.Raw], name: str, field: str, required: bool
) -> tuple[str | None, FieldError | None]:
    """(value, error) of an id, alias or type, by the event contract."""
    raw = item.get(name)
    value = None if raw is None else _decode_value.decode(raw)
    if value is None and not required:
        return None, None
    if value is not None and not isinstance(value, str):
        message = f"{name} must be a string, not {type(value).__name__}"
        return None, FieldError(f"bad_{field}", message, name)
    reason = text_reason(field, value)
    if reason is not None:
        return None, FieldError(reason, f"{name}: {REASON_MEANINGS[reason]}", name)
    return value, None


def _timestamp(item: dict[str, msgspec.Raw], now: datetime) -> tuple[str | None, FieldError | None]:
    """(stored timestamp, error): absent means now, as Sequence does."""
    raw = item.get("eventTimestamp")
    value = None if raw is None else _decode_value.decode(raw)
    if value is None:
        return utc_text(now), None
    if not isinstance(value, str):
        message = f"eventTimestamp must be an ISO 8601 string, not {type(value).__name__}"
        return None, FieldError("bad_timestamp", message, "eventTimestamp")
    try:
        return stored_timestamp(value), None
    except ValueError as refused:
        reason = str(refused)
        message = f"eventTimestamp {value[:60]!r}: {REASON_MEANINGS[reason]}"
        return None, FieldError(reason, message, "eventTimestamp")


def _properties(item: dict[str, msgspec.Raw]) -> tuple[bytes | None, str | None]:
    raw = item.get("eventProperties")
    if raw is None:
        return b"{}", None
    compact = compact_object(raw)
    if compact is None:
        value = _decode_value.decode(raw)
        shown = "null" if value is None else type(value).__name__
        return None, f"eventProperties must be a JSON object, not {shown}"
    if nesting_depth(compact) > MAX_PROPERTIES_DEPTH:
        return None, f"eventProperties nests deeper than {MAX_PROPERTIES_DEPTH} levels"
    return compact, None


def parse_event(
    item: dict[str, msgspec.Raw], now: datetime, index: int | None = None
) -> UsageEvent | list[FieldError]:
    """One event of a request (its fields, undecoded), or what is wrong with it."""
    errors: list[FieldError] = []
    event_id, error = _text_field(item, "customerEventId", "event_id", required=False)
    alias, alias_error = _text_field(item, "customerAlias", "customer_alias", required=True)
    event_type, type_error = _text_field(item, "eventType", "event_type", required=True)
    timestamp, timestamp_error = _timestamp(item, now)
    for found in (error, alias_error, type_error, timestamp_error):
        if found is not None:
            errors.append(FieldError(found.code, found.message, found.field, index))
    properties, problem = _properties(item)
    if problem:
        errors.append(FieldError("bad_properties", problem, "eventProperties", index))
    if errors or alias is None or event_type is None or timestamp is None or properties is None:
        return errors
    return UsageEvent(
        event_id=event_id if event_id is not None else str(uuid.uuid4()),
        customer_alias=alias,
        event_type=event_type,
        event_timestamp=timestamp,
        event_properties=properties,
    )


def _well_typed(
    body: bytes, max_events: int, now: datetime
) -> tuple[list[UsageEvent], bool] | None:
    """The events of a body whose every field has the right JSON type and a good value, or
    None (then `parse_events` works out what is wrong)."""
    try:
        document = _decode_well_typed.decode(body)
    except msgspec.DecodeError:  # ValidationError included
        return None
    is_batch = isinstance(document, list)
    items = document if isinstance(document, list) else [document]
    if not items or len(items) > max_events:
        return None
    now_text = utc_text(now)
    events: list[UsageEvent] = []
    for item in items:
        event_id, alias, event_type = item.customer_event_id, item.customer_alias, item.event_type
        if text_reason("customer_alias", alias) or text_reason("event_type", event_type):
            return None
        if event_id is not None and text_reason("event_id", event_id):
            return None
        timestamp = item.event_timestamp
        try:
            stored = now_text if timestamp is None else stored_timestamp(timestamp)
        except ValueError:
            return None
        properties = compact_object(item.event_properties)
        if properties is None or nesting_depth(properties) > MAX_PROPERTIES_DEPTH:
            return None
        events.append(
            UsageEvent(
                event_id=event_id if event_id is not None else str(uuid.uuid4()),
                customer_alias=alias,
                event_type=event_type,
                event_timestamp=stored,
                event_properties=properties,
            )
        )
    return events, is_batch


def parse_events(body: bytes, max_events: int, now: datetime) -> tuple[list[UsageEvent], bool]:
    """The events of a request body and whether it was a batch; InvalidRequestError listing
    every bad field otherwise."""
    well_typed = _well_typed(body, max_events, now)
    if well_typed is not None:
        return well_typed
    try:
        document = _decode_document.decode(body)
    except msgspec.ValidationError:
        raise InvalidRequestError(
            [FieldError("not_an_object", "the body must be a JSON object (or an array of them)")]
        ) from None
    except msgspec.DecodeError as error:
        raise InvalidRequestError([FieldError("invalid_json", f"invalid JSON: {error}")]) from None
    if isinstance(document, dict):
        single = parse_event(document, now)
        if isinstance(single, list):
            raise InvalidRequestError(single)
        return [single], False
    if not document:
        raise InvalidRequestError([FieldError("empty_batch", "the batch holds no events")])
    if len(document) > max_events:
        raise InvalidRequestError(
            [
                FieldError(
                    "too_many_events",
                    f"a batch holds at most {max_events} events, not {len(document)}",
                )
            ]
        )
    events: list[UsageEvent] = []
    errors: list[FieldError] = []
    for index, raw in enumerate(document):
        try:
            item = _decode_object.decode(raw)
        except msgspec.ValidationError:
            message = "an event must be a JSON object"
            errors.append(FieldError("not_an_object", message, index=index))
            continue
        parsed = parse_event(item, now, index)
        if isinstance(parsed, list):
            errors.extend(parsed)
        else:
            events.append(parsed)
    if errors:
        raise InvalidRequestError(errors)
    return events, True
