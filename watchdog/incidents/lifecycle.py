"""The life of an incident as two explicit state machines: its state, and inside OPEN and
REPAIRING its sub-state.

Every change goes through `transition(state, event)` or `sub_transition(substate, event)`,
so the whole behaviour of "repair first, page only on failure" can be read from the two
tables below and tested one edge at a time. The engine decides *when* an event happens; this
module alone decides *what* it leads to, and refuses anything not listed (a bug, never a
silent jump).

    OPEN --restart--> REPAIRING --verified_ok--> REPAIRED        (auto-repaired, nobody woken)
    OPEN --page--> PAGED                                         (no repair configured / loop / silence ended)
    REPAIRING --page--> PAGED                                    (restart failed or did not help)
    REPAIRING --hold--> OPEN                                     (repair failed; telling waits: silence, business hours)
    REPAIRING --repair_failed_acked--> ACKNOWLEDGED              (repair failed, acknowledged while it ran: no page)
    PAGED --ack--> ACKNOWLEDGED                                  (reminders and escalation stop)
    OPEN --ack--> ACKNOWLEDGED                                   (acknowledged before anyone was told)
    OPEN | PAGED | ACKNOWLEDGED --recovered--> RESOLVED          (resolve to every paged channel)
    REPAIRING --recovered--> RESOLVED                            (check removed from the config mid-repair)

An acknowledgement while REPAIRING is no transition: the restart already running finishes
and is verified. It is recorded on the incident, and when the repair fails the engine fires
`repair_failed_acked` instead of paging — the person who acknowledged already looks at it,
as a PagerDuty acknowledgement keeps a new event on the same incident from notifying.

Sub-states (each entered state starts in `ENTRY[state]`):

    OPEN:      WAITING --parent_failing--> HELD_BY_PARENT --release--> WAITING
               WAITING --silence--> SILENCED --release--> WAITING
               WAITING --defer--> DEFERRED --release--> WAITING
    REPAIRING: RESTART_RUNNING --restart_done--> VERIFYING

One hold at a time: an incident held for one reason is released before it is held for
another, so every change of reason shows in the log and the timeline.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from typing import TypeVar

from watchdog.common.incident_terms import IncidentState, Substate


class IncidentEvent(enum.Enum):
    RESTART = "restart"
    VERIFIED_OK = "verified_ok"
    PAGE = "page"
    HOLD = "hold"
    REPAIR_FAILED_ACKED = "repair_failed_acked"
    ACK = "ack"
    RECOVERED = "recovered"


class SubstateEvent(enum.Enum):
    PARENT_FAILING = "parent_failing"
    SILENCE = "silence"
    DEFER = "defer"
    RELEASE = "release"
    RESTART_DONE = "restart_done"


_State = TypeVar("_State", IncidentState, Substate)
_Event = TypeVar("_Event", IncidentEvent, SubstateEvent)


class InvalidTransition(Exception):
    def __init__(self, state: IncidentState | Substate, event: IncidentEvent | SubstateEvent) -> None:
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
    (_S.REPAIRING, _E.HOLD): _S.OPEN,
    (_S.REPAIRING, _E.REPAIR_FAILED_ACKED): _S.ACKNOWLEDGED,
    (_S.REPAIRING, _E.RECOVERED): _S.RESOLVED,
    (_S.PAGED, _E.ACK): _S.ACKNOWLEDGED,
    (_S.PAGED, _E.RECOVERED): _S.RESOLVED,
    (_S.ACKNOWLEDGED, _E.RECOVERED): _S.RESOLVED,
}

_U, _SE = Substate, SubstateEvent

_SUB_TRANSITIONS: dict[tuple[Substate, SubstateEvent], Substate] = {
    (_U.WAITING, _SE.PARENT_FAILING): _U.HELD_BY_PARENT,
    (_U.WAITING, _SE.SILENCE): _U.SILENCED,
    (_U.WAITING, _SE.DEFER): _U.DEFERRED,
    (_U.HELD_BY_PARENT, _SE.RELEASE): _U.WAITING,
    (_U.SILENCED, _SE.RELEASE): _U.WAITING,
    (_U.DEFERRED, _SE.RELEASE): _U.WAITING,
    (_U.RESTART_RUNNING, _SE.RESTART_DONE): _U.VERIFYING,
}

ENTRY: dict[IncidentState, Substate | None] = {
    _S.OPEN: _U.WAITING,
    _S.REPAIRING: _U.RESTART_RUNNING,
    _S.PAGED: None,
    _S.ACKNOWLEDGED: None,
    _S.REPAIRED: None,
    _S.RESOLVED: None,
}
"""The sub-state an incident starts in when it enters a state."""

HOLDS: dict[Substate, SubstateEvent] = {
    _U.HELD_BY_PARENT: _SE.PARENT_FAILING,
    _U.SILENCED: _SE.SILENCE,
    _U.DEFERRED: _SE.DEFER,
}
"""The OPEN sub-states that hold an incident back, and the event that enters each."""


def transition(state: IncidentState, event: IncidentEvent) -> IncidentState:
    """The state `event` leads to from `state`; raises InvalidTransition when not allowed."""
    return _step(_TRANSITIONS, state, event)


def allowed(state: IncidentState, event: IncidentEvent) -> bool:
    return (state, event) in _TRANSITIONS


def sub_transition(substate: Substate, event: SubstateEvent) -> Substate:
    """The sub-state `event` leads to within the same state; raises InvalidTransition."""
    return _step(_SUB_TRANSITIONS, substate, event)


def _step(table: Mapping[tuple[_State, _Event], _State], state: _State, event: _Event) -> _State:
    try:
        return table[(state, event)]
    except KeyError:
        raise InvalidTransition(state, event) from None
