"""The life of an incident as one explicit state machine.

Every change of an incident's state goes through `transition(state, event)`, so the whole
behaviour of "repair first, page only on failure" can be read from `_TRANSITIONS` and tested
one edge at a time. The engine decides *when* an event happens; this module alone decides
*what* it leads to, and refuses anything not listed (a bug, never a silent state jump).

    OPEN --restart--> REPAIRING --verified_ok--> REPAIRED          (auto-repaired, nobody woken)
    OPEN --page--> PAGED                                           (no repair configured / loop / silence ended)
    REPAIRING --page--> PAGED                                      (restart failed or did not help)
    PAGED --ack--> ACKNOWLEDGED                                    (reminders and escalation stop)
    OPEN | PAGED | ACKNOWLEDGED --recovered--> RESOLVED            (resolve to every paged channel)
    REPAIRING --recovered--> RESOLVED                              (check removed from the config mid-repair)

OPEN also holds incidents that are waiting: suppressed by a failing parent, silenced, or a
warning deferred to business hours. `OPEN --ack--> ACKNOWLEDGED` lets people acknowledge a
problem before it was told.
"""

from __future__ import annotations

import enum


class IncidentState(enum.Enum):
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


class IncidentEvent(enum.Enum):
    RESTART = "restart"
    VERIFIED_OK = "verified_ok"
    PAGE = "page"
    ACK = "ack"
    RECOVERED = "recovered"


class InvalidTransition(Exception):
    def __init__(self, state: IncidentState, event: IncidentEvent) -> None:
        super().__init__(f"no transition from {state.value} on {event.value}")
        self.state = state
        self.event = event


_S, _E = IncidentState, IncidentEvent

_TRANSITIONS: dict[tuple[IncidentState, IncidentEvent], IncidentState] = {
    (_S.OPEN, _E.RESTART): _S.REPAIRING,
    (_S.OPEN, _E.PAGE): _S.PAGED,
    (_S.OPEN, _E.ACK): _S.ACKNOWLEDGED,
    (_S.OPEN, _E.RECOVERED): _S.RESOLVED,
    (_S.REPAIRING, _E.VERIFIED_OK): _S.REPAIRED,
    (_S.REPAIRING, _E.PAGE): _S.PAGED,
    (_S.REPAIRING, _E.RECOVERED): _S.RESOLVED,
    (_S.PAGED, _E.ACK): _S.ACKNOWLEDGED,
    (_S.PAGED, _E.RECOVERED): _S.RESOLVED,
    (_S.ACKNOWLEDGED, _E.RECOVERED): _S.RESOLVED,
}


def transition(state: IncidentState, event: IncidentEvent) -> IncidentState:
    """The state `event` leads to from `state`; raises InvalidTransition when not allowed."""
    try:
        return _TRANSITIONS[(state, event)]
    except KeyError:
        raise InvalidTransition(state, event) from None


def allowed(state: IncidentState, event: IncidentEvent) -> bool:
    return (state, event) in _TRANSITIONS
