"""Restarts as real subprocesses: argv from the config, output, timeouts, never a shell."""

from __future__ import annotations

import sys
import threading
import time
from pathlib import Path

import pytest
import requests

from tests.servers.nginx import NginxServer
from tests.servers.processes import is_dead
from watchdog.common.logs import SCRUBBER
from watchdog.config.model import CheckSpec, Remediate, RemediationConfig
from watchdog.incidents.remediation import Restarter, RestartOutcome, restart_argv, run_restart


def _spec(remediate: Remediate | None) -> CheckSpec:
    return CheckSpec("web", "http", 1.0, 1.0, 1, 1.0, "critical", remediate, (), None, None)


def _wait(restarter: Restarter, timeout: float = 10.0) -> list[RestartOutcome]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        done = restarter.poll()
        if done:
            return done
        time.sleep(0.01)
    return []


def test_systemd_backend_restarts_the_named_unit() -> None:
    argv = restart_argv(_spec(Remediate(restart="nginx.service")), RemediationConfig(systemctl="/bin/systemctl"))
    assert argv == ("/bin/systemctl", "restart", "--", "nginx.service")


def test_command_backend_runs_the_checks_argv() -> None:
    spec = _spec(Remediate(command=("/usr/sbin/service", "nginx", "restart")))
    assert restart_argv(spec, RemediationConfig(backend="command")) == ("/usr/sbin/service", "nginx", "restart")
    assert restart_argv(_spec(None), RemediationConfig()) is None


def test_failed_command_reports_exit_code_and_output() -> None:
    result, rc, output, _ = run_restart(["sh", "-c", "echo 'unit failed to start'; exit 3"], 5)
    assert (result, rc, output) == ("failed", 3, "unit failed to start")


def test_missing_program_is_an_error_not_a_crash() -> None:
    result, rc, output, _ = run_restart(["/nonexistent/systemctl", "restart", "x.service"], 5)
    assert result == "error" and rc is None and "nonexistent" in output


def test_hanging_restart_is_killed_at_the_timeout_with_its_children(tmp_path: Path) -> None:
    pidfile = tmp_path / "child.pid"
    started = time.monotonic()
    result, rc, _, duration = run_restart(["sh", "-c", f"sleep 60 & echo $! > {pidfile}; wait"], 0.5)
    assert result == "timeout" and rc is None
    assert time.monotonic() - started < 5 and duration >= 0.5
    child = int(pidfile.read_text())
    deadline = time.monotonic() + 3
    while not is_dead(child) and time.monotonic() < deadline:
        time.sleep(0.01)
    assert is_dead(child)


def test_daemon_left_behind_holding_stdout_does_not_make_the_restart_hang() -> None:
    started = time.monotonic()
    result, _, output, _ = run_restart(["sh", "-c", "echo started; (sleep 3 &) ; exit 0"], 10)
    assert result == "ok" and output == "started"
    assert time.monotonic() - started < 2


def test_output_is_trimmed_and_secrets_scrubbed() -> None:
    SCRUBBER.add("hunter2-secret-value")
    _, _, output, _ = run_restart(
        [sys.executable, "-c", "print('x' * 5000); print('password=hunter2-secret-value')"], 10
    )
    assert "hunter2-secret-value" not in output and "password=***" in output
    assert len(output) <= 2001


def test_restarter_refuses_argv_not_in_the_config() -> None:
    restarter = Restarter(RemediationConfig(), [("systemctl", "restart", "nginx.service")])
    with pytest.raises(PermissionError):
        restarter.start("web", "inc-1", ("systemctl", "restart", "sshd.service"))


def test_hanging_restart_does_not_block_another_check() -> None:
    hang, quick = ("sleep", "30"), ("true",)
    restarter = Restarter(RemediationConfig(restart_timeout=2), [hang, quick])
    started = time.monotonic()
    restarter.start("slow", "inc-1", hang)
    restarter.start("fast", "inc-2", quick)
    assert time.monotonic() - started < 0.5
    [first] = _wait(restarter)
    assert first.check == "fast" and first.ok
    assert restarter.running("slow")
    [second] = _wait(restarter)
    assert second.check == "slow" and second.result == "timeout"


def test_finished_restart_wakes_the_loop_with_its_outcome_ready() -> None:
    woken = threading.Event()
    restarter = Restarter(RemediationConfig(restart_timeout=5), [("sleep", "0.2")], wake=woken.set)
    restarter.start("web", "inc-1", ("sleep", "0.2"))
    assert not woken.is_set()
    assert woken.wait(5)
    [outcome] = restarter.poll()
    assert outcome.check == "web" and outcome.ok


def test_restart_brings_a_killed_nginx_back(tmp_path: Path) -> None:
    nginx = NginxServer(tmp_path)
    argv = tuple(nginx.ctl_argv(sys.executable, "restart"))
    restarter = Restarter(RemediationConfig(backend="command"), [argv])
    try:
        nginx.start()
        nginx.kill()
        with pytest.raises(requests.ConnectionError):
            requests.get(nginx.healthz_url, timeout=1)
        restarter.start("web", "inc-1", argv)
        [outcome] = _wait(restarter, 15)
        assert outcome.ok, outcome.output
        assert requests.get(nginx.healthz_url, timeout=2).text == "ok"
    finally:
        nginx.stop()


def test_restart_of_nginx_with_a_broken_config_fails_with_its_error(tmp_path: Path) -> None:
    nginx = NginxServer(tmp_path)
    nginx.broken_config()
    argv = tuple(nginx.ctl_argv(sys.executable, "restart"))
    restarter = Restarter(RemediationConfig(backend="command"), [argv])
    try:
        restarter.start("web", "inc-1", argv)
        [outcome] = _wait(restarter, 15)
        assert outcome.result == "failed" and outcome.returncode == 1
        assert "this_directive_breaks_the_config" in outcome.output
    finally:
        nginx.stop()
