"""The event contract (usage_billing/events/contract.py) holds in all three places that check
events: one corpus of odd inputs goes through the ingestion API (a real server), the CSV loader
(a real file into DuckDB) and the dbt build (the raw table on DuckDB), and each event gets the
same verdict everywhere: accepted, or refused for the same reason. An accepted event's UTC
instant is the same in the API's stored text and the build's event_at."""

from __future__ import annotations

import csv
import io
import json
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import duckdb
import httpx
import pytest
import yaml

from tests.support.ingest_server import IngestServer, make_server
from tests.support.warehouse_scenario import MARTS_SCHEMA, REPO_DIR, Pricing, build
from usage_billing.errors import LoadError
from usage_billing.events import contract
from usage_billing.events.csv_load import load_csv
from usage_billing.events.table import EventsTable
from usage_billing.warehouse.duckdb import DuckDBWarehouse

ALIAS = "c1"
GOOD_TIME = "2024-01-10T08:00:00Z"
GOOD_PROPERTIES = '{"n": 1}'


@dataclass(frozen=True)
class Case:
    """One corpus event: its raw texts (None is a missing value)."""

    event_id: str | None
    customer_alias: str | None = ALIAS
    event_type: str | None = "usage"
    event_timestamp: str | None = GOOD_TIME
    event_properties: str | None = GOOD_PROPERTIES

    def fields(self) -> tuple[str | None, ...]:
        return (
            self.event_id,
            self.customer_alias,
            self.event_type,
            self.event_timestamp,
            self.event_properties,
        )

    @property
    def in_text(self) -> bool:
        """Whether a UTF-8 file or a warehouse's text can hold it (a lone surrogate cannot)."""
        return all(value is None or _encodable(value) for value in self.fields())


def _encodable(text: str) -> bool:
    try:
        text.encode()
    except UnicodeEncodeError:
        return False
    return True


TIMESTAMPS = [
    "2024-01-10", "2024-01-10T08:00", "2024-01-10T08:00:00", "2024-01-10 08:00:00",
    "2024-01-10T08:00:00Z", "2024-01-10T08:00:00z", "2024-01-10t08:00:00Z",
    "2024-01-10T08:00:00.5Z", "2024-01-10T08:00:00.123456Z", "2024-01-10T08:00:00.1234567Z",
    "2024-01-10T08:00:00.Z", "2024-01-10T08:00:00+05:30", "2024-01-10T08:00:00+0530",
    "2024-01-10T08:00:00+05", "2024-01-10T08:00:00-18:00", "2024-01-10T08:00:00+18:30",
    "2024-01-10T08:00:00+15:59", "2024-01-10T08:00:00-16:00",
    "2024-01-10T08:00:00+19:00", "2024-01-10T08:00:00-00:00", "2024-01-10T08:00:00 +05:30",
    "2024-01-10T08:00:00+05:30[Asia/Kolkata]", "2022-W40-4T00:00:00Z", "2022-279T08:00:00Z",
    "20240110T080000Z", "2022-10-06T000000.5Z", "2022-10-06T00:00.50Z", "2024-01-10T24:00:00Z",
    "2024-01-10T23:59:60Z", "2023-02-29", "2024-02-29T12:00:00Z", "2024-13-01", "2024-1-10",
    " 2024-01-10T08:00:00Z", "2024-01-10T08:00:00Z ", "", "   ", None, "now", "1704873600",
    "+2024-01-10", "0001-01-01T00:00:00Z", "0001-01-01T00:00:00+01:00",
    "9999-12-31T23:59:59Z", "9999-12-31T23:59:59-01:00", "1970-01-01T00:00:00Z",
    "1999-12-31T23:59:59.999999Z", "2000-01-01T00:00:00Z", "2000-01-01T00:30:00+01:00",
    "2099-12-31T23:59:59.999999Z", "2100-01-01T00:00:00Z", "2100-01-01T00:30:00+01:00",
]  # fmt: skip

