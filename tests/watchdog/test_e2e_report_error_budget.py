"""A week in a shop with a moved clock: the real daemon (in-process, its clock injected) probes
real TCP listeners, repairs one, pages for the other; the installed `shop-watchdog report`
gives the exact figures in clock time and working hours, and the installed `deploy-guard`
lets a normal release through while the error budget holds, blocks it once the outage
spent the budget, and still lets a hotfix through.

Timeline (UTC; Warsaw is UTC+1, business hours Mon-Fri 08:00-16:00 Warsaw):
Mon 06:00-14:00 all OK; 14:01 web refuses connections, is restarted, OK again at 14:01:10
(auto-repaired, no page); 14:30 db refuses connections: paged; Tue 07:30 alice
acknowledges; 08:30 db OK again: resolved.
"""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml

from checks.registry import CHECKS
from tests.deploy_guard.conftest import ALWAYS_OPEN, GuardRunner
from tests.servers.ports import free_port
from tests.servers.watchdog_daemon import CLI
from tests.servers.webhook_sink import WebhookSink
from tests.waiting import wait_until
from watchdog.common.clock import ManualClock
from watchdog.config.loader import parse_config
from watchdog.delivery.channels.registry import CHANNELS
from watchdog.service.daemon import Daemon, iso
from watchdog.service.sdnotify import SystemdNotifier
from watchdog.service.wiring import build_engine

START = datetime(2026, 11, 23, 6, 0, tzinfo=UTC)
HOUR = 3600.0


class Listener:
    """A TCP port that accepts connections while open and refuses them while closed."""

    def __init__(self) -> None:
        self.port = free_port()
        self._sock: socket.socket | None = None
        self.open()

    def open(self) -> None:
        sock = socket.socket()
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", self.port))
        sock.listen(64)
        self._sock = sock

    def close(self) -> None:
        if self._sock is not None:
            self._sock.close()
            self._sock = None


class Shop:
    """The daemon in a thread on a ManualClock; `step()` moves the clock and runs checks."""

    def __init__(self, directory: Path, sink: WebhookSink) -> None:
        self.web, self.db = Listener(), Listener()
        self.clock = ManualClock(START)
        self.port = free_port()
        tcp = {"type": "tcp", "host": "127.0.0.1", "interval": "1h", "timeout": "5s", "retries": 1}
        node: dict[str, Any] = {
            "host": "shop-e2e",
            "listen": f"127.0.0.1:{self.port}",
            "state_dir": str(directory / "state"),
            "remediation": {"backend": "command", "verify_after": "10s"},
            "checks": [
                {"name": "web", "port": self.web.port, "severity": "critical"}
                | tcp
                | {"remediate": {"command": [sys.executable, "-c", "pass"]}},
                {"name": "db", "port": self.db.port, "severity": "critical"} | tcp,
            ],
            "notify": {
                "channels": [{"name": "hook", "type": "webhook", "url": sink.url("hook")}],
                "routes": {"critical": {"channels": ["hook"]}},
            },
        }
        self.config_path = directory / "watchdog.yaml"
        self.config_path.write_text(yaml.safe_dump(node, sort_keys=False))
        config = parse_config(node, str(self.config_path), checks=CHECKS, channels=CHANNELS)
        self.daemon = Daemon(
            config, clock=self.clock, load=lambda: config, sink_factory=build_engine, notifier=SystemdNotifier(None)
        )
        self.thread = threading.Thread(target=self.daemon.run, daemon=True)
        self.thread.start()
        wait_until(lambda: len(self.checks()) == 2, 10, "the checks scheduled")
        for name in ("web", "db"):  # the first round, spread over a second the clock never moves on its own
            self.daemon.recheck(name, 0.0)
        wait_until(lambda: all(c["last_run"] == iso(START) for c in self.checks().values()), 10, "the first round")

    @property
    def status_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/api/v1/status"

    def checks(self) -> dict[str, Any]:
        return {c["name"]: c for c in self.daemon.status()["checks"]}

    def incidents(self) -> dict[str, Any]:
        return {i["check"]: i for i in self.daemon.status()["incidents"]}

    def watched(self, name: str) -> float:
        found = [c for c in self.daemon.availability(28 * 86400)["checks"] if c["name"] == name]
        return found[0]["total_seconds"] if found else 0.0

    def step(self, seconds: float, *names: str) -> None:
        """Moves the clock, runs `names` now and waits until the ledger has their results."""
        self.clock.advance(seconds)
        elapsed = (self.clock.now() - START).total_seconds()
        for name in names:
            self.daemon.recheck(name, 0.0)
        wait_until(lambda: all(self.watched(n) == elapsed for n in names), 10, f"results of {names}")

    def stop(self) -> None:
        self.daemon.request_stop()
        self.thread.join(10)
        self.web.close()
        self.db.close()


@pytest.fixture
def moved_shop(tmp_path: Path, sink: WebhookSink) -> Iterator[Shop]:
    running = Shop(tmp_path, sink)
    yield running
    running.stop()


def watchdog_cli(shop: Shop, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [CLI, *args, "-c", str(shop.config_path)], capture_output=True, text=True, timeout=30, check=False
    )


def guard_check(guard: GuardRunner, shop: Shop, *args: str) -> tuple[int, dict[str, Any]]:
    budget = {"objective": "99.9%", "window": "28d", "status_urls": [shop.status_url]}
    result = guard.run("check", "--json", *args, policy=guard.policy({**ALWAYS_OPEN, "error_budget": budget}))
    return result.code, result.json()


