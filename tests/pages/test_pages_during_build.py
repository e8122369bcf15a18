"""The pages and `dbt build` on the same DuckDB file: pages requested in loops from several
threads never make a build fail, every answer is the page or a clear 503, and no error page
gives away a file path, a process id, a traceback or SQL."""

from __future__ import annotations

import shutil
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import duckdb
import httpx

from tests.support.pages_server import serve_file
from tests.support.warehouse_scenario import MARTS_SCHEMA, Scenario, run_dbt

PAGES = ("/invoices", "/invoices/sub_acme_api/2022-10-01", "/usage")
REBUILDING = "The invoices are being rebuilt. Retry in a few seconds."
# Any of these on an error page would tell a visitor about the server's files, processes or
# queries (the pages' own forms have <select>s; error pages have none).
REVEALING = (
    "Traceback",
    "PID",
    "select ",
    "usage_billing__",
    "Catalog Error",
    "Binder",
    "IO Error",
)


def _gives_nothing_away(response: httpx.Response, directory: Path) -> None:
    assert str(directory) not in response.text
    assert ".duckdb" not in response.text
    for word in REVEALING:
        assert word not in response.text, f"{word!r} in {response.request.url}"


def _page_is_right(path: str, response: httpx.Response) -> bool:
    """The page with the demo's figures (before or after the build), or the clear 503."""
    if response.status_code == 503:
        return REBUILDING in response.text and response.headers.get("retry-after") == "5"
    if response.status_code != 200:
        return False
    if path == "/invoices":
        return all(total in response.text for total in ("$99.05", "£3,750.00", "€7,212.89"))
    if path == "/usage":
        return "No billing period is open" in response.text or "live-list" in response.text
    return 'data-field="headline-total">$99.05' in response.text


def _statuses(url: str) -> set[str]:
    page = httpx.get(f"{url}/invoices").text
    return {status for status in ("live", "final") if f'data-field="status">{status}<' in page}


def test_a_build_succeeds_while_pages_are_read(demo_warehouse: Scenario, tmp_path: Path) -> None:
    database = tmp_path / "warehouse.duckdb"
    shutil.copy(demo_warehouse.database, database)
    answers: list[tuple[str, httpx.Response]] = []
    stop = threading.Event()

    def read_pages(path: str) -> None:
        with httpx.Client(base_url=url, timeout=30) as client:
            while not stop.is_set():
                answers.append((path, client.get(path)))

    with serve_file(database) as url:
        assert _statuses(url) == {"final"}
        with ThreadPoolExecutor(max_workers=4) as pool:
            loops = [pool.submit(read_pages, path) for path in (*PAGES, PAGES[1])]
            try:
                # A plain `dbt build`, not under `flock`: the pages alone must not block it. The
                # clock inside October makes the periods live, which the pages then show.
                run_dbt(["build"], database, {"usage_billing_as_of": "2022-10-20 12:00:00"})
            finally:
                stop.set()
            for loop in loops:
                loop.result()
        # The pages take up the build once the file is quiet again.
        for _ in range(120):
            if _statuses(url) == {"live"}:
                break
            stop.wait(0.5)
        assert _statuses(url) == {"live"}

    assert len({path for path, _ in answers}) == len(PAGES)
    wrong = [
        (path, response.status_code)
        for path, response in answers
        if not _page_is_right(path, response)
    ]
    assert wrong == []
    for _, response in answers:
        if response.status_code != 200:
            _gives_nothing_away(response, tmp_path)


def test_error_pages_give_nothing_away(demo_warehouse: Scenario, tmp_path: Path) -> None:
    unbuilt = tmp_path / "unbuilt" / "warehouse.duckdb"
    unbuilt.parent.mkdir()
    # Another process holds the file for writing when the server starts, as `dbt build` does.
    writer = duckdb.connect(str(unbuilt))
    try:
        with serve_file(unbuilt) as url:
            busy = httpx.get(f"{url}/usage")
            writer.close()
            for _ in range(120):
                not_built = httpx.get(f"{url}/invoices")
                if REBUILDING not in not_built.text:
                    break
                threading.Event().wait(0.5)
    finally:
        writer.close()
    assert busy.status_code == 503
    assert REBUILDING in busy.text
    assert busy.headers["retry-after"] == "5"
    assert not_built.status_code == 503
    assert "have not been built yet: run `dbt build`" in not_built.text

    broken = tmp_path / "broken" / "warehouse.duckdb"
    broken.parent.mkdir()
    shutil.copy(demo_warehouse.database, broken)
    with duckdb.connect(str(broken)) as connection:  # a mart a query cannot read
        connection.execute(
            f"alter table {MARTS_SCHEMA}.usage_billing__invoices drop column line_count"
        )
    with serve_file(broken) as url:
        failed = httpx.get(f"{url}/invoices")
        missing = httpx.get(f"{url}/invoices/no_such/2022-10-01")
    assert failed.status_code == 500
    assert "Something went wrong showing this page" in failed.text
    assert missing.status_code == 404

    for response in (busy, not_built, failed, missing):
        _gives_nothing_away(response, tmp_path)
