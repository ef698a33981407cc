"""process by pid file and by pattern, against real processes: alive, gone, zombie."""

from __future__ import annotations

import os
import random
import signal
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from checks.base import Status
from tests.checks.building import config_problems, make_check
from tests.servers.nginx import NginxServer
from tests.servers.processes import wait_dead


@pytest.fixture
def sleepers() -> Iterator[list[subprocess.Popen[bytes]]]:
    """A list to start `sleep` children in; all killed and reaped at teardown."""
    procs: list[subprocess.Popen[bytes]] = []
    yield procs
    for proc in procs:
        proc.kill()
        proc.wait()


def start_sleep(procs: list[subprocess.Popen[bytes]], seconds: str) -> subprocess.Popen[bytes]:
    proc = subprocess.Popen(["sleep", seconds])
    procs.append(proc)
    return proc


def unique_seconds() -> str:
    """A sleep argument no other process on the machine has: the pattern to look for."""
    return f"{random.randint(500, 900)}.{os.getpid()}{random.randint(1000, 9999)}"


def test_nginx_by_pidfile_alive_then_killed(nginx: NginxServer) -> None:
    check = make_check("process", pidfile=str(nginx.pid_path), pattern="nginx")
    ok = check.run(timeout=2)
    assert ok.status is Status.OK, ok.message
    assert ok.message == f"pid {nginx.pid} (nginx) running"
    nginx.kill()
    dead = check.run(timeout=2)
    assert dead.status is Status.CRITICAL
    assert dead.message.startswith("not running: pid ")


def test_zombie_counts_as_dead(tmp_path: Path, sleepers: list[subprocess.Popen[bytes]]) -> None:
    proc = start_sleep(sleepers, "60")
    pidfile = tmp_path / "app.pid"
    pidfile.write_text(f"{proc.pid}\n")
    check = make_check("process", pidfile=str(pidfile))
    assert check.run(timeout=2).status is Status.OK
    os.kill(proc.pid, signal.SIGKILL)
    assert wait_dead(proc.pid, 5)  # exited, not reaped: a zombie
    result = check.run(timeout=2)
    assert result.status is Status.CRITICAL
    assert result.message == f"not running: pid {proc.pid} from {pidfile} is a zombie (exited)"
    proc.wait()
    assert "is gone" in check.run(timeout=2).message


def test_missing_or_garbage_pidfile_is_critical(tmp_path: Path) -> None:
    missing = make_check("process", pidfile=str(tmp_path / "none.pid")).run(timeout=2)
    assert missing.status is Status.CRITICAL and "missing" in missing.message
    (tmp_path / "bad.pid").write_text("hello")
    garbage = make_check("process", pidfile=str(tmp_path / "bad.pid")).run(timeout=2)
    assert garbage.status is Status.CRITICAL and "holds no pid" in garbage.message


def test_recycled_pid_of_another_program_is_critical(tmp_path: Path, sleepers: list[subprocess.Popen[bytes]]) -> None:
    proc = start_sleep(sleepers, "60")
    pidfile = tmp_path / "nginx.pid"
    pidfile.write_text(str(proc.pid))
    result = make_check("process", pidfile=str(pidfile), pattern="^nginx").run(timeout=2)
    assert result.status is Status.CRITICAL
    assert result.message == f"not running: pid {proc.pid} from {pidfile} is 'sleep', not '^nginx'"


def test_pattern_counts_live_matches_with_min_and_max(sleepers: list[subprocess.Popen[bytes]]) -> None:
    seconds = unique_seconds()
    pattern = f"sleep {seconds}$"
    assert make_check("process", pattern=pattern).run(timeout=2).status is Status.CRITICAL
    first = start_sleep(sleepers, seconds)
    start_sleep(sleepers, seconds)
    two = make_check("process", pattern=pattern, min_count=2, max_count=2).run(timeout=2)
    assert two.status is Status.OK, two.message
    assert two.measurements["processes"] == 2
    too_many = make_check("process", pattern=pattern, max_count=1).run(timeout=2)
    assert too_many.status is Status.WARNING
    assert too_many.message == f"2 processes match {pattern!r} (expected 1..1)"
    os.kill(first.pid, signal.SIGKILL)
    assert wait_dead(first.pid, 5)
    one = make_check("process", pattern=pattern, min_count=2).run(timeout=2)
    assert one.status is Status.CRITICAL, "the zombie must not count"
    assert one.measurements["processes"] == 1


def test_config_needs_pidfile_or_pattern() -> None:
    assert "give pidfile" in config_problems("process")
    assert "invalid regular expression" in config_problems("process", pattern="(")
    assert "not to a pidfile" in config_problems("process", pidfile="/run/x.pid", min_count=2)
