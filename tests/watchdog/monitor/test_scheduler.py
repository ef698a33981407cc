"""Scheduling and confirmation: pure transitions, then the heap on a manual clock with real
TCP probes (a hanging server, a closed port), then isolation in real time."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import timedelta

import psutil
import pytest

from checks.base import CheckResult, Status
from checks.tcp import TcpCheck, TcpOptions
from tests.servers.hanging import HangingTCPServer
from tests.servers.nginx import NginxServer
from tests.servers.ports import free_port
from tests.waiting import wait_until
from watchdog.common.clock import ManualClock
from watchdog.config.model import CheckSpec
from watchdog.monitor.checkstate import CheckState
from watchdog.monitor.runner import Runner, RunOutcome
from watchdog.monitor.scheduler import Scheduler, Skipped, Started, next_slot, next_state, phase

OK = CheckResult(Status.OK, "fine")
CRIT = CheckResult(Status.CRITICAL, "down")
WARN = CheckResult(Status.WARNING, "slow")


def tcp_spec(
    name: str,
    port: int,
    *,
    interval: float = 30.0,
    timeout: float = 2.0,
    retries: int = 3,
    retry_interval: float = 5.0,
    send: str | None = None,
    expect: str | None = None,
    confirm_exits: bool = False,
) -> CheckSpec:
    return CheckSpec(
        name=name,
        type="tcp",
        interval=interval,
        timeout=timeout,
        retries=retries,
        retry_interval=retry_interval,
        severity="critical",
        remediate=None,
        depends_on=(),
        runbook_url=None,
        options=TcpOptions("127.0.0.1", port, send=send, expect=expect),
        confirm_exits=confirm_exits,
    )


def make_tcp(spec: CheckSpec) -> TcpCheck:
    assert isinstance(spec.options, TcpOptions)
    return TcpCheck(spec.options)


def connected_to(port: int) -> bool:
    """Whether this process holds an established connection to 127.0.0.1:`port`: a probe's
    worker thread started its run and got that far."""
    return any(
        c.raddr and c.raddr.port == port and c.status == psutil.CONN_ESTABLISHED
        for c in psutil.Process().net_connections("tcp")
    )


def wait_outcomes(runner: Runner, count: int = 1, timeout: float = 5.0) -> list[RunOutcome]:
    """Finished runs, waiting in real time for the worker threads."""
    got: list[RunOutcome] = []
    deadline = time.monotonic() + timeout
    while len(got) < count and time.monotonic() < deadline:
        got.extend(runner.poll())
        time.sleep(0.005)
    assert len(got) >= count, f"only {len(got)} of {count} runs finished"
    return got


# -- confirmation, one transition at a time ----------------------------------------------------


def state_after(results: list[CheckResult], retries: int = 3, clock: ManualClock | None = None) -> list[CheckState]:
    clock = clock or ManualClock()
    states: list[CheckState] = []
    previous = None
    for result in results:
        previous = next_state(previous, "c", result, retries=retries, now=clock.now(), duration=0.1)
        states.append(previous)
        clock.advance(5)
    return states


def test_first_ok_result_is_hard_with_no_failures() -> None:
    (s,) = state_after([OK])
    assert (s.status, s.hard, s.failures) == (Status.OK, True, 0)


def test_first_failure_is_soft_when_retries_above_one() -> None:
    _, s = state_after([OK, CRIT])
    assert (s.status, s.hard, s.failures) == (Status.CRITICAL, False, 1)


def test_failure_becomes_hard_on_the_retries_th_consecutive_failure() -> None:
    states = state_after([OK, CRIT, CRIT, CRIT, CRIT])
    assert [s.hard for s in states] == [True, False, False, True, True]
    assert [s.failures for s in states] == [0, 1, 2, 3, 4]


def test_retries_one_confirms_the_first_failure() -> None:
    (s,) = state_after([CRIT], retries=1)
    assert s.hard and s.failures == 1


def test_a_critical_that_is_a_fact_is_hard_at_once_a_warning_is_still_confirmed() -> None:
    first = next_state(None, "c", CRIT, retries=3, now=ManualClock().now(), duration=0.1, fact=True)
    assert (first.status, first.hard, first.failures) == (Status.CRITICAL, True, 1)
    warning = next_state(None, "c", WARN, retries=3, now=ManualClock().now(), duration=0.1, fact=True)
    assert (warning.status, warning.hard, warning.failures) == (Status.WARNING, False, 1)
    ok = next_state(first, "c", OK, retries=3, now=ManualClock().now(), duration=0.1, fact=True)
    assert (ok.status, ok.hard, ok.failures) == (Status.OK, True, 0)


def test_since_stays_while_status_repeats_and_moves_on_change() -> None:
    clock = ManualClock()
    t0 = clock.now()
    ok, crit1, crit2, warn, ok2 = state_after([OK, CRIT, CRIT, WARN, OK], clock=clock)
    assert ok.since == t0
    assert crit1.since == crit2.since == t0 + timedelta(seconds=5)
    assert warn.since == t0 + timedelta(seconds=15)
    assert ok2.since == t0 + timedelta(seconds=20)
    assert crit2.last_run == t0 + timedelta(seconds=10)


def test_warning_after_critical_keeps_counting_failures() -> None:
    states = state_after([CRIT, WARN, CRIT])
    assert [s.failures for s in states] == [1, 2, 3]
    assert states[-1].hard


def test_recovery_resets_failures_and_is_hard() -> None:
    s = state_after([CRIT, CRIT, CRIT, OK])[-1]
    assert (s.status, s.hard, s.failures, s.message) == (Status.OK, True, 0, "fine")


def test_measurements_are_carried_into_the_state() -> None:
    (s,) = state_after([CheckResult(Status.OK, "x", {"used_ratio": 0.5})])
    assert s.measurements == {"used_ratio": 0.5}


# -- timing ----------------------------------------------------------------------------------------


def test_phase_is_stable_and_spread() -> None:
    phases = [phase(f"check-{i}") for i in range(1000)]
    assert phase("check-1") == phases[1]
    buckets = [0] * 10
    for p in phases:
        assert 0 <= p < 1
        buckets[int(p * 10)] += 1
    assert min(buckets) > 60 and max(buckets) < 140


def test_next_slot_is_on_the_grid() -> None:
    assert next_slot(3.0, 10.0, 3.0) == 3.0
    assert next_slot(3.0, 10.0, 3.1) == 13.0
    assert next_slot(3.0, 10.0, 27.0) == 33.0


def test_first_round_starts_every_check_within_one_second() -> None:
    clock = ManualClock()
    runner = Runner(clock)
    scheduler = Scheduler(clock, runner, make_tcp)
    closed = free_port()
    specs = [tcp_spec(f"c{i}", closed, interval=60) for i in range(200)]
    scheduler.set_checks(specs)
    started = [e for e in scheduler.run_due() if isinstance(e, Started)]
    clock.advance(0.5)
    started += [e for e in scheduler.run_due() if isinstance(e, Started)]
    assert 60 < len(started) < 140, "the first round is spread over the first second"
    clock.advance(0.5)
    started += [e for e in scheduler.run_due() if isinstance(e, Started)]
    assert sorted(e.name for e in started) == sorted(s.name for s in specs)
    wait_outcomes(runner, 200)
    runner.close()


def test_later_rounds_spread_over_the_interval() -> None:
    """Hard results (here: a closed port, retries=1) go back to each check's phase slot."""
    clock = ManualClock()
    runner = Runner(clock)
    scheduler = Scheduler(clock, runner, make_tcp)
    closed = free_port()
    scheduler.set_checks([tcp_spec(f"c{i}", closed, interval=10, retries=1) for i in range(300)])
    clock.advance(1.0)
    scheduler.run_due()
    for outcome in wait_outcomes(runner, 300):
        assert scheduler.on_outcome(outcome) is not None
    per_second = []
    for _ in range(25):
        clock.advance(1.0)
        per_second.append(sum(isinstance(e, Started) for e in scheduler.run_due()))
        for outcome in wait_outcomes(runner, per_second[-1]) if per_second[-1] else []:
            scheduler.on_outcome(outcome)
    assert per_second[:4] == [0, 0, 0, 0], "no run within half an interval of the first round"
    assert sum(per_second[5:15]) == 300, f"every check ran once per interval: {per_second}"
    assert per_second[5:15] == per_second[15:25], "each check keeps its phase"
    assert max(per_second) < 60, f"no burst: {per_second}"
    runner.close()


