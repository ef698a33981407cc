"""The availability ledger: how long each critical check, and the shop, was good.

Every result of a `severity: critical` check closes the span since that check's previous
result and credits it to the status the check had during it: bad while the check was
confirmed CRITICAL (hard), good otherwise. The shop as a whole (`SHOP`) is bad while any
critical check is. A span longer than a check's `MAX_GAP_INTERVALS` intervals plus its
timeout is not counted at all (the daemon was stopped, stalled, or the clock jumped): time
nobody watched is neither good nor bad. The daemon's own `state-store` check is not the
shop's and is left out.

Spans are split at hour boundaries and kept in memory, written down every `flush_every`
seconds and when the daemon stops (a crash loses at most that much history), and buckets
older than the store's RETENTION are pruned hourly: the history stays bounded.
"""

from __future__ import annotations

import math
import threading
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime

from checks.base import Status
from watchdog.common.clock import Clock, utc_iso
from watchdog.common.configtools import format_seconds
from watchdog.common.status_document import Availability, CheckAvailability
from watchdog.config.model import STATE_STORE_CHECK, CheckSpec
from watchdog.monitor.checkstate import CheckState
from watchdog.storage.availability import BUCKET, RETENTION, SHOP, AvailabilityStore, Span

MAX_GAP_INTERVALS = 3
FLUSH_EVERY = 60.0
PRUNE_EVERY = 3600.0


@dataclass(frozen=True)
class _Last:
    at: datetime
    good: bool
    max_gap: float


def _ratio(span: Span) -> float | None:
    return span.good / span.total if span.total > 0 else None


class AvailabilityLedger:
    """See the module docstring. `observe` and `tick` come from the loop, `availability`
    from API threads."""

    def __init__(self, store: AvailabilityStore, clock: Clock, flush_every: float = FLUSH_EVERY) -> None:
        self._store = store
        self._clock = clock
        self._flush_every = flush_every
        self._lock = threading.Lock()
        self._last: dict[str, _Last] = {}
        self._bad: set[str] = set()
        """Checks whose last result was bad: the shop is good while this is empty."""
        self._shop_gap = 0.0
        """The largest `max_gap` in `_last`: kept, not recomputed per result (which made a
        round of n checks cost n^2)."""
        self._shop_at: datetime | None = None
        self._pending: defaultdict[tuple[str, int], Span] = defaultdict(Span)
        self._flush_at = clock.monotonic() + flush_every
        self._prune_at = clock.monotonic()

    def observe(self, spec: CheckSpec, state: CheckState) -> None:
        if spec.severity != "critical" or spec.name == STATE_STORE_CHECK:
            return
        now = state.last_run
        good = not (state.hard and state.status == Status.CRITICAL)
        max_gap = MAX_GAP_INTERVALS * spec.interval + spec.timeout
        with self._lock:
            shop_good = not self._bad
            shop_gap = self._shop_gap if self._last else max_gap
            previous = self._last.get(spec.name)
            if previous is not None:
                self._credit(spec.name, previous.at, now, previous.good, previous.max_gap)
            if self._shop_at is not None:
                self._credit(SHOP, self._shop_at, now, shop_good, shop_gap)
            self._last[spec.name] = _Last(now, good, max_gap)
            if good:
                self._bad.discard(spec.name)
            else:
                self._bad.add(spec.name)
            if previous is None or previous.max_gap != max_gap:
                self._shop_gap = max(last.max_gap for last in self._last.values())
            self._shop_at = now if self._shop_at is None else max(self._shop_at, now)

    def keep(self, names: Iterable[str]) -> None:
        """Forgets checks no longer configured (a removed check must not hold the shop bad)."""
        wanted = set(names)
        with self._lock:
            for name in [n for n in self._last if n not in wanted]:
                del self._last[name]
                self._bad.discard(name)
            self._shop_gap = max((last.max_gap for last in self._last.values()), default=0.0)

    def _credit(self, name: str, start: datetime, end: datetime, good: bool, max_gap: float) -> None:
        first, last = start.timestamp(), end.timestamp()
        if last <= first or last - first > max_gap:
            return
        while first < last:
            hour = int(math.floor(first / BUCKET) * BUCKET)
            upto = min(last, hour + BUCKET)
            seconds = upto - first
            self._pending[(name, hour)] += Span(seconds if good else 0.0, seconds)
            first = upto

    def tick(self) -> None:
        now = self._clock.monotonic()
        if now >= self._flush_at:
            self.flush()

    def flush(self) -> None:
        """Writes down the spans kept in memory; prunes old buckets at most hourly. Under the
        lock, so a reader sees each span either in memory or in the store, never in neither."""
        with self._lock:
            self._store.add(self._pending)
            self._pending.clear()
            now = self._clock.monotonic()
            self._flush_at = now + self._flush_every
            if now >= self._prune_at:
                self._prune_at = now + PRUNE_EVERY
                self._store.prune(int(self._clock.now().timestamp() - RETENTION))

    def availability(self, window: float) -> Availability:
        """The good share of the last `window` seconds (to the hour), for the shop and per check."""
        now = self._clock.now()
        since = int(math.floor((now.timestamp() - window) / BUCKET) * BUCKET)
        with self._lock:
            totals = self._store.totals(since)
            for (name, hour), span in self._pending.items():
                if hour >= since:
                    totals[name] = totals.get(name, Span()) + span
        shop = totals.pop(SHOP, Span())
        checks = [
            CheckAvailability(
                name=name,
                availability=_ratio(span),
                good_seconds=round(span.good, 3),
                total_seconds=round(span.total, 3),
            )
            for name, span in sorted(totals.items())
        ]
        return Availability(
            window=format_seconds(window),
            since=utc_iso(datetime.fromtimestamp(since, UTC)),
            availability=_ratio(shop),
            good_seconds=round(shop.good, 3),
            total_seconds=round(shop.total, 3),
            checks=checks,
        )
