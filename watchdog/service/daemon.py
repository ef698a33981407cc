"""The daemon's main loop: results in, schedule forward, incident engine told, systemd pinged.

One thread owns all decisions: it drains finished runs from the runner, applies them to
the scheduler (confirmation), hands every new state to the `ResultSink` (the incident
engine), calls `sink.tick()`, starts the checks that are due and sleeps until the next due
time (at most `MAX_SLEEP`, woken early by finished runs, finished restarts, exits of watched
processes and signals). Probes run in the runner's threads, the HTTP API in its own
threads; neither ever blocks this loop. A process a check vouched for
(`CheckResult.watch_pid`) is watched by a pidfd (watchdog.monitor.exitwatch): when it exits, its
check runs again at once, and the failure it finds is hard at once (a fact, not a fluke:
watchdog.monitor.scheduler), so the repair starts within milliseconds of the crash. A unit a
`systemd` check vouched for (`CheckResult.watch_unit`) is followed on the system bus
(watchdog.monitor.unitwatch, started with the first such unit): when systemd signals a state
change the check runs at once, as the witness of a fact when the unit failed or stopped.

Signal handlers only set flags (SIGTERM/SIGINT: stop, SIGHUP: reload); the loop acts on
them, so no handler ever runs in the middle of a state change.

Reload never stops the daemon: the file is read and parsed in a thread of its own (a slow
or huge file never stalls the loop, its WATCHDOG pings or the API), and whatever it holds
(invalid, not UTF-8, an alias bomb, a loader bug), the error is logged
(`event=config_reload_failed`), the old config keeps running and
`shop_watchdog_config_last_reload_successful` turns 0. A valid config applies everything
live (checks, routes, channels, remediation, API token, `log_level`, `heartbeat`) except
`listen` and `state_dir`, which keep their running values until a restart, with a warning
naming each (`event=config_key_needs_restart`).

A release start recorded through the API (`POST /api/v1/releases`) puts the checks of
`post_deploy` under closer watch (the scheduler's `watch_closely`) for `watch_for`; a daemon
started inside that time resumes the watch of the latest release for the time left.

On the way out the daemon ends the processes it started (`end_children`: check plugins and
restart commands run in sessions of their own, which nothing else ends outside systemd).

systemd: READY once the first round is scheduled and the API listens; WATCHDOG on every
loop iteration — only the loop pings, so a stalled loop gets the daemon restarted;
STATUS `12 checks, 1 failing, 0 incidents open`; RELOADING/READY around a reload;
STOPPING on the way out. The heartbeat (dead man's switch) runs in its own thread so a slow
receiver never delays the loop; it reports unhealthy when the loop stalls.
"""

from __future__ import annotations

import dataclasses
import logging
import queue
import signal
import threading
from collections.abc import Callable, Mapping
from datetime import datetime, timedelta
from types import FrameType
from typing import TYPE_CHECKING, Any, Protocol, overload

import watchdog
from checks.base import Check, Status
from watchdog.common.ack_links import AckClaim, LinkOutcome
from watchdog.common.clock import Clock, utc_iso
from watchdog.common.configtools import ConfigError
from watchdog.common.incident_history import IncidentDetail, IncidentSummary
from watchdog.common.incident_terms import Severity
from watchdog.common.logs import SCRUBBER, event
from watchdog.common.metric_values import Recorder
from watchdog.common.status_document import (
    Availability,
    CheckEntry,
    HistoryPoint,
    IncidentEntry,
    RepairEntry,
    SilenceEntry,
    StatusDocument,
)
from watchdog.config.model import CheckSpec, HeartbeatConfig, WatchdogConfig
from watchdog.monitor.checkstate import CheckState, Rechecker, ResultSink
from watchdog.monitor.exitwatch import ExitWatcher
from watchdog.monitor.probes import build_check
from watchdog.monitor.runner import DEFAULT_MAX_WORKERS, Runner
from watchdog.monitor.scheduler import Scheduler, Skipped, Started
from watchdog.service.api import ApiServer, access_for
from watchdog.service.metrics import Metrics
from watchdog.service.result_history import ResultHistory
from watchdog.service.sdnotify import format_status
from watchdog.storage.releases import ReleaseNote, ReleaseRecord

