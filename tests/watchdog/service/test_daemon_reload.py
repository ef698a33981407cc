"""SIGHUP through the real daemon: hostile files never stop it, the reload metrics say what
happened, and `log_level`, `heartbeat`, `state_dir` and `listen` are applied or named."""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

import pytest

from tests.servers.nginx import NginxServer
from tests.servers.recording_http import RecordingHTTPServer
from tests.servers.watchdog_daemon import WatchdogDaemon
from tests.waiting import wait_until
from tests.watchdog.hostile_yaml import HOSTILE_FILES

RELOAD_OK = "shop_watchdog_config_last_reload_successful"
RELOAD_OK_AT = "shop_watchdog_config_last_reload_success_timestamp_seconds"
FAILED_RELOADS = 'shop_watchdog_config_reloads_total{result="failed"}'


def tcp_check(name: str, port: int, **extra: Any) -> dict[str, Any]:
    return {
        "name": name,
        "type": "tcp",
        "host": "127.0.0.1",
        "port": port,
        "interval": "300ms",
        "timeout": "300ms",
    } | extra


def reload_and_wait(daemon: WatchdogDaemon, metric: str, before: float, timeout: float = 30.0) -> None:
    daemon.reload()
    daemon.wait_until(lambda: daemon.metric(metric) > before, f"{metric} to grow", timeout)


def test_sighup_with_hostile_files_never_stops_the_daemon(tmp_path: Path, nginx: NginxServer) -> None:
    with WatchdogDaemon(tmp_path / "d", {"checks": [tcp_check("web", nginx.port)]}) as daemon:
        daemon.wait_for("web", lambda c: c["status"] == "OK")
        assert daemon.metric(RELOAD_OK) == 1
        started_ok_at = daemon.metric(RELOAD_OK_AT)
        assert abs(started_ok_at - time.time()) < 60
        for what, content in HOSTILE_FILES.items():
            daemon.config_path.write_bytes(content)
            failures = daemon.metric(FAILED_RELOADS)
            reload_and_wait(daemon, FAILED_RELOADS, failures)
            assert daemon.running, f"{what}: the daemon died"
            assert daemon.metric(RELOAD_OK) == 0, what
            assert daemon.get("/healthz")[0] == 200, what
            ran = daemon.check("web")["last_run"]
            daemon.wait_for("web", lambda c, ran=ran: c["last_run"] != ran and c["status"] == "OK")
        log = daemon.log()
        failed = [line for line in log.splitlines() if "event=config_reload_failed" in line]
        assert len(failed) == len(HOSTILE_FILES)
        assert all("level=error" in line and 'kept="old config"' in line for line in failed)
        assert "Traceback" not in log
        assert max(len(line) for line in log.splitlines()) < 20_000, "a hostile file never becomes a huge log line"
        assert daemon.metric(RELOAD_OK_AT) == started_ok_at, "no success since the start"

        daemon.write_config({"checks": [tcp_check("web", nginx.port), tcp_check("web2", nginx.port)]})
        reload_and_wait(daemon, RELOAD_OK, 0)
        daemon.wait_for("web2", lambda c: c["status"] == "OK")
        assert daemon.metric(RELOAD_OK_AT) > started_ok_at


def test_a_config_that_takes_long_to_read_never_stalls_the_loop(tmp_path: Path, nginx: NginxServer) -> None:
    """The file is read off the main loop: with the config on a FIFO nobody writes yet (like a
    file on a hung network mount), checks keep running and /healthz answers; once it can be
    read, it is applied."""
    with WatchdogDaemon(tmp_path / "d", {"checks": [tcp_check("web", nginx.port)]}) as daemon:
        daemon.wait_for("web", lambda c: c["status"] == "OK")
        before = daemon.metric(RELOAD_OK_AT)
        daemon.config_path.unlink()
        os.mkfifo(daemon.config_path)
        daemon.reload()
        runs = 'shop_watchdog_check_runs_total{check="web",status="ok"}'
        before_runs = daemon.metric(runs)
        deadline = time.monotonic() + 2.0
        while time.monotonic() < deadline:
            assert daemon.get("/healthz")[0] == 200
            time.sleep(0.1)
        assert daemon.metric(runs) >= before_runs + 3, "the check kept running (every 300ms) while the config waited"
        assert daemon.metric(RELOAD_OK_AT) == before, "nothing applied yet"
        config = f"listen: 127.0.0.1:{daemon.port}\nstate_dir: {daemon.directory / 'state'}\nchecks: []\n"
        with open(daemon.config_path, "w") as fifo:
            fifo.write(config)
        daemon.wait_until(lambda: daemon.metric(RELOAD_OK_AT) > before, "the reload to apply")
        daemon.wait_until(lambda: daemon.status()["checks"] == [], "the new config (no checks)")


