"""The runner: exceptions -> UNKNOWN, timeouts -> CRITICAL, no overlap, bounded pool, and a
probe stuck in a blocking call (socket without timeout on a server that never answers)
never blocks anything else — not even process exit."""

from __future__ import annotations

import logging
import socket
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from checks.base import Check, CheckResult, NoOptions, Status
from checks.tcp import TcpCheck, TcpOptions
from tests.checks.building import make_check
from tests.servers.canned_http import CannedHTTPServer
from tests.servers.hanging import HangingTCPServer
from tests.servers.hostile import EchoingRespServer, QuotingHttpServer
from tests.servers.nginx import NginxServer
from watchdog.common.clock import SystemClock
from watchdog.common.configtools import format_seconds
from watchdog.common.logs import SCRUBBER
from watchdog.monitor.runner import Runner, RunOutcome

ROOT = Path(__file__).resolve().parents[3]


class BlockingCheck(Check[NoOptions]):
    """A badly written probe: reads from a socket without any timeout (like a statvfs on a
    dead NFS mount, it ignores the timeout it is given)."""

    Config = NoOptions

    def __init__(self, port: int) -> None:
        super().__init__(NoOptions())
        self.port = port

    def run(self, timeout: float) -> CheckResult:
        sock = socket.create_connection(("127.0.0.1", self.port))
        with sock:
            sock.recv(1)
        return CheckResult(Status.OK, "the server finally answered")


class FailingCheck(Check[NoOptions]):
    """A probe with a bug that puts a secret into its exception text."""

    Config = NoOptions

    def __init__(self, secret: str) -> None:
        super().__init__(NoOptions())
        self.secret = secret

    def run(self, timeout: float) -> CheckResult:
        raise ConnectionError(f"login as monitor:{self.secret}@db failed")


def collect(runner: Runner, count: int, timeout: float = 5.0) -> list[RunOutcome]:
    got: list[RunOutcome] = []
    deadline = time.monotonic() + timeout
    while len(got) < count:
        assert time.monotonic() < deadline, f"only {len(got)} of {count} outcomes"
        got.extend(runner.poll())
        time.sleep(0.005)
    return got


def test_exception_becomes_unknown_with_its_text_and_secrets_scrubbed() -> None:
    SCRUBBER.add("s3cr3t-pw")
    runner = Runner(SystemClock())
    runner.submit("db", FailingCheck("s3cr3t-pw"), 5.0)
    (outcome,) = collect(runner, 1)
    assert outcome.result.status is Status.UNKNOWN
    assert outcome.result.message == "check failed: ConnectionError: login as monitor:***@db failed"
    assert not runner.in_flight("db")
    runner.close()


def test_probe_ignoring_its_timeout_is_reported_critical_timeout(hanging_tcp: HangingTCPServer) -> None:
    runner = Runner(SystemClock(), grace=0.05)
    started = time.monotonic()
    runner.submit("nfs", BlockingCheck(hanging_tcp.port), 0.5)
    (outcome,) = collect(runner, 1)
    assert 0.5 <= time.monotonic() - started < 1.5
    assert outcome.timed_out and outcome.result == CheckResult(Status.CRITICAL, "timeout after 500ms")
    assert runner.in_flight("nfs") and runner.hanging() == 1, "the thread is still blocked"
    assert runner.submit("nfs", BlockingCheck(hanging_tcp.port), 0.5) is None, "no second run while one hangs"
    runner.close()


def test_result_after_timeout_is_dropped_and_frees_the_check() -> None:
    runner = Runner(SystemClock(), grace=0.05)
    with HangingTCPServer() as server:
        runner.submit("late", BlockingCheck(server.port), 0.2)
        (outcome,) = collect(runner, 1)
        assert outcome.timed_out
    # closing the listener resets the pending connection: the blocked recv() returns
    deadline = time.monotonic() + 5
    while runner.in_flight("late"):
        assert time.monotonic() < deadline
        assert runner.poll() == []
        time.sleep(0.01)
    assert runner.late_results == 1 and runner.hanging() == 0
    runner.close()


def test_full_pool_reports_timeout_for_runs_that_never_started(hanging_tcp: HangingTCPServer) -> None:
    runner = Runner(SystemClock(), max_workers=2, grace=0.05)
    for name in ("a", "b", "c"):
        runner.submit(name, BlockingCheck(hanging_tcp.port), 0.3)
    outcomes = {o.name: o for o in collect(runner, 3)}
    assert outcomes["c"].result.message == "timeout after 300ms: no free worker to start the check"
    assert outcomes["a"].result.message == "timeout after 300ms"
    assert runner.threads == 2
    assert not runner.in_flight("c"), "a run that never started is not in flight"
    runner.close()


