"""The daemon's memory across restarts: incidents, their timelines, restarts, budgets, silences.

One SQLite database in WAL mode under `state_dir` (the outbox keeps its own table in the same
file). Every change is committed before the call returns, so a `kill -9` at any moment loses
nothing that was acted on: unresolved incidents, who was paged and when, and the restart
counters come back on start. The schema is versioned with `PRAGMA user_version`; `MIGRATIONS`
only ever grows, and a database newer than this code is refused rather than misread.

Times are stored as ISO-8601 UTC wall-clock strings: monotonic time does not survive a
restart. The engine converts them back to monotonic deadlines when it loads them.
"""

from __future__ import annotations

import json
import os
import sqlite3
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

DB_NAME = "state.db"

MIGRATIONS: tuple[str, ...] = (
    """
    CREATE TABLE incidents (
        id TEXT PRIMARY KEY,
        check_name TEXT NOT NULL,
        check_type TEXT NOT NULL,
        severity TEXT NOT NULL,
        state TEXT NOT NULL,
        opened_at TEXT NOT NULL,
        since TEXT NOT NULL,
        closed_at TEXT,
        resolution TEXT,
        summary TEXT NOT NULL DEFAULT '',
        paged_channels TEXT NOT NULL DEFAULT '[]',
        paged_at TEXT,
        last_reminder_at TEXT,
        escalated_at TEXT,
        acked_by TEXT,
        acked_at TEXT,
        notifications INTEGER NOT NULL DEFAULT 0,
        tried TEXT NOT NULL DEFAULT ''
    );
    CREATE INDEX incidents_open ON incidents(closed_at);
    CREATE TABLE timeline (
        seq INTEGER PRIMARY KEY AUTOINCREMENT,
        incident_id TEXT NOT NULL,
        at TEXT NOT NULL,
        kind TEXT NOT NULL,
        text TEXT NOT NULL
    );
    CREATE INDEX timeline_incident ON timeline(incident_id, seq);
    CREATE TABLE restarts (
        seq INTEGER PRIMARY KEY AUTOINCREMENT,
        check_name TEXT NOT NULL,
        incident_id TEXT NOT NULL,
        at TEXT NOT NULL,
        result TEXT NOT NULL,
        returncode INTEGER,
        duration REAL NOT NULL,
        output TEXT NOT NULL
    );
    CREATE TABLE budgets (
        check_name TEXT PRIMARY KEY,
        state TEXT NOT NULL,
        count INTEGER NOT NULL,
        ok_since TEXT
    );
    CREATE TABLE silences (
        id TEXT PRIMARY KEY,
        check_name TEXT NOT NULL,
        until TEXT NOT NULL,
        reason TEXT NOT NULL,
        created_by TEXT NOT NULL,
        created_at TEXT NOT NULL,
        ended_at TEXT
    );
    """,
)


class SchemaTooNew(Exception):
    pass


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def _dt(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value) if value else None


@dataclass
class IncidentRecord:
    """An incident as stored; the engine's working copy between commits."""

    id: str
    check: str
    check_type: str
    severity: str
    state: str
    opened_at: datetime
    since: datetime
    summary: str = ""
    closed_at: datetime | None = None
    resolution: str | None = None
    paged_channels: tuple[str, ...] = ()
    paged_at: datetime | None = None
    last_reminder_at: datetime | None = None
    escalated_at: datetime | None = None
    acked_by: str | None = None
    acked_at: datetime | None = None
    notifications: int = 0
    tried: str = ""


@dataclass(frozen=True)
class TimelineEntry:
    at: datetime
    kind: str
    text: str


@dataclass(frozen=True)
class RestartRecord:
    check: str
    incident_id: str
    at: datetime
    result: str
    returncode: int | None
    duration: float
    output: str


@dataclass(frozen=True)
class BudgetRecord:
    check: str
    state: str
    count: int
    ok_since: datetime | None


@dataclass(frozen=True)
class SilenceRecord:
    id: str
    check: str
    until: datetime
    reason: str
    by: str
    created_at: datetime
    ended_at: datetime | None = field(default=None)

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "check": self.check,
            "until": self.until.isoformat(),
            "reason": self.reason,
            "by": self.by,
            "created_at": self.created_at.isoformat(),
        }


_INCIDENT_COLUMNS = (
    "id, check_name, check_type, severity, state, opened_at, since, summary, closed_at, resolution, "
    "paged_channels, paged_at, last_reminder_at, escalated_at, acked_by, acked_at, "
    "notifications, tried"
)