TEXTS = [
    None, "", "   ", "a\x00b", "a\tb", "a\nb", "a\rb", "x\x7f", "x\x1f", " padded ",
    "ünïcödé-😀", 'quote"s', "apos'trophe", "com,ma", "x" * 1000, "\ud800", "a\udfffb",
    "\u00a0", "\u2028",
]  # fmt: skip

PROPERTIES = [
    None, "", "  ", "{}", '{"n": 1}', "[1]", "1", '"s"', "null", '{"n": NaN}', '{"n": nan}',
    '{"n": Infinity}', '{"n": -inf}', '{"n": 1,}', '{"a": [1, 2,]}', '{"s": "x, NaN"}',
    '{"s": "a, }"}', '{"n": 1e999}', '{"n": -1e-999}', '{"n": -5}',
    '{"n": 123456789012345678901234567890.123456789012345678901234567890}', '{"n": 01}',
    '{"n": .5}', '{"n": +1}', '{"n": 0x10}', "{'n': 1}", "{n: 1}", '{"n": 1} x',
    '{"n": 1}{"m": 2}', '{"s": "\\u0000"}', '{"s": "\\ud800"}', '{"s": "a\x00b"}',
    '{"s": "a\tb"}', '{"s": "\\x41"}', '{"a": 1, "a": 2}', '{"n": true}', '{"n": True}',
    ' {"n": 1} ', '\ufeff{"n": 1}', '{"a": {"b": {"c": [1, {"d": null}]}}}',
    '{"s": "' + "[" * 40 + '"}', '{"s": "' + "x" * 100_000 + '"}',
    '{"a": ' + "[" * 31 + "]" * 31 + "}", '{"a": ' + "[" * 32 + "]" * 32 + "}",
    '{"a": ' + "[" * 1000 + "]" * 1000 + "}",
    '{"a": [], "b": ' + '{"c": ' * 31 + "1" + "}" * 31 + "}",
    '{"a": [], "b": ' + '{"c": ' * 32 + "1" + "}" * 32 + "}",
]  # fmt: skip


def _corpus() -> list[Case]:
    cases = [Case(f"ts{index}", event_timestamp=text) for index, text in enumerate(TIMESTAMPS)]
    cases += [Case(f"p{index}", event_properties=text) for index, text in enumerate(PROPERTIES)]
    cases += [Case(text) for text in TEXTS]
    cases += [Case(f"a{index}", customer_alias=text) for index, text in enumerate(TEXTS)]
    cases += [Case(f"t{index}", event_type=text) for index, text in enumerate(TEXTS)]
    return cases


CORPUS = _corpus()
# The build's reasons that need its other tables: the corpus's events are valid apart from
# their one odd field, and only c1 is a customer.
BUILD_REASONS = {reason.code for reason in contract.REASONS if not reason.decided_by_event}


def expected_reason(case: Case) -> str | None:
    """The contract's verdict, from its Python checks."""
    for field, value in zip(
        ("event_id", "customer_alias", "event_type"), case.fields(), strict=False
    ):
        reason = contract.text_reason(field, value)
        if reason:
            return reason
    return contract.timestamp_reason(case.event_timestamp) or contract.properties_reason(
        case.event_properties
    )


def test_the_contract_refuses_what_it_should() -> None:
    # The corpus exercises every reason the event decides, and accepts plenty.
    verdicts = [expected_reason(case) for case in CORPUS]
    decided = {reason.code for reason in contract.REASONS if reason.decided_by_event}
    assert decided <= set(verdicts)
    assert verdicts.count(None) > 40
    assert expected_reason(Case("x", event_timestamp="2022-W40-4T00:00:00Z")) == "bad_timestamp"
    assert expected_reason(Case("x", event_timestamp="0001-01-01T00:00:00Z")) == (
        "timestamp_out_of_range"
    )
    assert expected_reason(Case("x", event_properties='{"n": NaN}')) == "bad_properties"


