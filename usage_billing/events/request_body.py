"""What a request body must be before its fields are read: UTF-8 text, no NUL character and no
lone UTF-16 surrogate in any string (the event contract's reason for the field it is in), and
no nesting too deep for the decoder. Each is a 400 naming the problem
(`usage_event.FieldError`); the fields' own rules are the event contract's (contract.py).

Why here and not left to the JSON decoder: msgspec keeps `eventProperties` as undecoded text,
so invalid UTF-8 in it would be stored (and fail when the journal line is written), its
decoder recurses (a body nested ~1,000 levels raises RecursionError, a 500), it names a lone
surrogate "truncated input", and it takes `\\u0000`, which PostgreSQL's text and jsonb refuse.
The checks cost little when the body is fine: a UTF-8 decode and a substring search.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from datetime import datetime
from typing import Any

import msgspec

from usage_billing.events.contract import MAX_PROPERTIES_DEPTH
from usage_billing.events.usage_event import (
    FieldError,
    InvalidRequestError,
    UsageEvent,
    parse_events,
)

# The contract's reason for a bad character in each field (others: invalid_string).
_FIELD_REASONS = {
    "customerEventId": "bad_event_id",
    "customerAlias": "bad_customer_alias",
    "eventType": "bad_event_type",
    "eventTimestamp": "bad_timestamp",
    "eventProperties": "bad_properties",
}

# A NUL or a lone surrogate escape (a high one not followed by a low one, or a low one not
# preceded by a high one). It can also match after an escaped backslash (`\\u0000` is text),
# so a match only sends the body to the exact check.
_SUSPECT_ESCAPE = re.compile(
    rb"\\u(?:0000"
    rb"|[dD][89abAB][0-9a-fA-F]{2}(?!\\u[dD][c-fC-F])"
    rb"|(?<!\\u[dD][89abAB][0-9a-fA-F]{2}\\u)[dD][c-fC-F][0-9a-fA-F]{2})"
)
_BAD_CHARACTER = re.compile("[\x00\ud800-\udfff]")
# The JSON tokens that matter for nesting: strings (so brackets in them are skipped),
# brackets, and the separators that say which event and which field the scan is in.
_TOKEN = re.compile(rb'"(?:[^"\\]|\\.)*"|[\[\]{}:,]')


def decode_events(body: bytes, max_events: int, now: datetime) -> tuple[list[UsageEvent], bool]:
    """`parse_events` behind the body checks: the events and whether it was a batch, or
    InvalidRequestError naming what is wrong."""
    _check_text(body)
    try:
        return parse_events(body, max_events, now)
    except RecursionError:
        raise InvalidRequestError(_nesting_errors(body)) from None


def _check_text(body: bytes) -> None:
    try:
        body.decode("utf-8")
    except UnicodeDecodeError as error:
        message = f"the body is not valid UTF-8 (byte {error.start}: {error.reason})"
        raise InvalidRequestError([FieldError("invalid_utf8", message)]) from None
    nul = body.find(b"\x00")
    if nul >= 0:
        message = f"invalid JSON: a NUL byte at byte {nul} (no JSON text holds one)"
        raise InvalidRequestError([FieldError("invalid_json", message)])
    if b"\\u" in body and _SUSPECT_ESCAPE.search(body):
        errors = _string_errors(body)
        if errors:
            raise InvalidRequestError(errors)


def _string_errors(body: bytes) -> list[FieldError]:
    """A FieldError for each field holding a NUL or a lone surrogate, found by decoding the
    body with the standard library, which keeps both (msgspec refuses a lone surrogate).
    A body too deep for it is named so."""
    try:
        return _strings_errors_of(json.loads(body))
    except ValueError:
        return []  # not JSON: parse_events names the problem
    except RecursionError:
        return _nesting_errors(body)


def _strings_errors_of(document: Any) -> list[FieldError]:
    is_batch = isinstance(document, list)
    errors: list[FieldError] = []
    for index, item in enumerate(document if is_batch else [document]):
        at = index if is_batch else None
        fields = item.items() if isinstance(item, dict) else [("", item)]
        for name, value in fields:
            bad_in_name = _bad_character(name)
            if bad_in_name:
                message = _holds("a field name", bad_in_name)
                errors.append(FieldError("invalid_string", message, None, at))
                continue
            bad = next(filter(None, map(_bad_character, _strings(value))), None)
            if bad:
                where = name or "the event"
                code = _FIELD_REASONS.get(name, "invalid_string")
                errors.append(FieldError(code, _holds(where, bad), name or None, at))
    return errors


def _bad_character(text: str) -> str:
    """The first NUL or lone surrogate in `text` (the decoder pairs the others), or ''."""
    found = _BAD_CHARACTER.search(text)
    return found.group() if found else ""


def _strings(value: Any) -> Iterator[str]:
    """Every string in a decoded JSON value, object keys included."""
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for key, item in value.items():
            yield key
            yield from _strings(item)
    elif isinstance(value, list):
        for item in value:
            yield from _strings(item)


def _holds(where: str, character: str) -> str:
    if character == "\x00":
        return f"{where} holds a NUL character (\\u0000), which PostgreSQL refuses in text and JSON"
    return (
        f"{where} holds a lone UTF-16 surrogate (\\u{ord(character):04x}): a surrogate escape"
        " must be a high one (\\ud800-\\udbff) followed by a low one (\\udc00-\\udfff)"
    )


def _properties_too_deep(index: int | None) -> FieldError:
    message = (
        f"eventProperties nests deeper than {MAX_PROPERTIES_DEPTH} levels of objects and arrays"
    )
    return FieldError("bad_properties", message, "eventProperties", index)


def _nesting_errors(body: bytes) -> list[FieldError]:
    """What a body too deep for the decoder holds too deep: each event's field (or the body
    itself) where the nesting goes past the properties' limit, scanned without recursion."""
    is_batch = body.lstrip()[:1] == b"["
    event_depth = 2 if is_batch else 1
    limit = event_depth + MAX_PROPERTIES_DEPTH
    depth, index, key, field = 0, 0, b"", b""
    found: dict[tuple[int | None, bytes], None] = {}  # insertion-ordered set
    for token in _TOKEN.findall(body):
        if token in (b"{", b"["):
            depth += 1
            if depth == limit + 1:
                found[(index if is_batch else None, field)] = None
        elif token in (b"}", b"]"):
            depth -= 1
            if depth < event_depth:
                field = b""
        elif token == b",":
            if is_batch and depth == 1:
                index += 1
        elif token == b":":
            if depth == event_depth:
                field = key
        else:
            key = token
    errors = []
    for index_or_none, raw_field in found:
        name = _field_name(raw_field)
        if name == "eventProperties":
            errors.append(_properties_too_deep(index_or_none))
        else:
            levels = MAX_PROPERTIES_DEPTH if name else limit  # below the field, or in all
            where = name or "the body"
            message = f"{where} nests deeper than {levels} levels of objects and arrays"
            errors.append(FieldError("too_deep", message, name, index_or_none))
    return errors or [FieldError("too_deep", "the body nests too deeply to decode")]


def _field_name(raw: bytes) -> str | None:
    try:
        name = msgspec.json.decode(raw) if raw else None
    except msgspec.DecodeError:
        return None
    return name if isinstance(name, str) and not _BAD_CHARACTER.search(name) else None
