"""A preallocated file in `state_dir`, deleted when the disk is full so the store can still
write down the crisis it is paging about.

A full disk is usually filled by something else (logs, uploads, a backup). When a write of
the store fails for lack of space, the store deletes the reserve and tries again: the
incident and its page are committed before they are sent, as on any other day, and survive
a crash. The reserve is made again once free space is back to twice its size, so a disk
that hovers at the edge does not take it and give it back on every write.

Its size is 1/64 of the file system, between 64 KiB and 1 MiB: recording a crisis takes a
few dozen KiB (the WAL restarts in space it already holds, see database.py), and on a small
file system a big reserve would itself move a `disk` check's reading when it is released.
"""

from __future__ import annotations

import contextlib
import logging
import os

from watchdog.common.logs import event

log = logging.getLogger(__name__)

RESERVE_NAME = "state.reserve"
RESERVE_BYTES = 1024 * 1024
RESERVE_MIN = 64 * 1024
RESERVE_SHARE = 64
"""The reserve is this fraction (1/64) of the file system, within RESERVE_MIN..the limit."""


class Reserve:
    """`present` is what this object last saw or did (no file system call per read).
    `limit` 0 disables the reserve."""

    def __init__(self, directory: str, limit: int = RESERVE_BYTES) -> None:
        self.path = os.path.join(directory, RESERVE_NAME)
        self.limit = limit
        self.present = limit > 0 and os.path.isfile(self.path)
        self.size = os.path.getsize(self.path) if self.present else min(limit, RESERVE_MIN)
        self._failed: str | None = None
        """The last error making it (logged once, not on every try)."""

    def low_space(self) -> bool:
        """Less free space than the reserve holds (a write error may be the disk being full
        even when SQLite reports it as an I/O error)."""
        try:
            st = os.statvfs(os.path.dirname(self.path))
        except OSError:
            return False
        return st.f_bavail * st.f_frsize < self.size

    def release(self) -> bool:
        """Deletes the reserve; True when that freed space (it was there)."""
        self.present = False
        try:
            os.unlink(self.path)
        except OSError:
            return False
        event(log, "state_reserve_released", logging.WARNING, path=self.path, bytes=self.size)
        return True

    def ensure(self) -> bool:
        """Makes the reserve unless it exists or free space is below twice its size; True
        when it is in place afterwards. Never raises: a reserve is a precaution."""
        if self.limit <= 0:
            return False
        self.present = os.path.isfile(self.path)
        if self.present:
            return True
        directory = os.path.dirname(self.path)
        partial = self.path + ".partial"
        try:
            st = os.statvfs(directory)
            self.size = min(self.limit, max(RESERVE_MIN, st.f_blocks * st.f_frsize // RESERVE_SHARE))
            if st.f_bavail * st.f_frsize < 2 * self.size:
                return False
            fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            try:
                os.posix_fallocate(fd, 0, self.size)
                os.fsync(fd)
            finally:
                os.close(fd)
            os.replace(partial, self.path)
        except OSError as exc:
            with contextlib.suppress(OSError):
                os.unlink(partial)
            error = exc.strerror or str(exc)
            if error != self._failed:
                event(log, "state_reserve_not_made", logging.WARNING, path=self.path, error=error)
            self._failed = error
            return False
        self.present = True
        self._failed = None
        event(log, "state_reserve_made", path=self.path, bytes=self.size)
        return True