if TYPE_CHECKING:
    from watchdog.monitor.unitwatch import UnitWatcher

log = logging.getLogger(__name__)

EXIT_API_FAILED = 1
"""`run`'s exit status when the API's listener broke (never a config error: that is 2, which
the unit's RestartPreventExitStatus= keeps from restarting)."""
MAX_SLEEP = 5.0
"""Upper bound of one quiet loop sleep: the engine's tick (reminders, escalations, silences
ending, a restart that never reported back) is at most this late. Everything that needs the
loop sooner wakes it (finished runs and restarts, exits and unit changes, signals) or is a
deadline it sleeps until (due checks, run timeouts). A shorter sleep only
burns CPU on an idle shop: at 0.5 s the loop's wake-ups were most of the daemon's idle CPU.
It also stays below a third of `stall_after` and below the systemd watchdog's ping interval."""

MIN_ITERATION = 0.05
"""Lower bound of one iteration's period while the loop is busy. With 1,000 checks on 10 s,
a check is due and a result arrives every few milliseconds; handling them in batches (and
ticking the engine 20 times a second instead of 200) costs at most 50 ms of start delay and
saves most of the loop's CPU. A quiet loop (the iteration before came at least twice this
long ago) acts on a wake-up at once: a crash seen by the exit watcher, a finished restart
or a failed probe is not held back for batching nobody needs."""

STATUS_EVERY = 1.0
"""How often the open-incident count of STATUS= is refreshed (a snapshot of the engine is not
free; the failing count is always current)."""

DEFAULT_STALL_AFTER = 15.0
"""/healthz turns 503 when the loop has not completed an iteration for this long."""

LOGGED_PROBLEMS = 20
"""A rejected reload logs this many problems and the count of the rest: a 10 MB file full of
mistakes must not become a 10 MB log line."""

REPAIRS_SHOWN_FOR = timedelta(hours=24)
"""The status document's `recent_repairs` reach back this far."""

RESTART_ONLY_KEYS = ("listen", "state_dir")
"""Keys a reload cannot apply: the API socket and the state database stay as started."""


def package_version() -> str:
    return watchdog.__version__


class Notifier(Protocol):
    """What the loop tells the service manager (watchdog.service.sdnotify.SystemdNotifier)."""

    def ready(self, status: str | None = None) -> object: ...

    def watchdog(self) -> object: ...

    @property
    def ping_interval(self) -> float | None:
        """How often `watchdog()` must be called (None: no watchdog armed)."""
        ...

    def status(self, text: str) -> object: ...

    def reloading(self) -> object: ...

    def stopping(self) -> object: ...


class Heartbeat(Protocol):
    """watchdog.service.heartbeat.Heartbeat: `tick(healthy)` pings when due (may block briefly)."""

    def tick(self, healthy: bool) -> bool | None: ...


HeartbeatFactory = Callable[[HeartbeatConfig], Heartbeat]
"""Builds the heartbeat of a config's `heartbeat:` section (at start and when a reload changes it)."""


class SinkFactory(Protocol):
    """How the daemon gets its result sink (`watchdog.service.wiring.build_engine` in main())."""

    def __call__(
        self,
        config: WatchdogConfig,
        *,
        clock: Clock,
        recheck: Rechecker,
        recorder: Recorder,
        wake: Callable[[], None],
    ) -> ResultSink: ...


@overload
def iso(moment: datetime) -> str: ...


@overload
def iso(moment: None) -> None: ...


def iso(moment: datetime | None) -> str | None:
    """ISO-8601 UTC with `Z`, whole seconds: what the API and the CLI print."""
    return None if moment is None else utc_iso(moment)


def register_secrets(config: WatchdogConfig) -> None:
    """Makes every secret of a config unprintable in logs and check messages."""
    SCRUBBER.add(*(secret.reveal() for secret in config.secrets()))


