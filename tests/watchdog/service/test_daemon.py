"""The daemon end to end: the real `shop-watchdog run` against real servers (signals, reload,
confirmation), and the loop in-process where a stall or a broken sink must be provoked."""

from __future__ import annotations

import contextlib
import socket
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from checks.registry import CHECKS
from tests.servers.nginx import NginxServer
from tests.servers.ports import free_port
from tests.servers.recording_http import RecordingHTTPServer
from tests.servers.redis import RedisServer
from tests.servers.watchdog_daemon import WatchdogDaemon
from tests.waiting import wait_until
from tests.watchdog.service.doubles import NullSink, null_sink_factory, sink_factory_for
from watchdog.common.clock import SystemClock
from watchdog.config.loader import parse_config
from watchdog.config.model import CheckSpec, WatchdogConfig
from watchdog.delivery.channels.registry import CHANNELS
from watchdog.monitor.checkstate import CheckState
from watchdog.service.daemon import Daemon
from watchdog.service.http_server import HttpServer
from watchdog.service.sdnotify import SystemdNotifier


def tcp_check(name: str, port: int, **extra: Any) -> dict[str, Any]:
    return {"name": name, "type": "tcp", "host": "127.0.0.1", "port": port} | extra


@pytest.fixture
def daemons(tmp_path: Path) -> Iterator[Callable[..., WatchdogDaemon]]:
    started: list[WatchdogDaemon] = []

    def start(config: dict[str, Any], env: dict[str, str] | None = None) -> WatchdogDaemon:
        daemon = WatchdogDaemon(tmp_path / f"daemon{len(started)}", config, env)
        started.append(daemon)
        return daemon.start()

    yield start
    for daemon in started:
        daemon.stop()


# -- the real daemon -----------------------------------------------------------------------------


def test_sigterm_stops_the_daemon_with_exit_0(daemons: Callable[..., WatchdogDaemon], nginx: NginxServer) -> None:
    daemon = daemons({"checks": [tcp_check("web", nginx.port, interval="1s")]})
    daemon.wait_for("web", lambda c: c["status"] == "OK")
    assert daemon.terminate() == 0
    log = daemon.log()
    assert "event=daemon_stopping" in log and "event=daemon_stopped" in log
    assert "Traceback" not in log


def test_first_round_reports_every_check_within_about_a_second(
    daemons: Callable[..., WatchdogDaemon], nginx: NginxServer
) -> None:
    checks = [tcp_check(f"web{i}", nginx.port, interval="5m") for i in range(30)]
    started = time.monotonic()
    daemon = daemons({"checks": checks})
    deadline = started + 10
    while any(c["pending"] for c in daemon.status()["checks"]):
        assert time.monotonic() < deadline
        time.sleep(0.05)
    first_round = time.monotonic() - started
    assert all(c["status"] == "OK" for c in daemon.status()["checks"])
    startup = daemon.log()
    assert "event=daemon_started" in startup
    assert first_round < 5.0, f"first round took {first_round:.1f}s including interpreter start"


def test_failure_is_soft_then_hard_after_retries_with_a_stopped_server(
    daemons: Callable[..., WatchdogDaemon], redis_server: RedisServer
) -> None:
    daemon = daemons(
        {
            "checks": [
                {
                    "name": "cache",
                    "type": "redis",
                    "host": "127.0.0.1",
                    "port": redis_server.port,
                    "interval": "1s",
                    "retries": 3,
                    "retry_interval": "700ms",
                }
            ]
        }
    )
    daemon.wait_for("cache", lambda c: c["status"] == "OK" and c["hard"])
    redis_server.kill()
    seen: list[tuple[str, bool, int]] = []
    deadline = time.monotonic() + 15
    while not (seen and seen[-1][1] and seen[-1][0] == "CRITICAL"):
        assert time.monotonic() < deadline, seen
        c = daemon.check("cache")
        state = (c["status"], c["hard"], c["failures"])
        if not seen or seen[-1] != state:
            seen.append(state)
        time.sleep(0.05)
    failing = [s for s in seen if s[0] == "CRITICAL"]
    assert failing == [("CRITICAL", False, 1), ("CRITICAL", False, 2), ("CRITICAL", True, 3)]
    redis_server.start()
    ok = daemon.wait_for("cache", lambda c: c["status"] == "OK")
    assert ok["hard"] and ok["failures"] == 0


