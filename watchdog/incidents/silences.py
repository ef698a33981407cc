"""Silences: planned work on a check — no restarts, no pages — until a wall-clock time.

A silence is persisted as soon as it is set, and its end is a wall-clock instant ("until
14:30"), because that is what the person who set it meant, and it must hold across daemon
restarts. `expire(now)` ends the silences that ran out and returns them, so the engine can
tell at once about a problem that is still there; `end(key, now)` does the same for a silence
lifted early by id or check name.
"""

from __future__ import annotations

import math
import uuid
from datetime import datetime, timedelta

from watchdog.storage.state import SilenceRecord, StateStore


class Silences:
    """Active silences by check; thread-safe through the engine's lock, persisted in `store`."""

    def __init__(self, store: StateStore) -> None:
        self._store = store
        self._active: dict[str, SilenceRecord] = {s.check: s for s in store.active_silences()}

    def add(self, check: str, seconds: float, reason: str, by: str, now: datetime) -> SilenceRecord:
        """Silences `check` for `seconds` from `now`; replaces an earlier silence of that check.

        Raises ValueError for a duration that is not positive and finite, or that ends past
        the calendar, and for a blank reason, before anything changes. The new silence is
        saved before the earlier one is ended: a silence that fails to be created leaves the
        earlier one in force, in memory and on disk (and should ending it fail after all, the
        newer of the two wins when the store is read again)."""
        if not math.isfinite(seconds) or seconds <= 0:
            raise ValueError("a silence needs a positive duration")
        if not reason.strip():
            raise ValueError("a silence needs a reason")
        try:
            until = now + timedelta(seconds=seconds)
        except OverflowError:
            raise ValueError(f"a silence of {seconds:g}s would end past the calendar") from None
        rec = SilenceRecord(
            id="sil-" + uuid.uuid4().hex[:10], check=check, until=until, reason=reason, by=by, created_at=now
        )
        self._store.save_silence(rec)
        previous = self._active.get(check)
        self._active[check] = rec
        if previous is not None:
            self._store.save_silence(_ended(previous, now))
        return rec

    def active(self, check: str, now: datetime) -> SilenceRecord | None:
        rec = self._active.get(check)
        return rec if rec is not None and now < rec.until else None

    def expire(self, now: datetime) -> list[SilenceRecord]:
        """Ends and returns the silences whose `until` has passed."""
        return self._end([s for s in self._active.values() if now >= s.until], now)

    def end(self, key: str, now: datetime) -> list[SilenceRecord]:
        """Ends early the silence with id `key`, or every silence of the check named `key`;
        returns those ended (none: nothing matched, nothing changed)."""
        return self._end([s for s in self._active.values() if key in (s.id, s.check)], now)

    def _end(self, ended: list[SilenceRecord], now: datetime) -> list[SilenceRecord]:
        for rec in ended:
            self._store.save_silence(_ended(rec, now))
            del self._active[rec.check]
        return ended

    def all(self) -> list[SilenceRecord]:
        return sorted(self._active.values(), key=lambda s: s.created_at)

    def in_force(self, now: datetime) -> list[SilenceRecord]:
        """The silences not yet run out at `now`, oldest first."""
        return [s for s in self.all() if now < s.until]


def _ended(rec: SilenceRecord, now: datetime) -> SilenceRecord:
    return SilenceRecord(rec.id, rec.check, rec.until, rec.reason, rec.by, rec.created_at, ended_at=now)