def test_runs_are_concurrent_and_real_results_pass_through(
    make_nginx: Callable[..., NginxServer], hanging_tcp: HangingTCPServer
) -> None:
    nginx = make_nginx()
    wake = threading.Event()
    runner = Runner(SystemClock(), wake=wake.set)
    for i in range(20):
        runner.submit(f"stuck{i}", BlockingCheck(hanging_tcp.port), 3.0)
    started = time.monotonic()
    runner.submit("web", TcpCheck(TcpOptions("127.0.0.1", nginx.port)), 3.0)
    assert wake.wait(2.0), "the runner wakes the main loop when a run finishes"
    (outcome,) = collect(runner, 1)
    assert outcome.name == "web" and outcome.result.status is Status.OK
    assert time.monotonic() - started < 0.5, "20 stuck probes do not delay a live one"
    assert outcome.duration < 0.5
    runner.close()


def test_stuck_worker_does_not_keep_the_process_from_exiting(hanging_tcp: HangingTCPServer) -> None:
    code = textwrap.dedent(
        f"""
        import socket, time
        from checks.base import Check, CheckResult, NoOptions, Status
        from watchdog.common.clock import SystemClock
        from watchdog.monitor.runner import Runner

        class Stuck(Check[NoOptions]):
            Config = NoOptions

            def run(self, timeout):
                socket.create_connection(("127.0.0.1", {hanging_tcp.port})).recv(1)
                return CheckResult(Status.OK, "")

        runner = Runner(SystemClock())
        runner.submit("stuck", Stuck(NoOptions()), 0.1)
        outcomes = []
        while not outcomes:
            outcomes = runner.poll()
            time.sleep(0.01)
        assert outcomes[0].timed_out
        runner.close()
        print("exiting")
        """
    )
    started = time.monotonic()
    proc = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=30)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "exiting"
    assert time.monotonic() - started < 10


def test_format_seconds_matches_config_durations() -> None:
    assert [format_seconds(s) for s in (5.0, 0.5, 2.5, 30.0)] == ["5s", "500ms", "2.5s", "30s"]


def test_a_plugin_killed_at_its_timeout_is_a_timeout_outcome_and_logged(caplog: pytest.LogCaptureFixture) -> None:
    runner = Runner(SystemClock(), grace=10.0)  # the plugin's own kill answers, not the runner's deadline
    runner.submit("queue", make_check("command", argv=["sleep", "30"]), 0.5)
    with caplog.at_level(logging.WARNING):
        (outcome,) = collect(runner, 1)
    assert outcome.timed_out and outcome.result.status is Status.CRITICAL
    assert outcome.result.message == "timeout after 0.5s: sleep killed"
    assert outcome.duration < 5
    assert "event=check_timeout check=queue timeout=500ms" in caplog.text
    runner.close()


def test_a_password_a_server_echoes_in_its_error_never_leaves_the_runner(tmp_path: Path) -> None:
    """An old Redis quotes `HELLO 3 AUTH user PASSWORD` back; a proxy quotes the basic-auth
    header: the probes put the server's words into their messages, the runner scrubs them."""
    password = tmp_path / "redis.pass"
    password.write_text("Echoed-Redis-Pw-81\n")
    basic = "b3BzOnAkdy05Mg=="  # ops:p$w-92
    SCRUBBER.add("Echoed-Redis-Pw-81", basic)
    with EchoingRespServer() as resp, QuotingHttpServer() as proxy:
        runner = Runner(SystemClock())
        redis = make_check("redis", port=resp.port, user="monitor", password_file=str(password))
        runner.submit("cache", redis, 3.0)
        runner.submit("admin", make_check("http", url=proxy.url("/", "ops:p$w-92")), 3.0)
        outcomes = {o.name: o.result for o in collect(runner, 2)}
        runner.close()
    cache, admin = outcomes["cache"], outcomes["admin"]
    assert cache.status is Status.CRITICAL and "'monitor' '***'" in cache.message
    assert admin.status is Status.CRITICAL and "refused Basic ***" in admin.message
    assert "Echoed-Redis-Pw" not in cache.message and basic not in admin.message


def test_garbage_a_server_answers_leaves_the_runner_as_one_visible_line() -> None:
    """A NUL, a terminal escape and a line break quoted from a hostile answer: a raw NUL in an
    e-mail Subject may get the page refused by the mail server, an escape rewrites a terminal."""
    with CannedHTTPServer(b"\x00\x1b[2J\x1b[31mowned\rX-Fake: 1\r\n") as hostile:
        runner = Runner(SystemClock())
        runner.submit("web", make_check("http", url=hostile.url), 3.0)
        [outcome] = collect(runner, 1)
        runner.close()
    message = outcome.result.message
    assert outcome.result.status is Status.CRITICAL and message.startswith("invalid HTTP response: ")
    assert message.isprintable() and "\\x00\\x1b[2J\\x1b[31mowned" in message
