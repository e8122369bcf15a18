"""`usage-billing load`: validation, reject file with line numbers, idempotent re-loads, and a
fuzz test over malformed files (ragged rows, bad quoting, huge fields, wrong types, invalid
UTF-8, BOM, blank lines, multi-line fields, empty file)."""

from __future__ import annotations

import csv
import io
import os
import re
import subprocess
from datetime import UTC, datetime
from pathlib import Path

import duckdb
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.support.warehouse_scenario import BIN_DIR, PROJECT_DIR, REPO_DIR
from usage_billing.errors import LoadError
from usage_billing.events.csv_load import LoadResult, load_csv
from usage_billing.events.table import EventsTable, events_table
from usage_billing.warehouse.duckdb import DuckDBWarehouse

EVENTS = EventsTable("raw", "usage_events")
UNSTAMPED = EventsTable("raw", "usage_events", loaded_at=None)
HEADER = b"event_id,customer_alias,event_type,event_timestamp,event_properties\n"


def _rows(database: Path | duckdb.DuckDBPyConnection) -> list[tuple[object, ...]]:
    sql = "select event_id, event_properties from raw.usage_events order by event_id"
    if isinstance(database, Path):
        with duckdb.connect(str(database), read_only=True) as connection:
            return connection.execute(sql).fetchall()
    return database.execute(sql).fetchall()


def test_events_table_comes_from_the_dbt_project_vars() -> None:
    assert events_table(PROJECT_DIR) == EVENTS


def test_cli_loads_once_and_reports_rejects_with_lines(tmp_path: Path) -> None:
    data = tmp_path / "events.csv"
    data.write_bytes(
        "\ufeffcustomerEventId,customerAlias,eventType,eventTimestamp,method,amount\n"
        "e1,acme_corp,transaction,2022-10-01T10:00:00Z,card,750\n"
        "e2,acme_corp,transaction,2022-10-01T11:00:00+02:00,bank_transfer,12.5\n"
        "e3,acme_corp,transaction,yesterday,card,1\n"
        "e4,acme_corp,transaction\n"
        ",acme_corp,transaction,2022-10-01,card,1\n".encode()
    )
    database = tmp_path / "warehouse.duckdb"
    environment = {**os.environ, "USAGE_BILLING_DUCKDB_PATH": str(database)}
    command = [
        str(BIN_DIR / "usage-billing"),
        "load",
        str(data),
        "--profiles-dir",
        str(REPO_DIR),
        "--project-dir",
        str(PROJECT_DIR),
    ]
    first = subprocess.run(command, env=environment, capture_output=True, text=True, check=False)
    assert first.returncode == 2, first.stderr
    assert "2 loaded" in first.stdout and "3 rejected" in first.stdout
    rejects = list(csv.DictReader((tmp_path / "events.csv.rejects.csv").open()))
    assert [(r["line"], r["reason"]) for r in rejects] == [
        ("4", "bad_timestamp"),
        ("5", "wrong_field_count"),
        ("6", "missing_event_id"),
    ]
    second = subprocess.run(command, env=environment, capture_output=True, text=True, check=False)
    assert "0 loaded" in second.stdout and "2 already loaded" in second.stdout
    assert _rows(database) == [
        ("e1", '{"method":"card","amount":750}'),
        ("e2", '{"method":"bank_transfer","amount":12.5}'),
    ]


def test_a_correction_is_appended_and_repeats_in_a_file_load_once(tmp_path: Path) -> None:
    connection = duckdb.connect()
    warehouse = DuckDBWarehouse(connection)
    first = tmp_path / "a.csv"
    first.write_bytes(
        HEADER + b'e1,acme,t,2022-10-01,"{""n"": 1}"\ne1,acme,t,2022-10-01,"{""n"": 1}"\n'
    )
    result = load_csv(warehouse, EVENTS, first)
    assert (result.loaded, result.repeated_in_file, result.rejected) == (1, 1, 0)
    second = tmp_path / "b.csv"
    second.write_bytes(
        HEADER + b'e1,acme,t,2022-10-01,"{""n"": 2}"\ne1,acme,t,2022-10-01,"{""n"": 3}"\n'
    )
    result = load_csv(warehouse, EVENTS, second)
    assert (result.loaded, result.rejected) == (1, 1)
    assert result.rejects[0].reason == "superseded_in_file" and result.rejects[0].line == 2
    assert _rows(connection) == [("e1", '{"n": 1}'), ("e1", '{"n": 3}')]


def _latest_payloads(connection: duckdb.DuckDBPyConnection) -> list[tuple[object, ...]]:
    """The version of each event_id dbt's staging bills (last loaded wins), and the row count."""
    return connection.execute(
        """
        select event_id, event_properties, count(*) over (partition by event_id)
        from raw.usage_events
        qualify row_number() over (partition by event_id order by loaded_at desc) = 1
        order by event_id
        """
    ).fetchall()