def test_the_dbt_macro_is_what_the_contract_writes() -> None:
    written = (REPO_DIR / contract.MACRO_PATH).read_text()
    assert written == contract.dbt_macro(), "run: python -m usage_billing.events.contract"


def test_the_rejects_table_accepts_exactly_the_contract_reasons() -> None:
    document = yaml.safe_load(
        (REPO_DIR / "models/marts/usage_billing__usage_events_rejected.yml").read_text()
    )
    (column,) = [
        column
        for column in document["models"][0]["columns"]
        if column["name"] == "rejection_reason"
    ]
    (accepted,) = [test for test in column["data_tests"] if isinstance(test, dict)]
    assert accepted["accepted_values"]["arguments"]["values"] == [
        reason.code for reason in contract.REASONS
    ]


@pytest.fixture(scope="module")
def build_verdicts(
    tmp_path_factory: pytest.TempPathFactory,
) -> dict[str, tuple[str | None, datetime | None]]:
    """The dbt build's (reason, event_at) per corpus event, keyed by the case's position."""
    events = [
        (*case.fields(), f"2024-03-01 00:00:{index // 1000:02d}.{index % 1000:06d}")
        for index, case in enumerate(CORPUS)
        if case.in_text
    ]
    pricing = Pricing(
        customers=[{"customer_id": "cus_1", "name": "One"}],
        customer_aliases=[{"alias": ALIAS, "customer_id": "cus_1"}],
        plans=[],
        subscriptions=[],
        prices=[],
    )
    scenario = build(
        Path(tmp_path_factory.mktemp("contract")),
        events,
        pricing,
        {"usage_billing_metrics": [], "usage_billing_as_of": "2024-03-02 00:00:00"},
    )
    rows = scenario.rows(
        f"""
        select loaded_at, rejection_reason, event_at
        from {MARTS_SCHEMA}.usage_billing__int_usage_events_validated
        """
    )
    verdicts = {}
    for loaded_at, reason, event_at in rows:
        index = loaded_at.second * 1000 + loaded_at.microsecond
        verdicts[str(index)] = (reason, event_at)
    return verdicts


def test_the_build_agrees_with_the_contract(
    build_verdicts: dict[str, tuple[str | None, datetime | None]],
) -> None:
    differences = []
    for index, case in enumerate(CORPUS):
        if not case.in_text:
            continue
        reason, event_at = build_verdicts[str(index)]
        reason = None if reason in BUILD_REASONS else reason
        expected = expected_reason(case)
        if reason != expected:
            differences.append((case.fields(), expected, reason))
        elif expected is None:
            moment = contract.parse_timestamp(case.event_timestamp or "")
            assert moment is not None and event_at == moment.replace(tzinfo=None), case
    assert not differences, _shown(differences)


def _has_lone_carriage_return(case: Case) -> bool:
    return any(value and re.search("\r(?!\n)", value) for value in case.fields())


def test_the_loader_agrees_with_the_contract(tmp_path: Path) -> None:
    cases = [case for case in CORPUS if case.in_text and not _has_lone_carriage_return(case)]
    path = tmp_path / "corpus.csv"
    lines = []
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(
            ["event_id", "customer_alias", "event_type", "event_timestamp", "event_properties"]
        )
        line = 2
        for case in cases:
            lines.append(line)
            text = _csv_line(case)
            handle.write(text)
            # The loader numbers physical lines, a lone carriage return ending one too.
            line += len(re.findall("\r\n|\r|\n", text))
    with duckdb.connect(str(tmp_path / "loaded.duckdb")) as connection:
        result = load_csv(DuckDBWarehouse(connection), EventsTable("raw", "usage_events"), path)
        by_line = {reject.line: reject.reason for reject in result.rejects}
        differences = []
        for case, line in zip(cases, lines, strict=True):
            expected = expected_reason(case)
            if by_line.get(line) != expected:
                differences.append((case.fields(), expected, by_line.get(line)))
        assert not differences, _shown(differences)
        assert result.loaded == sum(expected_reason(case) is None for case in cases)


