"""The audit log: one JSON line per decision, appended safely by concurrent pipelines.

Each record is written with a single `write()` on an `O_APPEND` descriptor while holding an
exclusive `flock`, so lines from two pipelines never interleave and earlier lines are never
touched. If the file does not end in a newline (a writer died mid-line, or someone edited it),
a newline is written first so the new record still stands on its own line.

Failing to write is an error the caller must treat as "no decision": a release nobody can
trace afterwards is exactly what the log exists to prevent (the CLI exits 2, fails closed).
"""

from __future__ import annotations

import fcntl
import json
import os
from collections.abc import Mapping
from typing import Any


class AuditError(Exception):
    """The audit record could not be written; the message names the file and the cause."""


def append_record(path: str, record: Mapping[str, Any]) -> None:
    """Appends `record` as one JSON line; creates the file (0640) and its directory if missing."""
    line = (json.dumps(record, ensure_ascii=False, sort_keys=True) + "\n").encode("utf-8")
    try:
        parent = os.path.dirname(path)
        if parent:
            os.makedirs(parent, mode=0o750, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC, 0o640)
    except OSError as exc:
        raise AuditError(f"cannot open audit log {path}: {exc.strerror or exc}") from exc
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        size = os.fstat(fd).st_size
        if size and _last_byte(path, size) != b"\n":
            line = b"\n" + line
        written = os.write(fd, line)
        if written != len(line):
            raise AuditError(f"cannot write audit log {path}: short write ({written} of {len(line)} bytes)")
        os.fsync(fd)
    except OSError as exc:
        raise AuditError(f"cannot write audit log {path}: {exc.strerror or exc}") from exc
    finally:
        os.close(fd)


def _last_byte(path: str, size: int) -> bytes:
    """The file's last byte (read through a separate descriptor: ours is write-only)."""
    try:
        with open(path, "rb") as fh:
            fh.seek(size - 1)
            return fh.read(1)
    except OSError:
        return b"\n"
