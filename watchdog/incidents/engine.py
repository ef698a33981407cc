"""The incident engine: repair first, page only when the repair fails.

The scheduler hands every check result to `IncidentEngine.on_result` and calls `tick()` on
every loop iteration; both run on the main-loop thread. `ack` and `silence` come from API
threads, so all state sits behind one lock. Restarts run in `Restarter` worker threads and
are picked up by `tick()`; messages go to the durable outbox (`Pager`), which delivers them.

What happens to a hard failure (DESIGN "Behaviour"):

* A hard CRITICAL of a `severity: critical` check opens a critical incident; any other hard
  failure a warning incident.
* Critical with `remediate`, restarts left, not silenced, no failing parent: the service is
  restarted (REPAIRING) and the check re-run after `verify_after`. The first result after
  that is the verification: OK closes the incident as auto-repaired (recorded, counted, no
  message); anything else pages. A failed or timed-out restart pages at once, and so does a
  failure that finds the restart budget used up (a restart loop) or no repair configured.
* Paged incidents get reminders every `repeat_every` until acknowledged or resolved, and
  one escalation to `escalate_to` after `escalate_after` without acknowledgement. When the
  check is OK again, every channel that was paged gets a resolve — even if the check was
  silenced or the incident acknowledged meanwhile.
* Warnings on a `when: business_hours` route wait for business hours; cleared meanwhile,
  they close without a message.
* A failing parent (`depends_on`) or a silence holds a new incident OPEN (no restart, no
  page) with a note in its timeline; when the silence ends and the check still fails, it is
  told at once; when the parent recovers, the child's next hard failure is handled normally.

Everything an incident is (state, who was paged and when, budgets, silences) is committed
to the state database before the engine acts on it, so a restarted daemon continues the
same incidents without paging twice.
"""

from __future__ import annotations

import logging
import threading
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Protocol

from prometheus_client import CollectorRegistry, Counter, Gauge

from checks.base import Status
from watchdog.common.clock import Clock
from watchdog.common.logs import event
from watchdog.config.model import CheckSpec, WatchdogConfig
from watchdog.delivery.notification import Kind, Notification
from watchdog.incidents.lifecycle import IncidentEvent, IncidentState, allowed, transition
from watchdog.incidents.remediation import BudgetState, RestartBudget, Restarter, RestartOutcome, restart_argv
from watchdog.incidents.routing import Router
from watchdog.incidents.silences import Silences
from watchdog.monitor.checkstate import CheckState, Rechecker
from watchdog.storage.state import BudgetRecord, IncidentRecord, RestartRecord, StateStore, TimelineEntry

log = logging.getLogger(__name__)

_ID_NAMESPACE = uuid.UUID("5d3f7a52-9c1e-4a57-8a36-2f0f4a1c6b11")
VERIFY_GRACE = 10.0
"""Seconds past the expected verification result after which a missing result pages."""


class Pager(Protocol):
    """What the engine needs from delivery (watchdog.delivery.pager.OutboxPager in the daemon).

    `enqueue` commits before it returns; enqueueing a notification id twice is a no-op,
    which makes the engine's deterministic ids an exactly-once guard across crashes."""

    def enqueue(self, n: Notification, channels: Sequence[str], fallback: Sequence[str] = ()) -> None: ...

    def snapshot(self) -> dict[str, Any]: ...

    def reload(self, config: WatchdogConfig) -> None: ...

    def close(self) -> None: ...


@dataclass
class Incident:
    """An unresolved incident: the stored record plus monotonic deadlines (not stored)."""

    rec: IncidentRecord
    verify_due: float | None = None
    verify_deadline: float | None = None
    next_reminder: float | None = None
    escalate_at: float | None = None
    deferred_until: datetime | None = None
    notes: set[str] = field(default_factory=set)

    @property
    def state(self) -> IncidentState:
        return IncidentState(self.rec.state)