def test_soft_failure_is_retried_at_retry_interval_until_hard_then_back_to_interval() -> None:
    clock = ManualClock()
    runner = Runner(clock)
    scheduler = Scheduler(clock, runner, make_tcp)
    closed = free_port()
    scheduler.set_checks([tcp_spec("db", closed, interval=60, retries=3, retry_interval=5)])
    states = []
    start = clock.monotonic()
    for _ in range(3):
        due = scheduler.next_due()
        assert due is not None
        clock.advance(max(0.0, due - clock.monotonic()))
        assert [type(e) for e in scheduler.run_due()] == [Started]
        (outcome,) = wait_outcomes(runner)
        update = scheduler.on_outcome(outcome)
        assert update is not None
        states.append((clock.monotonic() - start, update[1]))
    assert [s.hard for _, s in states] == [False, False, True]
    assert [s.status for _, s in states] == [Status.CRITICAL] * 3
    assert states[1][0] - states[0][0] == pytest.approx(5.0)
    assert states[2][0] - states[1][0] == pytest.approx(5.0)
    next_due = scheduler.next_due()
    assert next_due is not None and next_due - clock.monotonic() >= 30, "hard: back to the interval"
    runner.close()


def test_recheck_runs_the_check_after_the_delay(hanging_tcp: HangingTCPServer) -> None:
    clock = ManualClock()
    runner = Runner(clock)
    scheduler = Scheduler(clock, runner, make_tcp)
    scheduler.set_checks([tcp_spec("web", hanging_tcp.port, interval=300)])
    clock.advance(1.0)
    scheduler.run_due()
    (outcome,) = wait_outcomes(runner)
    scheduler.on_outcome(outcome)
    scheduler.recheck("web", 10.0)
    assert scheduler.next_due() == pytest.approx(clock.monotonic() + 10.0)
    clock.advance(9.9)
    assert scheduler.run_due() == []
    clock.advance(0.1)
    assert [e.name for e in scheduler.run_due()] == ["web"]
    scheduler.recheck("removed-meanwhile", 1.0)
    runner.close()