class Daemon:
    """The running watchdog. `run()` blocks until a stop is requested and returns 0.

    `load` re-reads the config on SIGHUP (raises ConfigError when invalid). The side effects
    come from the caller (main() wires the real ones): `sink_factory` builds the incident
    engine, `notifier` talks to the service manager, `make_heartbeat` (optional) builds the
    dead man's switch, `make_check` builds the probes, `set_log_level` applies `log_level`,
    `end_children` ends the processes the daemon started, last thing before it returns.
    """

    def __init__(
        self,
        config: WatchdogConfig,
        *,
        clock: Clock,
        load: Callable[[], WatchdogConfig],
        sink_factory: SinkFactory,
        notifier: Notifier,
        make_heartbeat: HeartbeatFactory | None = None,
        make_check: Callable[[CheckSpec], Check[object]] = build_check,
        set_log_level: Callable[[str], None] = lambda level: None,
        end_children: Callable[[], None] = lambda: None,
        max_workers: int = DEFAULT_MAX_WORKERS,
        stall_after: float = DEFAULT_STALL_AFTER,
    ) -> None:
        self.config = config
        self._clock = clock
        self._load = load
        self._notifier = notifier
        self._make_heartbeat = make_heartbeat
        self._heartbeat = self._heartbeat_for(config.heartbeat)
        """Read by the heartbeat thread, replaced by a reload (one attribute, so no lock)."""
        self._heartbeat_changed = threading.Event()
        """Set after `_heartbeat` is replaced and at stop: wakes a heartbeat thread that had
        nothing to ping, which otherwise sleeps (an idle daemon wakes only for its checks)."""
        self._set_log_level = set_log_level
        self._end_children = end_children
        self._stall_after = stall_after
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._exits: ExitWatcher | None = None
        self._units: UnitWatcher | None = None
        self._reload = threading.Event()
        self._loading = False
        """A config load is running in its thread; a SIGHUP meanwhile sets `_reload_again`."""
        self._reload_again = False
        self._loaded: queue.SimpleQueue[WatchdogConfig | Exception] = queue.SimpleQueue()
        self.version = package_version()
        self.metrics = Metrics(self.version)
        self.metrics.reload_ok.set(1)
        self.metrics.reload_ok_at.set(clock.now().timestamp())
        self.runner = Runner(clock, max_workers=max_workers, wake=self._wake.set)
        self.scheduler = Scheduler(clock, self.runner, make_check)
        register_secrets(config)
        self.sink: ResultSink = sink_factory(
            config, clock=clock, recheck=self.recheck, recorder=self.metrics.recorder, wake=self._wake.set
        )
        self.api = ApiServer(config.listen, self, access_for(config))
        self.started_at = clock.now()
        self._last_iteration = clock.monotonic()
        self._max_sleep = min(MAX_SLEEP, stall_after / 3, notifier.ping_interval or MAX_SLEEP)
        self._last_gap = self._max_sleep
        """Seconds between the last two iterations: short gaps mean a busy loop (see MIN_ITERATION)."""
        self._status_text = ""
        self._status_at = -STATUS_EVERY
        self._incidents_open = 0
        self._shown: dict[str, tuple[Status, bool, int]] = {}
        """Per check: (status, hard, failures up to retries) as last logged."""
        self.history = ResultHistory()

    # -- control, from any thread or a signal handler --------------------------------------

    def request_stop(self) -> None:
        self._stop.set()
        self._wake.set()

    def request_reload(self) -> None:
        self._reload.set()
        self._wake.set()

    def recheck(self, name: str, delay: float) -> None:
        self.scheduler.recheck(name, delay)
        self._wake.set()

    def witnessed(self, name: str) -> None:
        """What check `name` watches ended (from the exit or unit watcher's thread)."""
        self.scheduler.witnessed(name)
        self._wake.set()

    def _unit_changed(self, name: str, ended: bool) -> None:
        if ended:
            self.witnessed(name)
        else:
            self.recheck(name, 0.0)

    def install_signal_handlers(self) -> None:
        """SIGTERM/SIGINT stop, SIGHUP reloads; handlers only set flags. Main thread only."""

        def on_stop(signum: int, frame: FrameType | None) -> None:
            self.request_stop()

        def on_hup(signum: int, frame: FrameType | None) -> None:
            self.request_reload()

        signal.signal(signal.SIGTERM, on_stop)
        signal.signal(signal.SIGINT, on_stop)
        signal.signal(signal.SIGHUP, on_hup)

    # -- the loop ----------------------------------------------------------------------------

    def run(self) -> int:
        """Serves until stopped: 0. EXIT_API_FAILED when the API's listener broke, so that
        systemd (`Restart=on-failure`) starts a whole daemon again rather than leaving one
        that checks and pages but answers neither `status`, Prometheus nor /healthz. Raises
        ListenError when the API address is unusable."""
        beat: threading.Thread | None = None
        code = 0
        try:
            self.api.start()
            self._configure(self.config)
            self._resume_watch()
            event(
                log,
                "daemon_started",
                version=self.version,
                config=self.config.source,
                checks=len(self.config.checks),
                listen=f"{self.config.listen.host}:{self.api.port}",
            )
            self._log_warnings(self.config)
            self._iterate()
            self._notifier.ready(self._status())
            beat = self._start_heartbeat()
            while not self._stop.is_set():
                if self._reload.is_set():
                    self._reload.clear()
                    self._start_reload()
                self._finish_reload()
                self._iterate()
                if self.api.failed:
                    event(log, "daemon_exiting", logging.ERROR, reason="api_failed", exit_code=EXIT_API_FAILED)
                    code = EXIT_API_FAILED
                    break
                self._sleep()
        finally:
            self._stop.set()
            self._heartbeat_changed.set()
            self._notifier.stopping()
            event(log, "daemon_stopping")
            self.api.stop()
            self.runner.close()
            self._end_children()
            for watcher in (self._exits, self._units):
                if watcher is not None:
                    watcher.close()
            self.sink.close()
            if beat is not None:
                beat.join(timeout=1.0)
        event(log, "daemon_stopped")
        return code

    def _iterate(self) -> None:
        for outcome in self.runner.poll():
            update = self.scheduler.on_outcome(outcome)
            if update is not None:
                self._watch(outcome.name, outcome.result.watch_pid, outcome.result.watch_unit)
                self._deliver(*update, timed_out=outcome.timed_out)
        for item in self.scheduler.run_due():
            if isinstance(item, Started):
                self.metrics.lag.observe(item.lag)
            elif isinstance(item, Skipped):
                self.metrics.skipped.labels(item.name).inc()
                event(
                    log,
                    "check_skipped_still_running",
                    logging.WARNING,
                    check=item.name,
                    running_for=round(item.hanging_for, 1),
                )
                if item.result is not None:
                    self._deliver(*item.result, timed_out=False)
        self._guard("tick", self.sink.tick)
        self.metrics.hanging.set(self.runner.hanging())
        self.metrics.threads.set(self.runner.threads)
        self.metrics.loop_timestamp.set(self._clock.now().timestamp())
        now = self._clock.monotonic()
        self._last_gap = now - self._last_iteration
        self._last_iteration = now
        self._notifier.watchdog()
        if now - self._status_at >= STATUS_EVERY:
            self._status_at = now
            self._incidents_open = len(self._incidents())
        status = self._status()
        if status != self._status_text:
            self._status_text = status
            self._notifier.status(status)

    def _deliver(self, spec: CheckSpec, state: CheckState, *, timed_out: bool) -> None:
        self.metrics.observe(spec, state, timed_out)
        self.history.record(spec.name, history_point(state))
        shown = (state.status, state.hard, min(state.failures, spec.retries))
        if self._shown.get(spec.name) != shown:
            # one line per change of status, per soft failure and on confirmation; not per run
            self._shown[spec.name] = shown
            event(
                log,
                "check_state",
                logging.INFO if state.status is Status.OK else logging.WARNING,
                check=spec.name,
                status=state.status.name,
                hard=state.hard,
                failures=state.failures,
                message=state.message,
            )
        self._guard("on_result", lambda: self.sink.on_result(spec, state))

    def _watch(self, name: str, pid: int | None, unit: str | None) -> None:
        # Each watcher (and its thread) starts with the first check that needs it.
        if pid is not None and self._exits is None:
            self._exits = ExitWatcher(self.witnessed)
        if self._exits is not None:
            self._exits.watch(name, pid)
        if unit is not None and self._units is None:
            # Imported and connected only when a check watches a unit: most configs have none.
            from watchdog.monitor.unitwatch import UnitWatcher

            self._units = UnitWatcher(self._unit_changed)
        if self._units is not None:
            self._units.watch(name, unit)

    def _guard(self, what: str, call: Callable[[], None]) -> None:
        """Runs a sink call; its failure is logged, never allowed to end the loop."""
        try:
            call()
        except Exception as exc:
            log.exception("%s", f"event=sink_error call={what} error={type(exc).__name__}")
            del exc

    def _sleep(self) -> None:
        """Waits for the next due check, timeout or wake-up; while busy (something due before
        MIN_ITERATION after the last iteration), at least until then (only a stop cuts that
        short). A pause with nothing due in it would batch nothing and only cost an idle
        daemon one more wake-up per check."""
        now = self._clock.monotonic()
        wait = self._until_next(now)
        pause = self._last_iteration + MIN_ITERATION - now
        if pause > 0 and self._last_gap < 2 * MIN_ITERATION and wait < pause:
            self._stop.wait(pause)
            now = self._clock.monotonic()
            wait = self._until_next(now)
        if wait > 0:
            self._wake.wait(wait)
        self._wake.clear()

    def _until_next(self, now: float) -> float:
        """Seconds until the next due check or run timeout, at most the loop's longest sleep."""
        wait = self._max_sleep
        for moment in (self.scheduler.next_due(), self.runner.next_deadline()):
            if moment is not None:
                wait = min(wait, moment - now)
        return wait

    def _status(self) -> str:
        return format_status(len(self.scheduler.specs()), self._failing(), self._incidents_open)

    def _failing(self) -> int:
        return sum(1 for status, _, _ in self._shown.values() if status is not Status.OK)

    def _incidents(self) -> list[IncidentEntry]:
        try:
            return self.sink.incidents_snapshot()
        except Exception as exc:
            event(log, "sink_error", logging.ERROR, call="incidents_snapshot", error=type(exc).__name__)
            return []

    def _recent_repairs(self) -> list[RepairEntry]:
        try:
            return self.sink.recent_repairs(self._clock.now() - REPAIRS_SHOWN_FOR)
        except Exception as exc:  # an unreadable state store must not fail the status API
            event(log, "sink_error", logging.ERROR, call="recent_repairs", error=type(exc).__name__)
            return []

    # -- config ------------------------------------------------------------------------------

    def _configure(self, config: WatchdogConfig) -> tuple[list[str], list[str], list[str]]:
        added, removed, changed = self.scheduler.set_checks(config.checks)
        self.metrics.configure(self.scheduler.specs(), removed + changed)
        self.history.forget(removed + changed)
        for name in removed + changed:
            self._shown.pop(name, None)
            self._watch(name, None, None)
        self._wake.set()
        return added, removed, changed

    def _resume_watch(self) -> None:
        """A daemon (re)started inside a release's post-deploy watch keeps watching."""
        post_deploy = self.config.post_deploy
        if post_deploy is None:
            return
        since = self._clock.now() - timedelta(seconds=post_deploy.watch_for)
        latest = self.sink.releases_started_since(since)
        if latest:
            self._watch_after(latest[0])

    def _start_reload(self) -> None:
        """Reads the config in a thread; the loop applies it in `_finish_reload`."""
        if self._loading:
            self._reload_again = True  # the file may have changed after the running load read it
            return
        self._loading = True
        self._notifier.reloading()

        def load() -> None:
            result: WatchdogConfig | Exception
            try:
                result = self._load()
            except Exception as exc:  # a loader bug or a resource limit must not end the daemon
                result = exc
            self._loaded.put(result)
            self._wake.set()

        threading.Thread(target=load, name="config-load", daemon=True).start()

    def _finish_reload(self) -> None:
        try:
            result = self._loaded.get_nowait()
        except queue.Empty:
            return
        self._loading = False
        if isinstance(result, ConfigError):
            self._reload_failed(result.source, [str(p) for p in result.problems])
        elif isinstance(result, Exception):
            self._reload_failed(self.config.source, [f"{type(result).__name__}: {result}"])
        else:
            self._apply(result)
        if self._reload_again:
            self._reload_again = False
            self._start_reload()

    def _apply(self, new: WatchdogConfig) -> None:
        new = self._keep_restart_only_keys(new)
        register_secrets(new)
        if new.log_level != self.config.log_level:
            self._set_log_level(new.log_level)
        if new.heartbeat != self.config.heartbeat:
            self._heartbeat = self._heartbeat_for(new.heartbeat)
            self._heartbeat_changed.set()
        added, removed, changed = self._configure(new)
        self.config = new
        self.api.set_access(access_for(new))
        self._guard("reload", lambda: self.sink.reload(new))
        self.metrics.reloads.labels("ok").inc()
        self.metrics.reload_ok.set(1)
        self.metrics.reload_ok_at.set(self._clock.now().timestamp())
        event(
            log,
            "config_reloaded",
            config=new.source,
            checks=len(new.checks),
            added=",".join(added) or None,
            removed=",".join(removed) or None,
            changed=",".join(changed) or None,
            log_level=new.log_level,
            heartbeat="on" if new.heartbeat is not None else "off",
        )
        self._log_warnings(new)
        self._notifier.ready(self._status())

    def _reload_failed(self, source: str, problems: list[str]) -> None:
        self.metrics.reloads.labels("failed").inc()
        self.metrics.reload_ok.set(0)
        shown = problems[:LOGGED_PROBLEMS]
        if len(problems) > len(shown):
            shown.append(f"and {len(problems) - len(shown)} more")
        event(log, "config_reload_failed", logging.ERROR, config=source, problems="; ".join(shown), kept="old config")
        self._notifier.ready(self._status())

    def _keep_restart_only_keys(self, new: WatchdogConfig) -> WatchdogConfig:
        """`new` with the running values of the keys only a restart applies, each change warned about."""
        kept: dict[str, Any] = {}
        for key in RESTART_ONLY_KEYS:
            wanted, running = getattr(new, key), getattr(self.config, key)
            if wanted != running:
                kept[key] = running
                event(
                    log,
                    "config_key_needs_restart",
                    logging.WARNING,
                    key=key,
                    wanted=str(wanted),
                    kept=str(running),
                    reason=f"{key} applies at the next start of the daemon",
                )
        return dataclasses.replace(new, **kept) if kept else new

    def _log_warnings(self, config: WatchdogConfig) -> None:
        for warning in config.warnings:
            event(
                log, "config_warning", logging.WARNING, config=config.source, key=warning.path, warning=warning.message
            )

    # -- heartbeat ---------------------------------------------------------------------------

    def _heartbeat_for(self, config: HeartbeatConfig | None) -> Heartbeat | None:
        if config is None or self._make_heartbeat is None:
            return None
        return self._make_heartbeat(config)

    def _start_heartbeat(self) -> threading.Thread | None:
        """The heartbeat thread, running whenever heartbeats can be built: a reload may switch
        `heartbeat:` on, off or to another receiver."""
        if self._make_heartbeat is None:
            return None

        def beat() -> None:
            while not self._stop.is_set():
                heartbeat = self._heartbeat
                if heartbeat is None:
                    self._heartbeat_changed.wait()
                    self._heartbeat_changed.clear()
                    continue
                try:
                    heartbeat.tick(self.healthy()[0])
                except Exception as exc:
                    event(log, "heartbeat_error", logging.ERROR, error=type(exc).__name__)
                self._stop.wait(1.0)

        thread = threading.Thread(target=beat, name="heartbeat", daemon=True)
        thread.start()
        return thread

    # -- what the API reads (any thread) -------------------------------------------------------

    def healthy(self) -> tuple[bool, str]:
        age = self._clock.monotonic() - self._last_iteration
        if age > self._stall_after:
            return False, f"main loop stalled for {age:.0f}s"
        return True, "ok"

    def metrics_text(self) -> tuple[bytes, str]:
        return self.metrics.render()

    def status(self) -> StatusDocument:
        return StatusDocument(
            host=self.config.host,
            version=self.version,
            config=self.config.source,
            started_at=iso(self.started_at),
            healthy=self.healthy()[0],
            checks=[
                check_json(spec, state, self.started_at, self.history.of(spec.name))
                for spec, state in self.scheduler.states()
            ],
            incidents=self._incidents(),
            outbox=self.sink.outbox_snapshot(),
            silences=self.sink.silences_snapshot(),
            recent_repairs=self._recent_repairs(),
        )

    def availability(self, window: float) -> Availability:
        return self.sink.availability(window)

    def report(self, since: float) -> Mapping[str, Any]:
        return self.sink.report(since)

    def ack(self, incident_id: str, by: str) -> bool:
        return self.sink.ack(incident_id, by)

    def ack_link(self, claim: AckClaim, by: str) -> LinkOutcome:
        return self.sink.ack_link(claim, by)

    def silence(self, check: str, seconds: float, reason: str, by: str) -> dict[str, Any]:
        return self.sink.silence(check, seconds, reason, by)

    def silences(self) -> list[SilenceEntry]:
        return self.sink.silences_snapshot()

    def unsilence(self, key: str, by: str) -> list[SilenceEntry]:
        return self.sink.unsilence(key, by)

    def incident(self, incident_id: str) -> IncidentDetail | None:
        return self.sink.incident(incident_id)

    def incidents(self, seconds: float) -> list[IncidentSummary]:
        """Incidents opened in the last `seconds` (the API bounds them to MAX_LOOKBACK)."""
        return self.sink.incidents(self._clock.now() - timedelta(seconds=seconds))

    def record_release(self, note: ReleaseNote) -> dict[str, Any]:
        """Stores the release; a start puts `post_deploy.checks` under closer watch for `watch_for`."""
        release = self.sink.record_release(note)
        watch = self._watch_after(release) if note.event == "start" else None
        return {"event": note.event, "release": release.to_json(), "watch": watch}

    def _watch_after(self, release: ReleaseRecord) -> dict[str, Any] | None:
        """Runs `post_deploy.checks` every `interval` for what is left of `watch_for` after
        `release` started; the watch as the API tells it (None: none)."""
        post_deploy = self.config.post_deploy
        if post_deploy is None or release.started_at is None:
            return None
        left = post_deploy.watch_for - (self._clock.now() - release.started_at).total_seconds()
        if left <= 0:
            return None
        self.scheduler.watch_closely(post_deploy.checks, post_deploy.interval, self._clock.monotonic() + left)
        self._wake.set()
        until = iso(self._clock.now() + timedelta(seconds=left))
        event(log, "post_deploy_watch", release=release.id, checks=",".join(post_deploy.checks), until=until)
        return {"checks": list(post_deploy.checks), "interval": post_deploy.interval, "until": until}


def history_point(state: CheckState) -> HistoryPoint:
    return HistoryPoint(at=iso(state.last_run), status=Status(state.status).name, duration=round(state.duration, 6))


def check_json(
    spec: CheckSpec, state: CheckState | None, started_at: datetime, history: list[HistoryPoint]
) -> CheckEntry:
    """One check as the status API shows it, with its last results (`history`); before its
    first result it is a pending UNKNOWN."""
    entry = CheckEntry(
        name=spec.name,
        type=spec.type,
        severity=Severity(spec.severity),
        interval=spec.interval,
        retries=spec.retries,
        status=Status.UNKNOWN.name,
        pending=True,
        hard=False,
        since=iso(started_at),
        last_run=None,
        message="not run yet",
        failures=0,
        duration=None,
        measurements={},
        history=history,
    )
    if state is not None:
        entry.update(
            {
                "status": Status(state.status).name,
                "pending": False,
                "hard": state.hard,
                "since": iso(state.since),
                "last_run": iso(state.last_run),
                "message": state.message,
                "failures": state.failures,
                "duration": round(state.duration, 6),
                "measurements": dict(state.measurements),
            }
        )
    return entry
