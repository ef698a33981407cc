"""The outbox's rows: one per (notification, channel), with what became of it.

A repository over the state database (database.py); the delivery logic (threads, retries,
fallback decisions) is watchdog.delivery.outbox, which hands messages down as plain values
(this layer knows no `Notification`). Every change commits before it returns (to the file,
or to memory while the file cannot be written) and never raises a store fault.

A row is addressed by its natural key (notification id, channel), never by its sequence
number: a change kept in memory while the disk was failing is written down later and must
mean the same row there. The notification id is the delivery's deduplication key, so
storing a message for a channel twice is a no-op, in memory, on disk and between the two.
So is storing a message whose sender's `key` (incident id / message number) the channel has
already: the engine repeats a message after a crash between its outbox commit and its own
under a new (random) notification id, and the key keeps that repeat from going out twice.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import datetime

from watchdog.storage.database import Database, Tx
from watchdog.storage.state import TimelineEntry, append_timeline

_COLUMNS = (
    "seq, notification_id, incident_id, channel, kind, body, fallback, fallback_of, state, attempts, fell_back,"
    " last_error, created_at, updated_at"
)
_KEY = "notification_id = ? AND channel = ?"


@dataclass(frozen=True)
class Message:
    """What delivery stores: a notification's identity, kind and JSON body; `key`: the
    sender's name for the message, when it has one (stored once per channel, like the id)."""

    notification_id: str
    incident_id: str
    kind: str
    body: str
    key: str | None = None


@dataclass(frozen=True)
class OutboxRow:
    """One message for one channel. `state`: pending, delivered or rejected; `fallback`: the
    channels it goes to when this one rejects it or keeps failing (`fell_back` once it did);
    `fallback_of`: the channel this row is the fallback copy of."""

    seq: int
    message: Message
    channel: str
    fallback: tuple[str, ...]
    fallback_of: str | None
    state: str
    attempts: int
    fell_back: bool
    last_error: str | None
    created_at: str
    updated_at: str

    @property
    def key(self) -> tuple[str, str]:
        return self.message.notification_id, self.channel


@dataclass(frozen=True)
class Backlog:
    """The pending rows of one channel: how many, the most attempts of one, the newest error."""

    channel: str
    pending: int
    attempts: int
    last_error: str | None


