"""When each check runs, and what its results mean (soft/hard confirmation).

Why not the `schedule` library: it computes due times from the wall clock
(`datetime.now()`), so an NTP step or DST-free clock jump shifts or bunches every job; it
has no injectable or monotonic clock, so tests would have to sleep; jobs have one fixed
period, while a failing check must switch to `retry_interval` and back; and it lets a job's
exception escape from `run_pending()`. A due-time heap on the injected `Clock.monotonic()`
is forty lines and does exactly this.

Timing rules:

* First round: every check starts within `first_round` seconds (1 s) of startup, spread
  deterministically by name — admins want a full picture right after a start or reload.
* After that each check owns a *phase* inside its interval (a stable hash of its name), so
  1,000 checks on a 10 s interval do not fire in one burst; runs land on
  `anchor + k * interval`, the first slot at least half an interval after the last start
  (no drift from run durations, no bursts after a slow run).
* A non-OK result that is not yet confirmed (soft) is re-checked after `retry_interval`;
  confirmed (hard) failures and OK go back to the interval slots.
* A run that is due while the previous one is still in flight is skipped (never two runs of
  one check at once). If that previous run already timed out, the skip counts as another
  CRITICAL result ("still hanging"), so a probe stuck for good still becomes hard.
* `recheck(name, delay)` (the `Rechecker` given to the incident engine) runs a check once
  after `delay`, e.g. to verify a restart, then the normal rules resume.
* `watch_closely(names, interval, until)`: after a release, the named checks run every
  `interval` (when shorter than their own) until the monotonic time `until`; then their
  interval slots resume. A reload keeps the watch (it is the release's, not the config's).
* `witnessed(name)`: the kernel or systemd reported that what the check watches ended (the
  process behind its pid exited, its unit failed). The check runs at once, and a CRITICAL
  that run finds is a *fact*: hard at once, no `retries` confirmation, so the repair starts
  within milliseconds. A flaky probe can be wrong; a pidfd that became readable cannot.
  (A WARNING or UNKNOWN found then, e.g. a unit systemd is already restarting, is confirmed
  as usual: only "not running" is what the exit proved.)
  `confirm_exits: true` on a check opts out (a service that re-execs itself on purpose):
  the run still comes at once, the failure is then confirmed as usual. A run already in
  flight when the report comes started before it; the check runs again as soon as it ends.

Confirmation is the pure function `next_state`, one transition per result.
"""

from __future__ import annotations

import heapq
import itertools
import math
import threading
import zlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime

from checks.base import Check, CheckResult, Status
from watchdog.common.clock import Clock
from watchdog.common.configtools import format_seconds
from watchdog.config.model import CheckSpec
from watchdog.monitor.checkstate import CheckState
from watchdog.monitor.runner import Runner, RunOutcome

FIRST_ROUND_SECONDS = 1.0


def next_state(
    previous: CheckState | None,
    name: str,
    result: CheckResult,
    *,
    retries: int,
    now: datetime,
    duration: float,
    fact: bool = False,
) -> CheckState:
    """The state after one more result.

    OK is always hard and resets the failure count. Each non-OK result adds one
    consecutive failure; the failure is hard once `retries` of them happened in a row
    (retries=1: the first failure is hard), or at once for a CRITICAL that is a `fact`
    (found by the run a watched exit triggered). `since` moves only when the status changes.
    """
    failures = 0 if result.status is Status.OK else (previous.failures if previous else 0) + 1
    changed = previous is None or previous.status is not result.status
    return CheckState(
        name=name,
        status=result.status,
        hard=result.status is Status.OK or failures >= retries or (fact and result.status is Status.CRITICAL),
        message=result.message,
        since=now if changed or previous is None else previous.since,
        last_run=now,
        failures=failures,
        duration=duration,
        measurements=dict(result.measurements),
    )


def phase(name: str) -> float:
    """A stable number in [0, 1) for a check name (not Python's salted hash). CRC-32 spreads
    names well enough for phases and, unlike hashlib, does not load OpenSSL (3.7 MB)."""
    return zlib.crc32(name.encode()) / 2**32


def next_slot(anchor: float, interval: float, after: float) -> float:
    """The first time `anchor + k * interval` (k integer) at or after `after`."""
    k = math.ceil((after - anchor) / interval)
    return anchor + k * interval


