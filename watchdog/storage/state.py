"""The incident store: incidents, their timelines, restarts, restart budgets, silences.

A repository over the state database (database.py), which owns the file, the schema and
what happens when the disk fails; every method commits (to the file, or to memory while
the file cannot be written) before it returns, and never raises a store fault into the
engine. Unresolved incidents, who was paged and when, and the restart counters come back
on start.

Times are stored as ISO-8601 UTC wall-clock strings: monotonic time does not survive a
restart. The engine converts them back to monotonic deadlines when it loads them.
Appended rows (timeline entries, restarts) carry a key of their own, so writing a change
down a second time after a failed commit adds nothing twice.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from watchdog.common.status_document import SilenceEntry
from watchdog.storage.database import Database, Tx


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

    def entry(self) -> SilenceEntry:
        """The silence as the status document and `GET /api/v1/silences` list it."""
        return SilenceEntry(
            id=self.id,
            check=self.check,
            reason=self.reason,
            created_by=self.by,
            created_at=self.created_at.isoformat(),
            until=self.until.isoformat(),
        )

    def to_json(self) -> dict[str, Any]:
        """The entry, plus `by` as the first release answered a new silence."""
        return {**self.entry(), "by": self.by}


_INCIDENT_COLUMNS = (
    "id, check_name, check_type, severity, state, opened_at, since, summary, closed_at, resolution, "
    "paged_channels, paged_at, last_reminder_at, escalated_at, acked_by, acked_at, "
    "notifications, tried"
)


class StateStore:
    """The incident store over `db`; thread-safe (the database serialises access)."""

    def __init__(self, db: Database) -> None:
        self.db = db

    def close(self) -> None:
        """Closes the database, which the outbox shares: close the outbox first."""
        self.db.close()

    # incidents

    def save_incident(self, rec: IncidentRecord, timeline: Sequence[TimelineEntry] = ()) -> None:
        """Writes the incident and appends `timeline` entries in one transaction."""
        row = (
            rec.id, rec.check, rec.check_type, rec.severity, rec.state, _iso(rec.opened_at), _iso(rec.since),
            rec.summary, _iso(rec.closed_at), rec.resolution, json.dumps(list(rec.paged_channels)),
            _iso(rec.paged_at), _iso(rec.last_reminder_at), _iso(rec.escalated_at),
            rec.acked_by, _iso(rec.acked_at), rec.notifications, rec.tried,
        )  # fmt: skip
        with self.db.transaction() as tx:
            tx.execute(f"INSERT OR REPLACE INTO incidents ({_INCIDENT_COLUMNS}) VALUES ({','.join('?' * 18)})", row)
            for e in timeline:
                append_timeline(tx, rec.id, e)

    def _incidents(self, where: str, args: Sequence[Any]) -> list[IncidentRecord]:
        rows = self.db.query(f"SELECT {_INCIDENT_COLUMNS} FROM incidents WHERE {where}", args)
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

    def closed_since(self, resolution: str, since: datetime) -> list[IncidentRecord]:
        """Incidents closed with `resolution` at or after `since` (UTC, as the engine stores
        every time), newest first."""
        where = "resolution = ? AND closed_at >= ? ORDER BY closed_at DESC"
        return self._incidents(where, (resolution, since.isoformat()))

    def incidents_of(self, check: str) -> list[IncidentRecord]:
        return self._incidents("check_name = ? ORDER BY opened_at", (check,))

    def opened_since(self, since: datetime) -> list[IncidentRecord]:
        """Incidents opened at or after `since`, resolved or not, oldest first."""
        return self._incidents("opened_at >= ? ORDER BY opened_at", (_iso(since),))

    def incidents_since(self, since: datetime) -> list[IncidentRecord]:
        """Incidents opened or paged at or after `since` (UTC), oldest first."""
        at = _iso(since)
        return self._incidents("opened_at >= ? OR paged_at >= ? ORDER BY opened_at", (at, at))

    def timeline(self, incident_id: str) -> list[TimelineEntry]:
        rows = self.db.query("SELECT at, kind, text FROM timeline WHERE incident_id = ? ORDER BY seq", (incident_id,))
        return [TimelineEntry(datetime.fromisoformat(r[0]), r[1], r[2]) for r in rows]

    def use_ack_link(self, incident_id: str, link_id: str, at: datetime) -> bool:
        """Records that ack link `link_id` was used; False when it was already (the timeline's
        unique entry_key makes the record, and so the refusal of a replay, survive restarts)."""
        with self.db.transaction() as tx:
            cursor = tx.execute(
                "INSERT OR IGNORE INTO timeline (incident_id, at, kind, text, entry_key) VALUES (?, ?, ?, ?, ?)",
                (incident_id, _iso(at), "ack_link_used", f"ack link {link_id} used", f"ack-link:{link_id}"),
            )
            return cursor.rowcount == 1

    def ack_link_used(self, link_id: str) -> bool:
        return bool(self.db.query("SELECT 1 FROM timeline WHERE entry_key = ?", (f"ack-link:{link_id}",)))

    # restarts and budgets

    def record_restart(self, rec: RestartRecord) -> None:
        with self.db.transaction() as tx:
            _append(
                tx,
                "restarts",
                ("check_name", "incident_id", "at", "result", "returncode", "duration", "output"),
                (rec.check, rec.incident_id, _iso(rec.at), rec.result, rec.returncode, rec.duration, rec.output),
            )

    def restarts(self, check: str) -> list[RestartRecord]:
        return self._restarts("check_name = ?", check)

    def restarts_of_incident(self, incident_id: str) -> list[RestartRecord]:
        return self._restarts("incident_id = ?", incident_id)

    def _restarts(self, where: str, value: str) -> list[RestartRecord]:
        rows = self.db.query(
            "SELECT check_name, incident_id, at, result, returncode, duration, output FROM restarts "
            f"WHERE {where} ORDER BY seq",
            (value,),
        )
        return [RestartRecord(r[0], r[1], datetime.fromisoformat(r[2]), r[3], r[4], r[5], r[6]) for r in rows]

    def restarts_since(self, since: datetime) -> list[RestartRecord]:
        """Restarts of every check at or after `since` (UTC), in order."""
        return self._restarts("at >= ?", since.isoformat())

    def save_budget(self, rec: BudgetRecord) -> None:
        with self.db.transaction() as tx:
            tx.execute(
                "INSERT OR REPLACE INTO budgets (check_name, state, count, ok_since) VALUES (?, ?, ?, ?)",
                (rec.check, rec.state, rec.count, _iso(rec.ok_since)),
            )

    def budgets(self) -> list[BudgetRecord]:
        rows = self.db.query("SELECT check_name, state, count, ok_since FROM budgets")
        return [BudgetRecord(r[0], r[1], r[2], _dt(r[3])) for r in rows]

    # working-hours digests

    def record_digest(self, period: datetime, sent_at: datetime) -> None:
        with self.db.transaction() as tx:
            tx.execute("INSERT OR IGNORE INTO digests (period, sent_at) VALUES (?, ?)", (_iso(period), _iso(sent_at)))

    def last_digest(self) -> datetime | None:
        """The start of the latest period whose digest was sent."""
        rows = self.db.query("SELECT period FROM digests ORDER BY period DESC LIMIT 1")
        return datetime.fromisoformat(rows[0][0]) if rows else None

    # silences

    def save_silence(self, rec: SilenceRecord) -> None:
        with self.db.transaction() as tx:
            tx.execute(
                "INSERT OR REPLACE INTO silences (id, check_name, until, reason, created_by, created_at, ended_at) "
                "VALUES (?, ?, ?, ?, ?, ?, ?)",
                (rec.id, rec.check, _iso(rec.until), rec.reason, rec.by, _iso(rec.created_at), _iso(rec.ended_at)),
            )

    def active_silences(self) -> list[SilenceRecord]:
        """Silences not yet ended (an expired one is ended by the engine, which acts on it)."""
        rows = self.db.query(
            "SELECT id, check_name, until, reason, created_by, created_at FROM silences "
            "WHERE ended_at IS NULL ORDER BY created_at"
        )
        return [
            SilenceRecord(r[0], r[1], datetime.fromisoformat(r[2]), r[3], r[4], datetime.fromisoformat(r[5]))
            for r in rows
        ]


def append_timeline(tx: Tx, incident_id: str, entry: TimelineEntry) -> None:
    """Appends `entry` to the incident's timeline in `tx`, which may be another repository's
    (the outbox notes each failed delivery attempt in the same transaction as the attempt)."""
    _append(
        tx, "timeline", ("incident_id", "at", "kind", "text"), (incident_id, _iso(entry.at), entry.kind, entry.text)
    )


def _append(tx: Tx, table: str, columns: Sequence[str], values: Sequence[Any]) -> None:
    """Appends a row under a fresh `entry_key`: run again, the same statement adds nothing."""
    names = ", ".join((*columns, "entry_key"))
    marks = ", ".join("?" * (len(columns) + 1))
    tx.execute(f"INSERT OR IGNORE INTO {table} ({names}) VALUES ({marks})", (*values, uuid.uuid4().hex))
