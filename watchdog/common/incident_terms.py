"""The words for an incident that the daemon, its status document and the release gate share.

They live in `common` because the status document (watchdog.common.status_document) is read
by deploy-guard, which may import nothing else of the daemon. The rules of how an incident
moves between these states are the incident layer's (watchdog.incidents.lifecycle); the
database stores the string values.
"""

from __future__ import annotations

import enum


class Severity(enum.StrEnum):
    """How bad an incident is: it picks the route (`notify.routes.critical|warning`)."""

    CRITICAL = "critical"
    WARNING = "warning"


class IncidentState(enum.StrEnum):
    """Where an incident is in its life. The first four are the unresolved ones the status
    document lists (`incidents[].state`); the last two are closed and kept only in the
    database."""

    OPEN = "open"
    REPAIRING = "repairing"
    PAGED = "paged"
    ACKNOWLEDGED = "acknowledged"
    REPAIRED = "repaired"
    RESOLVED = "resolved"

    @property
    def closed(self) -> bool:
        return self in (IncidentState.REPAIRED, IncidentState.RESOLVED)

    @property
    def told(self) -> bool:
        """People were paged for this incident (a resolve is owed when it ends)."""
        return self in (IncidentState.PAGED, IncidentState.ACKNOWLEDGED)


class Substate(enum.StrEnum):
    """What an OPEN or REPAIRING incident is waiting for (`incidents[].substate`; PAGED and
    ACKNOWLEDGED incidents have none).

    OPEN: `waiting` (nothing holds it back: the next result decides), `held_by_parent` (a
    `depends_on` parent is failing), `silenced`, `deferred` (its route tells only in business
    hours). REPAIRING: `restart_running`, then `verifying` (the check is re-run after
    `verify_after`).
    """

    WAITING = "waiting"
    HELD_BY_PARENT = "held_by_parent"
    SILENCED = "silenced"
    DEFERRED = "deferred"
    RESTART_RUNNING = "restart_running"
    VERIFYING = "verifying"

    @property
    def state(self) -> IncidentState:
        """The state this sub-state belongs to."""
        if self in (Substate.RESTART_RUNNING, Substate.VERIFYING):
            return IncidentState.REPAIRING
        return IncidentState.OPEN


UNRESOLVED: tuple[IncidentState, ...] = tuple(s for s in IncidentState if not s.closed)