def test_a_week_with_a_repair_and_a_page_gives_exact_report_and_error_budget(
    moved_shop: Shop, sink: WebhookSink, tmp_path: Path
) -> None:
    shop, guard = moved_shop, GuardRunner(tmp_path)
    for _ in range(8):  # Monday 06:00-14:00 UTC, all OK
        shop.step(HOUR, "web", "db")

    shop.web.close()
    shop.step(60, "web")
    wait_until(lambda: shop.incidents().get("web", {}).get("substate") == "verifying", 20, "the restart of web")
    shop.web.open()
    shop.step(10, "web")
    wait_until(lambda: "web" not in shop.incidents(), 10, "web auto-repaired")

    # 10 s of 8 h 1 min 10 s failed: 99.965 %, above the objective
    code, decision = guard_check(guard, shop)
    assert (code, decision["allowed"], decision["reasons"]) == (0, True, []), decision
    assert shop.daemon.availability(28 * 86400)["good_seconds"] == 8 * HOUR + 60
    assert shop.daemon.availability(28 * 86400)["total_seconds"] == 8 * HOUR + 70

    shop.db.close()
    shop.step(1730, "web", "db")  # 14:30: db refuses connections
    wait_until(lambda: shop.incidents().get("db", {}).get("state") == "paged", 10, "db paged")
    sink.wait_count("hook", None, 1)
    for _ in range(17):  # to Tuesday 07:30 UTC, 08:30 in Warsaw
        shop.step(HOUR, "web", "db")
    incident = shop.incidents()["db"]
    assert shop.daemon.ack(incident["id"], "alice")
    shop.db.open()
    shop.step(HOUR, "web", "db")  # 08:30: db OK again
    wait_until(lambda: not shop.incidents(), 10, "db resolved")
    assert shop.clock.now() == START + timedelta(hours=26, minutes=30)

    availability = shop.daemon.availability(28 * 86400)
    assert (availability["good_seconds"], availability["total_seconds"]) == (30590.0, 95400.0)
    assert {c["name"]: (c["good_seconds"], c["total_seconds"]) for c in availability["checks"]} == {
        "db": (30600.0, 95400.0),
        "web": (95390.0, 95400.0),
    }

    code, decision = guard_check(guard, shop)
    assert (code, decision["allowed"]) == (1, False), decision
    [reason] = decision["reasons"]
    assert reason["code"] == "error_budget_exhausted"
    assert "availability 32.065% over the last 28d" in reason["message"] and shop.status_url in reason["message"]
    assert "under the objective 99.9%" in reason["message"]

    code, decision = guard_check(guard, shop, "--hotfix", "--reason", "checkout fix")
    assert (code, decision["allowed"], [r["code"] for r in decision["reasons"]]) == (0, True, ["hotfix"])
    assert "checkout fix" in decision["reasons"][0]["message"]

    done = watchdog_cli(shop, "report", "--since", "7d", "--json")
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert report["host"] == "shop-e2e" and report["incidents"] == 2
    assert report["since"] == "2026-11-17T08:30:00Z" and report["until"] == "2026-11-24T08:30:00Z"
    assert report["auto_repairs"] == [{"check": "web", "restarts": 1, "auto_repaired": 1}]
    [page] = report["pages"]
    assert page == {
        "id": incident["id"],
        "check": "db",
        "severity": "critical",
        "opened_at": "2026-11-23T14:30:00Z",
        "paged_at": "2026-11-23T14:30:00Z",
        "acked_at": "2026-11-24T07:30:00Z",
        "acked_by": "alice",
        "closed_at": "2026-11-24T08:30:00Z",
        "resolution": "resolved",
        # paged 15:30 Warsaw Monday, acknowledged 08:30 Tuesday: 17 h, of which 30 + 30 min working
        "to_acknowledge": {"clock_seconds": 17 * HOUR, "working_seconds": 1 * HOUR},
        # opened 15:30 Monday, resolved 09:30 Tuesday: 18 h, of which 30 + 90 min working
        "to_resolve": {"clock_seconds": 18 * HOUR, "working_seconds": 2 * HOUR},
    }
    assert report["means"] == {"to_acknowledge": page["to_acknowledge"], "to_resolve": page["to_resolve"]}

    text = watchdog_cli(shop, "report").stdout
    assert "  web: 1 restarts, 1 auto-repaired" in text
    assert (
        f"  {incident['id']} db (critical) paged 2026-11-23T14:30:00Z: acknowledged after 17h (working 1h) "
        "by alice; resolved after 18h (working 2h)"
    ) in text


def test_report_exits_3_when_the_daemon_is_down(tmp_path: Path) -> None:
    config = tmp_path / "watchdog.yaml"
    config.write_text(yaml.safe_dump({"listen": f"127.0.0.1:{free_port()}", "state_dir": str(tmp_path), "checks": []}))
    done = subprocess.run([CLI, "report", "-c", str(config)], capture_output=True, text=True, timeout=30, check=False)
    assert done.returncode == 3 and "shop-watchdog report: daemon not reachable at" in done.stderr
    bad = subprocess.run(
        [CLI, "report", "--since", "soon", "-c", str(config)], capture_output=True, text=True, timeout=30, check=False
    )
    assert bad.returncode == 2 and "--since: expected a duration" in bad.stderr
