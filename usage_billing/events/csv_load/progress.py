"""DuckDB's progress of a running statement, polled into a callback from a thread."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import duckdb


class _Progress:
    """Polls DuckDB's progress of the running statement into a callback, from a thread."""

    def __init__(
        self, connection: duckdb.DuckDBPyConnection, report: Callable[[float], None] | None
    ) -> None:
        self.connection = connection
        self.report = report
        self.done = threading.Event()

    def run(self, sql: str, parameters: list[object] | None = None) -> list[tuple[object, ...]]:
        if self.report is None:
            return self.connection.execute(sql, parameters or []).fetchall()
        outcome: dict[str, object] = {}

        def work() -> None:
            try:
                outcome["rows"] = self.connection.execute(sql, parameters or []).fetchall()
            except BaseException as error:  # handed to the calling thread below
                outcome["error"] = error
            finally:
                self.done.set()

        self.done.clear()
        worker = threading.Thread(target=work, daemon=True)
        worker.start()
        while not self.done.wait(0.1):
            percent = self.connection.query_progress()
            if percent >= 0:
                self.report(percent)
        worker.join()
        if "error" in outcome:
            raise outcome["error"]  # type: ignore[misc]
        self.report(100.0)
        rows = outcome["rows"]
        assert isinstance(rows, list)
        return rows


def run_with_progress(
    connection: duckdb.DuckDBPyConnection,
    progress: Callable[[float], None] | None,
    statement: str,
    parameters: list[object] | None = None,
) -> list[tuple[Any, ...]]:
    return _Progress(connection, progress).run(statement, parameters)