class EngineMetrics:
    def __init__(self, registry: CollectorRegistry) -> None:
        r = registry
        self.opened = Counter(
            "shop_watchdog_incidents_opened_total",
            "Incidents opened, by check and severity.",
            ["check", "severity"],
            registry=r,
        )
        self.restarts = Counter(
            "shop_watchdog_restarts_total",
            "Restarts run by the daemon, by check and result (ok, failed, timeout, error).",
            ["check", "result"],
            registry=r,
        )
        self.repairs = Counter(
            "shop_watchdog_auto_repairs_total",
            "Incidents closed by a restart that fixed the check (no page).",
            ["check"],
            registry=r,
        )
        self.pages = Counter(
            "shop_watchdog_pages_total",
            "Incidents that paged people, by check and severity.",
            ["check", "severity"],
            registry=r,
        )
        self.messages = Counter(
            "shop_watchdog_incident_messages_total",
            "Messages handed to the outbox, by kind (trigger, reminder, escalation, resolve).",
            ["kind"],
            registry=r,
        )
        self.give_ups = Counter(
            "shop_watchdog_restart_give_ups_total",
            "Failures not restarted because the restart budget was used up.",
            ["check"],
            registry=r,
        )
        self.open = Gauge("shop_watchdog_incidents_open", "Unresolved incidents by state.", ["state"], registry=r)
        self.silences = Gauge("shop_watchdog_silences_active", "Checks currently silenced.", registry=r)


def _failing(state: CheckState | None) -> bool:
    return state is not None and state.status != Status.OK