def run_once(clock: ManualClock, scheduler: Scheduler, runner: Runner) -> CheckState:
    """Starts the one check that is due now and applies its result."""
    assert [type(e) for e in scheduler.run_due()] == [Started]
    (outcome,) = wait_outcomes(runner)
    update = scheduler.on_outcome(outcome)
    assert update is not None
    return update[1]


def test_a_witnessed_exit_runs_the_check_at_once_and_its_failure_is_hard() -> None:
    clock = ManualClock()
    runner = Runner(clock)
    scheduler = Scheduler(clock, runner, make_tcp)
    scheduler.set_checks([tcp_spec("svc", free_port(), interval=300, retries=3, retry_interval=5)])
    clock.advance(1.0)
    scheduler.run_due()
    for outcome in wait_outcomes(runner):
        scheduler.on_outcome(outcome)
    clock.advance(10)
    scheduler.witnessed("svc")
    assert scheduler.next_due() == clock.monotonic()
    state = run_once(clock, scheduler, runner)
    assert (state.status, state.hard, state.failures) == (Status.CRITICAL, True, 2)
    clock.advance(5)
    assert scheduler.run_due() == [], "hard: back to the interval"
    scheduler.witnessed("removed-meanwhile")
    runner.close()


def test_with_confirm_exits_a_witnessed_exit_runs_at_once_but_is_confirmed() -> None:
    clock = ManualClock()
    runner = Runner(clock)
    scheduler = Scheduler(clock, runner, make_tcp)
    spec = tcp_spec("svc", free_port(), interval=300, retries=2, retry_interval=5, confirm_exits=True)
    scheduler.set_checks([spec])
    scheduler.witnessed("svc")
    state = run_once(clock, scheduler, runner)
    assert (state.hard, state.failures) == (False, 1)
    clock.advance(5)
    state = run_once(clock, scheduler, runner)
    assert (state.hard, state.failures) == (True, 2)
    runner.close()


