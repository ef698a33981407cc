"""Durable notification delivery: nothing the engine hands over is lost (DESIGN "Nothing lost").

`enqueue()` commits one row per (notification, channel) to the state database
(watchdog.storage.outbox, which holds every statement) before it returns, then wakes that
channel's delivery thread, so a page leaves within milliseconds and survives a crash
(kill -9) or restart at any point: pending rows are sent when the next Outbox starts. While
the disk under the database fails, the rows live in the store's memory copy and are sent
from there just the same (see watchdog.storage.database). Delivery is at least once: a process killed after
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
incident re-sent periodically until its resolve is delivered; that list is durable too. A
channel with `resend_resolved_for` (an Alertmanager cluster, where one node accepting counts
as delivered) gets the resolve re-sent the same way for that long, as Prometheus re-sends
resolved alerts, so a node that missed it does not keep the alert firing.
Delivered and rejected rows stay for the incident timeline (`history()`) for `retention`.
"""

from __future__ import annotations

import logging
import random
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from watchdog.common.clock import Clock
from watchdog.common.incident_history import DeliveryEntry
from watchdog.common.logs import SCRUBBER, event, format_event
from watchdog.common.metric_values import Recorder
from watchdog.common.status_document import OutboxSummary
from watchdog.delivery.channels.base import Channel, PermanentError, TransientError
from watchdog.delivery.notification import Notification
from watchdog.storage.outbox import Message, OutboxRow, OutboxStore

log = logging.getLogger(__name__)

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
    """A delivery thread's memory of when to try again (monotonic seconds), by notification
    id (unique within the channel) for rows and by incident for re-sends."""

    retry_at: dict[str, float] = field(default_factory=dict)
    failing_since: dict[str, float] = field(default_factory=dict)
    resend_at: dict[str, float] = field(default_factory=dict)

    def settled(self, row: OutboxRow) -> None:
        self.retry_at.pop(row.message.notification_id, None)
        self.failing_since.pop(row.message.notification_id, None)


