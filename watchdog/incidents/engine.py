"""The incident engine: repair first, page only when the repair fails.

The scheduler hands every check result to `IncidentEngine.on_result` and calls `tick()` on
every loop iteration; both run on the main-loop thread. `ack` and `silence` come from API
threads, so all state sits behind one lock. Restarts run in `Restarter` worker threads and
are picked up by `tick()`. The engine only decides: the words are in `messages`, the state
machines in `lifecycle` and `budget`, messages go to the `Pager` and every domain event to
the `IncidentObserver` passed in (`ports`).

What happens to a hard failure:

* A hard CRITICAL of a `severity: critical` check opens a critical incident; any other hard
  failure a warning incident.
* Critical with `remediate`, restarts left, not silenced, no failing parent: the service is
  restarted (REPAIRING/restart_running) and the check re-run after `verify_after`
  (REPAIRING/verifying). The first result after that is the verification: OK closes the
  incident as auto-repaired (recorded, counted, no message); anything else means the repair
  failed. So does a failed or timed-out restart, a failure that finds the restart budget used
  up (a restart loop), and a critical failure with no repair configured.
* What has failed is told: paged at once, unless its route has `when: business_hours` and
  business hours are closed (OPEN/deferred, paged when they open if the problem is still
  there, closed without a message if it cleared) or the check is silenced (OPEN/silenced).
  The repair itself never waits for business hours. Warnings are never repaired, only told.
* Every incident names the recent changes when it opens (releases deploy-guard recorded,
  config reloads that succeeded, within `RECENT_CHANGES`), in a `change` row of its
  timeline each and in every message, with the check's `rollback_hint`; one that opens
  inside a release's `post_deploy.watch_for` says so.
* An acknowledgement stops reminders and escalation. One given while the repair runs lets
  the repair finish: if it works the incident closes as auto-repaired, if not it becomes
  ACKNOWLEDGED without paging anyone.
* Paged incidents get reminders every `repeat_every` until acknowledged or resolved, and
  one escalation to `escalate_to` after `escalate_after` without acknowledgement; on a
  `when: business_hours` route both wait for business hours. When the check is OK again,
  every channel that was paged gets a resolve — even if the check was silenced or the
  incident acknowledged meanwhile.
* A failing parent (`depends_on`) or a silence holds a new incident OPEN (no restart, no
  page) with a note in its timeline; when the silence ends and the check still fails, it is
  told at once; when the parent recovers, the child's next hard failure is handled normally.

Everything an incident is (state, who was paged and when, budgets, silences) is committed
to the state database before the engine acts on it, so a restarted daemon continues the
same incidents without paging twice.
"""

from __future__ import annotations

import enum
import logging
import threading
import uuid
from collections import deque
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from typing import Any

from checks.base import Status
from watchdog.common import ack_links
from watchdog.common.clock import Clock
from watchdog.common.incident_history import IncidentDetail, IncidentSummary
from watchdog.common.incident_terms import UNRESOLVED, IncidentState, Severity, Substate
from watchdog.common.logs import event
from watchdog.common.status_document import Availability, IncidentEntry, OutboxSummary, RepairEntry, SilenceEntry
from watchdog.config.model import CheckSpec, WatchdogConfig
from watchdog.delivery.notification import Kind
from watchdog.incidents import messages
from watchdog.incidents.availability import AvailabilityLedger
from watchdog.incidents.budget import RestartBudgets
from watchdog.incidents.digest import DigestSchedule, digest_notification
from watchdog.incidents.history import IncidentHistory
from watchdog.incidents.lifecycle import (
    ENTRY,
    HOLDS,
    IncidentEvent,
    InvalidTransition,
    SubstateEvent,
    allowed,
    sub_transition,
    transition,
)
from watchdog.incidents.model import AUTO_REPAIRED, Incident, monotonic_of, repair_entry, status_entry
from watchdog.incidents.ports import IncidentObserver, Pager
from watchdog.incidents.remediation import Restarter, RestartOutcome, restart_argv
from watchdog.incidents.report import Report, build_report
from watchdog.incidents.routing import Router
from watchdog.incidents.silences import Silences
from watchdog.incidents.working_hours import BusinessClock
from watchdog.monitor.checkstate import CheckState, Rechecker
from watchdog.storage.releases import ReleaseNote, ReleaseRecord, ReleaseStore
from watchdog.storage.state import RestartRecord, StateStore, TimelineEntry

