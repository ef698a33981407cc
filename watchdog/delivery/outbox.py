"""Durable notification delivery: nothing the engine hands over is lost (DESIGN "Nothing lost").

`enqueue()` commits one row per (notification, channel) to the state database (SQLite, WAL,
synchronous=FULL) before it returns, then wakes that channel's delivery thread, so a page
leaves within milliseconds and survives a crash (kill -9) or restart at any point: pending
rows are sent when the next Outbox starts. Delivery is at least once: a process killed after
the receiver accepted but before the row was marked delivered sends it again, which every
channel makes harmless (PagerDuty dedup_key, Alertmanager label identity, e-mail Message-ID).

Ordering and isolation: each channel has its own thread, so a hanging SMTP server never
delays the webhook; within a channel, messages of one incident go strictly in order (a
resolve never overtakes its trigger) while other incidents proceed.

Failures: a `TransientError` is retried with exponential backoff and jitter (RetryPolicy);
a `PermanentError` is not retried but logged, counted and copied to the row's fallback
channels. A channel that keeps failing (`fallback_after_attempts` attempts or
`fallback_after` seconds) also triggers the fallback, once, while its retries go on. Once a
message of an incident went to a fallback channel, that incident's resolve goes there too.
Rows for a channel that is not (or no longer) configured are rejected and fall back.

Channels with `resend_every` (Alertmanager) get the latest firing message of each open
incident re-sent periodically until its resolve is delivered; that list is durable too.
Delivered and rejected rows stay for the incident timeline (`history()`) for `retention`.
"""

from __future__ import annotations

import json
import logging
import random
import sqlite3
import threading
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from prometheus_client import CollectorRegistry, Counter

from watchdog.common.clock import Clock
from watchdog.common.logs import SCRUBBER, event, format_event
from watchdog.common.status_document import OutboxSummary
from watchdog.delivery.channels.base import Channel, PermanentError, TransientError
from watchdog.delivery.notification import Notification

log = logging.getLogger(__name__)

_SCHEMA = """
CREATE TABLE IF NOT EXISTS outbox (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    notification_id TEXT NOT NULL,
    incident_id TEXT NOT NULL,
    channel TEXT NOT NULL,
    kind TEXT NOT NULL,
    body TEXT NOT NULL,
    fallback TEXT NOT NULL DEFAULT '[]',
    fallback_of TEXT,
    state TEXT NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'delivered', 'rejected')),
    attempts INTEGER NOT NULL DEFAULT 0,
    fell_back INTEGER NOT NULL DEFAULT 0,
    last_error TEXT,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    UNIQUE (notification_id, channel)
);
CREATE INDEX IF NOT EXISTS outbox_by_state ON outbox (state, channel, seq);
CREATE INDEX IF NOT EXISTS outbox_by_incident ON outbox (incident_id);
CREATE TABLE IF NOT EXISTS outbox_firing (
    channel TEXT NOT NULL,
    incident_id TEXT NOT NULL,
    body TEXT NOT NULL,
    PRIMARY KEY (channel, incident_id)
);
"""

_IDLE_WAIT = 5.0
_ERROR_PAUSE = 1.0
_PRUNE_EVERY = 3600.0


@dataclass(frozen=True)
class RetryPolicy:
    """Backoff between attempts: initial * factor**(n-1), capped at maximum, +-jitter.

    A server's Retry-After stretches the delay (never beyond `maximum`).
    """

    initial: float = 1.0
    maximum: float = 300.0
    factor: float = 2.0
    jitter: float = 0.2
    fallback_after_attempts: int = 3
    fallback_after: float = 120.0

    def __post_init__(self) -> None:
        if not 0 < self.initial <= self.maximum:
            raise ValueError("need 0 < initial <= maximum")
        if self.factor < 1 or not 0 <= self.jitter < 1:
            raise ValueError("need factor >= 1 and 0 <= jitter < 1")
        if self.fallback_after_attempts < 1 or self.fallback_after <= 0:
            raise ValueError("need fallback_after_attempts >= 1 and fallback_after > 0")

    def delay(self, attempts: int, rng: random.Random, retry_after: float | None = None) -> float:
        base = min(self.maximum, self.initial * self.factor ** max(0, attempts - 1))
        jittered = base * rng.uniform(1.0 - self.jitter, 1.0 + self.jitter)
        if retry_after is not None:
            jittered = max(jittered, retry_after)
        return min(self.maximum, jittered)


