"""Which SQLite errors are faults of the store (a full disk, an I/O error, a read-only file
system, a locked or damaged file) rather than bugs, and how to say what went wrong.

A fault sends the store into memory (database.py); anything else (a syntax error, a
constraint broken by the caller) is a bug and is raised as it is. SQLite reports the
condition, not always the cause (a write refused by a file system that turned read-only
arrives as SQLITE_IOERR_WRITE), so `describe` asks the file system itself with one small
probe write.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3

_FAULTS = frozenset(
    {
        "SQLITE_FULL",
        "SQLITE_IOERR",
        "SQLITE_READONLY",
        "SQLITE_CANTOPEN",
        "SQLITE_CORRUPT",
        "SQLITE_NOTADB",
        "SQLITE_BUSY",
        "SQLITE_LOCKED",
        "SQLITE_PERM",
        "SQLITE_PROTOCOL",
        "SQLITE_NOLFS",
    }
)
_DAMAGE = frozenset({"SQLITE_CORRUPT", "SQLITE_NOTADB"})

PROBE_NAME = ".state-write-probe"


def primary_code(exc: sqlite3.Error) -> str:
    """`SQLITE_IOERR` for `SQLITE_IOERR_FSYNC`: the class of an extended result code."""
    name = getattr(exc, "sqlite_errorname", None) or ""
    return "_".join(name.split("_")[:2])


def is_fault(exc: sqlite3.Error) -> bool:
    return primary_code(exc) in _FAULTS


def is_damage(exc: sqlite3.Error) -> bool:
    """The file's content is bad (not a database, malformed): no retry will read it."""
    return primary_code(exc) in _DAMAGE


def is_full(exc: sqlite3.Error) -> bool:
    return primary_code(exc) == "SQLITE_FULL"


def probe_write(directory: str) -> OSError | None:
    """Creates, writes, syncs and removes a small file in `directory`; the error, if any."""
    path = os.path.join(directory, PROBE_NAME)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        try:
            os.write(fd, b"\0" * 4096)
            os.fsync(fd)
        finally:
            os.close(fd)
    except OSError as exc:
        return exc
    finally:
        with contextlib.suppress(OSError):
            os.unlink(path)
    return None


def describe(exc: BaseException, directory: str) -> str:
    """One line for people: the file system's own words when a probe write fails too,
    then SQLite's (`No space left on device (database or disk is full, SQLITE_FULL)`)."""
    if isinstance(exc, sqlite3.Error):
        detail = f"{exc}, {getattr(exc, 'sqlite_errorname', None) or type(exc).__name__}"
    elif isinstance(exc, OSError):
        return f"{exc.strerror or exc} ({exc.filename or directory})"
    else:
        detail = str(exc)
    probe = probe_write(directory) if os.path.isdir(directory) else None
    if probe is not None:
        return f"{probe.strerror or probe} ({detail})"
    return detail
