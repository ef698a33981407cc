"""Moving a state database that cannot be used out of the way, with its -wal and -shm.

The file is kept for people to look at (it may hold the history of incidents); the daemon
starts a fresh one beside it. The three files keep SQLite's naming, so
`sqlite3 state.db.corrupt-20261201T101500Z` opens the moved pair with its WAL.
"""

from __future__ import annotations

import os
from datetime import UTC, datetime

COMPANIONS = ("-wal", "-shm", "-journal")


def quarantine_name(path: str, label: str, now: datetime) -> str:
    """`state.db.corrupt-20261201T101500Z`, with `-2`, `-3`... when that name is taken."""
    stamp = now.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")
    base = f"{path}.{label}-{stamp}"
    candidate, n = base, 1
    while any(os.path.lexists(candidate + suffix) for suffix in ("", *COMPANIONS)):
        n += 1
        candidate = f"{base}-{n}"
    return candidate


def move_aside(path: str, label: str, now: datetime) -> str:
    """Renames `path` and its companions; returns the new name of `path`. Raises OSError
    when the main file cannot be moved (nothing is moved then), or when a companion can
    neither be moved nor removed: an old WAL left beside a fresh database would be
    replayed into it."""
    target = quarantine_name(path, label, now)
    os.rename(path, target)
    for suffix in COMPANIONS:
        if not os.path.lexists(path + suffix):
            continue
        try:
            os.rename(path + suffix, target + suffix)
        except OSError:
            os.unlink(path + suffix)
    return target