def test_an_exit_reported_during_a_run_runs_the_check_again_when_it_ends() -> None:
    """The run in flight started before the exit: its result is not the fact, the next run is."""
    clock = ManualClock()
    runner = Runner(clock)
    scheduler = Scheduler(clock, runner, make_tcp)
    scheduler.set_checks([tcp_spec("svc", free_port(), interval=300, retries=3, retry_interval=5)])
    clock.advance(1.0)
    assert [type(e) for e in scheduler.run_due()] == [Started]
    scheduler.witnessed("svc")
    (outcome,) = wait_outcomes(runner)
    update = scheduler.on_outcome(outcome)
    assert update is not None and not update[1].hard
    assert scheduler.next_due() == clock.monotonic(), "runs again at once"
    state = run_once(clock, scheduler, runner)
    assert (state.hard, state.failures) == (True, 2)
    runner.close()


def test_hanging_run_is_never_overlapped_and_a_stuck_probe_still_becomes_hard() -> None:
    clock = ManualClock()
    runner = Runner(clock)
    scheduler = Scheduler(clock, runner, make_tcp)
    with HangingTCPServer() as server:
        spec = tcp_spec(
            "stuck", server.port, interval=10, timeout=30, retries=3, retry_interval=5, send="PING\r\n", expect="PONG"
        )
        scheduler.set_checks([spec])
        clock.advance(1.0)
        assert [type(e) for e in scheduler.run_due()] == [Started]
        wait_until(lambda: connected_to(server.port), 5, "the worker to pick the run up and block in recv()")
        clock.advance(30.3)
        (timeout,) = runner.poll()
        assert timeout.timed_out and timeout.result.status is Status.CRITICAL
        assert timeout.result.message == "timeout after 30s"
        update = scheduler.on_outcome(timeout)
        assert update is not None and not update[1].hard and update[1].failures == 1
        states = []
        for _ in range(2):
            clock.advance(5.0)
            (skip,) = scheduler.run_due()
            assert isinstance(skip, Skipped), "the thread is still blocked: no second run"
            assert skip.result is not None
            states.append(skip.result[1])
        assert [s.failures for s in states] == [2, 3]
        assert states[-1].hard and "still hanging" in states[-1].message
        assert scheduler.counts("stuck") == (1, 2)
    # the server closed: the blocked thread returns; its late result is dropped
    deadline = time.monotonic() + 5
    while runner.in_flight("stuck") and time.monotonic() < deadline:
        assert runner.poll() == []
        time.sleep(0.01)
    assert not runner.in_flight("stuck") and runner.late_results == 1
    runner.close()


def test_reload_keeps_state_of_unchanged_checks_and_forgets_removed(hanging_tcp: HangingTCPServer) -> None:
    clock = ManualClock()
    runner = Runner(clock)
    scheduler = Scheduler(clock, runner, make_tcp)
    keep, change, drop = (tcp_spec(n, hanging_tcp.port) for n in ("keep", "change", "drop"))
    scheduler.set_checks([keep, change, drop])
    clock.advance(1.0)
    scheduler.run_due()
    for outcome in wait_outcomes(runner, 3):
        scheduler.on_outcome(outcome)
    changed = tcp_spec("change", hanging_tcp.port, interval=99)
    added = tcp_spec("new", hanging_tcp.port)
    assert scheduler.set_checks([keep, changed, added]) == (["new"], ["drop"], ["change"])
    states = {spec.name: state for spec, state in scheduler.states()}
    assert states["keep"] is not None and states["keep"].status is Status.OK
    assert states["change"] is None and states["new"] is None and "drop" not in states
    runner.close()


