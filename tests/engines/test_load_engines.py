"""`usage-billing load` and the ingestion API writing raw events to PostgreSQL and to Snowflake
(fakesnow): the rows equal what a DuckDB target gets from the same file, a re-load inserts
nothing, a corrected version is appended once, and after a SIGKILL in the middle of a load (or
of the server's loader) the same command run again leaves every accepted event exactly once.
Engines not tested here get an error naming the ones that are."""

from __future__ import annotations

import contextlib
import csv
import itertools
import json
import os
import signal
import subprocess
import threading
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from unittest import mock

import duckdb
import httpx
import psycopg2
import pytest

from tests.engines.runs import environment
from tests.support.ingest_server import make_server
from tests.support.warehouse_scenario import BIN_DIR, PROJECT_DIR, REPO_DIR
from usage_billing.errors import LoadError
from usage_billing.events.csv_load import LoadResult, load_csv
from usage_billing.events.csv_load.remote import load_csv_remote
from usage_billing.events.remote_table import RemoteEvents
from usage_billing.events.segment_remote import load_segment, segment_stamp
from usage_billing.events.table import events_table
from usage_billing.warehouse.duckdb import DuckDBWarehouse
from usage_billing.warehouse.engines import open_warehouse
from usage_billing.warehouse.profile import WarehouseTarget, load_target

pytestmark = pytest.mark.engines

ENGINES = ["postgres", "snowflake"]
KEY = "ub_engines_key_5d1e"
# Rows of the file a load is killed in: enough for several batches (remote_table.BATCH_ROWS);
# fakesnow takes about 2.5 ms a row, PostgreSQL a fraction of that.
KILLED_LOAD_ROWS = {"postgres": 20_000, "snowflake": 1_500}
# Requests of 10 events each client of the ingestion API sends at most before the kill stops
# it: on fakesnow a bound, so the restart's backlog loads in seconds; PostgreSQL keeps up.
API_REQUESTS: dict[str, int | None] = {"postgres": None, "snowflake": 40}
HEADER = ["event_id", "customer_alias", "event_type", "event_timestamp", "amount", "method"]
_databases = itertools.count(1)


@dataclass
class Target:
    """A fresh database of one engine's stand-in, and the environment that makes it the
    profile's target."""

    engine: str
    environment: dict[str, str]

    def run(self, *arguments: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(BIN_DIR / "usage-billing"), *arguments, *_project_options()],
            capture_output=True,
            text=True,
            env=self.environment,
            check=False,
        )

    def warehouse_target(self) -> WarehouseTarget:
        with mock.patch.dict(os.environ, self.environment, clear=True):
            return load_target(REPO_DIR)

    def load(self, path: Path) -> LoadResult:
        """`load` in this process: the CLI's own run is tested once, its imports cost seconds."""
        with open_warehouse(self.warehouse_target()) as warehouse:
            return load_csv_remote(warehouse, events_table(PROJECT_DIR), path)

    def rows(self, sql: str) -> list[tuple[Any, ...]]:
        with open_warehouse(self.warehouse_target()) as warehouse:
            if not warehouse.table_columns("raw", "usage_events"):
                return []
            return warehouse.fetch_all(sql)

    def events(self) -> list[tuple[Any, ...]]:
        """Every raw row but its stamp, in a stable order."""
        return sorted(
            self.rows(
                "select event_id, customer_alias, event_type, event_timestamp, event_properties"
                " from raw.usage_events"
            ),
            key=repr,
        )

    def counts(self) -> dict[str, int]:
        rows = self.rows("select event_id, count(*) from raw.usage_events group by event_id")
        return {str(event_id): int(count) for event_id, count in rows}


def _project_options() -> list[str]:
    return ["--profiles-dir", str(REPO_DIR), "--project-dir", str(PROJECT_DIR)]


def _environment(engine: str, stand_ins: dict[str, Any], directory: Path) -> dict[str, str]:
    values = environment(engine, directory, stand_ins, "http://127.0.0.1:9")
    values["USAGE_BILLING_TARGET"] = engine
    return values


