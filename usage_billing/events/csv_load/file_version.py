"""The file a load reads stays one file, unchanged, from the first read to the commit.

The loader reads the file several times (the header, DuckDB's passes, the line counts that
place rejects): a file renamed over, appended to or deleted in between would mix two files'
rows and counts. So the file's identity, size and modification time are taken before the first
read and compared before the commit; when they differ the load is rolled back whole.
"""

from __future__ import annotations

import os
import stat
from dataclasses import dataclass
from pathlib import Path

from usage_billing.errors import LoadError


@dataclass(frozen=True)
class FileVersion:
    """What changes when a file is replaced (device, inode) or written to (size, mtime)."""

    device: int
    inode: int
    size: int
    modified_ns: int


def _version(status: os.stat_result) -> FileVersion:
    return FileVersion(status.st_dev, status.st_ino, status.st_size, status.st_mtime_ns)


def file_version(path: Path) -> FileVersion:
    """The version of `path` a load starts from; LoadError when it is not a regular file."""
    try:
        status = path.stat()
    except FileNotFoundError:
        raise LoadError(f"{path}: no such file") from None
    if not stat.S_ISREG(status.st_mode):
        raise LoadError(f"{path}: not a regular file (the loader reads it more than once)")
    return _version(status)


def change_since(path: Path, loaded: FileVersion) -> str | None:
    """Why the load of `path` cannot stand, when the file is no longer version `loaded`."""
    try:
        status = path.stat()
    except FileNotFoundError:
        return f"{path} was deleted while loading; nothing was loaded"
    if _version(status) != loaded:
        return f"{path} changed while loading; nothing was loaded"
    return None
