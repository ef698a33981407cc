"""Each edge of the incident state machine and of its sub-states, and the edges that must not exist."""

from __future__ import annotations

import pytest

from watchdog.common.incident_terms import IncidentState as S
from watchdog.common.incident_terms import Substate as U
from watchdog.incidents.lifecycle import ENTRY, HOLDS, InvalidTransition, sub_transition, transition
from watchdog.incidents.lifecycle import IncidentEvent as E
from watchdog.incidents.lifecycle import SubstateEvent as SE


@pytest.mark.parametrize(
    ("state", "event", "expected"),
    [
        (S.OPEN, E.RESTART, S.REPAIRING),
        (S.OPEN, E.PAGE, S.PAGED),
        (S.OPEN, E.ACK, S.ACKNOWLEDGED),
        (S.OPEN, E.RECOVERED, S.RESOLVED),
        (S.REPAIRING, E.VERIFIED_OK, S.REPAIRED),
        (S.REPAIRING, E.PAGE, S.PAGED),
        (S.REPAIRING, E.RECOVERED, S.RESOLVED),
        (S.REPAIRING, E.HOLD, S.OPEN),
        (S.REPAIRING, E.REPAIR_FAILED_ACKED, S.ACKNOWLEDGED),
        (S.PAGED, E.ACK, S.ACKNOWLEDGED),
        (S.PAGED, E.RECOVERED, S.RESOLVED),
        (S.ACKNOWLEDGED, E.RECOVERED, S.RESOLVED),
    ],
)
def test_allowed_transition(state: S, event: E, expected: S) -> None:
    assert transition(state, event) is expected


@pytest.mark.parametrize(
    ("state", "event"),
    [
        (S.PAGED, E.RESTART),  # once paged, no more restarts in the same incident
        (S.PAGED, E.PAGE),  # one page per incident
        (S.ACKNOWLEDGED, E.PAGE),
        (S.REPAIRING, E.RESTART),
        (S.REPAIRING, E.ACK),
        (S.OPEN, E.VERIFIED_OK),
        (S.REPAIRED, E.RECOVERED),
        (S.RESOLVED, E.PAGE),
        (S.RESOLVED, E.RECOVERED),
    ],
)
def test_forbidden_transition_raises(state: S, event: E) -> None:
    with pytest.raises(InvalidTransition):
        transition(state, event)


def test_closed_states_are_final_for_every_event() -> None:
    for state in (S.REPAIRED, S.RESOLVED):
        assert state.closed
        for event in E:
            with pytest.raises(InvalidTransition):
                transition(state, event)


def test_only_paged_and_acknowledged_owe_a_resolve() -> None:
    assert {s for s in S if s.told} == {S.PAGED, S.ACKNOWLEDGED}


def test_status_api_names_of_unresolved_states() -> None:
    assert sorted(s.value for s in S if not s.closed) == ["acknowledged", "open", "paged", "repairing"]


@pytest.mark.parametrize(
    ("state", "event"),
    [
        (S.OPEN, E.HOLD),  # only a repair that failed goes back to OPEN
        (S.PAGED, E.HOLD),  # told is told: no going back to waiting
        (S.OPEN, E.REPAIR_FAILED_ACKED),
        (S.PAGED, E.REPAIR_FAILED_ACKED),
    ],
)
def test_hold_and_acked_repair_failure_leave_only_repairing(state: S, event: E) -> None:
    with pytest.raises(InvalidTransition):
        transition(state, event)


@pytest.mark.parametrize(
    ("substate", "event", "expected"),
    [
        (U.WAITING, SE.PARENT_FAILING, U.HELD_BY_PARENT),
        (U.WAITING, SE.SILENCE, U.SILENCED),
        (U.WAITING, SE.DEFER, U.DEFERRED),
        (U.HELD_BY_PARENT, SE.RELEASE, U.WAITING),
        (U.SILENCED, SE.RELEASE, U.WAITING),
        (U.DEFERRED, SE.RELEASE, U.WAITING),
        (U.RESTART_RUNNING, SE.RESTART_DONE, U.VERIFYING),
    ],
)
def test_allowed_substate_transition(substate: U, event: SE, expected: U) -> None:
    after = sub_transition(substate, event)
    assert after is expected and after.state is substate.state


@pytest.mark.parametrize(
    ("substate", "event"),
    [
        (U.SILENCED, SE.PARENT_FAILING),  # one hold at a time: released first
        (U.HELD_BY_PARENT, SE.DEFER),
        (U.DEFERRED, SE.SILENCE),
        (U.WAITING, SE.RELEASE),  # nothing to release
        (U.VERIFYING, SE.RESTART_DONE),  # one restart, one verification
        (U.RESTART_RUNNING, SE.DEFER),  # a running repair is never held
        (U.VERIFYING, SE.SILENCE),
        (U.WAITING, SE.RESTART_DONE),
    ],
)
def test_forbidden_substate_transition_raises(substate: U, event: SE) -> None:
    with pytest.raises(InvalidTransition):
        sub_transition(substate, event)


def test_each_state_starts_in_a_substate_of_its_own() -> None:
    assert {state: sub for state, sub in ENTRY.items() if sub is not None} == {
        S.OPEN: U.WAITING,
        S.REPAIRING: U.RESTART_RUNNING,
    }
    assert {u for u in U if u.state is S.OPEN} == {U.WAITING, *HOLDS}
    assert {u for u in U if u.state is S.REPAIRING} == {U.RESTART_RUNNING, U.VERIFYING}
