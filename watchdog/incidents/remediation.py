"""Repairs: restarting a failed service through the configured argv, never a shell.

`Restarter` runs the configured argv — `[systemctl, restart, --, UNIT]` for the systemd backend,
the check's own `remediate.command` for the command backend — never through a shell, and
only for checks whose `remediate` names it in the config. Each restart runs in its own
worker thread with `restart_timeout`, so a hanging `systemctl` never stalls other checks or
the main loop; the outcome (exit code, trimmed and scrubbed output) is collected by `poll()`
on the main loop.

The restart budget that keeps these from looping is `watchdog.incidents.budget`.
"""

from __future__ import annotations

import contextlib
import logging
import os
import queue
import signal
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from watchdog.common.logs import SCRUBBER, event
from watchdog.common.systemd_units import unit_argv
from watchdog.config.model import CheckSpec, RemediationConfig

log = logging.getLogger(__name__)

OUTPUT_LIMIT = 2000


@dataclass(frozen=True)
class RestartOutcome:
    """How one restart ended; `result` is the metric label: ok | failed | timeout | error."""

    check: str
    incident_id: str
    argv: tuple[str, ...]
    result: str
    returncode: int | None
    output: str
    duration: float

    @property
    def ok(self) -> bool:
        return self.result == "ok"

    def describe(self) -> str:
        what = " ".join(self.argv)
        if self.result == "ok":
            return f"restart ({what}) succeeded in {self.duration:.1f}s"
        if self.result == "timeout":
            return f"restart ({what}) timed out after {self.duration:.1f}s"
        if self.result == "error":
            return f"restart ({what}) could not run: {self.output}"
        return f"restart ({what}) failed (exit {self.returncode})"


def restart_argv(spec: CheckSpec, config: RemediationConfig) -> tuple[str, ...] | None:
    """The argv that repairs `spec` under the configured backend; None when none is configured."""
    if spec.remediate is None:
        return None
    if config.backend == "systemd":
        if spec.remediate.restart is None:
            return None
        return unit_argv(config.systemctl, "restart", spec.remediate.restart)
    return tuple(spec.remediate.command) or None


def trim_output(raw: bytes) -> str:
    """Output for the timeline: decoded, secrets scrubbed, the last OUTPUT_LIMIT characters."""
    text = SCRUBBER.scrub(raw.decode("utf-8", "replace")).strip()
    if len(text) > OUTPUT_LIMIT:
        text = "…" + text[-OUTPUT_LIMIT:]
    return text


def run_restart(argv: Sequence[str], timeout: float) -> tuple[str, int | None, str, float]:
    """Runs argv to completion within `timeout`: (result, returncode, output, seconds).

    Output goes to a temp file rather than a pipe: a restart command that leaves a daemon
    behind holding its stdout would otherwise keep us waiting for EOF until the timeout.
    The command runs in its own session so a timeout kills everything it started. Times are
    real (`time.monotonic`): the subprocess runs in real time whatever clock the engine uses.
    """
    started = time.monotonic()
    with tempfile.TemporaryFile() as out:
        try:
            proc = subprocess.Popen(
                list(argv), stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
            )
        except OSError as exc:
            return "error", None, SCRUBBER.scrub(str(exc)), time.monotonic() - started
        try:
            rc: int | None = proc.wait(timeout=timeout)
            result = "ok" if rc == 0 else "failed"
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
            rc, result = None, "timeout"
        out.seek(0)
        return result, rc, trim_output(out.read()), time.monotonic() - started


class Restarter:
    """Runs restarts in worker threads; `poll()` hands finished outcomes to the main loop.

    `wake` is called when a restart finishes, so the loop verifies the repair at once
    instead of on its next tick (up to half a second later).
    """

    def __init__(
        self, config: RemediationConfig, allowed: Sequence[tuple[str, ...]], wake: Callable[[], None] = lambda: None
    ) -> None:
        self._config = config
        self._wake = wake
        self._allowed = frozenset(tuple(a) for a in allowed)
        self._done: queue.SimpleQueue[RestartOutcome] = queue.SimpleQueue()
        self._running: dict[str, threading.Thread] = {}
        self._lock = threading.Lock()

    def reload(self, config: RemediationConfig, allowed: Sequence[tuple[str, ...]]) -> None:
        with self._lock:
            self._config = config
            self._allowed = frozenset(tuple(a) for a in allowed)

    def start(self, check: str, incident_id: str, argv: tuple[str, ...]) -> None:
        """Starts a restart in the background; refuses argv not named by the config."""
        with self._lock:
            if argv not in self._allowed:
                raise PermissionError(f"restart argv {list(argv)!r} is not configured")
            timeout = self._config.restart_timeout
            thread = threading.Thread(
                target=self._run, args=(check, incident_id, argv, timeout), name=f"restart-{check}", daemon=True
            )
            self._running[check] = thread
        event(log, "restart_started", check=check, incident=incident_id, argv=" ".join(argv))
        thread.start()

    def _run(self, check: str, incident_id: str, argv: tuple[str, ...], timeout: float) -> None:
        result, rc, output, duration = run_restart(argv, timeout)
        self._done.put(RestartOutcome(check, incident_id, argv, result, rc, output, duration))
        self._wake()

    def poll(self) -> list[RestartOutcome]:
        """Outcomes of restarts finished since the last call."""
        outcomes: list[RestartOutcome] = []
        while True:
            try:
                outcome = self._done.get_nowait()
            except queue.Empty:
                return outcomes
            with self._lock:
                self._running.pop(outcome.check, None)
            outcomes.append(outcome)

    def running(self, check: str) -> bool:
        with self._lock:
            return check in self._running

    def join(self, timeout: float) -> None:
        """Waits for running restarts (tests and shutdown)."""
        with self._lock:
            threads = list(self._running.values())
        for thread in threads:
            thread.join(timeout)
