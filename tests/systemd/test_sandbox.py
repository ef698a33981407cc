"""The installed unit, its sandbox, sd_notify and journald logging under the real systemd.

The unit runs tests/systemd/service_probe.py (with the product's venv and package) in place
of the daemon, through a drop-in that replaces only ExecStart: everything else is the real
unit. So these show, independently of the daemon, that the sandbox lets it work and that
watchdog.service.sdnotify / watchdog.service.journal speak systemd's protocols correctly.
"""

from __future__ import annotations

import re

import pytest

from tests.systemd.service import VENV_PYTHON, Service
from tests.waiting import wait_until

pytestmark = pytest.mark.systemd

PROBE = Service.exec_start(VENV_PYTHON, "/src/tests/systemd/service_probe.py")


def _fields(message: str) -> dict[str, str]:
    return dict(re.findall(r'(\w+)=("[^"]*"|\S+)', message))


def test_ready_status_and_watchdog_timeout_reach_systemd(service: Service) -> None:
    service.dropin("probe", PROBE)

    service.start()

    assert service.prop("ActiveState") == "active"
    assert service.prop("StatusText") == "3 checks, 0 failing, 0 incidents open"
    ready = service.wait_entry("event=probe_ready")
    assert ready["MESSAGE"] == "logger=probe event=probe_ready watchdog_timeout=30.0"  # WatchdogSec=30s
    assert ready["PRIORITY"] == "4"  # logged at WARNING: the <4> prefix reached journald


def test_sandbox_lets_it_see_the_system_and_write_only_its_state(service: Service) -> None:
    service.dropin("probe", PROBE)

    service.start()

    sandbox = _fields(service.wait_log("event=probe_sandbox"))
    assert int(sandbox["pids"]) > 5 and sandbox["sees_pid1"] == "True"  # other users' processes
    assert float(sandbox["disk_percent"]) > 0
    assert sandbox["net_io"] == "True"  # AF_NETLINK
    assert sandbox["state_written"] == "True"  # StateDirectory=
    assert sandbox["etc_writable"] == "False"  # ProtectSystem=strict
    assert sandbox["psycopg"] == "binary"  # C extensions load under MemoryDenyWriteExecute=
    assert sandbox["user"] != "0"


def test_reload_is_announced_and_keeps_the_process(service: Service) -> None:
    service.dropin("probe", PROBE)
    service.start()
    pid = service.main_pid()

    service.box.systemctl("reload", "shop-watchdog.service")

    wait_until(
        lambda: service.prop("StatusText") == "3 checks, 1 failing, 0 incidents open", 10, "the reload to finish"
    )
    assert service.main_pid() == pid
    assert service.prop("ActiveState") == "active"
    service.wait_log("event=probe_reloaded reloads=1")


def test_a_frozen_service_is_killed_and_restarted_by_the_systemd_watchdog(service: Service) -> None:
    service.dropin("probe", PROBE)
    service.dropin("fast-watchdog", "[Service]\nWatchdogSec=2s\nRestartSec=100ms\nLimitCORE=0\n")
    service.start()
    frozen = service.main_pid()
    assert "watchdog_timeout=2.0" in service.wait_log("event=probe_ready")

    service.box.run("kill", "-STOP", str(frozen))

    wait_until(lambda: service.main_pid() not in (0, frozen), 15, "a new main process")
    service.wait_state("active")
    assert service.prop("NRestarts") == "1"
    assert "Watchdog timeout" in service.log_text()


def test_stop_is_clean(service: Service) -> None:
    service.dropin("probe", PROBE)
    service.start()

    service.box.systemctl("stop", "shop-watchdog.service")

    assert service.prop("Result") == "success"
    assert service.prop("ExecMainStatus") == "0"
    service.wait_log("event=probe_stopping")


def test_from_inside_the_sandbox_it_restarts_its_units_and_nothing_else(service: Service, other_unit: str) -> None:
    service.dropin("probe", PROBE + f"Environment=PROBE_RESTART='nginx.service {other_unit}'\n")
    nginx_before = service.box.show("nginx.service", "MainPID")

    service.start()

    restarts = [_fields(m["MESSAGE"]) for m in service.messages() if "event=probe_restart" in m["MESSAGE"]]
    assert [(r["unit"], r["rc"]) for r in restarts] == [("nginx.service", "0"), (other_unit, "1")]
    assert "Access denied" in restarts[1]["error"] or "authentication required" in restarts[1]["error"]
    assert service.box.show("nginx.service", "MainPID") not in ("0", nginx_before)
    assert service.box.show(other_unit, "ActiveState") == "active"
