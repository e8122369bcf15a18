"""The local stand-ins the portability suite builds on, started on 127.0.0.1 and stopped again:
a throw-away PostgreSQL cluster (for PostgreSQL and Redshift), the fakesnow server (for
Snowflake) and, where its virtualenv is installed, bqemulator (for BigQuery). Spark needs no
server: it runs inside the runner's own process (runner.py)."""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

BIN_DIR = Path(sys.executable).parent
REPO_DIR = Path(__file__).resolve().parents[2]
POSTGRES_DATABASE = "usage_billing"
START_TIMEOUT_SECONDS = 60


class ServiceError(RuntimeError):
    """A stand-in could not start; the message says what to install or look at."""


def free_port() -> int:
    """A TCP port free on 127.0.0.1 right now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def wait_for_port(port: int, process: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + START_TIMEOUT_SECONDS
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise ServiceError(f"exited with {process.returncode}:\n{log.read_text()}")
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 1):
            return
        time.sleep(0.2)
    raise ServiceError(f"nothing listens on port {port} after {START_TIMEOUT_SECONDS} s")


def postgres_bin_dir() -> Path:
    """The newest PostgreSQL server installed from Debian's packages (or on PATH)."""
    candidates = sorted(
        Path("/usr/lib/postgresql").glob("*/bin/initdb"), key=lambda p: int(p.parts[-3])
    )
    if candidates:
        return candidates[-1].parent
    initdb = shutil.which("initdb")
    if initdb:
        return Path(initdb).resolve().parent
    raise ServiceError("PostgreSQL's initdb is not installed: run `make engines`")


@dataclass(frozen=True)
class Postgres:
    port: int
    user: str
    database: str


@contextlib.contextmanager
def postgres() -> Iterator[Postgres]:
    """A cluster in a new temporary folder, listening on 127.0.0.1 only, trusting local
    connections, removed afterwards. initdb refuses to run as root, so as root the cluster
    belongs to the `postgres` user that Debian's package creates (hence a folder of its own:
    pytest's temporary folders are private to root)."""
    bin_dir = postgres_bin_dir()
    directory = Path(tempfile.mkdtemp(prefix="usage-billing-postgres-"))
    run_as: list[str] = []
    if os.geteuid() == 0:
        run_as = ["runuser", "-u", "postgres", "--"]
        shutil.chown(directory, "postgres")
    data, log, port = directory / "data", directory / "postgres.log", free_port()
    commands = [
        [str(bin_dir / "initdb"), "-D", str(data), "-U", "postgres", "-A", "trust", "--no-sync"],
        [
            str(bin_dir / "pg_ctl"),
            "-D",
            str(data),
            "-l",
            str(log),
            "-w",
            "-o",
            f"-h 127.0.0.1 -p {port} -k {directory} -F -c fsync=off",
            "start",
        ],
    ]
    for command in commands:
        result = subprocess.run(
            [*run_as, *command], capture_output=True, text=True, check=False, cwd=directory
        )
        if result.returncode != 0:
            logged = log.read_text() if log.exists() else ""
            raise ServiceError(f"{command[0]} failed:\n{result.stdout}{result.stderr}{logged}")
    try:
        subprocess.run(
            [
                *(str(bin_dir / "psql"), "-h", "127.0.0.1", "-p", str(port), "-U", "postgres"),
                *("-q", "-c", f"create database {POSTGRES_DATABASE}"),
            ],
            check=True,
            capture_output=True,
        )
        yield Postgres(port=port, user="postgres", database=POSTGRES_DATABASE)
    finally:
        subprocess.run(
            [*run_as, str(bin_dir / "pg_ctl"), "-D", str(data), "-m", "immediate", "stop"],
            capture_output=True,
            check=False,
        )
        shutil.rmtree(directory, ignore_errors=True)


@contextlib.contextmanager
def fakesnow(directory: Path) -> Iterator[int]:
    """The fakesnow server (Snowflake's SQL over an in-memory DuckDB), with the gaps that
    stopped dbt-snowflake's incremental runs and snapshots closed (fakesnow_server.py); yields
    its port."""
    if not (BIN_DIR / "fakesnow").exists():
        raise ServiceError(f"{BIN_DIR / 'fakesnow'} is not installed: run `make engines`")
    directory.mkdir(parents=True, exist_ok=True)
    port, log = free_port(), directory / "fakesnow.log"
    server = ["-m", "tests.engines.fakesnow_server", "-s", "--host", "127.0.0.1", "-p", str(port)]
    with log.open("wb") as output:
        process = subprocess.Popen(
            [sys.executable, *server],
            stdout=output,
            stderr=subprocess.STDOUT,
            cwd=REPO_DIR,
        )
    try:
        wait_for_port(port, process, log)
        yield port
    finally:
        _stop(process)


def bigquery_emulator_python() -> Path | None:
    """The Python of the BigQuery emulator's own virtualenv (`make bigquery-emulator`): it pins
    DuckDB and sqlglot versions the project's venv does not have. None when not installed."""
    python = Path(os.environ.get("USAGE_BILLING_BIGQUERY_EMULATOR_VENV", REPO_DIR / ".venv-bqemu"))
    python = python / "bin" / "python"
    return python if python.exists() else None


@contextlib.contextmanager
def bigquery_emulator(directory: Path) -> Iterator[str]:
    """bqemulator on 127.0.0.1, in memory, with the gaps the package met closed
    (bigquery_emulator_server.py); yields its REST endpoint."""
    python = bigquery_emulator_python()
    if python is None:
        raise ServiceError("the BigQuery emulator is not installed: run `make bigquery-emulator`")
    directory.mkdir(parents=True, exist_ok=True)
    rest_port, grpc_port, log = free_port(), free_port(), directory / "bqemulator.log"
    server = [
        *("-m", "tests.engines.bigquery_emulator_server", "start", "--ephemeral"),
        *("--rest-port", str(rest_port), "--grpc-port", str(grpc_port)),
        *("--project", "usage-billing", "--log-level", "warning", "--log-format", "console"),
    ]
    environment = {
        **os.environ,
        "PYTHONPATH": str(REPO_DIR),
        "HOME": str(directory),  # DuckDB's extension folder, kept out of the user's home
        "BQEMU_QUERY_CACHE_TTL_SECONDS": "0",  # a rebuilt table is read again, not from a cache
        "BQEMU_ENABLE_FORMAT_EXTENSIONS": "false",  # Avro needs a download; no load uses it
    }
    with log.open("wb") as output:
        process = subprocess.Popen(
            [str(python), *server],
            stdout=output,
            stderr=subprocess.STDOUT,
            cwd=REPO_DIR,
            env=environment,
        )
    try:
        wait_for_port(rest_port, process, log)
        yield f"http://127.0.0.1:{rest_port}"
    finally:
        _stop(process)


def _stop(process: subprocess.Popen[bytes]) -> None:
    """Ask a stand-in server to exit; kill it if it has not within 10 s."""
    process.terminate()
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()