@pytest.fixture(params=ENGINES)
def target(request: pytest.FixtureRequest, stand_ins: dict[str, Any], tmp_path: Path) -> Target:
    engine: str = request.param
    values = _environment(engine, stand_ins, tmp_path)
    database = f"load_{os.getpid()}_{next(_databases)}"
    if engine == "postgres":
        postgres = stand_ins["postgres"]
        with contextlib.closing(
            psycopg2.connect(
                host="127.0.0.1", port=postgres.port, user=postgres.user, dbname=postgres.database
            )
        ) as connection:
            connection.autocommit = True  # create database runs outside a transaction
            connection.cursor().execute(f"create database {database}")
        values["USAGE_BILLING_POSTGRES_DATABASE"] = database
    else:  # fakesnow creates a database on first use
        values["USAGE_BILLING_SNOWFLAKE_DATABASE"] = database
    return Target(engine, values)


def _write(path: Path, rows: list[list[str]]) -> Path:
    with path.open("w", newline="") as handle:
        csv.writer(handle).writerows([HEADER, *rows])
    return path


def _mixed_file(path: Path) -> Path:
    """Good rows, a bad timestamp, a plain repeat, and an id corrected later in the file."""
    return _write(
        path,
        [
            ["e1", "acme_corp", "transaction", "2022-10-01T10:00:00Z", "12.50", "card"],
            ["e2", "acme_corp", "transaction", "2022-10-02T10:00:00+02:00", "7", ""],
            ["e3", "acme_corp", "transaction", "not a time", "1", "card"],
            ["e1", "acme_corp", "transaction", "2022-10-01T10:00:00Z", "12.50", "card"],
            ["e4", "globex", "api_request", "2022-10-03 08:00:00", "", "sepa"],
            ["e4", "globex", "api_request", "2022-10-03 08:00:00", "3", "sepa"],
        ],
    )


def test_load_writes_what_duckdb_gets_and_a_reload_inserts_nothing(
    target: Target, tmp_path: Path
) -> None:
    source = _mixed_file(tmp_path / "events.csv")
    first = target.run("load", str(source))
    assert first.returncode == 2, first.stdout + first.stderr  # 2: rows were rejected
    assert "3 loaded" in first.stdout and "2 rejected" in first.stdout, first.stdout
    rejects = (tmp_path / "events.csv.rejects.csv").read_text()
    assert "bad_timestamp" in rejects and "superseded_in_file" in rejects

    with DuckDBWarehouse(duckdb.connect()) as reference:
        load_csv(reference, events_table(PROJECT_DIR), source, tmp_path / "reference.csv")
        expected = reference.fetch_all(
            "select event_id, customer_alias, event_type, event_timestamp, event_properties"
            " from raw.usage_events"
        )
    assert target.events() == sorted(expected, key=repr)
    assert (tmp_path / "reference.csv").read_text() == rejects

    again = target.load(source)
    assert (again.loaded, again.already_loaded, again.rejected) == (0, 3, 2)
    assert (tmp_path / "events.csv.rejects.csv").read_text() == rejects
    assert target.counts() == {"e1": 1, "e2": 1, "e4": 1}

    corrected = _write(
        tmp_path / "corrected.csv",
        [["e2", "acme_corp", "transaction", "2022-10-02T10:00:00+02:00", "8", ""]],
    )
    assert target.load(corrected).loaded == 1
    # The first version of e2 was loaded once already: it is never inserted again.
    assert target.load(source).loaded == 0
    assert target.counts() == {"e1": 1, "e2": 2, "e4": 1}


