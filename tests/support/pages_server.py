"""`usage-billing serve` in a subprocess on 127.0.0.1, on a port the system picks, over a DuckDB
file: the page tests' server."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from tests.support.warehouse_scenario import BIN_DIR, REPO_DIR


@contextmanager
def serve_file(database: Path) -> Iterator[str]:
    """The server over `database` itself; yields its base URL."""
    process = subprocess.Popen(
        [
            str(BIN_DIR / "usage-billing"),
            "serve",
            "--port",
            "0",
            "--profiles-dir",
            str(REPO_DIR),
        ],
        env={**os.environ, "USAGE_BILLING_DUCKDB_PATH": str(database)},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stderr is not None
        for line in process.stderr:
            if match := re.search(r"running on (http://127\.0\.0\.1:\d+)", line):
                break
        else:
            pytest.fail(f"serve exited with {process.wait()} before listening")
        # Keep reading its log, so that a full pipe never blocks the server.
        threading.Thread(target=process.stderr.read, daemon=True).start()
        yield match.group(1)
    finally:
        process.terminate()
        process.wait(timeout=10)


@contextmanager
def serving(database: Path) -> Iterator[str]:
    """The server on a copy of `database` (in `served/` beside it), so that the test can go on
    writing the original; yields its base URL."""
    served = database.parent / "served" / database.name
    served.parent.mkdir(exist_ok=True)
    shutil.copy(database, served)
    with serve_file(served) as url:
        yield url
