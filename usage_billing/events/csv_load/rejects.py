"""Rejected rows placed on their physical line of the file, and the reject file they go to.

DuckDB reports the reader's rejects by byte offset and the checks' rejects by their position
among the parsed rows; a CSV record may span lines, so both are turned into line numbers here.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from usage_billing.events.contract import REASON_MEANINGS

# DuckDB's reader errors → our reasons.
STRUCTURAL_REASONS = {
    "MISSING COLUMNS": "wrong_field_count",
    "TOO MANY COLUMNS": "wrong_field_count",
    "UNQUOTED VALUE": "bad_quoting",
    "INVALID ENCODING": "bad_encoding",
    "INVALID UNICODE": "bad_encoding",
    "LINE SIZE OVER MAXIMUM": "line_too_long",
    "CAST": "bad_value",
}


@dataclass(frozen=True)
class Reject:
    """One row that was not loaded."""

    line: int
    reason: str
    detail: str
    event_id: str | None = None


def _newline_count(path: Path, offsets: list[int]) -> tuple[int, dict[int, int]]:
    """Lines in the file, and the 1-based line on which each byte offset sits."""
    lines: dict[int, int] = {}
    wanted = sorted(set(offsets))
    chunk_size = 16 * 1024 * 1024
    newlines, position, last = 0, 0, b""
    with path.open("rb") as handle:
        while True:
            chunk = handle.read(chunk_size)
            end = position + len(chunk)
            while wanted and (wanted[0] < end or not chunk):
                offset = wanted.pop(0)
                lines[offset] = newlines + chunk.count(b"\n", 0, max(0, offset - position)) + 1
            if not chunk:
                break
            newlines += chunk.count(b"\n")
            position, last = end, chunk[-1:]
    if position == 0:
        return 0, lines
    return newlines + (0 if last == b"\n" else 1), lines


def _skip_blank_lines(path: Path, offsets: list[int]) -> dict[int, int]:
    """Each offset moved past the blank lines before it: DuckDB may report a rejected row
    from the end of the previous record, and a record never starts with a line break."""
    moved: dict[int, int] = {}
    with path.open("rb") as handle:
        for offset in offsets:
            position = offset
            handle.seek(position)
            while True:
                chunk = handle.read(4096)
                stripped = chunk.lstrip(b"\r\n")
                position += len(chunk) - len(stripped)
                if stripped or not chunk:
                    break
            moved[offset] = position
    return moved


def _parsed_row_lines(path: Path, rejected_lines: set[int]) -> list[int]:
    """Start line of each row DuckDB parsed, in order: every CSV record after the header that
    is neither blank nor rejected by the reader (Python's csv module finds the boundaries)."""
    lines: list[int] = []
    with path.open(encoding="utf-8-sig", errors="surrogateescape", newline="") as handle:
        reader = csv.reader(handle, strict=False)
        previous = 0
        try:
            for number, row in enumerate(reader):
                start, previous = previous + 1, reader.line_num
                if number and row and start not in rejected_lines:
                    lines.append(start)
        except csv.Error:
            pass
    return lines


def write_rejects(path: Path, rejects: list[Reject]) -> None:
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["line", "reason", "detail", "event_id"])
        for reject in rejects:
            writer.writerow([reject.line, reject.reason, reject.detail, reject.event_id or ""])


def lines_after_header(path: Path) -> int:
    """Physical lines after the first; -1 when a lone carriage return could end a record the
    count does not see."""
    newlines, carriage_returns, crlf = 0, 0, 0
    previous = b""
    with path.open("rb") as handle:
        while chunk := handle.read(16 * 1024 * 1024):
            newlines += chunk.count(b"\n")
            if b"\r" in chunk:
                carriage_returns += chunk.count(b"\r")
                crlf += chunk.count(b"\r\n") + (previous == b"\r" and chunk[:1] == b"\n")
            previous = chunk[-1:]
    if carriage_returns != crlf:
        return -1
    return newlines - (previous == b"\n") if previous else 0


def placed_rejects(
    path: Path,
    rows: int,
    structural: list[tuple[Any, ...]],
    pending: list[tuple[int, str, str, str | None]],
) -> list[Reject]:
    """Rejects with their physical line numbers: the reader's by byte offset; the others by
    their position among the parsed rows (Python's csv module places them in files where a
    record is not always one line)."""
    starts = _skip_blank_lines(path, [int(row[1]) for row in structural])
    total_lines, offset_lines = _newline_count(path, list(starts.values()))
    # The data record number (1-based) of each parsed row: its index plus the records the
    # reader rejected before it.
    structural_records = [int(row[0]) - 1 for row in structural]
    pending.sort()
    record_numbers = _record_numbers([index for index, *_ in pending], structural_records)
    simple_file = total_lines == rows + 1 or (
        total_lines == rows + 2 and _ends_with_blank_line(path)
    )
    parsed_lines: list[int] | None = None
    if pending and not simple_file:
        parsed_lines = _parsed_row_lines(path, set(offset_lines.values()))
    rejects = []
    for (index, reason, detail, event_id), record in zip(pending, record_numbers, strict=True):
        if parsed_lines is not None and index <= len(parsed_lines):
            line = parsed_lines[index - 1]
        else:
            line = record + 1
        rejects.append(Reject(line, reason, detail, event_id))
    for _, byte_position, error_type, message in structural:
        reason = STRUCTURAL_REASONS.get(str(error_type), "bad_row")
        rejects.append(
            Reject(offset_lines[starts[int(byte_position)]], reason, str(message).splitlines()[0])
        )
    rejects.sort(key=lambda reject: reject.line)
    return rejects


def _ends_with_blank_line(path: Path) -> bool:
    with path.open("rb") as handle:
        handle.seek(max(0, path.stat().st_size - 4))
        tail = handle.read()
    return tail.endswith((b"\n\n", b"\r\n\r\n"))


def reject_detail(reason: str, timestamp: object) -> str:
    """The event contract's meaning of the reason, with the timestamp when that is what failed."""
    meaning = REASON_MEANINGS.get(reason, reason.replace("_", " "))
    if reason in ("bad_timestamp", "timestamp_out_of_range"):
        return f"{meaning}: {str(timestamp)[:60]!r}"
    return meaning


def _record_numbers(indexes: list[int], rejected_records: list[int]) -> list[int]:
    """Data record numbers of parsed rows `indexes` (sorted), skipping `rejected_records`."""
    numbers: list[int] = []
    skipped = 0
    rejected = sorted(rejected_records)
    for index in indexes:
        # The index-th parsed row is the record r with r - (rejects below r) == index.
        while skipped < len(rejected) and rejected[skipped] <= index + skipped:
            skipped += 1
        numbers.append(index + skipped)
    return numbers
