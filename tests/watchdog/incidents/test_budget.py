"""The restart budget's state machine edge by edge, and its persistence per check."""

from __future__ import annotations

import pytest

from watchdog.incidents.budget import BudgetState, RestartBudget


def _state(budget: RestartBudget) -> BudgetState:
    """The budget's state, read without letting mypy narrow `budget.state` across method calls."""
    return budget.state


def test_budget_ready_until_max_restarts_then_exhausted() -> None:
    budget = RestartBudget(max_restarts=2, window=60)
    budget.record_restart()
    assert _state(budget) is BudgetState.READY and budget.can_restart()
    budget.record_restart()
    assert budget.state is BudgetState.EXHAUSTED and not budget.can_restart()
    with pytest.raises(RuntimeError):
        budget.record_restart()


def test_exhausted_budget_gives_up_once() -> None:
    budget = RestartBudget(max_restarts=1, window=60)
    budget.record_restart()
    assert budget.give_up() is True
    assert budget.give_up() is False
    assert budget.state is BudgetState.GAVE_UP


def test_counter_resets_only_after_a_whole_window_ok() -> None:
    budget = RestartBudget(max_restarts=2, window=60)
    budget.record_restart()
    budget.record_restart()
    assert budget.ok(1000.0) is False
    assert budget.ok(1059.9) is False and budget.count == 2
    assert budget.ok(1060.0) is True
    assert (budget.state, budget.count) == (BudgetState.READY, 0)


def test_failure_in_between_restarts_the_ok_window() -> None:
    budget = RestartBudget(max_restarts=2, window=60)
    budget.record_restart()
    budget.ok(1000.0)
    budget.failed()
    budget.ok(1050.0)
    assert budget.ok(1100.0) is False and budget.count == 1
    assert budget.ok(1110.0) is True and budget.count == 0


def test_gave_up_resumes_when_the_check_recovers() -> None:
    budget = RestartBudget(max_restarts=1, window=3600)
    budget.record_restart()
    budget.give_up()
    assert budget.ok(1000.0) is True
    assert budget.state is BudgetState.READY and budget.can_restart() and budget.count == 0


def test_zero_max_restarts_never_restarts() -> None:
    budget = RestartBudget(max_restarts=0, window=60)
    assert not budget.can_restart()
    budget.give_up()
    budget.ok(0.0)
    budget.ok(100.0)
    assert not budget.can_restart()


def test_raising_max_restarts_gives_an_exhausted_budget_restarts_again() -> None:
    budget = RestartBudget(max_restarts=1, window=3600)
    budget.record_restart()
    assert budget.reconfigure(max_restarts=3, window=3600) is True
    assert budget.can_restart() and budget.count == 1
    budget.record_restart()
    budget.record_restart()
    assert _state(budget) is BudgetState.EXHAUSTED and budget.count == 3


def test_lowering_max_restarts_to_the_count_exhausts_the_budget_at_once() -> None:
    budget = RestartBudget(max_restarts=3, window=3600)
    budget.record_restart()
    budget.record_restart()
    assert budget.reconfigure(max_restarts=2, window=3600) is True
    assert not budget.can_restart()
    with pytest.raises(RuntimeError):
        budget.record_restart()
    assert budget.count == 2


def test_reconfigure_keeps_a_give_up_until_the_check_recovers() -> None:
    budget = RestartBudget(max_restarts=1, window=60)
    budget.record_restart()
    budget.give_up()
    assert budget.reconfigure(max_restarts=5, window=60) is False
    assert _state(budget) is BudgetState.GAVE_UP and not budget.can_restart()
    budget.ok(0.0)
    assert budget.can_restart() and budget.count == 0


def test_reconfigure_of_the_window_applies_to_the_ok_run_in_progress() -> None:
    budget = RestartBudget(max_restarts=1, window=3600)
    budget.record_restart()
    budget.ok(1000.0)
    assert budget.reconfigure(max_restarts=1, window=60) is False
    assert budget.ok(1060.0) is True and budget.can_restart()


def test_a_stored_budget_is_judged_against_the_limit_of_the_new_process() -> None:
    assert RestartBudget(3, 60, BudgetState.EXHAUSTED, count=2).can_restart()
    assert not RestartBudget(1, 60, BudgetState.READY, count=2).can_restart()
    assert RestartBudget(5, 60, BudgetState.GAVE_UP, count=2).state is BudgetState.GAVE_UP


def test_budget_attributes_are_read_only() -> None:
    budget = RestartBudget(max_restarts=1, window=60)
    with pytest.raises(AttributeError):
        budget.max_restarts = 5  # type: ignore[misc]