class Outbox:
    def __init__(
        self,
        store: OutboxStore,
        channels: Mapping[str, Channel[object]],
        clock: Clock,
        recorder: Recorder,
        *,
        policy: RetryPolicy = RetryPolicy(),
        retention: float = 30 * 86400.0,
        rng: random.Random | None = None,
        close_timeout: float = 15.0,
    ) -> None:
        self._store = store
        self._channels: dict[str, Channel[object]] = dict(channels)
        self._clock = clock
        self._policy = policy
        self._retention = retention
        self._rng = rng or random.Random()
        self._close_timeout = close_timeout
        self._lock = threading.Lock()
        self._workers: dict[str, threading.Thread] = {}
        self._wake: dict[str, threading.Event] = {}
        self._stopping = threading.Event()
        self._started = False
        self._last_prune: float | None = None
        self._sent = recorder.counter(
            "shop_watchdog_notifications",
            "Notification delivery attempts by outcome (delivered, retry, rejected, fallback, resent).",
            ["channel", "kind", "result"],
        )

    # --- the engine's side -------------------------------------------------------------

    def enqueue(
        self, n: Notification, channels: Sequence[str], fallback: Sequence[str] = (), *, key: str | None = None
    ) -> None:
        """Stores `n` for each channel (committed when this returns) and wakes their threads.

        `fallback`: channels that get `n` when one of `channels` rejects it or keeps failing.
        Enqueueing the same notification id, or the same sender's `key`, for a channel twice
        is a no-op. Once a message
        of an incident went to a fallback channel, its resolve goes there too.
        """
        with self._lock:
            targets = self._store.add(
                _message(n, key), channels, fallback, self._clock.now(), follow_fallbacks=n.kind == "resolve"
            )
            event(
                log,
                "outbox_enqueued",
                notification=n.id,
                incident=n.incident_id,
                kind=n.kind,
                channels=",".join(targets),
            )
            self._reject_orphans()
            self._prune_if_due()
        for name in targets:
            self._poke(name)

    def _poke(self, name: str) -> None:
        wake = self._wake.get(name)
        if wake is not None:
            wake.set()

    # --- lifecycle -----------------------------------------------------------------------

    def start(self) -> None:
        """Starts one delivery thread per channel; pending rows from before are sent at once."""
        with self._lock:
            self._started = True
            self._reject_orphans()
            self._prune_if_due()
            for name in self._channels:
                self._start_worker(name)

    def reload(self, channels: Mapping[str, Channel[object]]) -> None:
        """Swaps the channel objects; threads start for new names and end for removed ones."""
        with self._lock:
            self._channels = dict(channels)
            self._reject_orphans()
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
        """Stops the delivery threads (a send in progress finishes); pending rows stay pending.
        The store stays open: it belongs to whoever opened it."""
        self._stopping.set()
        with self._lock:
            threads = list(self._workers.values())
            for wake in self._wake.values():
                wake.set()
        for thread in threads:
            thread.join(self._close_timeout)

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
        counts = self._store.counts()
        backlogs = self._store.backlogs()
        snapshot: OutboxSummary = {
            "pending": counts.get("pending", 0),
            "failed": counts.get("rejected", 0),
            "delivered": counts.get("delivered", 0),
            "oldest_pending_at": self._store.oldest_pending(),
        }
        if backlogs:
            snapshot["channels"] = {
                b.channel: {"pending": b.pending, "attempts": b.attempts, "last_error": b.last_error} for b in backlogs
            }
        return snapshot

    def history(self, incident_id: str) -> list[DeliveryEntry]:
        """Every delivery of an incident's notifications, oldest first, for its timeline."""
        return [
            DeliveryEntry(
                notification_id=row.message.notification_id,
                channel=row.channel,
                kind=row.message.kind,
                state=row.state,
                attempts=row.attempts,
                last_error=row.last_error,
                fallback_of=row.fallback_of,
                created_at=row.created_at,
                updated_at=row.updated_at,
            )
            for row in self._store.history(incident_id)
        ]

    # --- housekeeping (caller holds the lock) ---------------------------------------------

    def _prune_if_due(self) -> None:
        now = self._clock.monotonic()
        if self._last_prune is not None and now - self._last_prune < _PRUNE_EVERY:
            return
        self._last_prune = now
        cutoff = self._clock.now() - timedelta(seconds=self._retention)
        pruned = self._store.prune(cutoff)
        if pruned:
            event(log, "outbox_pruned", rows=pruned, before=cutoff.isoformat())

    def _reject_orphans(self) -> None:
        for row in self._store.pending_elsewhere(self._channels):
            self._reject(row, f"no channel named {row.channel!r} is configured")

    # --- delivery threads ------------------------------------------------------------------

    def _run(self, name: str) -> None:
        """The delivery loop of one channel. It outlives any error (a bug): the rows stay in
        the store, so the next pass simply tries again."""
        schedule = _Schedule()
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
                next_due = self._deliver_due(name, channel, schedule)
            except Exception as exc:
                log.exception("%s", format_event("outbox_pass_failed", {"channel": name, "error": repr(exc)}))
                next_due = self._clock.monotonic() + _ERROR_PAUSE
            timeout = _IDLE_WAIT if next_due is None else max(0.0, next_due - self._clock.monotonic())
            wake.wait(min(timeout, _IDLE_WAIT))

    def _deliver_due(self, name: str, channel: Channel[object], schedule: _Schedule) -> float | None:
        """One pass over the channel's pending rows and re-sends; returns when to look again."""
        blocked: set[str] = set()
        due_times: list[float] = []
        for row in self._store.pending(name):
            if self._stopping.is_set():
                return None
            incident = row.message.incident_id
            if incident in blocked:
                continue
            retry_at = schedule.retry_at.get(row.message.notification_id)
            if retry_at is not None and retry_at > self._clock.monotonic():
                blocked.add(incident)
                due_times.append(retry_at)
                continue
            if not self._attempt(channel, row, schedule):
                blocked.add(incident)
                due_times.append(schedule.retry_at[row.message.notification_id])
        if channel.resend_every is not None:
            due_times.extend(self._resend_due(channel, blocked, schedule))
        return min(due_times, default=None)

    def _attempt(self, channel: Channel[object], row: OutboxRow, schedule: _Schedule) -> bool:
        """Tries one row; False when it stays pending (its incident waits on this channel)."""
        try:
            n = Notification.from_json(row.message.body)
        except (ValueError, TypeError, KeyError) as exc:
            with self._lock:
                self._reject(row, f"unreadable notification: {exc}")
            return True
        attempts = row.attempts + 1
        started = self._clock.monotonic()
        try:
            channel.send(n)
        except PermanentError as exc:
            with self._lock:
                self._reject(row, str(exc), attempts=attempts)
            schedule.settled(row)
            return True
        except Exception as exc:  # TransientError, or a channel bug: retrying is the safe side
            self._retry_later(channel, row, n, attempts, exc, schedule)
            return False
        self._delivered(channel, row, n, attempts, self._clock.monotonic() - started)
        schedule.settled(row)
        if channel.resend_every is not None and _keeps_resending(channel, n):
            schedule.resend_at[n.incident_id] = self._clock.monotonic() + channel.resend_every
        elif n.kind == "resolve":
            schedule.resend_at.pop(n.incident_id, None)
        return True

    def _delivered(self, channel: Channel[object], row: OutboxRow, n: Notification, attempts: int, took: float) -> None:
        with self._lock:
            self._store.delivered(
                row,
                attempts,
                self._clock.now(),
                remember_firing=channel.resend_every is not None and _keeps_resending(channel, n),
                forget_firing=n.kind == "resolve",
            )
        self._sent.labels(channel.name, n.kind, "delivered").inc()
        age = (self._clock.now() - datetime.fromisoformat(row.created_at)).total_seconds()
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
        channel: Channel[object],
        row: OutboxRow,
        n: Notification,
        attempts: int,
        exc: Exception,
        schedule: _Schedule,
    ) -> None:
        key = row.message.notification_id
        now = self._clock.monotonic()
        retry_after = exc.retry_after if isinstance(exc, TransientError) else None
        delay = self._policy.delay(attempts, self._rng, retry_after)
        schedule.retry_at[key] = now + delay
        failing_since = schedule.failing_since.setdefault(key, now)
        error = SCRUBBER.scrub(str(exc) if isinstance(exc, TransientError) else f"{type(exc).__name__}: {exc}")
        with self._lock:
            self._store.attempted(row, attempts, error, self._clock.now())
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
        if keeps_failing and not row.fell_back:
            with self._lock:
                self._fall_back(row, f"still failing after {attempts} attempts")

    def _reject(self, row: OutboxRow, error: str, attempts: int | None = None) -> None:
        """Marks a row rejected (never retried) and copies it to its fallback in the same
        transaction; caller holds the lock."""
        error = SCRUBBER.scrub(error)
        spare, added = self._store.reject(
            row, row.attempts if attempts is None else attempts, error, self._clock.now(), copy=_readable(row)
        )
        self._sent.labels(row.channel, row.message.kind, "rejected").inc()
        event(
            log,
            "notification_rejected",
            logging.ERROR,
            channel=row.channel,
            notification=row.message.notification_id,
            incident=row.message.incident_id,
            kind=row.message.kind,
            error=error,
        )
        self._announce_fallback(row, spare, added, error)

    def _fall_back(self, row: OutboxRow, why: str) -> None:
        """Copies a still-pending row to its fallback channels, once; caller holds the lock."""
        spare, added = self._store.fall_back(row, self._clock.now(), copy=_readable(row))
        self._announce_fallback(row, spare, added, why)

    def _announce_fallback(self, row: OutboxRow, spare: list[str], added: list[str], why: str) -> None:
        if row.fell_back:
            return
        fields: dict[str, object] = {
            "channel": row.channel,
            "notification": row.message.notification_id,
            "incident": row.message.incident_id,
            "kind": row.message.kind,
            "reason": why,
        }
        if not spare:
            event(log, "notification_no_fallback", logging.ERROR, **fields)
            return
        self._sent.labels(row.channel, row.message.kind, "fallback").inc()
        event(log, "notification_fallback", logging.WARNING, to=",".join(spare), added=",".join(added) or "-", **fields)
        for name in added:
            self._poke(name)

    def _resend_due(self, channel: Channel[object], blocked: set[str], schedule: _Schedule) -> list[float]:
        """Re-sends the firing notifications (and resolves kept for `resend_resolved_for`)
        that are due; returns the next due times."""
        assert channel.resend_every is not None
        due_times: list[float] = []
        for incident, body in self._store.firing(channel.name):
            if incident in blocked or self._stopping.is_set():
                continue
            due = schedule.resend_at.get(incident, 0.0)
            if due > self._clock.monotonic():
                due_times.append(due)
                continue
            try:
                n: Notification | None = Notification.from_json(body)
            except (ValueError, TypeError, KeyError):
                n = None
            if n is None or not _keeps_resending(channel, n, self._clock.now()):
                with self._lock:
                    self._store.forget_firing(channel.name, incident)
                schedule.resend_at.pop(incident, None)
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


def _keeps_resending(channel: Channel[object], n: Notification, now: datetime | None = None) -> bool:
    """Whether `n` stays the incident's message to re-send: a firing one always; a resolve for
    the channel's `resend_resolved_for` after it was written (`now` None: just delivered)."""
    if n.firing:
        return True
    keep = channel.resend_resolved_for
    if n.kind != "resolve" or keep is None:
        return False
    return now is None or (now - n.created_at).total_seconds() < keep


def _message(n: Notification, key: str | None = None) -> Message:
    return Message(n.id, n.incident_id, n.kind, n.to_json(), key)


def _readable(row: OutboxRow) -> bool:
    """Whether the row's body is a notification (only those are copied to a fallback)."""
    try:
        Notification.from_json(row.message.body)
    except (ValueError, TypeError, KeyError):
        return False
    return True