def test_watched_process_that_exits_is_checked_again_at_once_not_at_the_interval(
    daemons: Callable[..., WatchdogDaemon], tmp_path: Path
) -> None:
    service = subprocess.Popen(["sleep", "300"])
    try:
        pidfile = tmp_path / "service.pid"
        pidfile.write_text(f"{service.pid}\n")
        daemon = daemons({"checks": [{"name": "svc", "type": "process", "pidfile": str(pidfile),
                                      "interval": "5m", "retries": 2, "retry_interval": "1s"}]})  # fmt: skip
        daemon.wait_for("svc", lambda c: c["status"] == "OK")
        service.kill()
        state = daemon.wait_for("svc", lambda c: c["status"] == "CRITICAL" and c["hard"], timeout=10)
        assert "zombie" in state["message"] or "gone" in state["message"]
        assert f"event=watched_process_exited check=svc pid={service.pid}" in daemon.log()
    finally:
        service.kill()
        service.wait()


def test_without_a_system_bus_systemd_checks_fall_back_to_polling_said_once(
    daemons: Callable[..., WatchdogDaemon], tmp_path: Path
) -> None:
    state = tmp_path / "unit-state"
    state.write_text("active\n")
    systemctl = tmp_path / "systemctl"
    systemctl.write_text(f"#!/bin/sh\ncat {state}\n")
    systemctl.chmod(0o755)
    checks = [
        {"name": f"unit{i}", "type": "systemd", "unit": f"app{i}.service", "systemctl": str(systemctl),
         "interval": "1s", "retries": 1}
        for i in range(2)
    ]  # fmt: skip
    daemon = daemons({"checks": checks}, env={"DBUS_SYSTEM_BUS_ADDRESS": f"unix:path={tmp_path}/no-bus"})
    daemon.wait_for("unit1", lambda c: c["status"] == "OK")
    state.write_text("failed\n")
    daemon.wait_for("unit0", lambda c: c["status"] == "CRITICAL", timeout=10)
    assert daemon.log().count("event=unit_watch_unavailable") == 1


def test_sighup_reload_adds_removes_and_keeps_state_of_unchanged_checks(
    daemons: Callable[..., WatchdogDaemon], nginx: NginxServer
) -> None:
    daemon = daemons({"checks": [tcp_check("keep", nginx.port, interval="500ms"), tcp_check("drop", nginx.port)]})
    before = daemon.wait_for("keep", lambda c: c["status"] == "OK")
    daemon.write_config({"checks": [tcp_check("keep", nginx.port, interval="500ms"), tcp_check("add", nginx.port)]})
    daemon.reload()
    daemon.wait_for("add", lambda c: c["status"] == "OK")
    names = [c["name"] for c in daemon.status()["checks"]]
    assert names == ["keep", "add"]
    after = daemon.check("keep")
    assert after["since"] == before["since"], "an unchanged check keeps its state"
    assert "event=config_reloaded" in daemon.log() and "added=add removed=drop" in daemon.log()


def test_sighup_with_invalid_config_logs_every_problem_and_keeps_running(
    daemons: Callable[..., WatchdogDaemon], nginx: NginxServer
) -> None:
    daemon = daemons({"checks": [tcp_check("web", nginx.port, interval="300ms")]})
    daemon.wait_for("web", lambda c: c["status"] == "OK")
    daemon.write_text("checks:\n  - {name: web, type: tcp, host: 127.0.0.1, port: 1, interval: often, colour: red}\n")
    daemon.reload()
    deadline = time.monotonic() + 10
    while "event=config_reload_failed" not in daemon.log():
        assert time.monotonic() < deadline, daemon.log()
        time.sleep(0.05)
    line = next(x for x in daemon.log().splitlines() if "event=config_reload_failed" in x)
    assert "checks[0].interval: expected a duration" in line and "checks[0].colour: unknown key" in line
    assert "level=error" in line
    first = daemon.check("web")["last_run"]
    later = daemon.wait_for("web", lambda c: c["last_run"] != first and c["status"] == "OK")
    assert later["message"].startswith(f"127.0.0.1:{nginx.port}"), "the old config keeps running"
    assert daemon.running


