"""The ingestion journal: an append-only, fsynced log of accepted events, in segment files.

A request's lines are handed to one writer thread, which writes everything queued since its
last round in one `write` and one `fdatasync` (group commit) and only then resolves the
requests' futures: a 201 is sent after the event is on disk. The loader
(`usage_billing.events.loader`) closes the active segment now and then (`rotate`) and moves
closed segments into the raw events table. Segment names are nanosecond timestamps, so name
order is write order, also across restarts.
"""

from __future__ import annotations

import asyncio
import os
import threading
import time
from pathlib import Path

SEGMENT_SUFFIX = ".jsonl"


class JournalClosedError(RuntimeError):
    """The journal is shutting down and takes no more lines."""


def _sync_directory(directory: Path) -> None:
    """Make a created or removed file name durable."""
    descriptor = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


def truncate_torn_tail(path: Path) -> None:
    """Cut a last line that has no newline: its write never completed, so it was never
    acknowledged (a crash mid-write leaves at most that)."""
    size = path.stat().st_size
    if size == 0:
        return
    with path.open("r+b") as handle:
        handle.seek(size - 1)
        if handle.read(1) == b"\n":
            return
        position = size
        while position > 0:
            step = min(65536, position)
            handle.seek(position - step)
            chunk = handle.read(step)
            newline = chunk.rfind(b"\n")
            if newline >= 0:
                handle.truncate(position - step + newline + 1)
                break
            position -= step
        else:
            handle.truncate(0)
        os.fsync(handle.fileno())


class Journal:
    """Append lines durably; hand closed segments to the loader."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        directory.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()  # guards the file (write, fsync, rotate)
        self._queue_ready = threading.Condition()
        self._queue: list[tuple[bytes, asyncio.Future[None]]] = []
        self._closed = False
        self._last_name = 0
        self._descriptor: int | None = None
        self._path: Path | None = None
        self._written = 0
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread = threading.Thread(target=self._write_loop, name="journal-writer", daemon=True)

    def start(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop
        self._thread.start()

    def append(self, data: bytes) -> asyncio.Future[None]:
        """Queue complete lines; the future resolves once they are fsynced. Lines queued by
        one call are written by one `write`, in call order."""
        assert self._loop is not None, "start() the journal first"
        future: asyncio.Future[None] = self._loop.create_future()
        with self._queue_ready:
            if self._closed:
                raise JournalClosedError("the server is shutting down")
            self._queue.append((data, future))
            self._queue_ready.notify()
        return future

    def _open_segment(self) -> None:
        name = max(time.time_ns(), self._last_name + 1)
        self._last_name = name
        self._path = self.directory / f"{name:020d}{SEGMENT_SUFFIX}"
        self._descriptor = os.open(self._path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        self._written = 0
        _sync_directory(self.directory)

    def _write_loop(self) -> None:
        while True:
            with self._queue_ready:
                while not self._queue and not self._closed:
                    self._queue_ready.wait()
                batch, self._queue = self._queue, []
                if not batch and self._closed:
                    return
            error: BaseException | None = None
            try:
                with self._lock:
                    if self._descriptor is None:
                        self._open_segment()
                    assert self._descriptor is not None
                    view = memoryview(b"".join(data for data, _ in batch))
                    while view:
                        written = os.write(self._descriptor, view)
                        view = view[written:]
                        self._written += written
                    os.fdatasync(self._descriptor)
            except OSError as failure:
                error = failure
            assert self._loop is not None
            self._loop.call_soon_threadsafe(_settle, [future for _, future in batch], error)

    def rotate(self) -> list[Path]:
        """Close the active segment if it holds lines; every closed segment, oldest first
        (segments left by an earlier run included)."""
        # Listed under the lock: a segment the writer opens after it is not in the list.
        with self._lock:
            if self._descriptor is not None and self._written:
                os.close(self._descriptor)
                self._descriptor = None
                self._path = None
            return sorted(
                path
                for path in self.directory.glob(f"*{SEGMENT_SUFFIX}")
                if path != self._path and path.name[0].isdigit()
            )

    def remove(self, segments: list[Path]) -> None:
        """Delete loaded segments, durably."""
        for path in segments:
            path.unlink(missing_ok=True)
        if segments:
            _sync_directory(self.directory)

    def close(self) -> None:
        """Write what is queued, then stop; the active segment is closed."""
        with self._queue_ready:
            self._closed = True
            self._queue_ready.notify()
        if self._thread.is_alive():
            self._thread.join()
        with self._lock:
            if self._descriptor is not None:
                os.close(self._descriptor)
                self._descriptor = None
                if self._path is not None and self._written == 0:
                    self._path.unlink(missing_ok=True)
                self._path = None


def _settle(futures: list[asyncio.Future[None]], error: BaseException | None) -> None:
    for future in futures:
        if future.done():  # the request was cancelled (client gone)
            continue
        if error is None:
            future.set_result(None)
        else:
            future.set_exception(error)