def test_reload_applies_log_level_at_once(tmp_path: Path, nginx: NginxServer) -> None:
    config: dict[str, Any] = {"log_level": "info", "checks": [tcp_check("web", nginx.port)]}
    with WatchdogDaemon(tmp_path / "d", config) as daemon:
        daemon.get("/healthz")
        assert "event=api_request" not in daemon.log(), "debug lines are off at info"
        daemon.write_config(config | {"log_level": "debug"})
        reload_and_wait(daemon, RELOAD_OK_AT, daemon.metric(RELOAD_OK_AT))
        daemon.get("/healthz")
        daemon.wait_until(lambda: "level=debug" in daemon.log() and "event=api_request" in daemon.log(), "debug lines")
        assert "log_level=debug" in daemon.log()
        daemon.write_config(config | {"log_level": "error", "checks": [tcp_check("web", 1, retries=1)]})
        reload_and_wait(daemon, RELOAD_OK_AT, daemon.metric(RELOAD_OK_AT))
        mark = len(daemon.log())
        daemon.wait_for("web", lambda c: c["status"] == "CRITICAL")
        time.sleep(0.5)
        assert "level=warning" not in daemon.log()[mark:], "at level error, warnings are not logged"


def test_reload_switches_the_heartbeat_on_to_another_receiver_and_off(tmp_path: Path, nginx: NginxServer) -> None:
    with RecordingHTTPServer() as first, RecordingHTTPServer() as second:
        one, two = first.answer("/ping/one"), second.answer("/ping/two")
        config: dict[str, Any] = {"checks": [tcp_check("web", nginx.port)]}
        with WatchdogDaemon(tmp_path / "d", config) as daemon:
            daemon.write_config(config | {"heartbeat": {"url": one, "interval": "1s"}})
            reload_and_wait(daemon, RELOAD_OK_AT, daemon.metric(RELOAD_OK_AT))
            wait_until(lambda: len(first.requests) >= 2, 10, "pings to the first receiver")
            daemon.write_config(config | {"heartbeat": {"url": two, "interval": "1s"}})
            reload_and_wait(daemon, RELOAD_OK_AT, daemon.metric(RELOAD_OK_AT))
            wait_until(lambda: len(second.requests) >= 2, 10, "pings to the second receiver")
            pinged_first = len(first.requests)
            daemon.write_config(config)
            reload_and_wait(daemon, RELOAD_OK_AT, daemon.metric(RELOAD_OK_AT))
            pinged_second = len(second.requests)
            time.sleep(2.5)
            assert len(first.requests) == pinged_first, "the old receiver is no longer pinged"
            assert len(second.requests) <= pinged_second + 1, "heartbeat off: no more pings"
            assert "heartbeat=off" in daemon.log()


def test_reload_names_each_key_that_needs_a_restart_and_keeps_it(tmp_path: Path, nginx: NginxServer) -> None:
    with WatchdogDaemon(tmp_path / "d", {"checks": [tcp_check("web", nginx.port)]}) as daemon:
        old_state = daemon.directory / "state"
        new_state = tmp_path / "elsewhere"
        moved = {"state_dir": str(new_state), "listen": "127.0.0.1:1"}
        daemon.write_config(moved | {"checks": [tcp_check("web2", nginx.port)]})
        reload_and_wait(daemon, RELOAD_OK_AT, daemon.metric(RELOAD_OK_AT))
        daemon.wait_for("web2", lambda c: c["status"] == "OK")  # the rest of the config applies
        lines = [line for line in daemon.log().splitlines() if "event=config_key_needs_restart" in line]
        assert len(lines) == 2
        listen, state_dir = sorted(lines, key=lambda line: "key=state_dir" in line)
        assert "level=warning" in listen and "key=listen wanted=127.0.0.1:1" in listen
        assert f"key=state_dir wanted={new_state} kept={old_state}" in state_dir
        assert not new_state.exists() and (old_state / "state.db").exists()
        assert daemon.status()["host"], "the API still answers on the old port"


@pytest.mark.parametrize("when", ["start", "reload"])
def test_timeout_longer_than_interval_is_a_logged_warning(tmp_path: Path, nginx: NginxServer, when: str) -> None:
    slow = tcp_check("web", nginx.port, interval="1s", timeout="3s")
    start = {"checks": [slow if when == "start" else tcp_check("web", nginx.port)]}
    with WatchdogDaemon(tmp_path / "d", start) as daemon:
        if when == "reload":
            daemon.write_config({"checks": [slow]})
            reload_and_wait(daemon, RELOAD_OK_AT, daemon.metric(RELOAD_OK_AT))
        daemon.wait_until(lambda: "key=checks[0].timeout" in daemon.log(), "the warning")
        line = next(line for line in daemon.log().splitlines() if "key=checks[0].timeout" in line)
        assert "level=warning" in line and "event=config_warning" in line
        assert "timeout 3s is longer than interval 1s" in line


def test_empty_config_starts_with_warnings_for_no_checks_and_no_channel(tmp_path: Path) -> None:
    with WatchdogDaemon(tmp_path / "d", {}) as daemon:
        daemon.wait_until(lambda: "key=notify.channels" in daemon.log(), "the warnings")
        warnings = [line for line in daemon.log().splitlines() if "event=config_warning" in line]
        assert len(warnings) == 2 and all("level=warning" in line for line in warnings)
        assert "key=checks" in warnings[0] and "watches nothing" in warnings[0]
        assert "key=notify.channels" in warnings[1] and "told to nobody" in warnings[1]
        assert daemon.status()["checks"] == []
