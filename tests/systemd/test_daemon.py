"""The real daemon as a systemd service: readiness, repair through polkit, watchdog, reload, heartbeat."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator

import pytest

from tests.systemd.container import Container
from tests.systemd.service import HEARTBEAT_PORT, UNIT, Service, daemon_config
from tests.waiting import wait_until

pytestmark = pytest.mark.systemd

STATUS_RE = re.compile(r"^(\d+) checks?, (\d+) failing, (\d+) incidents? open$")


class PingLog:
    """The pings the in-container heartbeat receiver has seen, from its journal."""

    def __init__(self, box: Container, unit: str) -> None:
        self.box = box
        self.unit = unit

    def pings(self) -> list[str]:
        return [line for line in self.box.journal(self.unit).splitlines() if line.startswith("ping ")]


@pytest.fixture
def receiver(installed: Container) -> Iterator[PingLog]:
    unit = "heartbeat-receiver.service"
    installed.run(
        "systemd-run", f"--unit={unit}", "--property=DynamicUser=yes",
        "/usr/bin/python3", "/src/tests/systemd/heartbeat_receiver.py", str(HEARTBEAT_PORT),
    )  # fmt: skip
    wait_until(
        lambda: installed.run("python3", "-c", _CONNECT, check=False).returncode == 0, 10, "the receiver to listen"
    )
    yield PingLog(installed, unit)
    installed.systemctl("stop", unit, check=False)


_CONNECT = f"import socket; socket.create_connection(('127.0.0.1', {HEARTBEAT_PORT}), 1).close()"


def _status(service: Service) -> tuple[int, int, int]:
    text = service.prop("StatusText")
    match = STATUS_RE.match(text)
    assert match, f"StatusText {text!r} is not like '12 checks, 1 failing, 0 incidents open'"
    checks, failing, incidents = (int(g) for g in match.groups())
    return checks, failing, incidents


def test_documented_install_starts_the_daemon_ready_with_a_status(service: Service) -> None:
    service.box.run("/src/scripts/install", "--wheels", "/wheels", timeout=300)

    assert service.prop("ActiveState") == "active"  # Type=notify: only after READY=1
    assert service.prop("SubState") == "running"
    assert service.prop("NotifyAccess") == "main"
    wait_until(lambda: _status(service) == (2, 0, 0), 15, "both checks to pass")
    service.wait_log("event=daemon_started")
    status = service.box.run("/opt/shop-watchdog/bin/shop-watchdog", "status")  # through the local API
    assert "web" in status.stdout and "root-disk" in status.stdout
    # No heartbeat receiver runs here: its warnings reach journald as warnings, without timestamps.
    failed = service.wait_entry("event=heartbeat_failed")
    assert failed["PRIORITY"] == "4"
    assert failed["MESSAGE"].startswith("logger=watchdog.service.heartbeat event=heartbeat_failed receiver=127.0.0.1")


def test_a_killed_web_server_is_restarted_by_the_daemon_through_polkit(service: Service) -> None:
    service.start()
    wait_until(lambda: _status(service) == (2, 0, 0), 15, "both checks to pass")
    killed = service.box.show("nginx.service", "MainPID")

    service.box.crash("nginx.service")

    wait_until(
        lambda: (
            service.box.show("nginx.service", "MainPID") not in ("0", killed)
            and service.box.show("nginx.service", "ActiveState") == "active"
        ),
        20,
        "nginx to be running again",
    )
    repaired = service.wait_log("event=restart_finished")
    assert "result=ok" in repaired and "rc=0" in repaired
    service.wait_log("event=incident_auto_repaired check=web")
    wait_until(lambda: _status(service) == (2, 0, 0), 15, "the status to be all clear again")
    # The `systemctl restart` child must not inherit NOTIFY_SOCKET (systemd would log it as refused).
    assert "Got notification message from PID" not in service.log_text()


def test_a_unit_missing_from_the_polkit_rule_is_not_restarted(service: Service, other_unit: str) -> None:
    # The config now names other.service, but nobody re-ran install-polkit: polkit says no.
    service.write_config(
        daemon_config(
            extra_checks=f"""\
  - name: other
    type: systemd
    unit: {other_unit}
    severity: critical
    remediate: {{restart: {other_unit}}}
"""
        )
    )
    service.box.systemctl("stop", other_unit)
    try:
        service.start()

        failed = service.wait_log("event=restart_finished check=other")
        assert "result=failed" in failed
        assert service.box.show(other_unit, "ActiveState") != "active"
    finally:
        service.box.systemctl("start", other_unit)


def test_a_frozen_daemon_is_restarted_by_the_systemd_watchdog(service: Service) -> None:
    service.dropin("fast-watchdog", "[Service]\nWatchdogSec=2s\nRestartSec=100ms\nLimitCORE=0\n")
    service.start()
    first = service.main_pid()
    time.sleep(4)  # two watchdog periods: the healthy daemon keeps pinging
    assert (service.main_pid(), service.prop("NRestarts")) == (first, "0")

    service.box.run("kill", "-STOP", str(first))

    wait_until(lambda: service.main_pid() not in (0, first), 15, "a new daemon process")
    service.wait_state("active")
    assert service.prop("NRestarts") == "1"
    assert "Watchdog timeout" in service.log_text()


def test_reload_with_a_broken_config_fails_and_keeps_the_old_one_running(service: Service) -> None:
    service.start()
    wait_until(lambda: _status(service) == (2, 0, 0), 15, "both checks to pass")
    pid = service.main_pid()
    service.write_config("checks:\n  - name: web\n    type: no-such-type\n")

    result = service.box.systemctl("reload", UNIT, check=False)

    assert result.returncode != 0  # the operator sees it at once
    error = service.wait_log("no-such-type")
    assert "/etc/shop-watchdog/watchdog.yaml" in error and "checks[0].type" in error
    assert (service.prop("ActiveState"), service.main_pid()) == ("active", pid)
    assert _status(service)[0] == 2  # still the old config's checks


def test_a_broken_config_sent_by_sighup_alone_is_rejected_by_the_daemon(service: Service) -> None:
    service.start()
    wait_until(lambda: _status(service) == (2, 0, 0), 15, "both checks to pass")
    pid = service.main_pid()
    service.write_config("checks:\n  - name: web\n    type: no-such-type\n")

    service.box.run("kill", "-HUP", str(pid))  # bypassing ExecReload's check-config

    error = service.wait_log("no-such-type")
    assert "/etc/shop-watchdog/watchdog.yaml" in error
    time.sleep(2)  # two check intervals: still monitoring with the old config
    assert (service.prop("ActiveState"), service.main_pid()) == ("active", pid)
    assert _status(service) == (2, 0, 0)


def test_reload_with_a_valid_config_applies_it_in_place(service: Service) -> None:
    service.start()
    pid = service.main_pid()
    service.write_config(daemon_config(extra_checks="  - {name: tmp-disk, type: disk, path: /tmp}\n"))

    service.box.systemctl("reload", UNIT)

    wait_until(lambda: _status(service)[0] == 3, 15, "the new config's 3 checks")
    assert service.main_pid() == pid


def test_heartbeat_pings_while_running_and_stops_with_the_daemon(service: Service, receiver: PingLog) -> None:
    service.start()

    wait_until(lambda: len(receiver.pings()) >= 3, 15, "three pings")
    assert set(receiver.pings()) == {"ping /ping/test-check"}

    service.box.systemctl("stop", UNIT)
    after_stop = len(receiver.pings())
    time.sleep(3)  # three intervals

    assert len(receiver.pings()) == after_stop
    assert service.prop("Result") == "success"
