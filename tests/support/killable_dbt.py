"""Run dbt's command line in a process of its own and SIGKILL it at a chosen moment: after the
k-th node has started, plus a delay. What a crash, an out-of-memory kill or a cancelled
scheduler job leaves behind.

The process is forked from a server that has already imported dbt (multiprocessing's
forkserver), and runs the same entry point as the `dbt` executable (`dbt.cli.main.cli`): a
fresh `dbt` process spends about 6 s importing before it does anything, and a suite that
kills twenty builds would spend two minutes on it. The server imports and nothing else, so
each child starts as a new `dbt` process would after its imports, and dies as one would. A
killed dbt leaves the semaphores of its locks behind; multiprocessing's resource tracker, which
the children share with the test session, removes them when the session ends and warns that
it did ("leaked semaphore objects")."""

from __future__ import annotations

import contextlib
import multiprocessing
import os
import re
import signal
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from multiprocessing.connection import Connection

# A node's start as dbt logs it: "12:00:01  17 of 38 START sql incremental model billing.x ..."
# The project hooks' lines ("1 of 1 START hook: ...") are not nodes.
NODE_START = re.compile(r"\b\d+ of (?P<total>\d+) START (?!hook)(?P<node>.*?)[ .]*\[RUN\]")
NODE_OK = re.compile(r"\b\d+ of \d+ OK ")

CONTEXT = multiprocessing.get_context("forkserver")
CONTEXT.set_forkserver_preload(
    ["tests.support.killable_dbt", "dbt.cli.main", "dbt.adapters.duckdb"]
)


def _dbt_command_line(
    args: Sequence[str], environment: Mapping[str, str], output: Connection
) -> None:
    """The child: dbt's command line in a process group of its own (so the kill reaches
    everything it started), its output line-buffered into `output`, so the parent reads each
    line as dbt logs it."""
    os.setsid()
    os.environ.update(environment)
    os.dup2(output.fileno(), 1)
    os.dup2(output.fileno(), 2)
    output.close()
    sys.stdout = sys.stderr = open(1, "w", buffering=1, closefd=False)  # noqa: SIM115
    from dbt.adapters.duckdb.connections import DuckDBConnectionManager
    from dbt.cli.main import cli

    try:
        cli.main(args=list(args), prog_name="dbt")
    finally:
        # multiprocessing ends a child with os._exit, skipping what the interpreter's exit does
        # in the `dbt` executable: close the database dbt-duckdb keeps open (DuckDB checkpoints
        # its log then), so that a build that finishes leaves what a finished `dbt` leaves.
        with DuckDBConnectionManager._LOCK:
            if DuckDBConnectionManager._ENV is not None:
                DuckDBConnectionManager._ENV.close()


@dataclass(frozen=True)
class KillPoint:
    """Where a build is killed: `delay_ms` after its `node`-th node started."""

    node: int
    delay_ms: int


@dataclass(frozen=True)
class Outcome:
    """What happened to a build run by run_and_kill."""

    killed: bool
    description: str


def run_and_kill(
    args: Sequence[str],
    environment: Mapping[str, str],
    choose: Callable[[int], KillPoint],
) -> Outcome:
    """Run `dbt *args` and SIGKILL its process group at the point `choose` returns when
    given the number of nodes the build runs (known from its first node's line, so the choice
    can be drawn from a seeded generator). A build that finishes first is not killed; one that
    fails on its own raises AssertionError with its output."""
    reader, writer = CONTEXT.Pipe(duplex=False)
    process = CONTEXT.Process(
        target=_dbt_command_line, args=(list(args), dict(environment), writer)
    )
    process.start()
    assert process.pid is not None  # started
    writer.close()  # the child holds the only write end: its exit ends the stream
    point: KillPoint | None = None
    started = finished = 0
    description = ""
    lines: list[str] = []
    with os.fdopen(os.dup(reader.fileno()), "rb") as stream:
        reader.close()
        for raw in stream:
            line = raw.decode(errors="replace").rstrip()
            lines.append(line)
            finished += bool(NODE_OK.search(line))
            start = NODE_START.search(line)
            if start is None:
                continue
            started += 1
            if point is None:
                point = choose(int(start["total"]))
            if started == point.node:
                time.sleep(point.delay_ms / 1000)
                # A build that finished meanwhile is gone already (the server reaps its children).
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(process.pid, signal.SIGKILL)
                description = (
                    f"killed {point.delay_ms} ms after node {point.node} of {start['total']}"
                    f" started ({start['node']}), when {finished} had finished"
                )
                break
    process.join()
    if process.exitcode == -signal.SIGKILL:
        return Outcome(killed=True, description=description)
    output = "\n".join(lines[-30:])
    assert process.exitcode == 0, f"dbt {' '.join(args)} failed on its own:\n{output}"
    return Outcome(killed=False, description=f"finished before the kill point {point}")