def test_run_with_bad_config_exits_2_and_every_problem(tmp_path: Path) -> None:
    daemon = WatchdogDaemon(tmp_path, {"checks": [{"name": "x", "type": "tcp"}], "listen": "nowhere"})
    daemon.proc = daemon._spawn(daemon.argv())
    assert daemon.proc.wait(timeout=30) == 2
    log = daemon.log()
    assert f"{daemon.config_path}: listen: expected HOST:PORT" in log
    assert f"{daemon.config_path}: checks[0].host: required key is missing" in log


def test_run_on_a_busy_port_says_so_and_exits_1(tmp_path: Path) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        daemon = WatchdogDaemon(tmp_path, {"listen": f"127.0.0.1:{busy.getsockname()[1]}"})
        daemon.proc = daemon._spawn(daemon.argv())
        assert daemon.proc.wait(timeout=30) == 1
    assert "cannot listen on 127.0.0.1:" in daemon.log() and "Address already in use" in daemon.log()


# -- the loop in-process -------------------------------------------------------------------------


def config_for(checks: list[dict[str, Any]], tmp_path: Path) -> WatchdogConfig:
    return parse_config(
        {"listen": "127.0.0.1:0", "state_dir": str(tmp_path), "checks": checks},
        "test.yaml",
        checks=CHECKS,
        channels=CHANNELS,
    )


class StallingSink(NullSink):
    """The incident engine's place in the loop, made to hang on demand (a deadlock in it)."""

    def __init__(self, config: WatchdogConfig) -> None:
        super().__init__(config, SystemClock())
        self.stall = threading.Event()
        self.release = threading.Event()
        self.results: list[CheckState] = []

    def on_result(self, spec: CheckSpec, state: CheckState) -> None:
        self.results.append(state)

    def tick(self) -> None:
        if self.stall.is_set():
            self.release.wait(30)


