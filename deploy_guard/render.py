"""What people and machines read: one-line verdicts, the JSON object, audit records, the calendar table."""

from __future__ import annotations

import json
from collections.abc import Iterable
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from deploy_guard.ci_identity import CiIdentity
from deploy_guard.decision import Decision
from deploy_guard.policy import EMBEDDED_SOURCE, ENV_POLICY_PATH, Policy
from deploy_guard.release_windows import DayPlan, Period
from deploy_guard.timefmt import DAY_NAMES, duration_text, local_text, offset_text


def iso(moment: datetime, tz: ZoneInfo) -> str:
    """ISO-8601 in the policy's local time, with its offset."""
    return moment.astimezone(tz).isoformat(timespec="seconds")


def period_json(period: Period | None, tz: ZoneInfo) -> dict[str, str] | None:
    return None if period is None else {"start": iso(period.start, tz), "end": iso(period.end, tz)}


def decision_json(decision: Decision, tz: ZoneInfo) -> dict[str, Any]:
    """The contract's `--json` object."""
    return {
        "allowed": decision.allowed,
        "hotfix": decision.hotfix.detected,
        "at": iso(decision.at, tz),
        "reasons": [{"code": r.code, "message": r.message} for r in decision.reasons],
        "next_window": period_json(decision.next_window, tz),
    }


def next_window_text(period: Period | None, at: datetime, tz: ZoneInfo, searched_until: date | None = None) -> str:
    if period is None:
        if searched_until is not None:
            return f"No release window opens up to {searched_until.isoformat()}, the last date this policy can judge."
        return "No release window opens within a year."
    if period.start <= at:
        return f"The window is open now, until {local_text(period.end, tz)}."
    same_day = period.start.astimezone(tz).date() == period.end.astimezone(tz).date()
    return f"Next window opens {local_text(period.start, tz)}, closes {local_text(period.end, tz, date=not same_day)}."


def decision_line(decision: Decision, policy: Policy) -> str:
    """One line: allowed or blocked, why, when the next window opens; when blocked, also the
    policy settings behind the block (file and keys) and what may still ship."""
    tz = policy.timezone
    when = local_text(decision.at, tz)
    size = f" ({duration_text(decision.duration)} release)" if decision.duration.total_seconds() else ""
    why = "; ".join(r.message for r in decision.reasons)
    window = decision.next_window
    if decision.allowed:
        head = f"ALLOWED at {when}{size}" + (f" - {why}" if why else "") + "."
        return f"{head} {next_window_text(window, decision.at, tz, decision.searched_until)}"
    if window is not None and window.start <= decision.at:  # the calendar is open: only the gate blocks
        after = f"The release window itself is open until {local_text(window.end, tz)}."
    else:
        after = next_window_text(window, decision.at, tz, decision.searched_until)
    return f"BLOCKED at {when}{size} - {why}. {_blocked_by(decision, policy)} {after}"


def _blocked_by(decision: Decision, policy: Policy) -> str:
    """ "Set by KEY: VALUE in FILE; a hotfix may ship at any time (--hotfix --reason TEXT)."."""
    settings = ", ".join(dict.fromkeys(r.setting for r in decision.reasons if r.setting))
    where = policy.source
    if where == EMBEDDED_SOURCE:
        where += f" (no policy file: write one and name it with -c FILE or ${ENV_POLICY_PATH})"
    hotfix = "--hotfix --reason TEXT" if policy.hotfix.require_reason else "--hotfix"
    return f"Set by {settings} in {where}; a hotfix may ship at any time ({hotfix})."


def audit_record(
    decision: Decision, policy: Policy, ci: CiIdentity, now: datetime, given_reason: str | None, *, query: bool
) -> dict[str, Any]:
    """The audit log line: the decision, its reasons, the hotfix reason and the CI identity.

    `kind` is "release" for a decision about now (what a pipeline asks before it releases)
    and "query" for a question about another time (`--at`): a query never released anything,
    and whoever reads the log for what shipped counts only the "release" records.
    """
    tz = policy.timezone
    return {
        "time": now.astimezone(UTC).isoformat(timespec="seconds"),
        "kind": "query" if query else "release",
        "decision": "allowed" if decision.allowed else "blocked",
        "at": iso(decision.at, tz),
        "duration_seconds": int(decision.duration.total_seconds()),
        "hotfix": decision.hotfix.detected,
        "hotfix_triggers": list(decision.hotfix.triggers),
        "reason_given": decision.hotfix.reason if decision.hotfix.detected else (given_reason or None),
        "reasons": [r.code for r in decision.reasons],
        "messages": [r.message for r in decision.reasons] + list(decision.notes),
        "incident_gate": [s.as_json() for s in decision.gate_sources],
        "next_window": period_json(decision.next_window, tz),
        "policy": policy.source,
        "ci": ci.as_json(),
    }


def dumps(document: object) -> str:
    return json.dumps(document, ensure_ascii=False)


def _clock(moment: datetime, tz: ZoneInfo) -> str:
    return moment.astimezone(tz).strftime("%H:%M")


def _status(plan: DayPlan) -> str:
    if not plan.windows:
        return "closed"
    if not plan.open_periods:
        return "CLOSED"
    return "open" if not plan.reasons else "partly"


def _clock_change(day: date, tz: ZoneInfo) -> list[str]:
    """ "clocks change: CET (+01:00) -> CEST (+02:00)" on a DST switch day, else nothing."""
    before = datetime.combine(day, time(), tzinfo=tz)
    after = datetime.combine(day + timedelta(days=1), time(), tzinfo=tz)
    if before.utcoffset() == after.utcoffset():
        return []
    return [f"clocks change: {before.tzname()} ({offset_text(before)}) -> {after.tzname()} ({offset_text(after)})"]


def calendar_table(plans: Iterable[DayPlan], tz: ZoneInfo) -> str:
    """A table: date, weekday, windows, what is open, and why the rest is closed.

    "closed" is an ordinary day without windows; "CLOSED" a day whose windows a holiday,
    the day before one or a freeze takes away; "partly" a day a timed freeze cuts into.
    """
    header = ("date", "day", "windows", "status", "open", "why")
    rows: list[tuple[str, ...]] = [header]
    for plan in plans:
        windows = ", ".join(w.hours for w in plan.windows) or "-"
        opened = (
            ", ".join(
                f"{_clock(p.start, tz)}-{_clock(p.end, tz) if p.end.astimezone(tz).date() == plan.day else '24:00'}"
                for p in plan.open_periods
            )
            or "-"
        )
        notes = [r.message for r in plan.reasons] or (["no window on this day"] if not plan.windows else [])
        notes.extend(_clock_change(plan.day, tz))
        why = "; ".join(notes)
        rows.append((plan.day.isoformat(), DAY_NAMES[plan.day.weekday()], windows, _status(plan), opened, why))
    widths = [max(len(row[i]) for row in rows) for i in range(len(header) - 1)]
    lines = [
        "  ".join(cell.ljust(width) for cell, width in zip(row[:-1], widths, strict=True)) + "  " + row[-1]
        for row in rows
    ]
    return "\n".join(line.rstrip() for line in lines)