def _adds_up(result: LoadResult) -> bool:
    counts = (result.loaded, result.already_loaded, result.repeated_in_file, result.rejected)
    return min(counts) >= 0 and result.rows == sum(counts)


def test_loading_a_file_with_a_correction_again_inserts_nothing(tmp_path: Path) -> None:
    """Issue 22: the second load re-inserted the superseded row, which became the last loaded
    and was billed (5 instead of 6)."""
    connection = duckdb.connect()
    warehouse = DuckDBWarehouse(connection)
    corrected = tmp_path / "corrected.csv"
    corrected.write_bytes(
        HEADER
        + b'e1,acme,t,2022-10-01,"{""n"": 5}"\ne2,acme,t,2022-10-01,{}\n'
        + b'e1,acme,t,2022-10-01,"{""n"": 6}"\n'
    )
    first = load_csv(warehouse, EVENTS, corrected)
    assert (first.rows, first.loaded, first.rejected) == (3, 2, 1) and _adds_up(first)
    for _ in range(2):
        again = load_csv(warehouse, EVENTS, corrected)
        assert (again.loaded, again.already_loaded, again.rejected) == (0, 2, 1)
        assert [(r.line, r.reason) for r in again.rejects] == [(2, "superseded_in_file")]
        assert _adds_up(again)
        assert _latest_payloads(connection) == [("e1", '{"n": 6}', 1), ("e2", "{}", 1)]
    # A new correction in another file is still a correction, and re-loading the first file
    # afterwards brings back neither of its versions.
    newer = tmp_path / "newer.csv"
    newer.write_bytes(HEADER + b'e1,acme,t,2022-10-01,"{""n"": 7}"\n')
    assert load_csv(warehouse, EVENTS, newer).loaded == 1
    assert load_csv(warehouse, EVENTS, corrected).loaded == 0
    assert _latest_payloads(connection) == [("e1", '{"n": 7}', 2), ("e2", "{}", 1)]


def test_repeats_and_corrections_without_a_loaded_at_column(tmp_path: Path) -> None:
    connection = duckdb.connect()
    warehouse = DuckDBWarehouse(connection)
    path = tmp_path / "a.csv"
    path.write_bytes(
        HEADER
        + b"e1,acme,t,2022-10-01,{}\ne2,acme,t,2022-10-01,{}\n"
        + b'e1,acme,t,2022-10-01,"{""n"": 2}"\ne2,acme,t,2022-10-01,{}\ne3,acme,t,2022-10-01,{}\n'
    )
    result = load_csv(warehouse, UNSTAMPED, path)
    assert (result.loaded, result.repeated_in_file) == (3, 1)
    assert [(r.line, r.reason) for r in result.rejects] == [(2, "superseded_in_file")]
    assert _rows(connection) == [("e1", '{"n": 2}'), ("e2", "{}"), ("e3", "{}")]
    assert connection.execute("select count(*) from raw.usage_events").fetchone() == (3,)
    again = load_csv(warehouse, UNSTAMPED, path)
    assert (again.loaded, again.already_loaded) == (0, 3)


def test_each_load_has_its_own_loaded_at_after_every_earlier_one(tmp_path: Path) -> None:
    connection = duckdb.connect()
    warehouse = DuckDBWarehouse(connection)
    path = tmp_path / "a.csv"
    path.write_bytes(HEADER + b"e1,acme,t,2022-10-01,{}\n")
    future = datetime(2099, 1, 1, tzinfo=UTC)
    assert load_csv(warehouse, EVENTS, path, now=future).loaded == 1
    path.write_bytes(HEADER + b"e2,acme,t,2022-10-01,{}\n")
    later = load_csv(warehouse, EVENTS, path)
    assert later.loaded == 1 and later.loaded_at is not None
    stamps = connection.execute(
        "select event_id, loaded_at from raw.usage_events order by event_id"
    ).fetchall()
    assert stamps == [("e1", datetime(2099, 1, 1)), ("e2", later.loaded_at)]
    assert later.loaded_at > datetime(2099, 1, 1)


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"", "empty file"),
        (b"event_id,customer_alias\n", "header lacks event_type, event_timestamp"),
        (b"event_id,event_id,customer_alias,event_type,event_timestamp\n", "twice"),
        (b"event_id,customer_alias,event_type,event_timestamp,loaded_at\n", "loaded_at"),
        (b"\xff\xfeevent_id,customer_alias\n", "not UTF-8"),
    ],
)
def test_unloadable_files_say_why(tmp_path: Path, content: bytes, message: str) -> None:
    path = tmp_path / "bad.csv"
    path.write_bytes(content)
    with pytest.raises(LoadError, match=message):
        load_csv(DuckDBWarehouse(duckdb.connect()), EVENTS, path)