class IncidentEngine:
    """The `ResultSink` the daemon drives; see the module docstring for the behaviour."""

    def __init__(
        self,
        config: WatchdogConfig,
        *,
        clock: Clock,
        recheck: Rechecker,
        registry: CollectorRegistry,
        store: StateStore,
        pager: Pager,
        wake: Callable[[], None] = lambda: None,
    ) -> None:
        self._lock = threading.RLock()
        self._clock = clock
        self._recheck = recheck
        self._store = store
        self._pager = pager
        self._metrics = EngineMetrics(registry)
        self._silences = Silences(store)
        self._states: dict[str, CheckState] = {}
        self._open: dict[str, Incident] = {}
        self._budgets: dict[str, RestartBudget] = {}
        self._apply_config(config)
        self._restarter = Restarter(config.remediation, self._allowed_argvs(), wake)
        self._load()

    # configuration

    def _apply_config(self, config: WatchdogConfig) -> None:
        self._config = config
        self._specs = {s.name: s for s in config.checks}
        self._router = Router(config.notify, config.business_hours)

    def _allowed_argvs(self) -> list[tuple[str, ...]]:
        argvs = (restart_argv(s, self._config.remediation) for s in self._config.checks)
        return [a for a in argvs if a is not None]

    def reload(self, config: WatchdogConfig) -> None:
        """Applies a new config to routing, restarts and delivery; open incidents carry on."""
        with self._lock:
            self._apply_config(config)
            self._pager.reload(config)
            self._restarter.reload(config.remediation, self._allowed_argvs())
            for budget in self._budgets.values():
                budget.max_restarts = config.remediation.max_restarts
                budget.window = config.remediation.restart_window
            for name in [n for n in self._open if n not in self._specs]:
                self._resolve(self._open[name], "check removed from the config")
            self._refresh_gauges()

    # time

    def _mono(self, at: datetime) -> float:
        """A stored wall-clock instant as a monotonic time of this process."""
        return self._clock.monotonic() - (self._clock.now() - at).total_seconds()

    def _wall_of(self, mono: float) -> datetime:
        return self._clock.now() + timedelta(seconds=mono - self._clock.monotonic())

    # loading after a restart

    def _load(self) -> None:
        cfg = self._config.remediation
        for b in self._store.budgets():
            self._budgets[b.check] = RestartBudget(
                cfg.max_restarts,
                cfg.restart_window,
                BudgetState(b.state),
                b.count,
                self._mono(b.ok_since) if b.ok_since is not None else None,
            )
        now = self._clock.monotonic()
        for rec in self._store.open_incidents():
            inc = Incident(rec)
            spec = self._specs.get(rec.check)
            if spec is None:
                self._open[rec.check] = inc
                continue
            if inc.state is IncidentState.REPAIRING:
                inc.verify_due = now
                inc.verify_deadline = now + cfg.verify_after + spec.timeout + spec.interval + VERIFY_GRACE
            if inc.state.told:
                self._schedule_followups(inc)
            self._open[rec.check] = inc
            event(log, "incident_loaded", check=rec.check, incident=rec.id, state=rec.state)
        for name in [n for n in self._open if n not in self._specs]:
            self._resolve(self._open[name], "check removed from the config")
        self._metrics.silences.set(len(self._silences.all()))
        self._refresh_gauges()

    def _schedule_followups(self, inc: Incident) -> None:
        """Reminder and escalation deadlines from the stored times of a told incident."""
        rec = inc.rec
        route = self._router.route(rec.severity)
        paged = self._mono(rec.paged_at or self._clock.now())
        reminded = self._mono(rec.last_reminder_at or rec.paged_at or self._clock.now())
        if route.repeat_every:
            inc.next_reminder = reminded + route.repeat_every
        if route.escalate_after and route.escalate_to and rec.escalated_at is None:
            inc.escalate_at = paged + route.escalate_after

    # results

    def on_result(self, spec: CheckSpec, state: CheckState) -> None:
        with self._lock:
            self._states[spec.name] = state
            self._specs[spec.name] = spec
            self._observe_budget(spec.name, state)
            inc = self._open.get(spec.name)
            if inc is not None and inc.state is IncidentState.REPAIRING:
                self._verify(inc, state)
            elif state.status == Status.OK:
                if inc is not None and state.hard:
                    self._resolve(inc, "check OK again")
            elif state.hard:
                self._hard_failure(spec, state, inc)
            self._refresh_gauges()

    def _observe_budget(self, check: str, state: CheckState) -> None:
        budget = self._budgets.get(check)
        if budget is None or not state.hard:
            return
        before = (budget.state, budget.count, budget.ok_since is None)
        if state.status == Status.OK:
            if budget.ok(self._clock.monotonic()):
                event(log, "restart_budget_reset", check=check, state=budget.state.value, restarts=budget.count)
        else:
            budget.failed()
        if before != (budget.state, budget.count, budget.ok_since is None):
            self._save_budget(check, budget)

    def _save_budget(self, check: str, budget: RestartBudget) -> None:
        ok_since = self._wall_of(budget.ok_since) if budget.ok_since is not None else None
        self._store.save_budget(BudgetRecord(check, budget.state.value, budget.count, ok_since))

    def _budget(self, check: str) -> RestartBudget:
        budget = self._budgets.get(check)
        if budget is None:
            cfg = self._config.remediation
            budget = self._budgets[check] = RestartBudget(cfg.max_restarts, cfg.restart_window)
        return budget

    def _hard_failure(self, spec: CheckSpec, state: CheckState, inc: Incident | None) -> None:
        severity = "critical" if state.status == Status.CRITICAL and spec.severity == "critical" else "warning"
        if inc is None:
            inc = self._open_incident(spec, state, severity)
        else:
            inc.rec.summary = f"{spec.name} {state.status.name}: {state.message}"
            if severity == "critical" and inc.rec.severity == "warning":
                self._upgrade(inc, spec)
        self._advance(inc, spec, state)

    def _open_incident(self, spec: CheckSpec, state: CheckState, severity: str) -> Incident:
        now = self._clock.now()
        rec = IncidentRecord(
            id="inc-" + uuid.uuid4().hex[:10],
            check=spec.name,
            check_type=spec.type,
            severity=severity,
            state=IncidentState.OPEN.value,
            opened_at=now,
            since=state.since,
            summary=f"{spec.name} {state.status.name}: {state.message}",
        )
        inc = Incident(rec)
        self._open[spec.name] = inc
        self._save(inc, "opened", f"{state.status.name}: {state.message} (failing since {state.since.isoformat()})")
        self._metrics.opened.labels(spec.name, severity).inc()
        event(log, "incident_opened", check=spec.name, incident=rec.id, severity=severity, status=state.status.name)
        return inc

    def _upgrade(self, inc: Incident, spec: CheckSpec) -> None:
        """A warning incident whose check turned CRITICAL becomes critical. If people were
        already told about the warning, the critical route is paged now (same incident id, so
        PagerDuty and Alertmanager update the alert they have rather than open a second one)."""
        inc.rec.severity = "critical"
        self._save(inc, "severity", "now critical")
        event(log, "incident_upgraded", check=spec.name, incident=inc.rec.id, severity="critical")
        if inc.state.told:
            route = self._router.route("critical")
            self._send(inc, "trigger", route.channels, fallback=route.channels)
            inc.rec.paged_channels = tuple(dict.fromkeys(inc.rec.paged_channels + route.channels))
            inc.rec.paged_at = self._clock.now()
            self._save(inc, "paged", f"now critical: paged {', '.join(route.channels)}")
            self._metrics.pages.labels(inc.rec.check, "critical").inc()
            self._schedule_followups(inc)

    def _advance(self, inc: Incident, spec: CheckSpec, state: CheckState, *, silence_ended: bool = False) -> None:
        """Acts on an OPEN incident whose check is (still) hard failing: wait, repair or page."""
        if inc.state is not IncidentState.OPEN:
            return
        now = self._clock.now()
        silence = self._silences.active(spec.name, now)
        if silence is not None:
            self._note(inc, "silenced", f"silenced by {silence.by} until {silence.until.isoformat()}: {silence.reason}")
            return
        parents = [p for p in spec.depends_on if _failing(self._states.get(p))]
        if parents:
            self._note(inc, "suppressed", f"parent {', '.join(parents)} failing: no restart, no page")
            return
        if inc.rec.severity == "critical":
            argv = restart_argv(spec, self._config.remediation)
            budget = self._budget(spec.name)
            if silence_ended:
                self._page(inc, "silence ended and the problem is still there")
            elif argv is None:
                self._page(inc, "no automatic repair configured")
            elif self._restarter.running(spec.name):
                self._note(inc, "restart_running", "a restart of this check is still running")
            elif budget.can_restart():
                self._start_restart(inc, spec, argv, budget)
            else:
                if budget.give_up():
                    self._save_budget(spec.name, budget)
                    self._metrics.give_ups.labels(spec.name).inc()
                    event(
                        log,
                        "restart_gave_up",
                        logging.WARNING,
                        check=spec.name,
                        incident=inc.rec.id,
                        restarts=budget.count,
                    )
                cfg = self._config.remediation
                self._page(
                    inc,
                    f"restart loop: {budget.count} restarts (max_restarts {cfg.max_restarts}) without staying OK "
                    f"for a whole restart_window of {cfg.restart_window:g}s; not restarting again",
                )
            return
        delivery = self._router.delivery(inc.rec.severity, now)
        if delivery.not_before is not None:
            inc.deferred_until = delivery.not_before
            self._note(
                inc, "deferred", f"outside business hours: told at {delivery.not_before.isoformat()} if still failing"
            )
            return
        self._page(inc, "")

    # repair

    def _start_restart(self, inc: Incident, spec: CheckSpec, argv: tuple[str, ...], budget: RestartBudget) -> None:
        budget.record_restart()
        self._save_budget(spec.name, budget)
        self._change(
            inc,
            IncidentEvent.RESTART,
            "restart",
            f"restarting: {' '.join(argv)} (restart {budget.count} of {budget.max_restarts})",
        )
        # Until the restart reports back: a lost outcome must end in a page, never in an
        # incident stuck in REPAIRING.
        cfg = self._config.remediation
        inc.verify_deadline = (
            self._clock.monotonic()
            + cfg.restart_timeout
            + cfg.verify_after
            + spec.timeout
            + spec.interval
            + VERIFY_GRACE
        )
        try:
            self._restarter.start(spec.name, inc.rec.id, argv)
        except (PermissionError, RuntimeError) as exc:
            self._page(inc, f"restart could not start: {exc}")

    def _restart_done(self, outcome: RestartOutcome) -> None:
        now = self._clock.now()
        self._store.record_restart(
            RestartRecord(
                outcome.check,
                outcome.incident_id,
                now,
                outcome.result,
                outcome.returncode,
                outcome.duration,
                outcome.output,
            )
        )
        self._metrics.restarts.labels(outcome.check, outcome.result).inc()
        event(
            log,
            "restart_finished",
            logging.INFO if outcome.ok else logging.WARNING,
            check=outcome.check,
            incident=outcome.incident_id,
            result=outcome.result,
            rc=outcome.returncode,
            seconds=round(outcome.duration, 3),
        )
        inc = self._open.get(outcome.check)
        if inc is None or inc.rec.id != outcome.incident_id or inc.state is not IncidentState.REPAIRING:
            return
        text = outcome.describe() + (f"\noutput:\n{outcome.output}" if outcome.output else "")
        self._save(inc, "restart_result", text)
        if not outcome.ok:
            self._page(inc, text)
            return
        inc.rec.tried = outcome.describe()
        spec = self._specs[outcome.check]
        verify_after = self._config.remediation.verify_after
        mono = self._clock.monotonic()
        inc.verify_due = mono + verify_after
        inc.verify_deadline = inc.verify_due + spec.timeout + spec.interval + VERIFY_GRACE
        self._recheck(outcome.check, verify_after)

    def _verify(self, inc: Incident, state: CheckState) -> None:
        """The first result at or after `verify_due` decides the repair."""
        if inc.verify_due is None or self._clock.monotonic() < inc.verify_due:
            return
        if state.status == Status.OK:
            self._metrics.repairs.labels(inc.rec.check).inc()
            self._close(inc, IncidentEvent.VERIFIED_OK, "auto-repaired", "verified OK after the restart: auto-repaired")
            event(log, "incident_auto_repaired", check=inc.rec.check, incident=inc.rec.id)
            return
        inc.rec.summary = f"{inc.rec.check} {state.status.name}: {state.message}"
        self._page(inc, f"{inc.rec.tried}; still {state.status.name} after the restart")

    # paging

    def _page(self, inc: Incident, why: str) -> None:
        route = self._router.route(inc.rec.severity)
        if why:
            inc.rec.tried = why
        channels = tuple(route.channels)
        self._send(inc, "trigger", channels, fallback=channels)
        inc.rec.paged_channels = tuple(dict.fromkeys(inc.rec.paged_channels + channels))
        inc.rec.paged_at = self._clock.now()
        self._change(
            inc,
            IncidentEvent.PAGE,
            "paged",
            f"paged {', '.join(channels) or 'no channel (none configured)'}" + (f": {why}" if why else ""),
        )
        self._metrics.pages.labels(inc.rec.check, inc.rec.severity).inc()
        self._schedule_followups(inc)

    def _send(self, inc: Incident, kind: Kind, channels: Sequence[str], fallback: Sequence[str] = ()) -> None:
        if not channels:
            event(
                log,
                "notification_skipped",
                logging.WARNING,
                check=inc.rec.check,
                incident=inc.rec.id,
                kind=kind,
                reason="no channels",
            )
            return
        n = self._notification(inc, kind)
        inc.rec.notifications += 1
        self._pager.enqueue(n, list(channels), list(fallback))
        self._metrics.messages.labels(kind).inc()
        event(
            log, "notification_queued", check=inc.rec.check, incident=inc.rec.id, kind=kind, channels=",".join(channels)
        )

    def _notification(self, inc: Incident, kind: Kind) -> Notification:
        rec = inc.rec
        spec = self._specs.get(rec.check)
        state = self._states.get(rec.check)
        # Deterministic per (incident, message number): an enqueue repeated after a crash
        # between the outbox commit and the incident commit carries the same id.
        nid = uuid.uuid5(_ID_NAMESPACE, f"{rec.id}/{rec.notifications}").hex
        problem = f"{state.status.name}: {state.message}" if state is not None else rec.summary
        summary = rec.summary
        if kind == "resolve":
            summary = f"{rec.check} OK again" + (f": {state.message}" if state is not None and state.message else "")
        elif rec.tried:
            summary = f"{rec.summary}; {rec.tried.splitlines()[0]}"
        lines = [
            f"Host: {self._config.host}",
            f"Check: {rec.check} ({rec.check_type}), severity {rec.severity}",
            f"Problem: {problem}" if kind != "resolve" else f"Status: {problem}",
            f"Failing since: {rec.since.isoformat()}",
            f"Tried: {rec.tried or 'nothing (no automatic repair for this problem)'}",
            f"Incident: {rec.id}",
        ]
        if rec.acked_by:
            lines.append(f"Acknowledged by {rec.acked_by} at {rec.acked_at.isoformat() if rec.acked_at else '?'}")
        return Notification(
            id=nid,
            incident_id=rec.id,
            kind=kind,
            severity="critical" if rec.severity == "critical" else "warning",
            host=self._config.host,
            check=rec.check,
            check_type=rec.check_type,
            summary=summary,
            details="\n".join(lines),
            since=rec.since,
            created_at=self._clock.now(),
            runbook_url=spec.runbook_url if spec is not None else None,
        )

    # ticking

    def tick(self) -> None:
        with self._lock:
            for outcome in self._restarter.poll():
                self._restart_done(outcome)
            now = self._clock.now()
            for silence in self._silences.expire(now):
                self._silence_ended(silence.check)
            mono = self._clock.monotonic()
            for inc in list(self._open.values()):
                self._followups(inc, mono, now)
            self._refresh_gauges()

    def _silence_ended(self, check: str) -> None:
        self._metrics.silences.set(len(self._silences.all()))
        event(log, "silence_ended", check=check)
        inc = self._open.get(check)
        spec = self._specs.get(check)
        state = self._states.get(check)
        if inc is None or spec is None or not (_failing(state) and state is not None and state.hard):
            return
        assert state is not None
        self._save(inc, "silence_ended", "silence ended; the problem is still there")
        self._advance(inc, spec, state, silence_ended=True)

    def _followups(self, inc: Incident, mono: float, now: datetime) -> None:
        state = inc.state
        rec = inc.rec
        if state is IncidentState.REPAIRING:
            if inc.verify_deadline is not None and mono >= inc.verify_deadline:
                self._page(inc, f"{rec.tried or 'restart started'}; no result arrived to verify the restart")
            return
        if state is IncidentState.OPEN:
            if inc.deferred_until is not None and now >= inc.deferred_until:
                inc.deferred_until = None
                spec, cs = self._specs.get(rec.check), self._states.get(rec.check)
                if spec is not None and cs is not None and _failing(cs) and cs.hard:
                    self._advance(inc, spec, cs)
            return
        if state is not IncidentState.PAGED or self._silences.active(rec.check, now) is not None:
            return
        route = self._router.route(rec.severity)
        if route.when == "business_hours" and self._router.delivery(rec.severity, now).not_before is not None:
            return
        if inc.escalate_at is not None and mono >= inc.escalate_at:
            inc.escalate_at = None
            targets = tuple(route.escalate_to)
            self._send(inc, "escalation", targets)
            rec.escalated_at = now
            rec.paged_channels = tuple(dict.fromkeys(rec.paged_channels + targets))
            self._save(inc, "escalated", f"not acknowledged: escalated to {', '.join(targets)}")
            event(log, "incident_escalated", check=rec.check, incident=rec.id, channels=",".join(targets))
        if inc.next_reminder is not None and mono >= inc.next_reminder and route.repeat_every:
            self._send(inc, "reminder", [c for c in rec.paged_channels if c in route.channels])
            rec.last_reminder_at = now
            inc.next_reminder = mono + route.repeat_every
            self._save(inc, "reminder", "reminder sent: not acknowledged yet")

    # closing

    def _resolve(self, inc: Incident, why: str) -> None:
        if inc.state.told and inc.rec.paged_channels:
            self._send(inc, "resolve", inc.rec.paged_channels)
        resolution = "resolved" if inc.state.told else "cleared before anyone was told"
        self._close(inc, IncidentEvent.RECOVERED, resolution, why)
        event(log, "incident_resolved", check=inc.rec.check, incident=inc.rec.id, resolution=resolution)

    def _close(self, inc: Incident, ev: IncidentEvent, resolution: str, text: str) -> None:
        inc.rec.closed_at = self._clock.now()
        inc.rec.resolution = resolution
        self._change(inc, ev, "closed", f"{resolution}: {text}")
        self._open.pop(inc.rec.check, None)

    # bookkeeping

    def _change(self, inc: Incident, ev: IncidentEvent, kind: str, text: str) -> None:
        before = inc.state
        after = transition(before, ev)
        inc.rec.state = after.value
        self._save(inc, kind, text)
        event(
            log,
            "incident_state",
            check=inc.rec.check,
            incident=inc.rec.id,
            trigger=ev.value,
            old=before.value,
            new=after.value,
        )

    def _note(self, inc: Incident, key: str, text: str) -> None:
        """A timeline note written once per reason (not on every result)."""
        if key in inc.notes:
            return
        inc.notes.add(key)
        self._save(inc, key, text)
        event(log, "incident_" + key, check=inc.rec.check, incident=inc.rec.id)

    def _save(self, inc: Incident, kind: str | None = None, text: str = "") -> None:
        entries = [TimelineEntry(self._clock.now(), kind, text)] if kind else []
        self._store.save_incident(inc.rec, entries)

    def _refresh_gauges(self) -> None:
        counts = {s: 0 for s in IncidentState if not s.closed}
        for inc in self._open.values():
            counts[inc.state] = counts.get(inc.state, 0) + 1
        for s, n in counts.items():
            self._metrics.open.labels(s.value).set(n)

    # API

    def incidents_snapshot(self) -> list[dict[str, Any]]:
        with self._lock:
            now = self._clock.now()
            out = []
            for inc in sorted(self._open.values(), key=lambda i: i.rec.opened_at):
                rec = inc.rec
                silence = self._silences.active(rec.check, now)
                out.append(
                    {
                        "id": rec.id,
                        "check": rec.check,
                        "severity": rec.severity,
                        "state": rec.state,
                        "opened_at": rec.opened_at.isoformat(),
                        "since": rec.since.isoformat(),
                        "summary": rec.summary,
                        "tried": rec.tried,
                        "paged_channels": list(rec.paged_channels),
                        "acked_by": rec.acked_by,
                        "silenced_until": silence.until.isoformat() if silence else None,
                        "deferred_until": inc.deferred_until.isoformat() if inc.deferred_until else None,
                    }
                )
            return out

    def outbox_snapshot(self) -> dict[str, Any]:
        return self._pager.snapshot()

    def ack(self, incident_id: str, by: str) -> bool:
        with self._lock:
            for inc in self._open.values():
                if inc.rec.id != incident_id:
                    continue
                if inc.state is IncidentState.ACKNOWLEDGED:
                    return True
                if not allowed(inc.state, IncidentEvent.ACK):
                    return False
                inc.rec.acked_by, inc.rec.acked_at = by, self._clock.now()
                inc.next_reminder = inc.escalate_at = None
                inc.deferred_until = None
                self._change(inc, IncidentEvent.ACK, "acknowledged", f"acknowledged by {by}")
                self._refresh_gauges()
                return True
            return False

    def silence(self, check: str, seconds: float, reason: str, by: str) -> dict[str, Any]:
        with self._lock:
            if check not in self._specs:
                raise KeyError(check)
            rec = self._silences.add(check, seconds, reason, by, self._clock.now())
            self._metrics.silences.set(len(self._silences.all()))
            inc = self._open.get(check)
            if inc is not None:
                inc.notes.discard("silenced")
                self._save(inc, "silenced", f"silenced by {by} until {rec.until.isoformat()}: {reason}")
            event(log, "silence_set", check=check, until=rec.until.isoformat(), by=by, reason=reason)
            return rec.to_json()

    def close(self) -> None:
        """Stops delivery; a restart still running is not waited for (its incident stays
        REPAIRING in the database and the next result after a start verifies it)."""
        self._pager.close()
        self._store.close()

    # for tests and tools

    def wait_for_restarts(self, timeout: float) -> None:
        self._restarter.join(timeout)
