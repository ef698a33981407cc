"""One release decision: the policy's windows, then the hotfix override, then the incident
gate and the error budget.

Order matters for speed and honesty: the incident gate and the error budget (network) are
asked only when the calendar would allow a normal release; a hotfix skips them (a hotfix is
often the fix for the very incident that is open, or what the spent budget is for).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from deploy_guard.error_budget import check_error_budget
from deploy_guard.fleet_gate import check_gate
from deploy_guard.hotfix import Hotfix
from deploy_guard.incident_gate import Fetch, GateResult, GateSource
from deploy_guard.policy import Policy
from deploy_guard.release_windows import Period, Reason, ReleaseWindows


class MissingHotfixReason(Exception):
    """A hotfix without the reason the policy requires (a usage error: exit 2)."""


@dataclass(frozen=True)
class Decision:
    """`searched_until`: the last date the search for `next_window` could look at, when it
    ends before the usual year ahead (the policy cannot judge later dates)."""

    at: datetime
    duration: timedelta
    allowed: bool
    hotfix: Hotfix
    reasons: tuple[Reason, ...]
    notes: tuple[str, ...]
    next_window: Period | None
    gate_sources: tuple[GateSource, ...]
    searched_until: date | None = None


def decide(
    policy: Policy,
    windows: ReleaseWindows,
    at: datetime,
    duration: timedelta,
    hotfix: Hotfix,
    fetch: Fetch,
) -> Decision:
    """May a release of `duration` start at `at`? Raises MissingHotfixReason."""
    at = at.astimezone(UTC)
    next_window = windows.next_window(at, duration)
    limit = windows.search_limit(at)
    if hotfix.detected:
        if policy.hotfix.require_reason and not hotfix.reason:
            raise MissingHotfixReason(
                "a hotfix needs a reason (policy hotfix.require_reason): give --reason TEXT "
                "or put it in the commit message"
            )
        via = ", ".join(hotfix.triggers)
        why = f": {hotfix.reason}" if hotfix.reason else ""
        reason = Reason("hotfix", f"hotfix (declared by {via}) may ship at any time{why}")
        return Decision(at, duration, True, hotfix, (reason,), (), next_window, (), limit)
    reasons = windows.blockers(at, duration)
    if reasons:
        return Decision(at, duration, False, hotfix, tuple(reasons), (), next_window, (), limit)
    gates: list[GateResult[GateSource]] = []
    if policy.incident_gate is not None:
        gates.append(check_gate(policy.incident_gate, fetch))
    if policy.error_budget is not None:
        budget = check_error_budget(policy.error_budget, fetch)
        gates.append(GateResult(budget.reasons, budget.notes, budget.sources))
    blocking = tuple(r for gate in gates for r in gate.reasons)
    notes = tuple(n for gate in gates for n in gate.notes)
    sources = tuple(s for gate in gates for s in gate.sources)
    return Decision(at, duration, not blocking, hotfix, blocking, notes, next_window, sources, limit)