def test_a_load_killed_midway_and_run_again_leaves_each_event_once(
    target: Target, tmp_path: Path
) -> None:
    total = KILLED_LOAD_ROWS[target.engine]
    rows = [
        [f"k{n}", f"customer_{n % 7}", "transaction", "2022-10-05T12:00:00Z", str(n), "card"]
        for n in range(total)
    ]
    rows.append(["bad", "acme_corp", "transaction", "2022-13-45T00:00:00Z", "1", "card"])
    source = _write(tmp_path / "big.csv", rows)
    first = subprocess.Popen(
        [str(BIN_DIR / "usage-billing"), "load", str(source), *_project_options()],
        env=target.environment,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    loaded_when_killed = 0
    while first.poll() is None and loaded_when_killed == 0:
        loaded_when_killed = sum(target.counts().values())
    first.send_signal(signal.SIGKILL)
    first.wait()
    assert 0 < loaded_when_killed < total, "the kill did not land in the middle of the load"

    again = target.load(source)
    # What the killed run stored counts as already loaded (a batch it sent as it died may
    # have gone in after the count above).
    assert again.already_loaded >= loaded_when_killed
    assert again.loaded + again.already_loaded == total
    counts = target.counts()
    assert len(counts) == total and set(counts.values()) == {1}
    rejects = list(csv.DictReader((tmp_path / "big.csv.rejects.csv").open()))
    assert [(row["line"], row["reason"]) for row in rejects] == [(str(total + 2), "bad_timestamp")]


def _post_until_stopped(
    url: str, stop: threading.Event, acknowledged: set[str], worker: int, limit: int | None
) -> None:
    headers = {"Authorization": f"Bearer {KEY}"}
    with httpx.Client(base_url=url, headers=headers, trust_env=False, timeout=10) as client:
        for number in itertools.islice(itertools.count(), limit):
            if stop.is_set():
                return
            events = [
                {
                    "customerEventId": f"api_{worker}_{number}_{i}",
                    "customerAlias": "acme_corp",
                    "eventType": "transaction",
                    "eventTimestamp": "2022-10-05T12:00:00Z",
                    "eventProperties": {"amount": 100, "currency": "EUR"},
                }
                for i in range(10)
            ]
            try:
                answer = client.post("/api/usage-events", json=events)
            except httpx.HTTPError:
                return
            if answer.status_code == 201:
                acknowledged.update(event["customerEventId"] for event in events)


def test_ingestion_api_killed_then_restarted_stores_each_event_once(
    target: Target, tmp_path: Path
) -> None:
    server_directory = tmp_path / "server"
    server = make_server(server_directory, KEY)
    server.environment.update(target.environment)
    server.environment["USAGE_BILLING_API_KEYS"] = KEY
    journal = ["--journal-dir", str(server_directory / "journal")]
    server.start(*journal)
    stop = threading.Event()
    acknowledged: list[set[str]] = [set() for _ in range(3)]
    workers = [
        threading.Thread(
            target=_post_until_stopped,
            args=(server.url, stop, acknowledged[n], n, API_REQUESTS[target.engine]),
        )
        for n in range(3)
    ]
    for worker in workers:
        worker.start()
    deadline = time.monotonic() + 120
    # Killed once some events reached the warehouse and more are in flight.
    while sum(target.counts().values()) < 100:
        assert server.process is not None and server.process.poll() is None, server.log.read_text()
        assert time.monotonic() < deadline, "nothing loaded:\n" + server.log.read_text()
        time.sleep(0.05)
    server.stop(signal.SIGKILL)  # events in flight, some in the journal only
    stop.set()
    for worker in workers:
        worker.join()
    sent = set().union(*acknowledged)
    stored_before_restart = sum(target.counts().values())

    server.start(*journal)  # loads what the journal kept
    with server.client(KEY) as client:
        event = {
            "customerAlias": "acme_corp",
            "eventType": "seat",
            "customerEventId": "resent",
            "eventTimestamp": "2022-10-06T09:00:00Z",  # absent, it would be now: a change
        }
        for properties in ({"seats": 1}, {"seats": 1}, {"seats": 2}):
            answer = client.post("/api/usage-events", json={**event, "eventProperties": properties})
            assert answer.status_code == 201, answer.text
        # The pages read a DuckDB target's marts only, and say they cannot show them.
        assert client.get("/invoices").status_code == 503
    server.stop()  # and what is left, on the way out

    counts = target.counts()
    missing = sent - counts.keys()
    doubled = {event_id: count for event_id, count in counts.items() if count != 1}
    assert len(sent) > stored_before_restart, "nothing was left for the restart to load"
    assert not missing, f"{len(missing)} acknowledged events lost"
    # An identical resend adds nothing, a changed one supersedes: two versions of `resent`.
    assert doubled == {"resent": 2}, f"stored more than once: {list(doubled.items())[:5]}"


@pytest.mark.parametrize(
    ("command", "engine"),
    [("load", "bigquery"), ("serve", "spark")],
)
def test_untested_engines_get_an_error_naming_the_supported_ones(
    command: str, engine: str, tmp_path: Path
) -> None:
    arguments = [str(_write(tmp_path / "events.csv", []))] if command == "load" else []
    result = subprocess.run(
        [str(BIN_DIR / "usage-billing"), command, *arguments, *_project_options()],
        capture_output=True,
        text=True,
        env={**os.environ, "USAGE_BILLING_TARGET": engine},
        check=False,
    )
    assert result.returncode == 1
    assert (
        f"`{command}` writes raw events to duckdb, postgres, snowflake targets (the engines it"
        f" is tested on); target '{engine}' is {engine}"
    ) in " ".join(result.stderr.split())


def test_a_segment_loaded_again_after_a_crash_adds_nothing(target: Target, tmp_path: Path) -> None:
    """The window between a segment's last batch and its removal: a crash there leaves the
    segment to be loaded again, and its second version of an id must not come back."""
    _create_raw_table(target, "timestamp", "varchar")  # the API's default table is text
    journal = tmp_path / "journal"
    journal.mkdir()
    segment = journal / "00000000000000000001.jsonl"
    lines = [
        ("twice", '{"seats":1}', 1),
        ("twice", '{"seats":2}', 2),
        ("once", '{"seats":5}', 3),
    ]
    segment.write_text(
        "".join(
            json.dumps(
                {
                    "seq": seq,
                    "request": seq,
                    "lines": 1,
                    "event_id": event_id,
                    "customer_alias": "acme_corp",
                    "event_type": "seat",
                    "event_timestamp": "2022-10-06T09:00:00Z",
                    "event_properties": properties,
                }
            )
            + "\n"
            for event_id, properties, seq in lines
        )
    )
    warehouse_target = target.warehouse_target()
    first_try = datetime(2026, 1, 2, 3, 4, 5)
    with open_warehouse(warehouse_target) as warehouse:
        remote = RemoteEvents(warehouse, events_table(PROJECT_DIR))
        assert load_segment(remote, segment, segment_stamp(segment, first_try)) == 3
        # The crash: the segment and its stamp file are still there; the next try proposes
        # a later stamp and gets the recorded one.
        stamp = segment_stamp(segment, first_try + timedelta(seconds=30))
        assert stamp == first_try
        assert load_segment(remote, segment, stamp) == 3
    assert target.counts() == {"twice": 2, "once": 1}
    stored = target.rows("select distinct event_timestamp from raw.usage_events")
    assert stored == [(datetime(2022, 10, 6, 9),)]


def test_serve_on_a_warehouse_needs_a_journal_folder() -> None:
    result = subprocess.run(
        [str(BIN_DIR / "usage-billing"), "serve", *_project_options()],
        capture_output=True,
        text=True,
        env={**os.environ, "USAGE_BILLING_TARGET": "postgres"},
        check=False,
    )
    assert result.returncode == 1
    assert "`serve` on a postgres target needs --journal-dir" in " ".join(result.stderr.split())


def _create_raw_table(target: Target, event_timestamp: str, event_properties: str) -> None:
    with open_warehouse(target.warehouse_target()) as warehouse:
        quote = warehouse.quote
        warehouse.execute(f"create schema {quote('raw')}")
        warehouse.execute(
            f"create table {quote('raw', 'usage_events')} ({quote('event_id')} varchar,"
            f" {quote('customer_alias')} varchar, {quote('event_type')} varchar,"
            f" {quote('event_timestamp')} {event_timestamp},"
            f" {quote('event_properties')} {event_properties}, {quote('loaded_at')} timestamp)"
        )


def test_a_timestamp_column_gets_utc_instants_and_a_reload_adds_nothing(
    target: Target, tmp_path: Path
) -> None:
    _create_raw_table(target, "timestamp", "varchar")
    source = _mixed_file(tmp_path / "events.csv")
    assert target.load(source).loaded == 3
    assert target.load(source).loaded == 0
    stored = dict(target.rows("select event_id, event_timestamp from raw.usage_events"))
    assert stored == {
        "e1": datetime(2022, 10, 1, 10),
        "e2": datetime(2022, 10, 2, 8),  # sent at +02:00
        "e4": datetime(2022, 10, 3, 8),
    }


@pytest.mark.parametrize("target", ["postgres"], indirect=True)
def test_a_column_type_the_loader_cannot_write_is_named(target: Target, tmp_path: Path) -> None:
    _create_raw_table(target, "timestamp", "jsonb")
    with pytest.raises(LoadError, match="column for event_properties is jsonb"):
        target.load(_mixed_file(tmp_path / "events.csv"))
    assert target.counts() == {}
