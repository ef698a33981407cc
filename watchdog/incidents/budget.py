"""The restart budget: what keeps "repair first" from restarting a broken service forever.

`RestartBudget` is an explicit state machine per check:

    READY --restart (count reaches max_restarts)--> EXHAUSTED
    EXHAUSTED --failure needs a restart--> GAVE_UP      (the incident pages instead)
    any --OK for a whole restart_window--> READY, count 0
    GAVE_UP --check recovers--> READY, count 0          (resumes by itself, no manual step)
    READY | EXHAUSTED --reconfigure--> READY if count < max_restarts, else EXHAUSTED

The counter resets only after the check stayed OK for a whole window (not a sliding window):
a service that needs a restart every 50 minutes with a 1 h window is a restart loop, and is
paged after `max_restarts` restarts instead of being restarted forever. Recovering from
GAVE_UP (usually someone fixed it after the page) starts afresh, as Monit's manual "monitor"
would, but without anyone having to remember to type it. A reload that changes
`max_restarts` re-judges the restarts already counted against the new limit: raised, an
exhausted budget has restarts again; lowered, it is exhausted as soon as the count reaches
it. GAVE_UP stays until the check recovers: the incident it paged is not restarted again.

`RestartBudgets` holds the budgets of all checks and commits every change to the state
database, so the count survives a daemon restart.
"""

from __future__ import annotations

import enum
import logging

from watchdog.common.clock import Clock
from watchdog.common.logs import event
from watchdog.config.model import RemediationConfig
from watchdog.incidents.model import monotonic_of, wall_of
from watchdog.storage.state import BudgetRecord, StateStore

log = logging.getLogger(__name__)


class BudgetState(enum.Enum):
    READY = "ready"
    EXHAUSTED = "exhausted"
    GAVE_UP = "gave_up"


class RestartBudget:
    """Restarts left for one check; times are `Clock.monotonic()` seconds.

    Changed only through its methods, each an edge of the state machine in the module
    docstring; the attributes are read-only."""

    def __init__(
        self,
        max_restarts: int,
        window: float,
        state: BudgetState = BudgetState.READY,
        count: int = 0,
        ok_since: float | None = None,
    ) -> None:
        self._max_restarts = max_restarts
        self._window = window
        self._state = state
        self._count = count
        self._ok_since = ok_since
        self._fit()

    @property
    def max_restarts(self) -> int:
        return self._max_restarts

    @property
    def window(self) -> float:
        return self._window

    @property
    def state(self) -> BudgetState:
        return self._state

    @property
    def count(self) -> int:
        return self._count

    @property
    def ok_since(self) -> float | None:
        return self._ok_since

    def _fit(self) -> None:
        """READY and EXHAUSTED follow the count against `max_restarts`."""
        if self._state is BudgetState.GAVE_UP:
            return
        self._state = BudgetState.READY if self._count < self._max_restarts else BudgetState.EXHAUSTED

    def can_restart(self) -> bool:
        return self._state is BudgetState.READY

    def record_restart(self) -> None:
        if not self.can_restart():
            raise RuntimeError(f"restart recorded in budget state {self._state.value}")
        self._count += 1
        self._ok_since = None
        self._fit()

    def give_up(self) -> bool:
        """A failure needed a restart and none is left; True on the first give-up."""
        if self._state is BudgetState.GAVE_UP:
            return False
        self._state = BudgetState.GAVE_UP
        return True

    def failed(self) -> None:
        self._ok_since = None

    def ok(self, now: float) -> bool:
        """The check is OK at `now`; True when this resets the counter or resumes restarting."""
        changed = False
        if self._state is BudgetState.GAVE_UP:
            self._reset()
            changed = True
        if self._ok_since is None:
            self._ok_since = now
        if self._count and now - self._ok_since >= self._window:
            self._reset()
            changed = True
        return changed

    def _reset(self) -> None:
        self._count = 0
        self._state = BudgetState.READY
        self._fit()

    def reconfigure(self, max_restarts: int, window: float) -> bool:
        """New limits from a reload; True when this changes whether a restart is allowed."""
        before = self._state
        self._max_restarts, self._window = max_restarts, window
        self._fit()
        return self._state is not before


class RestartBudgets:
    """The budget of every check that was ever restarted, persisted in `store`."""

    def __init__(self, store: StateStore, clock: Clock, config: RemediationConfig) -> None:
        self._store = store
        self._clock = clock
        self._config = config
        self._budgets: dict[str, RestartBudget] = {}
        for rec in store.budgets():
            ok_since = monotonic_of(clock, rec.ok_since) if rec.ok_since is not None else None
            budget = RestartBudget(
                config.max_restarts, config.restart_window, BudgetState(rec.state), rec.count, ok_since
            )
            self._budgets[rec.check] = budget

    def of(self, check: str) -> RestartBudget:
        """The budget of `check` (a fresh one for a check never restarted)."""
        budget = self._budgets.get(check)
        if budget is None:
            budget = self._budgets[check] = RestartBudget(self._config.max_restarts, self._config.restart_window)
        return budget

    def observe(self, check: str, ok: bool) -> None:
        """A hard result of `check`: OK runs the reset window, a failure restarts it."""
        budget = self._budgets.get(check)
        if budget is None:
            return
        before = (budget.state, budget.count, budget.ok_since is None)
        if ok:
            if budget.ok(self._clock.monotonic()):
                event(log, "restart_budget_reset", check=check, state=budget.state.value, restarts=budget.count)
        else:
            budget.failed()
        if before != (budget.state, budget.count, budget.ok_since is None):
            self._save(check, budget)

    def record_restart(self, check: str) -> RestartBudget:
        budget = self.of(check)
        budget.record_restart()
        self._save(check, budget)
        return budget

    def give_up(self, check: str) -> bool:
        """True on the first give-up of the budget's current exhaustion."""
        budget = self.of(check)
        if not budget.give_up():
            return False
        self._save(check, budget)
        return True

    def reconfigure(self, config: RemediationConfig) -> None:
        self._config = config
        for check, budget in self._budgets.items():
            if budget.reconfigure(config.max_restarts, config.restart_window):
                event(
                    log,
                    "restart_budget_reconfigured",
                    check=check,
                    state=budget.state.value,
                    restarts=budget.count,
                    max_restarts=config.max_restarts,
                )
                self._save(check, budget)

    def _save(self, check: str, budget: RestartBudget) -> None:
        ok_since = wall_of(self._clock, budget.ok_since) if budget.ok_since is not None else None
        self._store.save_budget(BudgetRecord(check, budget.state.value, budget.count, ok_since))