class StateStore:
    """Thread-safe access to the state database; every method commits before returning."""

    def __init__(self, state_dir: str) -> None:
        os.makedirs(state_dir, mode=0o750, exist_ok=True)
        self.path = os.path.join(state_dir, DB_NAME)
        self._lock = threading.Lock()
        self._db = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None, timeout=30)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=FULL")
        self._migrate()

    def _migrate(self) -> None:
        with self._lock:
            version = int(self._db.execute("PRAGMA user_version").fetchone()[0])
            if version > len(MIGRATIONS):
                raise SchemaTooNew(
                    f"{self.path}: schema version {version} is newer than this shop-watchdog ({len(MIGRATIONS)})"
                )
            for number, script in enumerate(MIGRATIONS[version:], start=version + 1):
                self._db.execute("BEGIN IMMEDIATE")
                try:
                    for statement in script.split(";"):
                        if statement.strip():
                            self._db.execute(statement)
                    self._db.execute(f"PRAGMA user_version = {number}")
                    self._db.execute("COMMIT")
                except BaseException:
                    self._db.execute("ROLLBACK")
                    raise

    @property
    def schema_version(self) -> int:
        with self._lock:
            return int(self._db.execute("PRAGMA user_version").fetchone()[0])

    @contextmanager
    def _tx(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                yield self._db
                self._db.execute("COMMIT")
            except BaseException:
                self._db.execute("ROLLBACK")
                raise

    def close(self) -> None:
        with self._lock:
            self._db.close()

    # incidents

    def save_incident(self, rec: IncidentRecord, timeline: Sequence[TimelineEntry] = ()) -> None:
        """Writes the incident and appends `timeline` entries in one transaction."""
        row = (
            rec.id, rec.check, rec.check_type, rec.severity, rec.state, _iso(rec.opened_at), _iso(rec.since),
            rec.summary, _iso(rec.closed_at), rec.resolution, json.dumps(list(rec.paged_channels)),
            _iso(rec.paged_at), _iso(rec.last_reminder_at), _iso(rec.escalated_at),
            rec.acked_by, _iso(rec.acked_at), rec.notifications, rec.tried,
        )  # fmt: skip
        with self._tx() as db:
            db.execute(f"INSERT OR REPLACE INTO incidents ({_INCIDENT_COLUMNS}) VALUES ({','.join('?' * 18)})", row)
            db.executemany(
                "INSERT INTO timeline (incident_id, at, kind, text) VALUES (?, ?, ?, ?)",
                [(rec.id, _iso(e.at), e.kind, e.text) for e in timeline],
            )

    def _incidents(self, where: str, args: Sequence[Any]) -> list[IncidentRecord]:
        with self._lock:
            rows = self._db.execute(f"SELECT {_INCIDENT_COLUMNS} FROM incidents WHERE {where}", args).fetchall()
        return [
            IncidentRecord(
                id=r[0],
                check=r[1],
                check_type=r[2],
                severity=r[3],
                state=r[4],
                opened_at=datetime.fromisoformat(r[5]),
                since=datetime.fromisoformat(r[6]),
                summary=r[7],
                closed_at=_dt(r[8]),
                resolution=r[9],
                paged_channels=tuple(json.loads(r[10])),
                paged_at=_dt(r[11]),
                last_reminder_at=_dt(r[12]),
                escalated_at=_dt(r[13]),
                acked_by=r[14],
                acked_at=_dt(r[15]),
                notifications=r[16],
                tried=r[17],
            )
            for r in rows
        ]

    def open_incidents(self) -> list[IncidentRecord]:
        return self._incidents("closed_at IS NULL ORDER BY opened_at", ())

    def incident(self, incident_id: str) -> IncidentRecord | None:
        found = self._incidents("id = ?", (incident_id,))
        return found[0] if found else None

    def incidents_of(self, check: str) -> list[IncidentRecord]:
        return self._incidents("check_name = ? ORDER BY opened_at", (check,))

    def timeline(self, incident_id: str) -> list[TimelineEntry]:
        with self._lock:
            rows = self._db.execute(
                "SELECT at, kind, text FROM timeline WHERE incident_id = ? ORDER BY seq", (incident_id,)
            ).fetchall()
        return [TimelineEntry(datetime.fromisoformat(r[0]), r[1], r[2]) for r in rows]

    # restarts and budgets

    def record_restart(self, rec: RestartRecord) -> None:
        with self._tx() as db:
            db.execute(
                "INSERT INTO restarts (check_name, incident_id, at, result, returncode, duration, output) "
                "VALUES (?, ?, ?, ?, ?, ?, ?)",
                (rec.check, rec.incident_id, _iso(rec.at), rec.result, rec.returncode, rec.duration, rec.output),
            )

    def restarts(self, check: str) -> list[RestartRecord]:
        with self._lock:
            rows = self._db.execute(
                "SELECT check_name, incident_id, at, result, returncode, duration, output FROM restarts "
                "WHERE check_name = ? ORDER BY seq",
                (check,),
            ).fetchall()
        return [RestartRecord(r[0], r[1], datetime.fromisoformat(r[2]), r[3], r[4], r[5], r[6]) for r in rows]

    def save_budget(self, rec: BudgetRecord) -> None:
        with self._tx() as db:
            db.execute(
                "INSERT OR REPLACE INTO budgets (check_name, state, count, ok_since) VALUES (?, ?, ?, ?)",
                (rec.check, rec.state, rec.count, _iso(rec.ok_since)),
            )

    def budgets(self) -> list[BudgetRecord]:
        with self._lock:
            rows = self._db.execute("SELECT check_name, state, count, ok_since FROM budgets").fetchall()
        return [BudgetRecord(r[0], r[1], r[2], _dt(r[3])) for r in rows]

    # silences

    def save_silence(self, rec: SilenceRecord) -> None:
        with self._tx() as db:
            db.execute(
                "INSERT OR REPLACE INTO silences (id, check_name, until, reason, created_by, created_at, ended_at) "
                "VALUES (?, ?, ?, ?, ?, ?, ?)",
                (rec.id, rec.check, _iso(rec.until), rec.reason, rec.by, _iso(rec.created_at), _iso(rec.ended_at)),
            )

    def active_silences(self) -> list[SilenceRecord]:
        """Silences not yet ended (an expired one is ended by the engine, which acts on it)."""
        with self._lock:
            rows = self._db.execute(
                "SELECT id, check_name, until, reason, created_by, created_at FROM silences "
                "WHERE ended_at IS NULL ORDER BY created_at"
            ).fetchall()
        return [
            SilenceRecord(r[0], r[1], datetime.fromisoformat(r[2]), r[3], r[4], datetime.fromisoformat(r[5]))
            for r in rows
        ]
