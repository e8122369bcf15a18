"""`usage-billing load` of a file that is replaced, appended to or deleted while it loads: a
clear error and nothing loaded, never two files' rows or counts mixed (issue 22).

The change is made at a fixed point, right after the loader's first pass over the file (a
wrapper around the function that runs each pass), so the tests do not depend on timing."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import duckdb
import pytest

from tests.support.warehouse_scenario import PROJECT_DIR, REPO_DIR
from usage_billing.errors import LoadError
from usage_billing.events.csv_load import load as csv_load
from usage_billing.events.csv_load import load_csv
from usage_billing.events.table import EventsTable
from usage_billing.warehouse.duckdb import DuckDBWarehouse

EVENTS = EventsTable("raw", "usage_events")
HEADER = b"event_id,customer_alias,event_type,event_timestamp,event_properties\n"
THREE_ROWS = HEADER + b"".join(b"a%d,acme,t,2022-10-01,{}\n" % n for n in range(3))
TWO_OTHER_ROWS = HEADER + b"b1,acme,t,2022-10-01,{}\nb2,acme,t,not-a-time,{}\n"


def _replace(path: Path) -> None:
    other = path.with_name("other.csv")
    other.write_bytes(TWO_OTHER_ROWS)
    other.replace(path)


def _append(path: Path) -> None:
    with path.open("ab") as handle:
        handle.write(b"a9,acme,t,2022-10-01,{}\n")


def _after_first_pass(monkeypatch: pytest.MonkeyPatch, change: Callable[[], None]) -> None:
    passes = csv_load.run_with_progress
    changed: list[bool] = []

    def first_pass_then_change(*args: object, **kwargs: object) -> object:
        rows = passes(*args, **kwargs)  # type: ignore[arg-type]
        if not changed:
            change()
            changed.append(True)
        return rows

    monkeypatch.setattr(csv_load, "run_with_progress", first_pass_then_change)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (_replace, "changed while loading; nothing was loaded"),
        (_append, "changed while loading; nothing was loaded"),
        (Path.unlink, "was deleted while loading; nothing was loaded"),
    ],
)
def test_a_file_that_changes_while_it_loads_loads_nothing(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    change: Callable[[Path], None],
    message: str,
) -> None:
    path = tmp_path / "events.csv"
    path.write_bytes(THREE_ROWS)
    connection = duckdb.connect()
    _after_first_pass(monkeypatch, lambda: change(path))
    with pytest.raises(LoadError, match=f"^{re.escape(str(path))} {message}$"):
        load_csv(DuckDBWarehouse(connection), EVENTS, path)
    assert connection.execute("select count(*) from raw.usage_events").fetchone() == (0,)
    assert not path.with_name("events.csv.rejects.csv").exists()


def test_a_directory_is_not_loaded(tmp_path: Path) -> None:
    with pytest.raises(LoadError, match="not a regular file"):
        load_csv(DuckDBWarehouse(duckdb.connect()), EVENTS, tmp_path)


# The CLI in a process of its own, with the file deleted after the first pass.
CLI_DELETING_THE_FILE = """
import sys
from pathlib import Path
from usage_billing.cli import app
from usage_billing.events.csv_load import load as csv_load

passes = csv_load.run_with_progress

def first_pass_then_delete(*args, **kwargs):
    rows = passes(*args, **kwargs)
    Path(sys.argv[2]).unlink(missing_ok=True)
    return rows

csv_load.run_with_progress = first_pass_then_delete
app()
"""


def test_cli_says_in_one_line_that_the_file_was_deleted(tmp_path: Path) -> None:
    path = tmp_path / "events.csv"
    path.write_bytes(THREE_ROWS)
    database = tmp_path / "warehouse.duckdb"
    options = ["--profiles-dir", str(REPO_DIR), "--project-dir", str(PROJECT_DIR)]
    completed = subprocess.run(
        [sys.executable, "-c", CLI_DELETING_THE_FILE, "load", str(path), *options],
        env={**os.environ, "USAGE_BILLING_DUCKDB_PATH": str(database), "COLUMNS": "400"},
        capture_output=True,
        text=True,
        check=False,
    )
    assert completed.returncode == 1
    assert completed.stdout == ""
    assert completed.stderr == f"error: {path} was deleted while loading; nothing was loaded\n"
    with duckdb.connect(str(database), read_only=True) as connection:
        assert connection.execute("select count(*) from raw.usage_events").fetchone() == (0,)
