"""`command` plugins through the real daemon: a plugin killed at its timeout is a timeout in
the metrics and the log, a plugin flooding its output does not grow the daemon, and on
SIGTERM/SIGINT nothing the daemon started (plugins, restart commands) is left running."""

from __future__ import annotations

import contextlib
import signal
import time
from pathlib import Path

import psutil
import pytest

from tests.servers.ports import free_port
from tests.servers.processes import wait_dead
from tests.servers.watchdog_daemon import WatchdogDaemon
from tests.waiting import wait_until

MEMORY_MAX = 512 * 1024 * 1024
"""systemd/shop-watchdog.service: MemoryMax=512M."""


def test_plugin_killed_at_its_timeout_counts_as_a_timeout_in_metrics_and_log(tmp_path: Path) -> None:
    plugin = {"name": "slow", "type": "command", "argv": ["sleep", "30"], "interval": "2s", "timeout": "1s"}
    with WatchdogDaemon(tmp_path / "d", {"checks": [plugin]}) as daemon:
        daemon.wait_until(lambda: daemon.metric('shop_watchdog_check_timeouts_total{check="slow"}') >= 1, "a timeout")
        state = daemon.check("slow")
        assert state["status"] == "CRITICAL" and state["message"] == "timeout after 1s: sleep killed"
        assert "event=check_timeout check=slow timeout=1s" in daemon.log()


def test_plugin_flooding_its_output_until_the_timeout_does_not_grow_the_daemon(tmp_path: Path) -> None:
    flood = {"name": "flood", "type": "command", "argv": ["yes", "flood"], "interval": "2s", "timeout": "1500ms"}
    with WatchdogDaemon(tmp_path / "d", {"checks": []}) as daemon:
        process = psutil.Process(daemon.pid)
        baseline = process.memory_info().rss
        daemon.write_config({"checks": [flood]})
        daemon.reload()
        peak = baseline
        deadline = time.monotonic() + 30
        while daemon.metric('shop_watchdog_check_timeouts_total{check="flood"}') < 2:
            assert time.monotonic() < deadline, daemon.log()
            for _ in range(10):
                peak = max(peak, process.memory_info().rss)
                time.sleep(0.02)
        growth = peak - baseline
        assert growth < 32 * 1024 * 1024, f"the daemon grew by {growth / 2**20:.0f} MiB while a plugin flooded"
        assert peak < MEMORY_MAX / 4


def sleeps_started_by(daemon: WatchdogDaemon) -> dict[str, int]:
    """pid of each `sleep N` the daemon started, keyed by N."""
    found: dict[str, int] = {}
    for child in psutil.Process(daemon.pid).children(recursive=True):
        with contextlib.suppress(psutil.NoSuchProcess):
            cmdline = child.cmdline()
            if cmdline[:1] == ["sleep"]:
                found[cmdline[1]] = child.pid
    return found


@pytest.mark.parametrize("stop", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "Ctrl-C"])
def test_stopping_the_daemon_ends_running_plugins_and_restart_commands(tmp_path: Path, stop: signal.Signals) -> None:
    config = {
        "remediation": {"backend": "command", "restart_timeout": "10m"},
        "checks": [
            {"name": "hangs", "type": "command", "argv": ["sleep", "300"], "interval": "1h", "timeout": "30m"},
            {
                "name": "down",
                "type": "tcp",
                "host": "127.0.0.1",
                "port": free_port(),
                "retries": 1,
                "remediate": {"command": ["sleep", "301"]},
            },
        ],
    }
    with WatchdogDaemon(tmp_path / "d", config) as daemon:
        pids: dict[str, int] = {}
        try:

            def both_running() -> dict[str, int] | None:
                found = sleeps_started_by(daemon)
                return found if found.keys() >= {"300", "301"} else None

            pids = wait_until(both_running, 15, "the plugin and the restart command to run")
            assert daemon.proc is not None
            daemon.proc.send_signal(stop)
            assert daemon.proc.wait(timeout=15) == 0
            for what, pid in pids.items():
                assert wait_dead(pid, 5.0), f"sleep {what} outlived the daemon"
            assert "event=children_ended processes=2" in daemon.log()
        finally:
            for pid in pids.values():
                with contextlib.suppress(psutil.NoSuchProcess):
                    psutil.Process(pid).kill()
