"""The words of incidents: notifications people get, and the lines of an incident's timeline.

The engine decides what happens; everything here only says it. A notification carries all a
receiver needs to act without logging in: host, check, problem, since when, what was tried
(or why nothing was), the incident id and who acknowledged it.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime, timedelta

from checks.base import Status
from watchdog.common.incident_terms import Severity
from watchdog.delivery.notification import FIRING_KINDS, Kind, Notification, new_notification_id
from watchdog.incidents.model import Incident
from watchdog.monitor.checkstate import CheckState
from watchdog.storage.releases import ReleaseRecord
from watchdog.storage.state import SilenceRecord

NO_REPAIR = "no automatic repair configured"
SILENCE_ENDED = "silence ended and the problem is still there"
CHECK_OK_AGAIN = "check OK again"
CHECK_REMOVED = "check removed from the config"
NOW_CRITICAL = "now critical"
RESTART_STILL_RUNNING = "a restart of this check is still running"
VERIFIED_OK = "verified OK after the restart: auto-repaired"
REMINDER_SENT = "reminder sent: not acknowledged yet"
RECENT_HOURS = 24
"""How far back an incident looks for changes to name (the engine's RECENT_CHANGES)."""


def summary(check: str, state: CheckState) -> str:
    return f"{check} {state.status.name}: {state.message}"


def notification_key(inc: Incident) -> str:
    """The outbox key of the incident's next message, deterministic per (incident, message
    number): an enqueue repeated after a crash between the outbox commit and the incident
    commit carries the same key, and the outbox takes it once."""
    return f"{inc.id}/{inc.notifications}"


def notification(
    inc: Incident,
    kind: Kind,
    *,
    host: str,
    state: CheckState | None,
    runbook_url: str | None,
    rollback_hint: str | None = None,
    now: datetime,
    ack_link: Callable[[str], str] | None = None,
) -> Notification:
    """Message number `inc.notifications` of the incident, under a new random id.

    Receivers deduplicate on the id, so it must never repeat, also not after a crash that
    lost changes the store kept only in memory (message numbers then start again from the
    file's count). The outbox recognises a repeated message by `notification_key()` instead.
    `ack_link` makes the ack link of a message id; only firing messages carry one."""
    nid = new_notification_id()
    problem = f"{state.status.name}: {state.message}" if state is not None else inc.summary
    headline = inc.summary
    if kind == "resolve":
        headline = f"{inc.check} OK again" + (f": {state.message}" if state is not None and state.message else "")
    elif kind == "notice":
        headline = f"{inc.summary}; {SILENCE_ENDED}"
    elif inc.tried:
        headline = f"{inc.summary}; {inc.tried.splitlines()[0]}"
    lines = [
        f"Host: {host}",
        f"Check: {inc.check} ({inc.check_type}), severity {inc.severity.value}",
        f"Problem: {problem}" if kind != "resolve" else f"Status: {problem}",
        f"Failing since: {inc.since.isoformat()}",
        f"Tried: {inc.tried or 'nothing (no automatic repair for this problem)'}",
        f"Incident: {inc.id}",
        *recent_changes(inc.changes, rollback_hint),
    ]
    if inc.acked_by:
        lines.append(f"Acknowledged by {inc.acked_by} at {inc.acked_at.isoformat() if inc.acked_at else '?'}")
    return Notification(
        id=nid,
        incident_id=inc.id,
        kind=kind,
        severity="critical" if inc.severity is Severity.CRITICAL else "warning",
        host=host,
        check=inc.check,
        check_type=inc.check_type,
        summary=headline,
        details="\n".join(lines),
        since=inc.since,
        created_at=now,
        runbook_url=runbook_url,
        ack_url=ack_link(nid) if ack_link is not None and kind in FIRING_KINDS else None,
    )


# -- what changed before an incident ------------------------------------------------------


def _minutes_before(at: datetime, opened_at: datetime) -> str:
    minutes = max(0, int((opened_at - at).total_seconds() // 60))
    return f"{minutes} minute{'' if minutes == 1 else 's'} before this incident"


def release_change(
    release: ReleaseRecord, started_at: datetime, opened_at: datetime, watch_for: timedelta | None
) -> str:
    """'release R (commit C, branch B, by W, not a hotfix) went out N minutes before this incident'."""
    facts = [
        f"commit {release.commit or 'unknown'}",
        *([f"branch {release.branch}"] if release.branch else []),
        f"by {release.by or 'unknown'}",
        ("hotfix: " + (release.reason or "no reason given")) if release.hotfix else "not a hotfix",
    ]
    text = f"release {release.id} ({', '.join(facts)}) went out {_minutes_before(started_at, opened_at)}"
    if release.finished_at is not None and release.finished_at <= opened_at:
        text += f", finished {_minutes_before(release.finished_at, opened_at)}"
    if watch_for is not None and opened_at - started_at <= watch_for:
        text += f"; opened inside its post-deploy watch ({int(watch_for.total_seconds() // 60)}m)"
    return text


def reload_change(source: str, at: datetime, opened_at: datetime) -> str:
    return f"config reloaded from {source} {_minutes_before(at, opened_at)}"


def recent_changes(changes: Sequence[str], rollback_hint: str | None) -> list[str]:
    """The lines of a message that name what changed before the incident."""
    if not changes:
        return [f"Recent changes: none recorded in the {RECENT_HOURS} hours before this incident"]
    lines = ["Recent changes:", *(f"- {change}" for change in changes)]
    if rollback_hint:
        lines.append(f"Rollback hint: {rollback_hint}")
    return lines


# -- timeline lines, and the reasons a page gives ------------------------------------------


def opened(state: CheckState) -> str:
    return f"{state.status.name}: {state.message} (failing since {state.since.isoformat()})"


def restarting(argv: Sequence[str], count: int, max_restarts: int) -> str:
    return f"restarting: {' '.join(argv)} (restart {count} of {max_restarts})"


def restart_loop(count: int, max_restarts: int, window: float) -> str:
    return (
        f"restart loop: {count} restarts (max_restarts {max_restarts}) without staying OK "
        f"for a whole restart_window of {window:g}s; not restarting again"
    )


def restart_not_started(exc: Exception) -> str:
    return f"restart could not start: {exc}"


def restart_result(described: str, output: str) -> str:
    return described + (f"\noutput:\n{output}" if output else "")


def still_failing(tried: str, status: Status) -> str:
    return f"{tried}; still {status.name} after the restart"


def verification_missing(tried: str) -> str:
    return f"{tried or 'restart started'}; no result arrived to verify the restart"


def paged(channels: Sequence[str], why: str) -> str:
    return f"paged {', '.join(channels) or 'no channel (none configured)'}" + (f": {why}" if why else "")


def notice_sent(channels: Sequence[str]) -> str:
    return f"told {', '.join(channels) or 'no channel (none configured)'}: {SILENCE_ENDED}"


def silenced(silence: SilenceRecord) -> str:
    return f"silenced by {silence.by} until {silence.until.isoformat()}: {silence.reason}"


def unsilenced(silence: SilenceRecord, by: str) -> str:
    return f"silence {silence.id} lifted by {by} (was until {silence.until.isoformat()}: {silence.reason})"


def held_by_parent(parents: Sequence[str]) -> str:
    return f"parent {', '.join(parents)} failing: no restart, no page"


def deferred(until: datetime) -> str:
    return f"outside business hours: told at {until.isoformat()} if still failing"


def acknowledged(by: str) -> str:
    return f"acknowledged by {by}"


def acknowledged_during_repair(by: str) -> str:
    return f"acknowledged by {by} during the repair: the repair goes on, a failed repair will not page"


def not_paged_acknowledged(why: str, by: str) -> str:
    return f"{why}; not paged: acknowledged by {by} during the repair"


def escalated(targets: Sequence[str]) -> str:
    return f"not acknowledged: escalated to {', '.join(targets)}"