def start_in_thread(daemon: Daemon) -> threading.Thread:
    thread = threading.Thread(target=daemon.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 5
    while daemon.api._server is None or daemon._status_text == "":
        assert time.monotonic() < deadline
        time.sleep(0.01)
    return thread


def get(daemon: Daemon, path: str) -> tuple[int, str]:
    import urllib.error
    import urllib.request

    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{daemon.api.port}{path}", timeout=5) as r:
            return r.status, r.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()


def test_healthz_turns_503_while_the_loop_stalls_and_recovers(tmp_path: Path, nginx: NginxServer) -> None:
    config = config_for([tcp_check("web", nginx.port, interval="200ms")], tmp_path)
    sink = StallingSink(config)
    daemon = Daemon(
        config,
        clock=SystemClock(),
        load=lambda: config,
        sink_factory=sink_factory_for(sink),
        notifier=SystemdNotifier(None),
        stall_after=0.5,
    )
    thread = start_in_thread(daemon)
    assert get(daemon, "/healthz") == (200, "ok\n")
    sink.stall.set()

    def unhealthy() -> tuple[int, str] | None:
        answer = get(daemon, "/healthz")
        return answer if answer[0] != 200 else None

    code, text = wait_until(unhealthy, 5, "/healthz to see the stalled loop")
    assert code == 503 and text.startswith("main loop stalled for")
    assert get(daemon, "/metrics")[0] == 200, "the API itself still answers"
    sink.stall.clear()
    sink.release.set()
    deadline = time.monotonic() + 3
    while get(daemon, "/healthz")[0] != 200:
        assert time.monotonic() < deadline
        time.sleep(0.05)
    daemon.request_stop()
    thread.join(5)
    assert not thread.is_alive()


class RaisingSink(StallingSink):
    def on_result(self, spec: CheckSpec, state: CheckState) -> None:
        super().on_result(spec, state)
        raise RuntimeError("engine bug")


def test_a_failing_sink_never_ends_the_loop(
    tmp_path: Path, nginx: NginxServer, caplog: pytest.LogCaptureFixture
) -> None:
    config = config_for([tcp_check("web", nginx.port, interval="100ms")], tmp_path)
    sink = RaisingSink(config)
    daemon = Daemon(
        config,
        clock=SystemClock(),
        load=lambda: config,
        sink_factory=sink_factory_for(sink),
        notifier=SystemdNotifier(None),
    )
    thread = start_in_thread(daemon)
    deadline = time.monotonic() + 5
    while len(sink.results) < 5:
        assert time.monotonic() < deadline
        time.sleep(0.02)
    daemon.request_stop()
    thread.join(5)
    assert "event=sink_error call=on_result error=RuntimeError" in caplog.text


def test_systemd_notifications_ready_watchdog_status_reload_stopping(tmp_path: Path, nginx: NginxServer) -> None:
    path = str(tmp_path / "notify.sock")
    received: list[str] = []
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
        sock.bind(path)
        sock.settimeout(0.05)
        closed = free_port()
        config = config_for(
            [tcp_check("web", nginx.port, interval="200ms"), tcp_check("db", closed, retries=1)], tmp_path
        )
        daemon = Daemon(
            config,
            clock=SystemClock(),
            load=lambda: config,
            sink_factory=null_sink_factory,
            notifier=SystemdNotifier(path),
        )
        thread = threading.Thread(target=daemon.run, daemon=True)
        thread.start()

        def receive_until(predicate: Callable[[list[str]], bool]) -> None:
            deadline = time.monotonic() + 5
            while not predicate(received):
                assert time.monotonic() < deadline, received
                with contextlib.suppress(TimeoutError):
                    received.append(sock.recv(4096).decode())

        receive_until(lambda r: any(m.startswith("READY=1") for m in r))
        ready = next(m for m in received if m.startswith("READY=1"))
        assert ready == "READY=1\nSTATUS=2 checks, 0 failing, 0 incidents open"
        receive_until(lambda r: "STATUS=2 checks, 1 failing, 0 incidents open" in r)
        receive_until(lambda r: r.count("WATCHDOG=1") >= 3)
        daemon.request_reload()
        receive_until(lambda r: any(m.startswith("RELOADING=1\nMONOTONIC_USEC=") for m in r))
        reloading_at = next(i for i, m in enumerate(received) if m.startswith("RELOADING=1"))
        receive_until(lambda r: any(m.startswith("READY=1") for m in r[reloading_at:]))
        daemon.request_stop()
        receive_until(lambda r: "STOPPING=1" in r)
        thread.join(5)
    assert not thread.is_alive()
    assert received[-1] == "STOPPING=1"


def test_heartbeat_pings_the_receiver_while_healthy(daemons: Callable[..., WatchdogDaemon], nginx: NginxServer) -> None:
    with RecordingHTTPServer() as receiver:
        url = receiver.answer("/ping/secret-uuid-1", b"OK")
        daemon = daemons({"heartbeat": {"url": url, "interval": "1s"}, "checks": [tcp_check("web", nginx.port)]})
        deadline = time.monotonic() + 10
        while len(receiver.requests) < 2:
            assert time.monotonic() < deadline, daemon.log()
            time.sleep(0.05)
        assert {r.path for r in receiver.requests} == {"/ping/secret-uuid-1"}
        assert "secret-uuid-1" not in daemon.log()


class _BrokenLoop(HttpServer):
    """The API transport whose loop breaks on its first connection (a bug in the loop itself,
    which no request can provoke: a request's faults are that connection's alone)."""

    def _accept(self) -> None:
        raise RuntimeError("loop bug")


def test_a_broken_api_loop_ends_the_daemon_with_exit_1_for_systemd_to_restart(
    tmp_path: Path, nginx: NginxServer, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setattr("watchdog.service.api.HttpServer", _BrokenLoop)
    config = config_for([tcp_check("web", nginx.port, interval="200ms")], tmp_path)
    sink = StallingSink(config)
    daemon = Daemon(
        config, clock=SystemClock(), load=lambda: config, sink_factory=sink_factory_for(sink),
        notifier=SystemdNotifier(None),
    )  # fmt: skip
    codes: list[int] = []
    thread = threading.Thread(target=lambda: codes.append(daemon.run()), daemon=True)
    thread.start()
    wait_until(lambda: sink.results, 5, "a first check result")
    with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", daemon.api.port), timeout=2) as sock:
        sock.recv(1)
    thread.join(10)
    assert not thread.is_alive() and codes == [1]
    assert "event=api_loop_failed" in caplog.text and "reason=api_failed" in caplog.text