class OutboxStore:
    def __init__(self, db: Database) -> None:
        self.db = db

    # --- storing -------------------------------------------------------------------------

    def add(
        self,
        message: Message,
        channels: Sequence[str],
        fallback: Sequence[str],
        now: datetime,
        *,
        follow_fallbacks: bool = False,
    ) -> list[str]:
        """Stores `message` once per channel, in one transaction; returns the channels.

        `fallback`: each row's fallback channels (without the row's own). With
        `follow_fallbacks`, the message also goes to every channel that got a fallback copy
        of a message of its incident (a resolve goes where its trigger went)."""
        targets = list(dict.fromkeys(channels))
        with self.db.transaction() as tx:
            if follow_fallbacks:
                for row in tx.query(
                    "SELECT DISTINCT channel FROM outbox WHERE incident_id = ? AND fallback_of IS NOT NULL",
                    (message.incident_id,),
                ):
                    if row[0] not in targets:
                        targets.append(row[0])
            for name in targets:
                spare = [f for f in dict.fromkeys(fallback) if f != name]
                _insert(tx, message, name, spare, None, now)
        return targets

    def delivered(
        self, row: OutboxRow, attempts: int, now: datetime, *, remember_firing: bool, forget_firing: bool
    ) -> None:
        """Marks `row` delivered. `remember_firing` keeps its body as its incident's firing
        message on the channel (for periodic re-sends); `forget_firing` drops that."""
        m = row.message
        with self.db.transaction() as tx:
            tx.execute(
                f"UPDATE outbox SET state = 'delivered', attempts = ?, last_error = NULL, updated_at = ? WHERE {_KEY}",
                (attempts, now.isoformat(), *row.key),
            )
            if remember_firing:
                tx.execute(
                    "INSERT OR REPLACE INTO outbox_firing (channel, incident_id, body) VALUES (?, ?, ?)",
                    (row.channel, m.incident_id, m.body),
                )
            elif forget_firing:
                tx.execute(
                    "DELETE FROM outbox_firing WHERE channel = ? AND incident_id = ?", (row.channel, m.incident_id)
                )

    def attempted(self, row: OutboxRow, attempts: int, error: str, now: datetime) -> None:
        """Records a failed attempt, on the row (which stays pending) and in its incident's
        timeline (every attempt, where the row keeps only the last)."""
        text = f"{row.message.kind} to {row.channel}: attempt {attempts} failed: {error}"
        with self.db.transaction() as tx:
            tx.execute(
                f"UPDATE outbox SET attempts = ?, last_error = ?, updated_at = ? WHERE {_KEY}",
                (attempts, error, now.isoformat(), *row.key),
            )
            append_timeline(tx, row.message.incident_id, TimelineEntry(now, "delivery", text))

    def reject(
        self, row: OutboxRow, attempts: int, error: str, now: datetime, *, copy: bool
    ) -> tuple[list[str], list[str]]:
        """Marks `row` rejected (never retried) and, in the same transaction, falls back as
        `fall_back` does."""
        with self.db.transaction() as tx:
            tx.execute(
                f"UPDATE outbox SET state = 'rejected', attempts = ?, last_error = ?, updated_at = ? WHERE {_KEY}",
                (attempts, error, now.isoformat(), *row.key),
            )
            return _fall_back(tx, row, now, copy)

    def fall_back(self, row: OutboxRow, now: datetime, *, copy: bool) -> tuple[list[str], list[str]]:
        """Once per row: marks it fallen back and, with `copy`, stores its message for each
        of its fallback channels. Returns (fallback channels, channels that got a new row);
        both empty when the row fell back before."""
        with self.db.transaction() as tx:
            return _fall_back(tx, row, now, copy)

    def forget_firing(self, channel: str, incident_id: str) -> None:
        with self.db.transaction() as tx:
            tx.execute("DELETE FROM outbox_firing WHERE channel = ? AND incident_id = ?", (channel, incident_id))

    def prune(self, before: datetime) -> int:
        """Deletes delivered and rejected rows last changed before `before`; how many."""
        with self.db.transaction() as tx:
            return tx.execute(
                "DELETE FROM outbox WHERE state != 'pending' AND updated_at < ?", (before.isoformat(),)
            ).rowcount

    # --- reading -------------------------------------------------------------------------

    def pending(self, channel: str) -> list[OutboxRow]:
        """The channel's pending rows, oldest first."""
        return _rows(
            self.db.query(
                f"SELECT {_COLUMNS} FROM outbox WHERE state = 'pending' AND channel = ? ORDER BY seq", (channel,)
            )
        )

    def pending_elsewhere(self, channels: Collection[str]) -> list[OutboxRow]:
        """Pending rows of channels not in `channels`, oldest first."""
        names = list(channels)
        marks = ",".join("?" * len(names))
        return _rows(
            self.db.query(
                f"SELECT {_COLUMNS} FROM outbox WHERE state = 'pending' AND channel NOT IN ({marks}) ORDER BY seq",
                names,
            )
        )

    def firing(self, channel: str) -> list[tuple[str, str]]:
        """(incident id, body) of each incident's latest firing message on `channel`."""
        rows = self.db.query("SELECT incident_id, body FROM outbox_firing WHERE channel = ?", (channel,))
        return [(row[0], row[1]) for row in rows]

    def history(self, incident_id: str) -> list[OutboxRow]:
        return _rows(self.db.query(f"SELECT {_COLUMNS} FROM outbox WHERE incident_id = ? ORDER BY seq", (incident_id,)))

    def counts(self) -> dict[str, int]:
        """Rows by state."""
        return {row[0]: int(row[1]) for row in self.db.query("SELECT state, COUNT(*) FROM outbox GROUP BY state")}

    def oldest_pending(self) -> str | None:
        value = self.db.query("SELECT MIN(created_at) FROM outbox WHERE state = 'pending'")[0][0]
        return str(value) if value is not None else None

    def backlogs(self) -> list[Backlog]:
        rows = self.db.query(
            "SELECT channel, COUNT(*) AS n, MAX(attempts) AS attempts,"
            " (SELECT last_error FROM outbox o2 WHERE o2.channel = o.channel AND o2.state = 'pending'"
            "  AND o2.last_error IS NOT NULL ORDER BY seq DESC LIMIT 1) AS last_error"
            " FROM outbox o WHERE state = 'pending' GROUP BY channel"
        )
        return [Backlog(row[0], int(row[1]), int(row[2]), row[3]) for row in rows]


def _insert(
    tx: Tx, message: Message, channel: str, fallback: Sequence[str], fallback_of: str | None, now: datetime
) -> bool:
    """Stores `message` for `channel` unless stored already; True when a row was added."""
    stamp = now.isoformat()
    cursor = tx.execute(
        "INSERT OR IGNORE INTO outbox (notification_id, incident_id, channel, kind, body, fallback, fallback_of,"
        " created_at, updated_at, message_key) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (
            message.notification_id,
            message.incident_id,
            channel,
            message.kind,
            message.body,
            json.dumps(list(fallback)),
            fallback_of,
            stamp,
            stamp,
            message.key,
        ),
    )
    return cursor.rowcount > 0


def _fall_back(tx: Tx, row: OutboxRow, now: datetime, copy: bool) -> tuple[list[str], list[str]]:
    if row.fell_back:
        return [], []
    tx.execute(f"UPDATE outbox SET fell_back = 1 WHERE {_KEY}", row.key)
    spare = [name for name in row.fallback if name != row.channel]
    if not copy:
        return spare, []
    return spare, [name for name in spare if _insert(tx, row.message, name, (), row.channel, now)]


def _rows(rows: list[sqlite3.Row]) -> list[OutboxRow]:
    return [
        OutboxRow(
            seq=r[0],
            message=Message(r[1], r[2], r[4], r[5]),
            channel=r[3],
            fallback=tuple(json.loads(r[6])),
            fallback_of=r[7],
            state=r[8],
            attempts=r[9],
            fell_back=bool(r[10]),
            last_error=r[11],
            created_at=r[12],
            updated_at=r[13],
        )
        for r in rows
    ]