@dataclass(frozen=True)
class Started:
    name: str
    lag: float
    """Seconds between the due time and the actual start."""


@dataclass(frozen=True)
class Skipped:
    name: str
    hanging_for: float
    result: tuple[CheckSpec, CheckState] | None
    """The state update when the skip counted as a failure (previous run timed out)."""


class _Entry:
    __slots__ = ("anchor", "check", "due", "fact_job", "job", "runs", "skips", "spec", "state", "witnessed")

    def __init__(self, spec: CheckSpec, check: Check[object], anchor: float, due: float) -> None:
        self.spec = spec
        self.check = check
        self.state: CheckState | None = None
        self.due = due
        self.anchor = anchor
        self.job: int | None = None
        self.runs = 0
        self.skips = 0
        self.witnessed = False
        """An exit was reported and no run has started since."""
        self.fact_job: int | None = None
        """The run started because of that report: its failure is a fact."""


class Scheduler:
    """Due-time heap over the configured checks; runs on the main-loop thread.

    `recheck` may be called from any thread (it only takes the lock and moves a due time);
    `states()` returns a consistent snapshot for API threads.
    """

    def __init__(
        self,
        clock: Clock,
        runner: Runner,
        make_check: Callable[[CheckSpec], Check[object]],
        *,
        first_round: float = FIRST_ROUND_SECONDS,
    ) -> None:
        self._clock = clock
        self._runner = runner
        self._make_check = make_check
        self._first_round = first_round
        self._entries: dict[str, _Entry] = {}
        self._heap: list[tuple[float, int, str]] = []
        self._seq = itertools.count()
        self._lock = threading.RLock()
        self._watches: dict[str, tuple[float, float]] = {}
        """Check name -> (interval, monotonic end) of a post-release watch."""

    # -- configuration -------------------------------------------------------------------

    def set_checks(self, specs: Iterable[CheckSpec]) -> tuple[list[str], list[str], list[str]]:
        """Installs a new set of checks; returns (added, removed, changed) names.

        Unchanged checks keep their state and schedule; added and changed ones start within
        the first-round window; removed ones are forgotten (a run in flight is ignored).
        """
        now = self._clock.monotonic()
        added: list[str] = []
        changed: list[str] = []
        with self._lock:
            new: dict[str, _Entry] = {}
            for spec in specs:
                old = self._entries.get(spec.name)
                if old is not None and old.spec == spec:
                    new[spec.name] = old
                    continue
                (changed if old is not None else added).append(spec.name)
                p = phase(spec.name)
                entry = _Entry(
                    spec,
                    self._make_check(spec),
                    now + p * spec.interval,
                    now + p * min(self._first_round, spec.interval),
                )
                new[spec.name] = entry
                self._push(entry)
            removed = [name for name in self._entries if name not in new]
            self._entries = new
        return added, removed, changed

    def _push(self, entry: _Entry) -> None:
        heapq.heappush(self._heap, (entry.due, next(self._seq), entry.spec.name))

    # -- running -------------------------------------------------------------------------

    def next_due(self) -> float | None:
        with self._lock:
            self._drop_stale()
            return self._heap[0][0] if self._heap else None

    def _drop_stale(self) -> None:
        while self._heap:
            due, _, name = self._heap[0]
            entry = self._entries.get(name)
            if entry is not None and entry.due == due:
                return
            heapq.heappop(self._heap)

    def run_due(self) -> list[Started | Skipped]:
        """Starts every check that is due; returns what was started or skipped."""
        now = self._clock.monotonic()
        events: list[Started | Skipped] = []
        with self._lock:
            while True:
                self._drop_stale()
                if not self._heap or self._heap[0][0] > now:
                    break
                _, _, name = heapq.heappop(self._heap)
                entry = self._entries[name]
                job = self._runner.submit(name, entry.check, entry.spec.timeout)
                if job is not None:
                    entry.job = job
                    entry.runs += 1
                    if entry.witnessed:
                        entry.witnessed = False
                        entry.fact_job = job
                    events.append(Started(name, now - entry.due))
                    entry.due = math.inf
                    continue
                events.append(self._skip(entry, now))
        return events

    def _skip(self, entry: _Entry, now: float) -> Skipped:
        """The due run of a check whose previous run is still in flight."""
        entry.skips += 1
        info = self._runner.in_flight_info(entry.spec.name)
        hanging_for = now - info[0] if info is not None else 0.0
        update = None
        if info is not None and info[1]:
            # The run in flight already timed out and was reported: it is stuck for good.
            result = CheckResult(
                Status.CRITICAL,
                f"timeout after {format_seconds(entry.spec.timeout)}; "
                f"still hanging for {format_seconds(round(hanging_for))}, not started again",
            )
            entry.state = next_state(
                entry.state, entry.spec.name, result, retries=entry.spec.retries, now=self._clock.now(), duration=0.0
            )
            update = (entry.spec, entry.state)
        self._reschedule(entry, now)
        return Skipped(entry.spec.name, hanging_for, update)

    def on_outcome(self, outcome: RunOutcome) -> tuple[CheckSpec, CheckState] | None:
        """Applies a finished run; returns (spec, new state), or None for a run nobody
        expects any more (check removed or changed meanwhile)."""
        with self._lock:
            entry = self._entries.get(outcome.name)
            if entry is None or entry.job != outcome.job:
                return None
            entry.job = None
            fact = entry.fact_job == outcome.job and not entry.spec.confirm_exits
            entry.fact_job = None
            entry.state = next_state(
                entry.state,
                outcome.name,
                outcome.result,
                retries=entry.spec.retries,
                now=self._clock.now(),
                duration=outcome.duration,
                fact=fact,
            )
            if entry.witnessed:  # this run started before the exit was reported
                entry.due = self._clock.monotonic()
                self._push(entry)
            elif entry.due == math.inf:
                self._reschedule(entry, outcome.started)
            return entry.spec, entry.state

    def _reschedule(self, entry: _Entry, last_start: float) -> None:
        state = entry.state
        if state is not None and not state.hard:
            due = max(last_start + entry.spec.retry_interval, self._clock.monotonic())
        else:
            due = next_slot(entry.anchor, entry.spec.interval, last_start + entry.spec.interval / 2)
            watched = self._watch_interval(entry.spec.name)
            if watched is not None:
                due = min(due, max(last_start + watched, self._clock.monotonic()))
        entry.due = due
        self._push(entry)

    def recheck(self, name: str, delay: float) -> None:
        """Runs `name` once after `delay` seconds (the incident engine's `Rechecker`).

        Unknown names are ignored (the check may have been removed by a reload)."""
        with self._lock:
            entry = self._entries.get(name)
            if entry is None:
                return
            entry.due = self._clock.monotonic() + delay
            self._push(entry)

    def _watch_interval(self, name: str) -> float | None:
        """The interval of a post-release watch on `name` still running (None: none)."""
        watch = self._watches.get(name)
        if watch is None:
            return None
        if self._clock.monotonic() >= watch[1]:
            del self._watches[name]
            return None
        return watch[0]

    def watch_closely(self, names: Iterable[str], interval: float, until: float) -> None:
        """Runs `names` every `interval` (when shorter than their own) until monotonic `until`.

        A check not running now gets its next run within `interval`; unknown names are
        ignored. May be called from any thread."""
        now = self._clock.monotonic()
        with self._lock:
            for name in names:
                entry = self._entries.get(name)
                if entry is None or interval >= entry.spec.interval:
                    continue
                self._watches[name] = (interval, until)
                if entry.job is None and entry.due > now + interval:
                    entry.due = now + interval
                    self._push(entry)

    def witnessed(self, name: str) -> None:
        """What `name` watches ended (a process exit, a failed unit): run it now, and a
        failure that run finds is hard at once unless the check has `confirm_exits`.

        May be called from any thread; unknown names are ignored (removed by a reload)."""
        with self._lock:
            entry = self._entries.get(name)
            if entry is None:
                return
            entry.witnessed = True
            if entry.job is None:
                entry.due = self._clock.monotonic()
                self._push(entry)

    # -- reading -------------------------------------------------------------------------

    def specs(self) -> list[CheckSpec]:
        with self._lock:
            return [e.spec for e in self._entries.values()]

    def states(self) -> list[tuple[CheckSpec, CheckState | None]]:
        """Every configured check with its latest state (None before its first result)."""
        with self._lock:
            return [(e.spec, e.state) for e in self._entries.values()]

    def counts(self, name: str) -> tuple[int, int]:
        """(runs started, runs skipped) of a check since it was (re)configured."""
        with self._lock:
            entry = self._entries[name]
            return entry.runs, entry.skips