def test_one_hanging_check_never_delays_the_others(make_nginx: Callable[..., NginxServer]) -> None:
    """3 probes hang on a server that never answers, 5 probe a live nginx every 0.4 s: each
    round of the live ones starts on its slot and finishes while the hanging runs still hold
    their threads. The schedule runs on a manual clock and the probes in real threads, so what
    counts is whether a hanging run holds anything up, not how busy the machine is."""
    nginx = make_nginx()
    clock = ManualClock()
    runner = Runner(clock)
    scheduler = Scheduler(clock, runner, make_tcp)
    hanging = [f"hang{i}" for i in range(3)]
    live = [f"live{i}" for i in range(5)]
    results: dict[str, list[CheckState]] = {}

    def collect() -> list[RunOutcome]:
        outcomes = runner.poll()
        for outcome in outcomes:
            update = scheduler.on_outcome(outcome)
            if update:
                results.setdefault(update[0].name, []).append(update[1])
        return outcomes

    with HangingTCPServer() as hang:
        specs = [tcp_spec(name, hang.port, interval=0.4, timeout=30, send="x", expect="y") for name in hanging]
        specs += [tcp_spec(name, nginx.port, interval=0.4, timeout=30) for name in live]
        scheduler.set_checks(specs)
        lags: dict[str, list[float]] = {}
        end = clock.monotonic() + 4.0
        while clock.monotonic() < end:
            due = scheduler.next_due()
            assert due is not None
            clock.advance(max(0.0, due - clock.monotonic()))
            for item in scheduler.run_due():
                if isinstance(item, Started):
                    lags.setdefault(item.name, []).append(item.lag)
            wait_until(
                lambda: collect() is not None and not any(runner.in_flight(name) for name in live),
                5,
                "the live runs to finish while the hanging ones block",
            )
            assert all(runner.in_flight(name) for name in hanging if name in lags), "started hanging runs still block"
        clock.advance(30.3)
        timeouts = collect()
    for name in live:
        assert len(lags[name]) >= 9, f"{name} ran {len(lags[name])} times in 4 s"
        assert max(lags[name]) == 0.0, f"{name} started late: {max(lags[name]):.3f}s"
        assert len(results[name]) == len(lags[name]) and all(s.status is Status.OK for s in results[name])
    assert sorted(o.name for o in timeouts) == hanging and all(o.timed_out for o in timeouts)
    assert all(len(lags[name]) == 1 for name in hanging), "a hanging run is never overlapped"
    runner.close()


def test_watched_checks_run_at_the_watch_interval_until_it_ends_then_back_on_their_slots() -> None:
    clock = ManualClock()
    runner = Runner(clock)
    scheduler = Scheduler(clock, runner, make_tcp)
    closed = free_port()
    scheduler.set_checks([tcp_spec(n, closed, interval=60, retries=1) for n in ("web", "db")])
    clock.advance(1.0)
    for outcome in wait_outcomes(runner, len(scheduler.run_due())):
        scheduler.on_outcome(outcome)
    watch_start = clock.monotonic()
    scheduler.watch_closely(["web", "gone"], 2.0, watch_start + 10.0)
    scheduler.watch_closely(["db"], 90.0, watch_start + 10.0)  # not closer than its own 60s: ignored
    starts: dict[str, list[float]] = {"web": [], "db": []}
    for _ in range(40):
        clock.advance(0.5)
        started = [e for e in scheduler.run_due() if isinstance(e, Started)]
        for event in started:
            starts[event.name].append(clock.monotonic() - watch_start)
        for outcome in wait_outcomes(runner, len(started)) if started else []:
            scheduler.on_outcome(outcome)
    assert starts["web"] == [2.0, 4.0, 6.0, 8.0, 10.0], "every 2s for the 10s watch, then its 60s slot"
    assert starts["db"] == [], "an unwatched check keeps its 60s slot"
    runner.close()
