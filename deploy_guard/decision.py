"""One release decision: the policy's windows, then the hotfix override, then the incident gate.

Order matters for speed and honesty: the incident gate (network) is asked only when the
calendar would allow a normal release; a hotfix skips it (a hotfix is often the fix for the
very incident that is open).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from deploy_guard.fleet_gate import check_gate
from deploy_guard.hotfix import Hotfix
from deploy_guard.incident_gate import Fetch, GateSource
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
    if reasons or policy.incident_gate is None:
        return Decision(at, duration, not reasons, hotfix, tuple(reasons), (), next_window, (), limit)
    gate = check_gate(policy.incident_gate, fetch)
    return Decision(at, duration, not gate.reasons, hotfix, gate.reasons, gate.notes, next_window, gate.sources, limit)
