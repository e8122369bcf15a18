"""The CSV file's header: which column holds which event field, and the extra columns that
become properties."""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from pathlib import Path

from usage_billing.errors import LoadError

MAX_LINE_BYTES = 2 * 1024 * 1024

FIELDS = ("event_id", "customer_alias", "event_type", "event_timestamp", "event_properties")
ALIASES: dict[str, str] = {
    "eventid": "event_id",
    "customereventid": "event_id",
    "customeralias": "customer_alias",
    "eventtype": "event_type",
    "eventtimestamp": "event_timestamp",
    "eventproperties": "event_properties",
    "properties": "event_properties",
}
CANONICAL = {**{name.replace("_", ""): name for name in FIELDS}, **ALIASES}
REQUIRED = ("event_id", "customer_alias", "event_type", "event_timestamp")


@dataclass(frozen=True)
class Layout:
    """Where each field sits in the file: column index per field, and the extra columns."""

    columns: list[str]
    fields: dict[str, int]
    extras: list[tuple[str, int]]


def _normalise(name: str) -> str:
    return name.strip().lower().replace("_", "").replace("-", "").replace(" ", "")


def read_header(path: Path) -> list[str]:
    """The header row's names; LoadError when the file is empty or the header unreadable."""
    try:
        with path.open("rb") as handle:
            head = handle.read(MAX_LINE_BYTES)
    except FileNotFoundError:
        raise LoadError(f"{path}: no such file") from None
    text = head.removeprefix(b"\xef\xbb\xbf").decode("utf-8", errors="surrogateescape")
    try:
        header = next(csv.reader(io.StringIO(text, newline=""), strict=True), None)
    except csv.Error as error:
        raise LoadError(f"{path}: the header row is not valid CSV ({error})") from None
    if header and any(_is_undecodable(name) for name in header):
        raise LoadError(f"{path}: the header row is not UTF-8")
    if not header or all(not name.strip() for name in header):
        raise LoadError(f"{path}: empty file, expected a header row naming the columns")
    return header


def _is_undecodable(text: str) -> bool:
    return any("\udc80" <= char <= "\udcff" for char in text)


def layout(header: list[str]) -> Layout:
    """Map header names to fields; LoadError naming the problem when the header is unusable."""
    fields: dict[str, int] = {}
    extras: list[tuple[str, int]] = []
    seen: set[str] = set()
    for index, raw_name in enumerate(header):
        name = raw_name.strip()
        if not name:
            raise LoadError(f"header column {index + 1} has no name")
        key = _normalise(name)
        if key in seen:
            raise LoadError(f"header names {name!r} twice")
        seen.add(key)
        if key == "loadedat":
            raise LoadError("loaded_at is stamped by the loader; remove that column from the file")
        target = CANONICAL.get(key)
        if target is not None:
            if target in fields:
                raise LoadError(f"header maps two columns to {target}")
            fields[target] = index
        else:
            extras.append((name, index))
    missing = [name for name in REQUIRED if name not in fields]
    if missing:
        raise LoadError(
            f"header lacks {', '.join(missing)} (have: {', '.join(h.strip() for h in header)})"
        )
    return Layout([f"c{index}" for index in range(len(header))], fields, extras)
