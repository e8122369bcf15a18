"""The ingestion API on a real `usage-billing serve` on 127.0.0.1: auth, every bad input,
duplicates and supersede (then a dbt build bills the last version), the Sequence contract, and
a SIGKILL during a load run after which every event that got a 201 is stored exactly once."""

from __future__ import annotations

import base64
import fcntl
import json
import signal
import threading
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import msgspec
import pytest
from openapi_schema_validator import OAS30Validator

from tests.support.api_specs import SEQUENCE, load
from tests.support.ingest_server import IngestServer, make_server
from tests.support.warehouse_scenario import run_dbt
from usage_billing.events.auth import ApiKeys
from usage_billing.events.usage_event import EVENT_VERSION_NAMESPACE, parse_event, parse_events
from usage_billing.settings import load_api_settings

KEY = "ub_test_key_0f3a9c"
OTHER_KEY = "ub_test_second_key_77"
MAX_BODY = 4096
MAX_BATCH = 50


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[IngestServer]:
    running = make_server(
        tmp_path_factory.mktemp("ingest"),
        f"{KEY}, {OTHER_KEY}",
        max_body_bytes=str(MAX_BODY),
        max_batch_events=str(MAX_BATCH),
        account_id="acct_test",
    ).start("--access-log")
    yield running
    if running.process is not None:
        running.stop()


def _event(event_id: str | None = None, **fields: Any) -> dict[str, Any]:
    event: dict[str, Any] = {
        "customerAlias": "acme_corp",
        "eventType": "transaction",
        "eventTimestamp": "2022-10-05T12:00:00Z",
        "eventProperties": {"method": "card", "amount": 100, "currency": "EUR"},
    }
    if event_id is not None:
        event["customerEventId"] = event_id
    event.update(fields)
    return event


