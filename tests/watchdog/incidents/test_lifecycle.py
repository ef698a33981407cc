"""Each edge of the incident state machine, and the edges that must not exist."""

from __future__ import annotations

import pytest

from watchdog.incidents.lifecycle import IncidentEvent as E
from watchdog.incidents.lifecycle import IncidentState as S
from watchdog.incidents.lifecycle import InvalidTransition, transition


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
