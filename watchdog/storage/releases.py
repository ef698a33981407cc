"""The releases deploy-guard recorded: when each started and finished, what and who shipped.

One row per release id: `start` writes its identity and start time, `finish` its end (a
finish with no start recorded still keeps the release, without a start time). The table is
bounded: every write drops releases recorded more than `KEEP_DAYS` ago and all but the
newest `KEEP_ROWS`, so a pipeline that records in a loop cannot fill the disk.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

from watchdog.storage.database import Database

KEEP_DAYS = 90
KEEP_ROWS = 1000

ReleaseEvent = Literal["start", "finish"]


@dataclass(frozen=True)
class ReleaseRecord:
    id: str
    started_at: datetime | None
    finished_at: datetime | None
    commit: str | None
    branch: str | None
    by: str | None
    hotfix: bool
    reason: str | None

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "started_at": self.started_at.isoformat() if self.started_at else None,
            "finished_at": self.finished_at.isoformat() if self.finished_at else None,
            "commit": self.commit,
            "branch": self.branch,
            "by": self.by,
            "hotfix": self.hotfix,
            "reason": self.reason,
        }


@dataclass(frozen=True)
class ReleaseNote:
    """What a `POST /api/v1/releases` says about a release (the time is the daemon's own)."""

    event: ReleaseEvent
    id: str
    commit: str | None = None
    branch: str | None = None
    by: str | None = None
    hotfix: bool = False
    reason: str | None = None


def _utc(moment: datetime) -> str:
    """Stored times are UTC, so that their text sorts as they do."""
    return moment.astimezone(UTC).isoformat()


_COLUMNS = "id, started_at, finished_at, commit_sha, branch, released_by, hotfix, reason"


def _row(r: Sequence[Any]) -> ReleaseRecord:
    return ReleaseRecord(
        r[0],
        datetime.fromisoformat(r[1]) if r[1] else None,
        datetime.fromisoformat(r[2]) if r[2] else None,
        r[3],
        r[4],
        r[5],
        bool(r[6]),
        r[7],
    )


class ReleaseStore:
    """Releases over the state database (shared with the incident store)."""

    def __init__(self, db: Database) -> None:
        self.db = db

    def record(self, note: ReleaseNote, now: datetime) -> ReleaseRecord:
        """Applies one start or finish and returns the release as stored now."""
        at = _utc(now)
        identity = (note.commit, note.branch, note.by, int(note.hotfix), note.reason)
        with self.db.transaction() as tx:
            tx.execute(
                f"INSERT OR IGNORE INTO releases ({_COLUMNS}, recorded_at) VALUES (?, NULL, NULL, ?, ?, ?, ?, ?, ?)",
                (note.id, *identity, at),
            )
            if note.event == "start":
                tx.execute(
                    "UPDATE releases SET started_at = ?, finished_at = NULL, commit_sha = ?, branch = ?, "
                    "released_by = ?, hotfix = ?, reason = ?, recorded_at = ? WHERE id = ?",
                    (at, *identity, at, note.id),
                )
            else:
                tx.execute(
                    "UPDATE releases SET finished_at = ?, commit_sha = COALESCE(commit_sha, ?), "
                    "branch = COALESCE(branch, ?), released_by = COALESCE(released_by, ?), "
                    "hotfix = MAX(hotfix, ?), reason = COALESCE(reason, ?), recorded_at = ? WHERE id = ?",
                    (at, *identity, at, note.id),
                )
            tx.execute(
                "DELETE FROM releases WHERE recorded_at < ? OR id NOT IN "
                "(SELECT id FROM releases ORDER BY recorded_at DESC LIMIT ?)",
                (_utc(now - timedelta(days=KEEP_DAYS)), KEEP_ROWS),
            )
            [row] = tx.query(f"SELECT {_COLUMNS} FROM releases WHERE id = ?", (note.id,))
        return _row(row)

    def started_since(self, since: datetime) -> list[ReleaseRecord]:
        """Releases that started at or after `since`, newest first."""
        rows = self.db.query(
            f"SELECT {_COLUMNS} FROM releases WHERE started_at >= ? ORDER BY started_at DESC", (_utc(since),)
        )
        return [_row(r) for r in rows]

    def count(self) -> int:
        return int(self.db.query("SELECT COUNT(*) FROM releases")[0][0])