def test_the_loader_refuses_a_file_its_reader_cannot_split(tmp_path: Path) -> None:
    # DuckDB's CSV reader cannot read a lone carriage return inside a quoted field; the loader
    # then loads nothing of the file and says why, rather than guess where records end.
    path = tmp_path / "carriage_return.csv"
    case = next(case for case in CORPUS if _has_lone_carriage_return(case))
    path.write_text("event_id,customer_alias,event_type,event_timestamp\n" + _csv_line(case))
    with duckdb.connect(str(tmp_path / "loaded.duckdb")) as connection:
        with pytest.raises(LoadError, match="cannot be read as CSV"):
            load_csv(DuckDBWarehouse(connection), EventsTable("raw", "usage_events"), path)
        tables = connection.execute("select count(*) from duckdb_tables()").fetchone()
        assert tables == (0,) or connection.execute(
            "select count(*) from raw.usage_events"
        ).fetchone() == (0,)


def _csv_line(case: Case) -> str:
    buffer = io.StringIO()
    cells = ["" if value is None else value for value in case.fields()]
    csv.writer(buffer, lineterminator="\n").writerow(cells)
    return buffer.getvalue()


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> IngestServer:
    running = make_server(Path(tmp_path_factory.mktemp("api")), "k1").start()
    yield running
    running.stop()


def test_the_api_agrees_with_the_contract(server: IngestServer) -> None:
    """The API fills a missing id (a new UUID) and a missing timestamp (now), as Sequence's API
    does, and takes properties as JSON, not text; those cases are left out."""
    differences = []
    with server.client("k1") as client:
        for case in CORPUS:
            if case.event_id is None or case.event_timestamp is None:
                continue
            if case.event_properties is not None and not case.event_properties.strip():
                continue
            body = _api_body(case)
            answer = client.post("/api/usage-events", content=body, headers=_JSON)
            expected = expected_reason(case)
            verdict = _api_verdict(answer)
            if verdict != expected:
                differences.append((case.fields(), expected, verdict, answer.status_code))
            elif expected is None:
                stored = answer.json()["eventTimestamp"]
                moment = contract.parse_timestamp(case.event_timestamp)
                assert moment is not None and stored == contract.utc_text(moment), case
    assert not differences, _shown(differences)


_JSON = {"Content-Type": "application/json"}


def _api_body(case: Case) -> bytes:
    """The body as a client would send it: the texts as JSON strings, the properties as the
    JSON text itself."""
    parts = [f'"customerEventId": {json.dumps(case.event_id)}']
    for name, value in (
        ("customerAlias", case.customer_alias),
        ("eventType", case.event_type),
        ("eventTimestamp", case.event_timestamp),
    ):
        if value is not None:
            parts.append(f"{json.dumps(name)}: {json.dumps(value)}")
    if case.event_properties is not None:
        parts.append(f'"eventProperties": {case.event_properties}')
    return ("{" + ", ".join(parts) + "}").encode("utf-8", "surrogatepass")


def _api_verdict(answer: httpx.Response) -> str | None:
    """None for a 201; for a 400 the contract reason it names (a body that is not JSON is the
    properties' fault here: every other field is written by json.dumps)."""
    if answer.status_code == 201:
        return None
    assert answer.status_code == 400, answer.text
    codes = {error["code"] for error in answer.json()["errors"]}
    if codes & {"invalid_json", "not_an_object"}:
        return "bad_properties"
    (code,) = codes
    return str(code)


def _shown(differences: list[tuple[object, ...]]) -> str:
    return "\n".join(repr(difference)[:300] for difference in differences)


def test_corpus_timestamps_cover_the_clock() -> None:
    # Sanity of the corpus itself: a timestamp the contract accepts is a moment of 2000–2099.
    for text in TIMESTAMPS:
        if text is not None and contract.timestamp_reason(text) is None:
            moment = contract.parse_timestamp(text)
            assert moment is not None and 2000 <= moment.astimezone(UTC).year < 2100