log = logging.getLogger(__name__)

VERIFY_GRACE = 10.0
"""Seconds past the expected verification result after which a missing result counts as a
failed repair."""

RECENT_CHANGES = timedelta(hours=messages.RECENT_HOURS)
"""How far back an opening incident looks for releases and config reloads to name."""
LISTED_CHANGES = 5
"""At most this many releases (the newest) and as many reloads are named."""

_HOLD_KIND = {
    Substate.HELD_BY_PARENT: "suppressed",
    Substate.SILENCED: "silenced",
    Substate.DEFERRED: "deferred",
}
"""The timeline entry written when an incident is held for a reason."""


def _failing(state: CheckState | None) -> bool:
    return state is not None and state.status != Status.OK


def _log_step(name: str, inc: Incident, ev: enum.Enum, before: enum.Enum, after: enum.Enum) -> None:
    """One line per step of either state machine."""
    event(log, name, check=inc.check, incident=inc.id, trigger=ev.value, old=before.value, new=after.value)


class IncidentEngine:
    """The `ResultSink` the daemon drives; see the module docstring for the behaviour."""

    def __init__(
        self,
        config: WatchdogConfig,
        *,
        clock: Clock,
        recheck: Rechecker,
        store: StateStore,
        pager: Pager,
        observer: IncidentObserver,
        availability: AvailabilityLedger,
        wake: Callable[[], None] = lambda: None,
    ) -> None:
        self._lock = threading.RLock()
        self._availability = availability
        self._clock = clock
        self._recheck = recheck
        self._store = store
        self._pager = pager
        self._observer = observer
        self._silences = Silences(store)
        self._history = IncidentHistory(store, pager)
        self._digests = DigestSchedule(store)
        self._releases = ReleaseStore(store.db)
        self._reloads: deque[tuple[datetime, str]] = deque(maxlen=LISTED_CHANGES)
        """Successful reloads of this process (when, from which file), newest last."""
        self._states: dict[str, CheckState] = {}
        self._open: dict[str, Incident] = {}
        self._apply_config(config)
        self._budgets = RestartBudgets(store, clock, config.remediation)
        self._restarter = Restarter(config.remediation, self._allowed_argvs(), wake)
        self._load()

    # configuration

    def _apply_config(self, config: WatchdogConfig) -> None:
        self._config = config
        self._specs = {s.name: s for s in config.checks}
        self._router = Router(config.notify, config.business_hours)
        self._hours = BusinessClock(config.business_hours)

    def _allowed_argvs(self) -> list[tuple[str, ...]]:
        argvs = (restart_argv(s, self._config.remediation) for s in self._config.checks)
        return [a for a in argvs if a is not None]

    def reload(self, config: WatchdogConfig) -> None:
        """Applies a new config to routing, restarts, budgets and delivery; open incidents
        carry on."""
        with self._lock:
            self._reloads.append((self._clock.now(), config.source))
            self._apply_config(config)
            self._pager.reload(config)
            self._restarter.reload(config.remediation, self._allowed_argvs())
            self._budgets.reconfigure(config.remediation)
            self._availability.keep(self._specs)
            self._drop_removed_checks()

    def _drop_removed_checks(self) -> None:
        for name in [n for n in self._open if n not in self._specs]:
            self._resolve(self._open[name], messages.CHECK_REMOVED)

    # loading after a restart

    def _load(self) -> None:
        cfg = self._config.remediation
        now = self._clock.monotonic()
        for rec in self._store.open_incidents():
            inc = Incident.from_record(rec)
            inc.substate = ENTRY[inc.state]
            inc.changes = tuple(e.text for e in self._store.timeline(inc.id) if e.kind == "change")
            self._open[inc.check] = inc
            spec = self._specs.get(inc.check)
            if spec is None:
                continue
            if inc.state is IncidentState.REPAIRING:
                # The restart's outcome went with the old process: the next result verifies.
                self._sub(inc, SubstateEvent.RESTART_DONE)
                inc.verify_due = now
                inc.verify_deadline = now + cfg.verify_after + spec.timeout + spec.interval + VERIFY_GRACE
            if inc.state.told:
                self._schedule_followups(inc)
            event(log, "incident_loaded", check=inc.check, incident=inc.id, state=inc.state.value)
        self._drop_removed_checks()

    def _schedule_followups(self, inc: Incident) -> None:
        """Reminder and escalation deadlines from the stored times of a told incident."""
        route = self._router.route(inc.severity)
        now = self._clock.now()
        paged = monotonic_of(self._clock, inc.paged_at or now)
        reminded = monotonic_of(self._clock, inc.last_reminder_at or inc.paged_at or now)
        if route.repeat_every:
            inc.next_reminder = reminded + route.repeat_every
        if route.escalate_after and route.escalate_to and inc.escalated_at is None:
            inc.escalate_at = paged + route.escalate_after

    # results

    def on_result(self, spec: CheckSpec, state: CheckState) -> None:
        self._availability.observe(spec, state)
        with self._lock:
            self._states[spec.name] = state
            self._specs[spec.name] = spec
            if state.hard:
                self._budgets.observe(spec.name, ok=state.status == Status.OK)
            inc = self._open.get(spec.name)
            if inc is not None and inc.state is IncidentState.REPAIRING:
                self._verify(inc, state)
            elif state.status == Status.OK:
                if inc is not None and state.hard:
                    self._resolve(inc, messages.CHECK_OK_AGAIN)
            elif state.hard:
                self._hard_failure(spec, state, inc)

    def _hard_failure(self, spec: CheckSpec, state: CheckState, inc: Incident | None) -> None:
        critical = state.status == Status.CRITICAL and spec.severity == "critical"
        severity = Severity.CRITICAL if critical else Severity.WARNING
        if inc is None:
            inc = self._open_incident(spec, state, severity)
        else:
            inc.summary = messages.summary(spec.name, state)
            if severity is Severity.CRITICAL and inc.severity is Severity.WARNING:
                self._upgrade(inc)
        self._advance(inc, spec)

    def _open_incident(self, spec: CheckSpec, state: CheckState, severity: Severity) -> Incident:
        inc = Incident(
            id="inc-" + uuid.uuid4().hex[:10],
            check=spec.name,
            check_type=spec.type,
            severity=severity,
            state=IncidentState.OPEN,
            opened_at=self._clock.now(),
            since=state.since,
            summary=messages.summary(spec.name, state),
            substate=ENTRY[IncidentState.OPEN],
        )
        inc.changes = self._recent_changes(inc.opened_at)
        self._open[spec.name] = inc
        self._save(inc, "opened", messages.opened(state), *inc.changes)
        self._observer.opened(spec.name, severity)
        event(log, "incident_opened", check=spec.name, incident=inc.id, severity=severity, status=state.status.name)
        return inc

    def _recent_changes(self, opened_at: datetime) -> tuple[str, ...]:
        """What changed in the RECENT_CHANGES before `opened_at`, newest release first, then reloads."""
        since = opened_at - RECENT_CHANGES
        post_deploy = self._config.post_deploy
        watch_for = timedelta(seconds=post_deploy.watch_for) if post_deploy is not None else None
        releases = [
            messages.release_change(r, r.started_at, opened_at, watch_for)
            for r in self._releases.started_since(since)[:LISTED_CHANGES]
            if r.started_at is not None
        ]
        reloads = [messages.reload_change(source, at, opened_at) for at, source in self._reloads if at >= since]
        return (*releases, *reversed(reloads))

    def record_release(self, note: ReleaseNote) -> ReleaseRecord:
        """Stores a release's start or finish (deploy-guard, through the API; any thread)."""
        with self._lock:
            rec = self._releases.record(note, self._clock.now())
        event(log, "release_recorded", release=rec.id, phase=note.event, by=rec.by, hotfix=rec.hotfix)
        return rec

    def releases_started_since(self, since: datetime) -> list[ReleaseRecord]:
        return self._releases.started_since(since)

    def _upgrade(self, inc: Incident) -> None:
        """A warning incident whose check turned CRITICAL becomes critical. If people were
        already told about the warning, the critical route is paged now (same incident id, so
        PagerDuty and Alertmanager update the alert they have rather than open a second one)."""
        inc.severity = Severity.CRITICAL
        self._save(inc, "severity", messages.NOW_CRITICAL)
        event(log, "incident_upgraded", check=inc.check, incident=inc.id, severity=inc.severity)
        if inc.state.told:
            route = self._router.route(inc.severity)
            self._send(inc, "trigger", route.channels, fallback=route.channels)
            inc.paged_channels = tuple(dict.fromkeys(inc.paged_channels + route.channels))
            inc.paged_at = self._clock.now()
            self._save(inc, "paged", messages.paged(route.channels, messages.NOW_CRITICAL))
            self._observer.paged(inc.check, inc.severity)
            self._schedule_followups(inc)

    def _advance(self, inc: Incident, spec: CheckSpec, *, silence_ended: bool = False) -> None:
        """Acts on an OPEN incident whose check is (still) hard failing: hold, repair or tell."""
        if inc.state is not IncidentState.OPEN or self._hold_if_silenced(inc):
            return
        parents = [p for p in spec.depends_on if _failing(self._states.get(p))]
        if parents:
            self._hold(inc, Substate.HELD_BY_PARENT, messages.held_by_parent(parents))
            return
        if inc.substate is Substate.DEFERRED:
            # Judged again: a reload may have changed the route, or the warning turned critical.
            not_before = self._router.delivery(inc.severity, self._clock.now()).not_before
            if not_before is not None:
                inc.deferred_until = not_before
                return
        self._release(inc)
        if inc.tried:
            self._tell(inc, inc.tried)  # decided before a hold; only the telling waited
        elif inc.severity is Severity.CRITICAL:
            self._repair_or_tell(inc, spec, silence_ended=silence_ended)
        else:
            self._tell(inc, "")

    def _repair_or_tell(self, inc: Incident, spec: CheckSpec, *, silence_ended: bool) -> None:
        argv = restart_argv(spec, self._config.remediation)
        if silence_ended:
            self._tell(inc, messages.SILENCE_ENDED)
        elif argv is None:
            self._tell(inc, messages.NO_REPAIR)
        elif self._restarter.running(spec.name):
            if not inc.waiting_noted:
                inc.waiting_noted = True
                self._save(inc, "restart_running", messages.RESTART_STILL_RUNNING)
        elif self._budgets.of(spec.name).can_restart():
            self._start_restart(inc, spec, argv)
        else:
            if self._budgets.give_up(spec.name):
                self._observer.gave_up(spec.name)
                event(log, "restart_gave_up", logging.WARNING, check=spec.name, incident=inc.id)
            budget = self._budgets.of(spec.name)
            self._tell(inc, messages.restart_loop(budget.count, budget.max_restarts, budget.window))

    # holding back

    def _hold_if_silenced(self, inc: Incident) -> bool:
        silence = self._silences.active(inc.check, self._clock.now())
        if silence is None:
            return False
        self._hold(inc, Substate.SILENCED, messages.silenced(silence))
        return True

    def _hold(self, inc: Incident, hold: Substate, text: str) -> None:
        """Holds the incident OPEN for `hold` (a REPAIRING one whose repair failed first
        returns to OPEN); a hold for another reason is released first."""
        if inc.state is IncidentState.REPAIRING:
            self._change(inc, IncidentEvent.HOLD)
        if inc.substate is hold:
            return
        self._release(inc)
        self._sub(inc, HOLDS[hold], _HOLD_KIND[hold], text)

    def _release(self, inc: Incident) -> None:
        if inc.substate in HOLDS:
            inc.deferred_until = None
            self._sub(inc, SubstateEvent.RELEASE)

    # repair

    def _start_restart(self, inc: Incident, spec: CheckSpec, argv: tuple[str, ...]) -> None:
        budget = self._budgets.record_restart(spec.name)
        self._change(
            inc, IncidentEvent.RESTART, "restart", messages.restarting(argv, budget.count, budget.max_restarts)
        )
        # Until the restart reports back: a lost outcome must end as a failed repair, never
        # in an incident stuck in REPAIRING.
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
            self._restarter.start(spec.name, inc.id, argv)
        except (PermissionError, RuntimeError) as exc:
            self._repair_failed(inc, messages.restart_not_started(exc))

    def _restart_done(self, outcome: RestartOutcome) -> None:
        self._store.record_restart(
            RestartRecord(
                outcome.check,
                outcome.incident_id,
                self._clock.now(),
                outcome.result,
                outcome.returncode,
                outcome.duration,
                outcome.output,
            )
        )
        self._observer.restart_finished(outcome.check, outcome.result)
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
        if inc is None or inc.id != outcome.incident_id or inc.state is not IncidentState.REPAIRING:
            return
        text = messages.restart_result(outcome.describe(), outcome.output)
        self._save(inc, "restart_result", text)
        if not outcome.ok:
            self._repair_failed(inc, text)
            return
        inc.tried = outcome.describe()
        spec = self._specs[outcome.check]
        verify_after = self._config.remediation.verify_after
        inc.verify_due = self._clock.monotonic() + verify_after
        inc.verify_deadline = inc.verify_due + spec.timeout + spec.interval + VERIFY_GRACE
        self._sub(inc, SubstateEvent.RESTART_DONE)
        self._recheck(outcome.check, verify_after)

    def _verify(self, inc: Incident, state: CheckState) -> None:
        """The first result at or after `verify_due` decides the repair."""
        if inc.substate is not Substate.VERIFYING or inc.verify_due is None:
            return
        if self._clock.monotonic() < inc.verify_due:
            return
        if state.status == Status.OK:
            self._observer.auto_repaired(inc.check)
            self._close(inc, IncidentEvent.VERIFIED_OK, AUTO_REPAIRED, messages.VERIFIED_OK)
            event(log, "incident_auto_repaired", check=inc.check, incident=inc.id)
            return
        inc.summary = messages.summary(inc.check, state)
        self._repair_failed(inc, messages.still_failing(inc.tried, state.status))

    def _repair_failed(self, inc: Incident, why: str) -> None:
        if inc.acked_by is not None:
            inc.tried = why
            text = messages.not_paged_acknowledged(why, inc.acked_by)
            self._change(inc, IncidentEvent.REPAIR_FAILED_ACKED, "acknowledged", text)
            return
        self._tell(inc, why)

    # telling

    def _tell(self, inc: Incident, why: str) -> None:
        """Pages now, or holds the incident until it may be told (silence, business hours)."""
        if why:
            inc.tried = why
        if self._hold_if_silenced(inc):
            return
        not_before = self._router.delivery(inc.severity, self._clock.now()).not_before
        if not_before is not None:
            inc.deferred_until = not_before
            self._hold(inc, Substate.DEFERRED, messages.deferred(not_before))
            return
        self._page(inc)

    def _page(self, inc: Incident) -> None:
        channels = tuple(self._router.route(inc.severity).channels)
        self._send(inc, "trigger", channels, fallback=channels)
        inc.paged_channels = tuple(dict.fromkeys(inc.paged_channels + channels))
        inc.paged_at = self._clock.now()
        self._change(inc, IncidentEvent.PAGE, "paged", messages.paged(channels, inc.tried))
        self._observer.paged(inc.check, inc.severity)
        self._schedule_followups(inc)

    def _send(self, inc: Incident, kind: Kind, channels: Sequence[str], fallback: Sequence[str] = ()) -> None:
        if not channels:
            event(
                log,
                "notification_skipped",
                logging.WARNING,
                check=inc.check,
                incident=inc.id,
                kind=kind,
                reason="no channels",
            )
            return
        spec = self._specs.get(inc.check)
        n = messages.notification(
            inc,
            kind,
            host=self._config.host,
            state=self._states.get(inc.check),
            runbook_url=spec.runbook_url if spec is not None else None,
            rollback_hint=spec.rollback_hint if spec is not None else None,
            now=self._clock.now(),
            ack_link=self._ack_link(inc),
        )
        key = messages.notification_key(inc)
        inc.notifications += 1
        self._pager.enqueue(n, list(channels), list(fallback), key=key)
        self._observer.message_queued(kind)
        event(log, "notification_queued", check=inc.check, incident=inc.id, kind=kind, channels=",".join(channels))

    def _ack_link(self, inc: Incident) -> Callable[[str], str] | None:
        public_url, key = self._config.public_url, self._config.ack_key
        if public_url is None or key is None:
            return None
        secret, now = key.reveal().encode("latin-1"), self._clock.now()
        return lambda link_id: ack_links.ack_url(public_url, secret, inc.id, link_id, now)

    # ticking

    def tick(self) -> None:
        self._availability.tick()
        with self._lock:
            for outcome in self._restarter.poll():
                self._restart_done(outcome)
            now = self._clock.now()
            for silence in self._silences.expire(now):
                self._silence_ended(silence.check)
            mono = self._clock.monotonic()
            for inc in list(self._open.values()):
                self._followups(inc, mono, now)
            self._send_digest(now)

    def _send_digest(self, now: datetime) -> None:
        period = self._digests.due(now, self._config.report, self._hours)
        if period is None:
            return
        n = digest_notification(self.report(self._config.report.every), period, now)
        channels = self._router.route(Severity.WARNING).channels
        if channels:
            self._pager.enqueue(n, channels, key=n.incident_id)
            self._observer.message_queued(n.kind)
        self._digests.sent(period, now)
        event(log, "report_digest_sent", notification=n.id, channels=",".join(channels) or None)

    def _silence_ended(self, check: str) -> None:
        event(log, "silence_ended", check=check)
        inc = self._open.get(check)
        spec = self._specs.get(check)
        state = self._states.get(check)
        if inc is None or spec is None:
            return
        if not (_failing(state) and state is not None and state.hard):
            if inc.substate is Substate.SILENCED:
                self._release(inc)
            return
        self._save(inc, "silence_ended", messages.SILENCE_ENDED)
        if inc.state.told:
            self._notice_silence_ended(inc)
            return
        self._advance(inc, spec, silence_ended=True)

    def _notice_silence_ended(self, inc: Incident) -> None:
        """An incident told before its silence (paged or acknowledged) whose problem outlived
        the silence: its route hears so once, now (a `when: business_hours` route only in
        business hours: its reminders say it then)."""
        delivery = self._router.delivery(inc.severity, self._clock.now())
        if delivery.not_before is not None:
            event(log, "silence_ended_notice_deferred", check=inc.check, incident=inc.id)
            return
        channels = tuple(delivery.route.channels)
        self._send(inc, "notice", channels, fallback=channels)
        inc.paged_channels = tuple(dict.fromkeys(inc.paged_channels + channels))
        self._save(inc, "notice", messages.notice_sent(channels))

    def _followups(self, inc: Incident, mono: float, now: datetime) -> None:
        if inc.state is IncidentState.REPAIRING:
            if inc.verify_deadline is not None and mono >= inc.verify_deadline:
                self._repair_failed(inc, messages.verification_missing(inc.tried))
            return
        if inc.state is IncidentState.OPEN:
            if inc.substate is Substate.DEFERRED and inc.deferred_until is not None and now >= inc.deferred_until:
                spec, state = self._specs.get(inc.check), self._states.get(inc.check)
                if spec is not None and state is not None and _failing(state) and state.hard:
                    self._advance(inc, spec)
                else:
                    self._release(inc)
            return
        if inc.state is not IncidentState.PAGED or self._silences.active(inc.check, now) is not None:
            return
        delivery = self._router.delivery(inc.severity, now)
        if delivery.not_before is not None:
            return
        route = delivery.route
        if inc.escalate_at is not None and mono >= inc.escalate_at:
            inc.escalate_at = None
            targets = tuple(route.escalate_to)
            self._send(inc, "escalation", targets)
            inc.escalated_at = now
            inc.paged_channels = tuple(dict.fromkeys(inc.paged_channels + targets))
            self._save(inc, "escalated", messages.escalated(targets))
            event(log, "incident_escalated", check=inc.check, incident=inc.id, channels=",".join(targets))
        if inc.next_reminder is not None and mono >= inc.next_reminder and route.repeat_every:
            self._send(inc, "reminder", [c for c in inc.paged_channels if c in route.channels])
            inc.last_reminder_at = now
            inc.next_reminder = mono + route.repeat_every
            self._save(inc, "reminder", messages.REMINDER_SENT)

    # closing

    def _resolve(self, inc: Incident, why: str) -> None:
        if inc.state.told and inc.paged_channels:
            self._send(inc, "resolve", inc.paged_channels)
        resolution = "resolved" if inc.state.told else "cleared before anyone was told"
        self._close(inc, IncidentEvent.RECOVERED, resolution, why)
        event(log, "incident_resolved", check=inc.check, incident=inc.id, resolution=resolution)

    def _close(self, inc: Incident, ev: IncidentEvent, resolution: str, text: str) -> None:
        inc.closed_at = self._clock.now()
        inc.resolution = resolution
        self._change(inc, ev, "closed", f"{resolution}: {text}")
        self._open.pop(inc.check, None)

    # the two state machines, and the record of every step

    def _change(self, inc: Incident, ev: IncidentEvent, kind: str | None = None, text: str = "") -> None:
        before = inc.state
        inc.state = transition(before, ev)
        inc.substate = ENTRY[inc.state]
        self._save(inc, kind, text)
        _log_step("incident_state", inc, ev, before, inc.state)

    def _sub(self, inc: Incident, ev: SubstateEvent, kind: str | None = None, text: str = "") -> None:
        before = inc.substate
        if before is None:
            raise InvalidTransition(inc.state, ev)
        inc.substate = sub_transition(before, ev)
        if kind is not None:
            self._save(inc, kind, text)
        _log_step("incident_substate", inc, ev, before, inc.substate)

    def _save(self, inc: Incident, kind: str | None = None, text: str = "", *changes: str) -> None:
        """Stores the incident, with a timeline row `kind` (if any) and a `change` row per change."""
        now = self._clock.now()
        entries = [TimelineEntry(now, kind, text)] if kind else []
        entries += [TimelineEntry(now, "change", change) for change in changes]
        self._store.save_incident(inc.record(), entries)

    # what the API and the metrics collector read (any thread)

    def incidents_snapshot(self) -> list[IncidentEntry]:
        with self._lock:
            now = self._clock.now()
            return [
                status_entry(inc, self._silences.active(inc.check, now))
                for inc in sorted(self._open.values(), key=lambda i: i.opened_at)
            ]

    def outbox_snapshot(self) -> OutboxSummary:
        return self._pager.snapshot()

    def recent_repairs(self, since: datetime) -> list[RepairEntry]:
        return [repair_entry(rec) for rec in self._store.closed_since(AUTO_REPAIRED, since)]

    def availability(self, window: float) -> Availability:
        return self._availability.availability(window)

    def report(self, since: float) -> Report:
        until = self._clock.now()
        start = until - timedelta(seconds=since)
        return build_report(
            self._config.host,
            self._config.business_hours,
            start,
            until,
            self._store.incidents_since(start),
            self._store.restarts_since(start),
        )

    def open_counts(self) -> dict[tuple[IncidentState, Severity], int]:
        """Unresolved incidents by state and severity, every pair present (0 when none)."""
        with self._lock:
            counts = {(state, severity): 0 for state in UNRESOLVED for severity in Severity}
            for inc in self._open.values():
                counts[inc.state, inc.severity] += 1
            return counts

    def silences_snapshot(self) -> list[SilenceEntry]:
        """The silences in force, oldest first."""
        with self._lock:
            return [s.entry() for s in self._silences.in_force(self._clock.now())]

    def incident(self, incident_id: str) -> IncidentDetail | None:
        """An incident, resolved or not, with its timeline; None for an unknown id."""
        return self._history.detail(incident_id)

    def incidents(self, since: datetime) -> list[IncidentSummary]:
        """Incidents opened at or after `since`, resolved ones too, oldest first."""
        return self._history.opened_since(since)

    def silence_ends(self) -> dict[str, datetime]:
        """When each silenced check's silence ends (one that ran out stays until the next tick ends it)."""
        with self._lock:
            return {s.check: s.until for s in self._silences.all()}

    # what the API changes (any thread)

    def ack(self, incident_id: str, by: str) -> bool:
        """Acknowledges an unresolved incident; False when none has this id. While the repair
        runs, the acknowledgement is recorded and turns a failed repair's page into
        ACKNOWLEDGED (see the module docstring)."""
        with self._lock:
            found = [inc for inc in self._open.values() if inc.id == incident_id]
            if not found:
                return False
            inc = found[0]
            if inc.state is IncidentState.ACKNOWLEDGED:
                return True
            if inc.state is IncidentState.REPAIRING:
                if inc.acked_by is None:
                    inc.acked_by, inc.acked_at = by, self._clock.now()
                    self._save(inc, "acknowledged", messages.acknowledged_during_repair(by))
                    event(log, "incident_acknowledged", check=inc.check, incident=inc.id, by=by, during="repair")
                return True
            if not allowed(inc.state, IncidentEvent.ACK):
                return False
            inc.acked_by, inc.acked_at = by, self._clock.now()
            inc.next_reminder = inc.escalate_at = None
            inc.deferred_until = None
            self._change(inc, IncidentEvent.ACK, "acknowledged", messages.acknowledged(by))
            return True

    def ack_link(self, claim: ack_links.AckClaim, by: str) -> ack_links.LinkOutcome:
        """Acknowledges through a verified ack link, which works once: a used link is refused
        even after a restart (the store records it), and so is one whose incident is resolved."""
        with self._lock:
            if self._store.ack_link_used(claim.link_id):
                return ack_links.LinkOutcome.USED
            if not self.ack(claim.incident_id, by):
                return ack_links.LinkOutcome.NOT_OPEN
            self._store.use_ack_link(claim.incident_id, claim.link_id, self._clock.now())
            event(log, "ack_link_used", incident=claim.incident_id, link=claim.link_id, by=by)
            return ack_links.LinkOutcome.ACKNOWLEDGED

    def silence(self, check: str, seconds: float, reason: str, by: str) -> dict[str, Any]:
        with self._lock:
            if check not in self._specs:
                raise KeyError(check)
            rec = self._silences.add(check, seconds, reason, by, self._clock.now())
            inc = self._open.get(check)
            if inc is not None:
                if inc.state is IncidentState.OPEN and inc.substate is not Substate.SILENCED:
                    self._hold(inc, Substate.SILENCED, messages.silenced(rec))
                else:
                    self._save(inc, "silenced", messages.silenced(rec))
            event(log, "silence_set", check=check, until=rec.until.isoformat(), by=by, reason=reason)
            return rec.to_json()

    def unsilence(self, key: str, by: str) -> list[SilenceEntry]:
        """Ends early the silence with id `key`, or every silence of the check named `key`, and
        returns them; KeyError when none matches. The check's open incident notes it in its
        timeline, and a problem still there is told at once, as when a silence runs out."""
        with self._lock:
            ended = self._silences.end(key, self._clock.now())
            if not ended:
                raise KeyError(key)
            for rec in ended:
                inc = self._open.get(rec.check)
                if inc is not None:
                    self._save(inc, "unsilenced", messages.unsilenced(rec, by))
                event(log, "silence_lifted", check=rec.check, incident=inc.id if inc else None, silence=rec.id, by=by)
                self._silence_ended(rec.check)
            return [rec.entry() for rec in ended]

    def close(self) -> None:
        """Stops delivery; a restart still running is not waited for (its incident stays
        REPAIRING in the database and the next result after a start verifies it)."""
        self._pager.close()
        self._availability.flush()
        self._store.close()

    # for tests and tools

    def wait_for_restarts(self, timeout: float) -> None:
        self._restarter.join(timeout)