@dataclass
class _Schedule:
    """A delivery thread's memory of when to try again (monotonic seconds)."""

    retry_at: dict[int, float] = field(default_factory=dict)
    failing_since: dict[int, float] = field(default_factory=dict)
    resend_at: dict[str, float] = field(default_factory=dict)


class Outbox:
    def __init__(
        self,
        db_path: str,
        channels: Mapping[str, Channel[object]],
        clock: Clock,
        registry: CollectorRegistry,
        *,
        policy: RetryPolicy = RetryPolicy(),
        retention: float = 30 * 86400.0,
        rng: random.Random | None = None,
        close_timeout: float = 15.0,
    ) -> None:
        self._db_path = db_path
        self._channels: dict[str, Channel[object]] = dict(channels)
        self._clock = clock
        self._policy = policy
        self._retention = retention
        self._rng = rng or random.Random()
        self._close_timeout = close_timeout
        self._lock = threading.Lock()
        self._conn = self._connect(check_same_thread=False)
        self._conn.executescript(_SCHEMA)
        self._workers: dict[str, threading.Thread] = {}
        self._wake: dict[str, threading.Event] = {}
        self._stopping = threading.Event()
        self._started = False
        self._last_prune: float | None = None
        self._sent = Counter(
            "shop_watchdog_notifications",
            "Notification delivery attempts by outcome (delivered, retry, rejected, fallback, resent).",
            ["channel", "kind", "result"],
            registry=registry,
        )

    def _connect(self, check_same_thread: bool = True) -> sqlite3.Connection:
        conn = sqlite3.connect(self._db_path, timeout=30.0, check_same_thread=check_same_thread, isolation_level=None)
        conn.row_factory = sqlite3.Row
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=FULL")
        conn.execute("PRAGMA busy_timeout=30000")
        return conn

    @contextmanager
    def _transaction(self, conn: sqlite3.Connection) -> Iterator[sqlite3.Connection]:
        conn.execute("BEGIN IMMEDIATE")
        try:
            yield conn
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        conn.execute("COMMIT")

    def _stamp(self) -> str:
        return self._clock.now().isoformat()

    # --- the engine's side -------------------------------------------------------------

    def enqueue(self, n: Notification, channels: Sequence[str], fallback: Sequence[str] = ()) -> None:
        """Stores `n` for each channel (committed when this returns) and wakes their threads.

        `fallback`: channels that get `n` when one of `channels` rejects it or keeps failing.
        Enqueueing the same notification id for a channel twice is a no-op.
        """
        targets = list(dict.fromkeys(channels))
        with self._lock:
            with self._transaction(self._conn) as conn:
                if n.kind == "resolve":
                    for (extra,) in conn.execute(
                        "SELECT DISTINCT channel FROM outbox WHERE incident_id = ? AND fallback_of IS NOT NULL",
                        (n.incident_id,),
                    ):
                        if extra not in targets:
                            targets.append(extra)
                for name in targets:
                    spare = [f for f in dict.fromkeys(fallback) if f != name]
                    self._insert(conn, n, name, spare, fallback_of=None)
            event(
                log,
                "outbox_enqueued",
                notification=n.id,
                incident=n.incident_id,
                kind=n.kind,
                channels=",".join(targets),
            )
            self._reject_orphans(self._conn)
            self._prune_if_due(self._conn)
        for name in targets:
            self._poke(name)

    def _insert(
        self, conn: sqlite3.Connection, n: Notification, channel: str, fallback: Sequence[str], fallback_of: str | None
    ) -> bool:
        stamp = self._stamp()
        cur = conn.execute(
            "INSERT OR IGNORE INTO outbox (notification_id, incident_id, channel, kind, body, fallback, fallback_of,"
            " created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (n.id, n.incident_id, channel, n.kind, n.to_json(), json.dumps(list(fallback)), fallback_of, stamp, stamp),
        )
        return cur.rowcount > 0

    def _poke(self, name: str) -> None:
        wake = self._wake.get(name)
        if wake is not None:
            wake.set()

    # --- lifecycle -----------------------------------------------------------------------

    def start(self) -> None:
        """Starts one delivery thread per channel; pending rows from before are sent at once."""
        with self._lock:
            self._started = True
            self._reject_orphans(self._conn)
            self._prune_if_due(self._conn)
            for name in self._channels:
                self._start_worker(name)

    def reload(self, channels: Mapping[str, Channel[object]]) -> None:
        """Swaps the channel objects; threads start for new names and end for removed ones."""
        with self._lock:
            self._channels = dict(channels)
            self._reject_orphans(self._conn)
            if self._started:
                for name in self._channels:
                    self._start_worker(name)
        self.wake()

    def wake(self) -> None:
        """Makes every delivery thread look at once at what is due; threads otherwise re-check
        at the next due time or within 5 s, which is too late after a jump of an injected clock."""
        with self._lock:
            names = list(self._wake)
        for name in names:
            self._poke(name)

    def close(self) -> None:
        """Stops the delivery threads (a send in progress finishes); pending rows stay pending."""
        self._stopping.set()
        with self._lock:
            threads = list(self._workers.values())
            for wake in self._wake.values():
                wake.set()
        for thread in threads:
            thread.join(self._close_timeout)
        with self._lock:
            self._conn.close()

    def _start_worker(self, name: str) -> None:
        """Starts the thread of channel `name` unless it runs; caller holds the lock."""
        if name in self._workers or self._stopping.is_set():
            return
        self._wake[name] = threading.Event()
        thread = threading.Thread(target=self._run, args=(name,), name=f"outbox-{name}", daemon=True)
        self._workers[name] = thread
        thread.start()

    # --- what the status API and the incident timeline read ------------------------------

    def snapshot(self) -> OutboxSummary:
        """Counts by state; `channels` (only while something is pending) says what holds it up."""
        with self._lock:
            counts = dict(self._conn.execute("SELECT state, COUNT(*) FROM outbox GROUP BY state").fetchall())
            oldest = self._conn.execute("SELECT MIN(created_at) FROM outbox WHERE state = 'pending'").fetchone()[0]
            per_channel = self._conn.execute(
                "SELECT channel, COUNT(*) AS n, MAX(attempts) AS attempts,"
                " (SELECT last_error FROM outbox o2 WHERE o2.channel = o.channel AND o2.state = 'pending'"
                "  AND o2.last_error IS NOT NULL ORDER BY seq DESC LIMIT 1) AS last_error"
                " FROM outbox o WHERE state = 'pending' GROUP BY channel"
            ).fetchall()
        snapshot: OutboxSummary = {
            "pending": counts.get("pending", 0),
            "failed": counts.get("rejected", 0),
            "delivered": counts.get("delivered", 0),
            "oldest_pending_at": oldest,
        }
        if per_channel:
            snapshot["channels"] = {
                row["channel"]: {"pending": row["n"], "attempts": row["attempts"], "last_error": row["last_error"]}
                for row in per_channel
            }
        return snapshot

    def history(self, incident_id: str) -> list[dict[str, Any]]:
        """Every delivery of an incident's notifications, oldest first, for its timeline."""
        with self._lock:
            rows = self._conn.execute(
                "SELECT notification_id, channel, kind, state, attempts, last_error, fallback_of, created_at,"
                " updated_at FROM outbox WHERE incident_id = ? ORDER BY seq",
                (incident_id,),
            ).fetchall()
        return [dict(row) for row in rows]

    # --- housekeeping (caller holds the lock) ---------------------------------------------

    def _prune_if_due(self, conn: sqlite3.Connection) -> None:
        now = self._clock.monotonic()
        if self._last_prune is not None and now - self._last_prune < _PRUNE_EVERY:
            return
        self._last_prune = now
        cutoff = (self._clock.now() - timedelta(seconds=self._retention)).isoformat()
        cur = conn.execute("DELETE FROM outbox WHERE state != 'pending' AND updated_at < ?", (cutoff,))
        if cur.rowcount:
            event(log, "outbox_pruned", rows=cur.rowcount, before=cutoff)

    def _reject_orphans(self, conn: sqlite3.Connection) -> None:
        names = list(self._channels)
        marks = ",".join("?" * len(names))
        rows = conn.execute(
            f"SELECT * FROM outbox WHERE state = 'pending' AND channel NOT IN ({marks}) ORDER BY seq", names
        ).fetchall()
        for row in rows:
            self._reject(conn, row, f"no channel named {row['channel']!r} is configured")

    # --- delivery threads ------------------------------------------------------------------

    def _run(self, name: str) -> None:
        """The delivery loop of one channel. It outlives any error (a locked or full disk, a
        bug): the rows stay in the database, so the next pass simply tries again."""
        conn = self._connect()
        schedule = _Schedule()
        try:
            while not self._stopping.is_set():
                with self._lock:
                    channel = self._channels.get(name)
                    if channel is None:
                        del self._workers[name]
                        del self._wake[name]
                        return
                    wake = self._wake[name]
                wake.clear()
                try:
                    next_due = self._deliver_due(conn, name, channel, schedule)
                except Exception as exc:
                    log.exception("%s", format_event("outbox_pass_failed", {"channel": name, "error": repr(exc)}))
                    next_due = self._clock.monotonic() + _ERROR_PAUSE
                timeout = _IDLE_WAIT if next_due is None else max(0.0, next_due - self._clock.monotonic())
                wake.wait(min(timeout, _IDLE_WAIT))
        finally:
            conn.close()

    def _deliver_due(
        self, conn: sqlite3.Connection, name: str, channel: Channel[object], schedule: _Schedule
    ) -> float | None:
        """One pass over the channel's pending rows and re-sends; returns when to look again."""
        rows = conn.execute(
            "SELECT * FROM outbox WHERE state = 'pending' AND channel = ? ORDER BY seq", (name,)
        ).fetchall()
        blocked: set[str] = set()
        due_times: list[float] = []
        for row in rows:
            if self._stopping.is_set():
                return None
            incident = row["incident_id"]
            if incident in blocked:
                continue
            retry_at = schedule.retry_at.get(row["seq"])
            if retry_at is not None and retry_at > self._clock.monotonic():
                blocked.add(incident)
                due_times.append(retry_at)
                continue
            if not self._attempt(conn, channel, row, schedule):
                blocked.add(incident)
                due_times.append(schedule.retry_at[row["seq"]])
        if channel.resend_every is not None:
            due_times.extend(self._resend_due(conn, channel, blocked, schedule))
        return min(due_times, default=None)

    def _attempt(
        self, conn: sqlite3.Connection, channel: Channel[object], row: sqlite3.Row, schedule: _Schedule
    ) -> bool:
        """Tries one row; False when it stays pending (its incident waits on this channel)."""
        seq = row["seq"]
        try:
            n = Notification.from_json(row["body"])
        except (ValueError, TypeError, KeyError) as exc:
            with self._lock:
                self._reject(conn, row, f"unreadable notification: {exc}")
            return True
        attempts = row["attempts"] + 1
        started = self._clock.monotonic()
        try:
            channel.send(n)
        except PermanentError as exc:
            with self._lock:
                self._reject(conn, row, str(exc), attempts=attempts)
            schedule.retry_at.pop(seq, None)
            schedule.failing_since.pop(seq, None)
            return True
        except Exception as exc:  # TransientError, or a channel bug: retrying is the safe side
            self._retry_later(conn, channel, row, n, attempts, exc, schedule)
            return False
        self._delivered(conn, channel, row, n, attempts, self._clock.monotonic() - started)
        schedule.retry_at.pop(seq, None)
        schedule.failing_since.pop(seq, None)
        if channel.resend_every is not None and n.firing:
            schedule.resend_at[n.incident_id] = self._clock.monotonic() + channel.resend_every
        elif n.kind == "resolve":
            schedule.resend_at.pop(n.incident_id, None)
        return True

    def _delivered(
        self,
        conn: sqlite3.Connection,
        channel: Channel[object],
        row: sqlite3.Row,
        n: Notification,
        attempts: int,
        took: float,
    ) -> None:
        with self._lock, self._transaction(conn):
            conn.execute(
                "UPDATE outbox SET state = 'delivered', attempts = ?, last_error = NULL, updated_at = ? WHERE seq = ?",
                (attempts, self._stamp(), row["seq"]),
            )
            if channel.resend_every is not None and n.firing:
                conn.execute(
                    "INSERT OR REPLACE INTO outbox_firing (channel, incident_id, body) VALUES (?, ?, ?)",
                    (channel.name, n.incident_id, row["body"]),
                )
            elif n.kind == "resolve":
                conn.execute(
                    "DELETE FROM outbox_firing WHERE channel = ? AND incident_id = ?", (channel.name, n.incident_id)
                )
        self._sent.labels(channel.name, n.kind, "delivered").inc()
        age = (self._clock.now() - datetime.fromisoformat(row["created_at"])).total_seconds()
        event(
            log,
            "notification_delivered",
            channel=channel.name,
            notification=n.id,
            incident=n.incident_id,
            kind=n.kind,
            attempts=attempts,
            send_seconds=f"{took:.3f}",
            queued_seconds=f"{age:.3f}",
        )

    def _retry_later(
        self,
        conn: sqlite3.Connection,
        channel: Channel[object],
        row: sqlite3.Row,
        n: Notification,
        attempts: int,
        exc: Exception,
        schedule: _Schedule,
    ) -> None:
        seq = row["seq"]
        now = self._clock.monotonic()
        retry_after = exc.retry_after if isinstance(exc, TransientError) else None
        delay = self._policy.delay(attempts, self._rng, retry_after)
        schedule.retry_at[seq] = now + delay
        failing_since = schedule.failing_since.setdefault(seq, now)
        error = SCRUBBER.scrub(str(exc) if isinstance(exc, TransientError) else f"{type(exc).__name__}: {exc}")
        with self._lock:
            conn.execute(
                "UPDATE outbox SET attempts = ?, last_error = ?, updated_at = ? WHERE seq = ?",
                (attempts, error, self._stamp(), seq),
            )
        self._sent.labels(channel.name, n.kind, "retry").inc()
        event(
            log,
            "notification_retry",
            logging.WARNING,
            channel=channel.name,
            notification=n.id,
            incident=n.incident_id,
            kind=n.kind,
            attempts=attempts,
            retry_in=f"{delay:.1f}s",
            error=error,
        )
        keeps_failing = (
            attempts >= self._policy.fallback_after_attempts or now - failing_since >= self._policy.fallback_after
        )
        if keeps_failing and not row["fell_back"]:
            with self._lock:
                self._fall_back(conn, row, f"still failing after {attempts} attempts")

    def _reject(self, conn: sqlite3.Connection, row: sqlite3.Row, error: str, attempts: int | None = None) -> None:
        """Marks a row rejected (never retried) and copies it to its fallback in the same
        transaction; caller holds the lock."""
        error = SCRUBBER.scrub(error)
        with self._transaction(conn):
            conn.execute(
                "UPDATE outbox SET state = 'rejected', attempts = ?, last_error = ?, updated_at = ? WHERE seq = ?",
                (row["attempts"] if attempts is None else attempts, error, self._stamp(), row["seq"]),
            )
            spare, added = self._copy_to_fallback(conn, row)
        self._sent.labels(row["channel"], row["kind"], "rejected").inc()
        event(
            log,
            "notification_rejected",
            logging.ERROR,
            channel=row["channel"],
            notification=row["notification_id"],
            incident=row["incident_id"],
            kind=row["kind"],
            error=error,
        )
        self._announce_fallback(row, spare, added, error)

    def _fall_back(self, conn: sqlite3.Connection, row: sqlite3.Row, why: str) -> None:
        """Copies a still-pending row to its fallback channels, once; caller holds the lock."""
        with self._transaction(conn):
            spare, added = self._copy_to_fallback(conn, row)
        self._announce_fallback(row, spare, added, why)

    def _copy_to_fallback(self, conn: sqlite3.Connection, row: sqlite3.Row) -> tuple[list[str], list[str]]:
        """Inside a transaction: the row's fallback channels and those that got a new copy."""
        if row["fell_back"]:
            return [], []
        conn.execute("UPDATE outbox SET fell_back = 1 WHERE seq = ?", (row["seq"],))
        spare = [name for name in json.loads(row["fallback"]) if name != row["channel"]]
        try:
            n = Notification.from_json(row["body"])
        except (ValueError, TypeError, KeyError):
            return spare, []
        return spare, [name for name in spare if self._insert(conn, n, name, (), fallback_of=row["channel"])]

    def _announce_fallback(self, row: sqlite3.Row, spare: list[str], added: list[str], why: str) -> None:
        fields: dict[str, object] = {
            "channel": row["channel"],
            "notification": row["notification_id"],
            "incident": row["incident_id"],
            "kind": row["kind"],
            "reason": why,
        }
        if row["fell_back"]:
            return
        if not spare:
            event(log, "notification_no_fallback", logging.ERROR, **fields)
            return
        self._sent.labels(row["channel"], row["kind"], "fallback").inc()
        event(log, "notification_fallback", logging.WARNING, to=",".join(spare), added=",".join(added) or "-", **fields)
        for name in added:
            self._poke(name)

    def _resend_due(
        self, conn: sqlite3.Connection, channel: Channel[object], blocked: set[str], schedule: _Schedule
    ) -> list[float]:
        """Re-sends the firing notifications that are due; returns the next due times."""
        assert channel.resend_every is not None
        due_times: list[float] = []
        for row in conn.execute(
            "SELECT incident_id, body FROM outbox_firing WHERE channel = ?", (channel.name,)
        ).fetchall():
            incident = row["incident_id"]
            if incident in blocked or self._stopping.is_set():
                continue
            due = schedule.resend_at.get(incident, 0.0)
            if due > self._clock.monotonic():
                due_times.append(due)
                continue
            try:
                n = Notification.from_json(row["body"])
            except (ValueError, TypeError, KeyError):
                with self._lock:
                    conn.execute(
                        "DELETE FROM outbox_firing WHERE channel = ? AND incident_id = ?", (channel.name, incident)
                    )
                continue
            try:
                channel.send(n)
            except Exception as exc:  # the next periodic re-send is the retry
                self._sent.labels(channel.name, n.kind, "retry").inc()
                event(
                    log,
                    "notification_resend_failed",
                    logging.WARNING,
                    channel=channel.name,
                    incident=incident,
                    error=str(exc),
                )
            else:
                self._sent.labels(channel.name, n.kind, "resent").inc()
            schedule.resend_at[incident] = self._clock.monotonic() + channel.resend_every
            due_times.append(schedule.resend_at[incident])
        return due_times