def _basic(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


def test_auth_accepts_bearer_and_basic_keys_and_refuses_the_rest(server: IngestServer) -> None:
    body = json.dumps(_event("auth_1")).encode()
    headers = {"Content-Type": "application/json"}
    accepted = [
        f"Bearer {KEY}",
        f"bearer {OTHER_KEY}",
        _basic("client_id_anything", KEY),
        _basic(OTHER_KEY, ""),
    ]
    refused = [
        None,
        "",
        "Bearer",
        f"Bearer {KEY}x",
        f"Bearer {KEY[:-1]}",
        f"Token {KEY}",
        _basic(KEY, "wrong"),
        _basic("", ""),
        "Basic not-base64!",
        "Basic " + base64.b64encode(KEY.encode()).decode(),  # no colon
    ]
    with server.client() as client:
        for authorization in accepted:
            answer = client.post(
                "/api/usage-events",
                content=body,
                headers={**headers, "Authorization": authorization},
            )
            assert answer.status_code == 201, (authorization, answer.text)
        for authorization in refused:
            sent = (
                dict(headers)
                if authorization is None
                else {**headers, "Authorization": authorization}
            )
            answer = client.post("/api/usage-events", content=body, headers=sent)
            assert answer.status_code == 401, (authorization, answer.text)
            assert "Bearer" in answer.headers["www-authenticate"]
            assert KEY not in answer.text and OTHER_KEY not in answer.text
    # Keys are in no log line, although every request above was logged (--access-log).
    log = server.log.read_text()
    assert "POST /api/usage-events" in log
    assert KEY not in log and OTHER_KEY not in log


def test_keys_come_from_the_environment_or_a_key_file(tmp_path: Path) -> None:
    key_file = tmp_path / "keys"
    key_file.write_text("# rotated 2026-11\nkey_one\n\n  key_two  \n")
    from_file = load_api_settings({"USAGE_BILLING_API_KEYS_FILE": str(key_file)})
    assert [key.reveal() for key in from_file.keys] == ["key_one", "key_two"]
    assert "key_one" not in repr(from_file)
    inline = load_api_settings({"USAGE_BILLING_API_KEYS": "a, b c"})
    assert [key.reveal() for key in inline.keys] == ["a", "b", "c"]
    # No key set: the server starts (its pages need none) and the API refuses everything.
    assert load_api_settings({}).keys == ()
    assert not ApiKeys(()).accepts(f"Bearer {KEY}")
    assert not ApiKeys(()).accepts("Bearer ")
    (tmp_path / "empty").write_text("# none yet\n")
    with pytest.raises(Exception, match="holds no key"):
        load_api_settings({"USAGE_BILLING_API_KEYS_FILE": str(tmp_path / "empty")})
    with pytest.raises(Exception, match="cannot read"):
        load_api_settings({"USAGE_BILLING_API_KEYS_FILE": str(tmp_path / "absent")})


# (body, content type, expected [(code, field, index)])
JSON = "application/json"


def _bad(event_id: str, **fields: Any) -> bytes:
    return json.dumps(_event(event_id, **fields)).encode()


def _nested(levels: int) -> bytes:
    """A JSON object holding arrays in arrays, `levels` deep in all."""
    return b'{"a": ' + b"[" * (levels - 1) + b"]" * (levels - 1) + b"}"


def _with_properties(event_id: str, properties: bytes, **fields: Any) -> bytes:
    body = _bad(event_id, eventProperties="PROPERTIES", **fields)
    return body.replace(b'"PROPERTIES"', properties)


# (name, body, content type, expected [(code, field, index)])
BAD_INPUTS: list[tuple[str, bytes, str | None, list[tuple[str, str | None, int | None]]]] = [
    ("missing alias", _bad("bad_1", customerAlias=None), JSON,
     [("missing_customer_alias", "customerAlias", None)]),
    ("alias absent", json.dumps({"eventType": "t", "customerEventId": "bad_2"}).encode(), JSON,
     [("missing_customer_alias", "customerAlias", None)]),
    ("blank alias", _bad("bad_3", customerAlias="  "), JSON,
     [("missing_customer_alias", "customerAlias", None)]),
    ("alias a number", _bad("bad_4", customerAlias=7), JSON,
     [("bad_customer_alias", "customerAlias", None)]),
    ("alias with a line break", _bad("bad_4b", customerAlias="a\nb"), JSON,
     [("bad_customer_alias", "customerAlias", None)]),
    ("week date", _bad("bad_6b", eventTimestamp="2022-W40-4T00:00:00Z"), JSON,
     [("bad_timestamp", "eventTimestamp", None)]),
    ("year 1", _bad("bad_6c", eventTimestamp="0001-01-01T00:00:00Z"), JSON,
     [("timestamp_out_of_range", "eventTimestamp", None)]),
    ("missing type",
     json.dumps({"customerAlias": "bad_alias", "customerEventId": "bad_5"}).encode(), JSON,
     [("missing_event_type", "eventType", None)]),
    ("bad timestamp", _bad("bad_6", eventTimestamp="yesterday"), JSON,
     [("bad_timestamp", "eventTimestamp", None)]),
    ("impossible date", _bad("bad_7", eventTimestamp="2022-02-30T00:00:00Z"), JSON,
     [("bad_timestamp", "eventTimestamp", None)]),
    ("numeric timestamp", _bad("bad_8", eventTimestamp=1664582400), JSON,
     [("bad_timestamp", "eventTimestamp", None)]),
    ("properties a list", _bad("bad_9", eventProperties=[1, 2]), JSON,
     [("bad_properties", "eventProperties", None)]),
    ("properties a string", _bad("bad_10", eventProperties='{"a": 1}'), JSON,
     [("bad_properties", "eventProperties", None)]),
    ("properties null", _bad("bad_11", eventProperties=None), JSON,
     [("bad_properties", "eventProperties", None)]),
    ("event id a number", json.dumps(_event(None, customerEventId=12)).encode(), JSON,
     [("bad_event_id", "customerEventId", None)]),
    ("every field wrong", json.dumps({"customerAlias": "", "eventType": 1, "eventTimestamp": "x",
                                      "eventProperties": 3}).encode(), JSON,
     [("missing_customer_alias", "customerAlias", None), ("bad_event_type", "eventType", None),
      ("bad_timestamp", "eventTimestamp", None), ("bad_properties", "eventProperties", None)]),
    ("body too large", _bad("bad_12", eventProperties={"pad": "x" * MAX_BODY}), JSON,
     [("body_too_large", None, None)]),
    ("wrong content type", _bad("bad_13"), "text/plain",
     [("unsupported_media_type", "Content-Type", None)]),
    ("form content type", b"customerAlias=a&eventType=t", "application/x-www-form-urlencoded",
     [("unsupported_media_type", "Content-Type", None)]),
    ("no content type", _bad("bad_14"), None, [("unsupported_media_type", "Content-Type", None)]),
    ("invalid JSON", b'{"customerAlias": "a",', JSON, [("invalid_json", None, None)]),
    ("not an object", b'"an event"', JSON, [("not_an_object", None, None)]),
    ("empty batch", b"[]", JSON, [("empty_batch", None, None)]),
    ("batch too long", json.dumps([{"customerAlias": "a", "eventType": "t"}] * (MAX_BATCH + 1))
     .encode(), JSON,
     [("too_many_events", None, None)]),
    ("batch with bad items",
     json.dumps([_event("batch_good_1"), _event("batch_bad", eventTimestamp="soon"),
                 _event("batch_good_2"), 5]).encode(), JSON,
     [("bad_timestamp", "eventTimestamp", 1), ("not_an_object", None, 3)]),
    # Bodies the JSON decoder chokes on (each was a 500 with a traceback) and strings no
    # warehouse stores as sent.
    ("body nested 1,000 deep", b"[" * 1000 + b"]" * 1000, JSON, [("too_deep", None, 0)]),
    ("properties nested 1,000 deep", _with_properties("bad_15", _nested(1000)), JSON,
     [("bad_properties", "eventProperties", None)]),
    ("properties nested 33 deep", _with_properties("bad_16", _nested(33)), JSON,
     [("bad_properties", "eventProperties", None)]),
    ("alias nested 1,000 deep",
     b'{"customerEventId": "bad_17", "eventType": "t", "customerAlias": ' + _nested(1000) + b"}",
     JSON, [("too_deep", "customerAlias", None)]),
    ("batch with deep properties",
     b"[" + _bad("batch_deep_ok") + b", " + _with_properties("batch_deep", _nested(40)) + b"]",
     JSON, [("bad_properties", "eventProperties", 1)]),
    ("invalid UTF-8 in the alias", _bad("bad_18", customerAlias="bad_alias").replace(
        b"bad_alias", b"bad_\xff_alias"), JSON, [("invalid_utf8", None, None)]),
    ("invalid UTF-8 in a property", _bad("bad_19").replace(b"card", b"c\xe9rd"), JSON,
     [("invalid_utf8", None, None)]),
    ("a surrogate encoded in UTF-8", _bad("bad_20").replace(b"card", b"\xed\xa0\x80"), JSON,
     [("invalid_utf8", None, None)]),
    ("NUL byte", _bad("bad_21").replace(b"card", b"ca\x00rd"), JSON,
     [("invalid_json", None, None)]),
    ("NUL escape in the alias", _bad("bad_22", customerAlias="bad_alias\x00"), JSON,
     [("bad_customer_alias", "customerAlias", None)]),
    ("NUL escape in a property", _bad("bad_23", eventProperties={"note": ["a\x00b"]}), JSON,
     [("bad_properties", "eventProperties", None)]),
    ("lone high surrogate in the alias", _bad("bad_24", customerAlias="bad_alias\ud800"), JSON,
     [("bad_customer_alias", "customerAlias", None)]),
    ("lone low surrogate in a property name", _bad("bad_25", eventProperties={"\udc00": 1}), JSON,
     [("bad_properties", "eventProperties", None)]),
    ("surrogates the wrong way round", _bad("bad_26", eventType="t\udc00\ud800"), JSON,
     [("bad_event_type", "eventType", None)]),
    ("lone surrogate in a batch",
     json.dumps([_event("batch_s_1"), _event("batch_s_2", eventType="t\udbff")]).encode(), JSON,
     [("bad_event_type", "eventType", 1)]),
]  # fmt: skip


def test_every_bad_input_gets_400_naming_each_bad_field_and_stores_nothing(
    server: IngestServer,
) -> None:
    with server.client(KEY) as client:
        for name, body, content_type, expected in BAD_INPUTS:
            headers = {"Content-Type": content_type} if content_type else {}
            answer = client.post("/api/usage-events", content=body, headers=headers)
            assert answer.status_code == 400, (name, answer.text)
            errors = answer.json()["errors"]
            assert [(e["code"], e.get("field"), e.get("index")) for e in errors] == expected, name
            assert all(error["message"] for error in errors), name
    assert "Traceback" not in server.log.read_text()
    with server.client(KEY) as client:
        # A good request after them, so the loader has run past everything sent before it.
        marker = client.post("/api/usage-events", json=_event("after_bad_inputs"))
        assert marker.status_code == 201
    server.wait_for(
        "select event_id from raw.usage_events where event_id = 'after_bad_inputs'", bool
    )
    stored = server.rows(
        "select event_id from raw.usage_events"
        " where event_id like 'bad_%' or event_id like 'batch_%' or customer_alias = 'bad_alias'"
    )
    assert stored == []


def test_properties_at_the_depth_limit_paired_surrogates_and_escaped_backslashes_are_stored(
    server: IngestServer,
) -> None:
    """The other side of the body checks: what is near a bad input but fine is stored as sent
    (an event type no metric counts, so the billing test below is not affected)."""
    unbilled = {"customerAlias": "body_checks", "eventType": "body_check"}
    deepest = _with_properties("deep_ok", _nested(32), **unbilled)
    properties = {"emoji": "\U0001f600", "path": "C:\\u0000\\ud800"}
    text = _bad("text_ok", eventProperties=properties, **unbilled)
    with server.client(KEY) as client:
        for body in (deepest, text):
            answer = client.post("/api/usage-events", content=body, headers={"Content-Type": JSON})
            assert answer.status_code == 201, answer.text
    rows = server.wait_for(
        "select event_id, event_properties from raw.usage_events"
        " where event_id in ('deep_ok', 'text_ok') order by event_id",
        lambda found: len(found) == 2,
    )
    assert rows == [
        ("deep_ok", '{"a":' + "[" * 31 + "]" * 31 + "}"),
        ("text_ok", '{"emoji":"\\ud83d\\ude00","path":"C:\\\\u0000\\\\ud800"}'),
    ]


def test_duplicates_add_nothing_and_a_changed_resend_supersedes_then_dbt_bills_it(
    server: IngestServer,
) -> None:
    first = _event("dup_1", eventProperties={"method": "card", "amount": 1000, "currency": "EUR"})
    second = _event(
        "dup_1", eventProperties={"method": "card", "amount": 2500.5, "currency": "EUR"}
    )
    batch_item = _event("dup_2", eventTimestamp="2022-10-07T09:30:00+02:00")
    with server.client(KEY) as client:
        original = client.post("/api/usage-events", json=first)
        retried = client.post("/api/usage-events", json=first)
        assert original.status_code == retried.status_code == 201
        assert original.json() == retried.json()  # same stored version, same id
        batch = client.post("/api/usage-events", json=[batch_item, batch_item, batch_item])
        assert batch.status_code == 201
        assert [item["customerEventId"] for item in batch.json()] == ["dup_2"] * 3
        assert batch.json()[0]["eventTimestamp"] == "2022-10-07T07:30:00Z"
        server.wait_for("select 1 from raw.usage_events where event_id = 'dup_2'", bool)
        retried_later = client.post("/api/usage-events", json=first)  # after it was loaded
        assert retried_later.json()["id"] == original.json()["id"]
        superseding = client.post("/api/usage-events", json=second)
        assert superseding.status_code == 201
        assert superseding.json()["id"] != original.json()["id"]
        assert superseding.json()["eventProperties"]["amount"] == 2500.5
    rows = server.wait_for(
        "select event_id, event_properties, event_timestamp from raw.usage_events"
        " where event_id in ('dup_1', 'dup_2') order by event_id, loaded_at",
        lambda found: len(found) >= 3,
    )
    assert rows == [
        ("dup_1", '{"method":"card","amount":1000,"currency":"EUR"}', "2022-10-05T12:00:00Z"),
        ("dup_1", '{"method":"card","amount":2500.5,"currency":"EUR"}', "2022-10-05T12:00:00Z"),
        ("dup_2", '{"method":"card","amount":100,"currency":"EUR"}', "2022-10-07T07:30:00Z"),
    ]
    # dbt bills the last version, with the server running: the lock file keeps its loader out.
    with Path(f"{server.database}.lock").open("a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        run_dbt(
            [
                "build",
                "--select",
                "+usage_billing__billable_usage +usage_billing__usage_events_rejected",
                "--indirect-selection",
                "cautious",
            ],
            server.database,
            {"usage_billing_as_of": "2022-10-31 12:00:00"},
        )
    (payment_volume,) = server.rows(
        "select measured_quantity, event_count from"
        " billing_usage_billing.usage_billing__billable_usage"
        " where metric_name = 'payment_volume' and period_start = '2022-10-01'"
    )
    # Events of this module in October 2022 in EUR: auth_1 (×4, one event), the marker, dup_1
    # last version and dup_2 — 100 + 100 + 2500.5 + 100.
    assert payment_volume == (Decimal("2800.5"), 4)
    (rejected,) = server.rows(
        "select count(*) from billing_usage_billing.usage_billing__usage_events_rejected"
        " where event_id = 'dup_1' and rejection_reason = 'duplicate'"
    )
    assert rejected == (1,)


def test_stored_values_keep_exact_numbers_utc_and_a_uuid5_version_id() -> None:
    now = datetime(2026, 11, 26, 21, 0, 0, 123456, tzinfo=UTC)
    body = (
        b'[{"customerAlias": "a", "eventType": "t", "eventTimestamp": "2022-10-01T01:30:00+05:30",'
        b' "eventProperties": {"amount": 12345678901234567890.123456789, "small": 1E-30,'
        b' "list": [1.10, {"x": true}], "text": "\\u00e9"}, "customerEventId": "x1"},'
        b' {"customerAlias": "a", "eventType": "t", "eventTimestamp": "2022-10-01",'
        b' "customerEventId": "x2"}]'
    )
    fast, _ = parse_events(body, 10, now)
    # The field-by-field path (taken when some field is wrong elsewhere) stores the same.
    slow = [
        parse_event(item, now)
        for item in msgspec.json.decode(body, type=list[dict[str, msgspec.Raw]])
    ]
    assert fast == slow
    first, second = fast
    assert first.event_timestamp == "2022-09-30T20:00:00Z"
    assert second.event_timestamp == "2022-10-01T00:00:00Z"
    assert first.event_properties == (
        b'{"amount":12345678901234567890.123456789,"small":1E-30,"list":[1.10,{"x":true}],'
        b'"text":"\\u00e9"}'
    )
    content = "\x1f".join(("x1", "a", "t", first.event_timestamp, first.event_properties.decode()))
    assert first.version_id == str(uuid.uuid5(EVENT_VERSION_NAMESPACE, content))
    (defaulted,), _ = parse_events(b'{"customerAlias": "a", "eventType": "t"}', 10, now)
    assert defaulted.event_timestamp == "2026-11-26T21:00:00.123456Z"
    assert uuid.UUID(defaulted.event_id).version == 4


def _schema(spec: dict[str, Any], name: str) -> OAS30Validator:
    return OAS30Validator(spec["components"]["schemas"][name])


def test_sequence_contract_requests_it_accepts_are_accepted_and_answers_validate(
    server: IngestServer,
) -> None:
    spec = load(SEQUENCE)  # the project's own description of Sequence's usage-event call
    operation = spec["paths"]["/usage-events"]["post"]
    request_schema = _schema(spec, "UsageEventRequest")
    response_schema = _schema(spec, "UsageEvent")
    example = operation["requestBody"]["content"]["application/json"]["example"]
    requests = [
        example,
        {"customerAlias": "acme_corp", "eventType": "api_request"},
        {"customerAlias": "acme_corp", "eventType": "api_request", "customerEventId": None,
         "eventTimestamp": None},
        {**example, "customerEventId": "contract_2",
         "eventTimestamp": "2022-10-01T00:00:00.250+05:30",
         "eventProperties": {"nested": {"list": [1, 2.50, "x"]}, "flag": True, "none": None}},
        {**example, "customerEventId": "contract_3", "somethingExtra": "ignored"},
    ]  # fmt: skip
    with server.client() as client:
        for body in requests:
            request_schema.validate(body)  # the spec accepts it ...
            answer = client.post(
                "/api/usage-events",
                json=body,
                headers={"Authorization": _basic("sequence_client_id", KEY),
                         "Sequence-Version": "2024-07-30"},
            )  # fmt: skip
            assert answer.status_code == 201, answer.text  # ... and so do we
            stored = answer.json()
            response_schema.validate(stored)
            assert stored["customerAlias"] == body["customerAlias"]
            assert stored["eventType"] == body["eventType"]
            assert stored["sequenceAccountId"] == "acct_test"
            if body.get("customerEventId"):
                assert stored["customerEventId"] == body["customerEventId"]
            assert stored["eventProperties"] == body.get("eventProperties", {})
        batch = client.post(
            "/api/usage-events", json=requests[:2], headers={"Authorization": f"Bearer {KEY}"}
        )
        assert batch.status_code == 201
        for stored in batch.json():
            response_schema.validate(stored)
    assert stored["eventTimestamp"].endswith("Z")


def _load_run(
    server: IngestServer, stop: threading.Event, acknowledged: set[str], worker: int
) -> None:
    """Post singles and batches of 25 until told to stop or the server dies; keep the ids
    that got a 201."""
    number = 0
    with server.client(KEY) as client:
        while not stop.is_set():
            size = 1 if number % 3 else 25
            events = [_event(f"kill_{worker}_{number}_{i}") for i in range(size)]
            number += 1
            try:
                answer = client.post("/api/usage-events", json=events if size > 1 else events[0])
            except httpx.HTTPError:
                return
            if answer.status_code == 201:
                acknowledged.update(event["customerEventId"] for event in events)


def test_sigkill_during_a_load_run_loses_and_doubles_nothing_acknowledged(tmp_path: Path) -> None:
    server = make_server(tmp_path, KEY).start()
    stop = threading.Event()
    acknowledged: list[set[str]] = [set() for _ in range(6)]
    workers = [
        threading.Thread(target=_load_run, args=(server, stop, acknowledged[n], n))
        for n in range(6)
    ]
    for worker in workers:
        worker.start()
    deadline = time.monotonic() + 10
    # Kill once some events were loaded and more are in flight.
    while time.monotonic() < deadline:
        loaded = server.rows("select count(*) from raw.usage_events")
        if loaded and loaded[0][0] > 200:
            break
        time.sleep(0.05)
    time.sleep(0.3)
    server.stop(signal.SIGKILL)
    stop.set()
    for worker in workers:
        worker.join()
    sent = set().union(*acknowledged)
    assert len(sent) > 500
    server.start()  # loads what the journal kept
    server.stop()  # and what is left, on the way out
    counts = dict(server.rows("select event_id, count(*) from raw.usage_events group by event_id"))
    missing = sent - counts.keys()
    doubled = {event_id: count for event_id, count in counts.items() if count != 1}
    assert not missing, f"{len(missing)} acknowledged events lost"
    assert not doubled, f"stored more than once: {list(doubled.items())[:5]}"
