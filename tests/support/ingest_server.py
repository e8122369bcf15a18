"""A real `usage-billing serve` process on 127.0.0.1 for the ingestion API tests, and a way to
read the raw events table while it runs (taking the lock file the server's loader honours)."""

from __future__ import annotations

import fcntl
import os
import signal
import socket
import subprocess
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb
import httpx

from tests.support.warehouse_scenario import BIN_DIR, PROJECT_DIR, REPO_DIR


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@dataclass
class IngestServer:
    """One server process, its database and its captured output."""

    database: Path
    port: int
    environment: dict[str, str]
    log: Path
    process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, *extra: str) -> IngestServer:
        command = [
            str(BIN_DIR / "usage-billing"),
            "serve",
            "--port",
            str(self.port),
            "--load-interval",
            "0.2",
            "--profiles-dir",
            str(REPO_DIR),
            "--project-dir",
            str(PROJECT_DIR),
            *extra,
        ]
        handle = self.log.open("ab")
        self.process = subprocess.Popen(
            command, stdout=handle, stderr=subprocess.STDOUT, env=self.environment
        )
        handle.close()
        deadline = time.monotonic() + 120  # a remote target's journal loads before it listens
        while time.monotonic() < deadline:
            assert self.process.poll() is None, self.log.read_text()
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.2):
                    return self
            except OSError:
                time.sleep(0.1)
        raise AssertionError(f"server did not start:\n{self.log.read_text()}")

    def stop(self, signal_number: int = signal.SIGTERM) -> None:
        """Stop it: SIGTERM lets it load what its journal holds; SIGKILL does not."""
        assert self.process is not None
        self.process.send_signal(signal_number)
        self.process.wait(timeout=30)
        self.process = None

    def client(self, key: str | None = None) -> httpx.Client:
        headers = {"Authorization": f"Bearer {key}"} if key else {}
        return httpx.Client(base_url=self.url, headers=headers, trust_env=False, timeout=10)

    @contextmanager
    def table(self) -> Iterator[duckdb.DuckDBPyConnection]:
        """The database, read-only, while the loader is kept out by the lock file."""
        with Path(f"{self.database}.lock").open("a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            try:
                with duckdb.connect(str(self.database), read_only=True) as connection:
                    yield connection
            finally:
                fcntl.flock(lock, fcntl.LOCK_UN)

    def rows(self, sql: str, parameters: list[Any] | None = None) -> list[tuple[Any, ...]]:
        if not self.database.exists():
            return []
        with self.table() as connection:
            exists = connection.execute(
                "select count(*) from information_schema.tables"
                " where table_schema = 'raw' and table_name = 'usage_events'"
            ).fetchone()
            if not exists or not exists[0]:
                return []
            return connection.execute(sql, parameters or []).fetchall()

    def wait_for(self, sql: str, done: Callable[[list[tuple[Any, ...]]], bool]) -> list[Any]:
        """Poll `sql` until `done(rows)`: the loader runs every 0.2 s."""
        deadline = time.monotonic() + 20
        while True:
            rows = self.rows(sql)
            if done(rows) or time.monotonic() > deadline:
                return rows
            time.sleep(0.1)


def make_server(directory: Path, keys: str, **settings: str) -> IngestServer:
    directory.mkdir(parents=True, exist_ok=True)
    database = directory / "warehouse.duckdb"
    environment = {
        **os.environ,
        "USAGE_BILLING_DUCKDB_PATH": str(database),
        "USAGE_BILLING_API_KEYS": keys,
        **{f"USAGE_BILLING_API_{name.upper()}": value for name, value in settings.items()},
    }
    environment.pop("USAGE_BILLING_API_KEYS_FILE", None)
    return IngestServer(database, free_port(), environment, directory / "server.log")