def test_a_huge_field_is_rejected_not_fatal(tmp_path: Path) -> None:
    path = tmp_path / "huge.csv"
    huge = b'"{""blob"": ""' + b"x" * (3 * 1024 * 1024) + b'""}"'
    path.write_bytes(
        HEADER
        + b"e1,acme,t,2022-10-01,{}\ne2,acme,t,2022-10-01,"
        + huge
        + b"\n"
        + b"e3,acme,t,2022-10-01,{}\n"
    )
    result = load_csv(DuckDBWarehouse(duckdb.connect()), EVENTS, path)
    assert result.loaded == 2
    assert [(r.line, r.reason) for r in result.rejects] == [(3, "line_too_long")]


GOOD = st.builds(
    lambda n, props: ("good", f"e{n}", props),
    st.integers(0, 10**6),
    st.sampled_from(["{}", '{"amount": 5}', '"{""a"": ""x,y""}"', '"{""multi"":\n""line""}"']),
)
BAD = st.sampled_from(
    [
        ("bad", "bad_timestamp", b"{id},acme,t,not-a-time,{{}}"),
        ("bad", "bad_timestamp", b"{id},acme,t,2022-13-45,{{}}"),
        ("bad", "bad_properties", b"{id},acme,t,2022-10-01,[1]"),
        ("bad", "bad_properties", b'{id},acme,t,2022-10-01,"{{""a"":"'),
        ("bad", "missing_customer_alias", b"{id},,t,2022-10-01,{{}}"),
        ("bad", "missing_event_id", b",acme,t,2022-10-01,{{}}"),
        ("bad", "wrong_field_count", b"{id},acme,t"),
        ("bad", "wrong_field_count", b"{id},acme,t,2022-10-01,{{}},extra"),
        ("bad", "bad_quoting", b'{id},"ac"me,t,2022-10-01,{{}}'),
        ("bad", "bad_encoding", b"{id},ac\xffme,t,2022-10-01,{{}}"),
    ]
)


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    records=st.lists(st.one_of(GOOD, BAD, st.just(("blank",))), max_size=25),
    bom=st.booleans(),
    crlf=st.booleans(),
    stamped=st.booleans(),
)
def test_fuzzed_files_load_every_good_row_once_and_report_every_bad_line(
    tmp_path: Path, records: list[tuple[object, ...]], bom: bool, crlf: bool, stamped: bool
) -> None:
    newline = b"\r\n" if crlf else b"\n"
    content = io.BytesIO()
    content.write((b"\xef\xbb\xbf" if bom else b"") + HEADER.rstrip(b"\n") + newline)
    line, good_ids, bad_lines = 2, set(), {}
    for number, record in enumerate(records):
        if record[0] == "blank":
            content.write(newline)
            line += 1
            continue
        if record[0] == "good":
            _, event_id, props = record
            event_id = f"{event_id}_{number}"
            text = f"{event_id},acme,t,2022-10-01T00:00:00Z,{props}".encode()
            good_ids.add(event_id)
        else:
            _, reason, template = record
            text = template.replace(b"{id}", f"bad{number}".encode()).replace(b"{{}}", b"{}")
            bad_lines[line] = reason
        content.write(text.replace(b"\n", newline) + newline)
        line += text.count(b"\n") + 1
    path = tmp_path / "fuzz.csv"
    path.write_bytes(content.getvalue())
    connection = duckdb.connect()
    warehouse = DuckDBWarehouse(connection)
    events = EVENTS if stamped else UNSTAMPED
    result = load_csv(warehouse, events, path, reject_file=tmp_path / "rejects.csv")
    assert {r.line: r.reason for r in result.rejects} == bad_lines
    assert {row[0] for row in _rows(connection)} == good_ids
    assert result.loaded == len(good_ids) and _adds_up(result)
    again = load_csv(warehouse, events, path, reject_file=tmp_path / "rejects.csv")
    assert again.loaded == 0 and again.already_loaded == len(good_ids) and _adds_up(again)


def test_the_reject_file_the_docs_and_help_name_is_the_one_written(tmp_path: Path) -> None:
    data = tmp_path / "events.csv"
    data.write_bytes(HEADER + b"e1,acme,t,yesterday,{}\n")
    result = load_csv(DuckDBWarehouse(duckdb.connect()), EVENTS, data)
    assert result.rejected == 1 and result.reject_file is not None
    written = result.reject_file.name
    help_text = subprocess.run(
        [str(BIN_DIR / "usage-billing"), "load", "--help"],
        env={**os.environ, "COLUMNS": "200"},
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    for name, text in [
        ("README.md", (REPO_DIR / "README.md").read_text()),
        ("docs/cli.md", (REPO_DIR / "docs" / "cli.md").read_text()),
        ("load --help", help_text),
    ]:
        stated = set(re.findall(r"FILE[\w.]*\.rejects\.csv", text))
        assert stated, f"{name} names no reject file"
        assert {pattern.replace("FILE.csv", data.name) for pattern in stated} == {written}, name
