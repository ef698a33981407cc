"""Runs checks in worker threads so that one slow or hanging probe never delays another.

The runner alone turns a probe's exception into UNKNOWN and enforces the timeout: a run
still busy `timeout` (+ a small grace, so a probe that bounds its own I/O reports its own,
more precise message) after it started is reported CRITICAL "timeout after 5s". A result
the probe marked `timed_out` (a plugin it killed at the timeout) counts as a timeout too:
`RunOutcome.timed_out`, the `check_timeout` log event and, from there, the timeouts metric
and `once --json`. Python cannot kill a thread, so the worker of a hung probe (a dead NFS
`statvfs`, a socket without timeout) may stay blocked; the runner keeps that check *in
flight* until the thread really returns and refuses to start a second run of it (no
overlap), so at most one thread per check can ever be stuck.

Every message leaves the runner scrubbed of the config's secrets: a server that echoes a
password in its error text (an old Redis quoting `AUTH`, a proxy quoting the login) must
not carry it into status, API, state store or pages, all of which start here. It leaves as
one line of visible characters too (watchdog.common.logs.escape): a garbage answer quoted in
a message (a NUL, a TLS record, an ANSI escape) must not break an e-mail Subject, which
mail servers may refuse for a raw NUL, nor a terminal showing `status`.

Workers come from a bounded pool of daemon threads created on demand
(watchdog.common.workers): a stuck worker never keeps the process from exiting. Finished
runs are queued; the main loop collects them with `poll()` and is woken through the `wake`
callback so results are handled promptly.
"""

from __future__ import annotations

import dataclasses
import itertools
import logging
import queue
import threading
from collections.abc import Callable
from dataclasses import dataclass, field

from checks.base import Check, CheckResult, Status
from watchdog.common.clock import Clock
from watchdog.common.configtools import format_seconds
from watchdog.common.logs import SCRUBBER, escape, event
from watchdog.common.workers import WorkerPool

log = logging.getLogger(__name__)

DEFAULT_MAX_WORKERS = 256
"""Enough for 1,000 checks of which 100 hang for good: each check holds at most one worker."""


@dataclass(frozen=True)
class RunOutcome:
    """One finished (or given up) run of a check.

    `job` identifies the run (the scheduler ignores outcomes of runs it no longer expects);
    `started` is monotonic; `late` is True for a result that came after a timeout was
    already reported (it is informational only, the scheduler drops it).
    """

    name: str
    job: int
    result: CheckResult
    started: float
    duration: float
    timed_out: bool = False


@dataclass
class _Job:
    name: str
    ident: int
    check: Check[object]
    timeout: float
    submitted: float
    started: float | None = None
    reported: bool = False
    cancelled: bool = False
    lock: threading.Lock = field(default_factory=threading.Lock)


class Runner:
    """Starts check runs in the pool and hands finished or timed-out runs to the main loop."""

    def __init__(
        self,
        clock: Clock,
        *,
        max_workers: int = DEFAULT_MAX_WORKERS,
        grace: float = 0.25,
        wake: Callable[[], None] = lambda: None,
    ) -> None:
        self._clock = clock
        self._pool = WorkerPool(max_workers, "check")
        self._grace = grace
        self._wake = wake
        self._done: queue.SimpleQueue[tuple[_Job, CheckResult, float]] = queue.SimpleQueue()
        self._in_flight: dict[str, _Job] = {}
        self._ids = itertools.count(1)
        self.late_results = 0

    def in_flight(self, name: str) -> bool:
        return name in self._in_flight

    def in_flight_info(self, name: str) -> tuple[float, bool] | None:
        """(monotonic start or queue time, already reported as timed out) of the run of
        `name` in flight, or None when it is idle."""
        job = self._in_flight.get(name)
        if job is None:
            return None
        return (job.started if job.started is not None else job.submitted), job.reported

    def hanging(self) -> int:
        """Runs already reported as timed out whose thread has not returned yet."""
        return sum(1 for job in self._in_flight.values() if job.reported)

    @property
    def threads(self) -> int:
        return self._pool.threads

    def submit(self, name: str, check: Check[object], timeout: float) -> int | None:
        """Starts a run of `check`; returns its job id, or None when `name` is still in flight."""
        if name in self._in_flight:
            return None
        job = _Job(name, next(self._ids), check, timeout, self._clock.monotonic())
        self._in_flight[name] = job
        self._pool.submit(lambda: self._execute(job))
        return job.ident

    def _execute(self, job: _Job) -> None:
        with job.lock:
            if job.cancelled:
                return
            job.started = self._clock.monotonic()
        try:
            result = job.check.run(job.timeout)
            if not isinstance(result, CheckResult):
                raise TypeError(f"check returned {type(result).__name__}, not CheckResult")
        except Exception as exc:  # the runner is the one place that turns probe errors into UNKNOWN
            result = CheckResult(Status.UNKNOWN, f"check failed: {type(exc).__name__}: {exc}")
        message = escape(SCRUBBER.scrub(result.message))
        if message != result.message:
            result = dataclasses.replace(result, message=message)
        self._done.put((job, result, self._clock.monotonic() - job.started))
        self._wake()

    def poll(self) -> list[RunOutcome]:
        """Finished runs since the last call, plus runs that just passed their timeout."""
        outcomes: list[RunOutcome] = []
        while True:
            try:
                job, result, duration = self._done.get_nowait()
            except queue.Empty:
                break
            if self._in_flight.get(job.name) is job:
                del self._in_flight[job.name]
            if job.reported:
                self.late_results += 1
                event(log, "check_returned_after_timeout", check=job.name, seconds=round(duration, 3))
                continue
            assert job.started is not None
            if result.timed_out:
                self._log_timeout(job)
            outcomes.append(RunOutcome(job.name, job.ident, result, job.started, duration, result.timed_out))
        now = self._clock.monotonic()
        for job in list(self._in_flight.values()):
            outcome = self._expire(job, now)
            if outcome is not None:
                outcomes.append(outcome)
        return outcomes

    def _expire(self, job: _Job, now: float) -> RunOutcome | None:
        with job.lock:
            if job.reported:
                return None
            if job.started is None:
                if now < job.submitted + job.timeout + self._grace:
                    return None
                job.cancelled = True
                del self._in_flight[job.name]
                message = f"timeout after {format_seconds(job.timeout)}: no free worker to start the check"
                started = job.submitted
            else:
                if now < job.started + job.timeout + self._grace:
                    return None
                message = f"timeout after {format_seconds(job.timeout)}"
                started = job.started
            job.reported = True
        self._log_timeout(job)
        return RunOutcome(
            job.name, job.ident, CheckResult(Status.CRITICAL, message), started, now - started, timed_out=True
        )

    @staticmethod
    def _log_timeout(job: _Job) -> None:
        event(log, "check_timeout", logging.WARNING, check=job.name, timeout=format_seconds(job.timeout))

    def next_deadline(self) -> float | None:
        """The earliest monotonic time at which a running job would time out."""
        deadlines = [
            (job.started if job.started is not None else job.submitted) + job.timeout + self._grace
            for job in self._in_flight.values()
            if not job.reported
        ]
        return min(deadlines, default=None)

    def close(self) -> None:
        self._pool.close()
