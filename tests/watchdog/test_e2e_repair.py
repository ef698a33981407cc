"""End to end with the real daemon: a private nginx is killed, broken, or keeps dying.

The daemon (`shop-watchdog run`) probes the nginx over HTTP, restarts it with the command
backend (`python -m tests.servers.nginx_ctl --dir D restart`), and pages a real webhook
receiver only when the repair fails. Durations are short so each test takes seconds.
"""

from __future__ import annotations

import sys
import threading
import time
from pathlib import Path
from typing import Any

import pytest
import requests

from tests.servers.nginx import NginxServer
from tests.servers.watchdog_daemon import WatchdogDaemon
from tests.servers.webhook_sink import WebhookSink


def daemon_config(nginx: NginxServer, sink: WebhookSink, **remediation: Any) -> dict[str, Any]:
    return {
        "host": "e2e-shop",
        "defaults": {"interval": "200ms", "timeout": "1s", "retries": 2, "retry_interval": "100ms"},
        "checks": [
            {
                "name": "web",
                "type": "http",
                "url": nginx.healthz_url,
                "expect_body": "ok",
                "severity": "critical",
                "remediate": {"command": nginx.ctl_argv(sys.executable, "restart")},
                "runbook_url": "https://wiki.example/web-down",
            }
        ],
        "remediation": {"backend": "command", "verify_after": "500ms", "restart_timeout": "15s", **remediation},
        "notify": {
            "channels": [{"name": n, "type": "webhook", "url": sink.url(n)} for n in ("pager", "admins", "boss")],
            "routes": {
                "critical": {
                    "channels": ["pager", "admins"],
                    "repeat_every": "2s",
                    "escalate_after": "3s",
                    "escalate_to": ["boss"],
                },
                "warning": {"channels": ["admins"]},
            },
        },
    }


@pytest.fixture
def daemon_dir(tmp_path: Path) -> Path:
    d = tmp_path / "daemon"
    d.mkdir()
    return d


def test_killed_nginx_is_restarted_and_nobody_is_paged(daemon_dir: Path, nginx: NginxServer, sink: WebhookSink) -> None:
    daemon = WatchdogDaemon(daemon_dir, daemon_config(nginx, sink))
    daemon.start()
    try:
        daemon.wait_until(
            lambda: daemon.metric('shop_watchdog_check_status{check="web"}') == 0 and 'check="web"' in daemon.metrics(),
            what="web OK",
        )
        nginx.kill()
        daemon.wait_until(
            lambda: daemon.metric('shop_watchdog_auto_repairs_total{check="web"}') == 1, what="auto repair"
        )
        assert requests.get(nginx.healthz_url, timeout=2).text == "ok"
        assert daemon.metric('shop_watchdog_restarts_total{check="web",result="ok"}') == 1
        assert daemon.incidents() == []
        status = daemon.status()
        assert status["outbox"]["pending"] == 0 and status["outbox"]["delivered"] == 0
        (repair,) = status["recent_repairs"]
        assert repair["check"] == "web" and repair["id"].startswith("inc-")
        assert sink.messages() == []
        assert "event=incident_auto_repaired check=web incident=inc-" in daemon.log()
    finally:
        assert daemon.terminate() == 0


def test_nginx_that_cannot_start_pages_once_reminds_escalates_and_resolves(
    daemon_dir: Path, nginx: NginxServer, sink: WebhookSink
) -> None:
    daemon = WatchdogDaemon(daemon_dir, daemon_config(nginx, sink))
    daemon.start()
    try:
        daemon.wait_until(lambda: 'shop_watchdog_check_status{check="web"} 0.0' in daemon.metrics(), what="web OK")
        nginx.broken_config()
        nginx.kill()
        daemon.wait_until(lambda: [i["state"] for i in daemon.incidents("web")] == ["paged"], what="paged")
        [incident] = daemon.incidents("web")
        for channel in ("pager", "admins"):
            [page] = sink.wait_count(channel, "trigger", 1)
            assert page["incident_id"] == incident["id"] and page["host"] == "e2e-shop"
            assert "this_directive_breaks_the_config" in page["details"]
            assert page["runbook_url"] == "https://wiki.example/web-down"
        sink.wait_count("boss", "escalation", 1, timeout=10)
        sink.wait_count("pager", "reminder", 2, timeout=10)
        nginx.fix_config()
        nginx.start()
        daemon.wait_until(lambda: daemon.incidents() == [], what="resolved")
        for channel in ("pager", "admins", "boss"):
            sink.wait_count(channel, "resolve", 1)
        for channel in ("pager", "admins"):
            assert len(sink.messages(channel, "trigger")) == 1
            assert len(sink.messages(channel, "resolve")) == 1
        assert len(sink.messages("boss", "escalation")) == 1 and len(sink.messages("boss", "resolve")) == 1
        assert daemon.metric('shop_watchdog_restarts_total{check="web",result="failed"}') == 1
    finally:
        assert daemon.terminate() == 0


def test_service_that_keeps_dying_stops_being_restarted_and_pages(
    daemon_dir: Path, nginx: NginxServer, sink: WebhookSink
) -> None:
    daemon = WatchdogDaemon(daemon_dir, daemon_config(nginx, sink, max_restarts=2, restart_window="1h"))
    daemon.start()
    stop = threading.Event()

    def killer() -> None:
        """Kills nginx 1.5 s after it is back (past the verification): it dies after every restart."""
        while not stop.is_set():
            if nginx.master_pid() is not None:
                stop.wait(1.5)
                nginx.kill()
            stop.wait(0.05)

    try:
        daemon.wait_until(lambda: 'shop_watchdog_check_status{check="web"} 0.0' in daemon.metrics(), what="web OK")
        thread = threading.Thread(target=killer, daemon=True)
        thread.start()
        daemon.wait_until(lambda: [i["state"] for i in daemon.incidents("web")] == ["paged"], timeout=30, what="paged")
        stop.set()
        thread.join(5)
        [incident] = daemon.incidents("web")
        assert "restart loop" in incident["tried"]
        restarts = daemon.metric('shop_watchdog_restarts_total{check="web",result="ok"}')
        assert restarts == 2
        assert daemon.metric('shop_watchdog_auto_repairs_total{check="web"}') == 2
        [page] = sink.wait_count("pager", "trigger", 1)
        assert "restart loop" in page["details"]
        assert nginx.master_pid() is None  # not restarted a third time
        assert len(sink.messages("pager", "trigger")) == 1
    finally:
        stop.set()
        assert daemon.terminate() == 0


def test_daemon_killed_mid_incident_does_not_page_twice_and_still_resolves(
    daemon_dir: Path, nginx: NginxServer, sink: WebhookSink
) -> None:
    config = daemon_config(nginx, sink)
    config["notify"]["routes"]["critical"] = {"channels": ["pager", "admins"], "repeat_every": "1h"}
    daemon = WatchdogDaemon(daemon_dir, config)
    daemon.start()
    try:
        daemon.wait_until(lambda: 'shop_watchdog_check_status{check="web"} 0.0' in daemon.metrics(), what="web OK")
        nginx.broken_config()
        nginx.kill()
        daemon.wait_until(lambda: [i["state"] for i in daemon.incidents("web")] == ["paged"], what="paged")
        [incident] = daemon.incidents("web")
        sink.wait_count(None, "trigger", 2)
        # Delivery is at least once: a kill between the receiver's 200 and the outbox's
        # "delivered" commit re-sends the same notification id (receivers dedup on it).
        # Killed here after both pages are recorded as delivered, a re-page would be a new id.
        daemon.wait_until(lambda: daemon.status()["outbox"]["delivered"] == 2, what="pages recorded as delivered")
        daemon.kill()
        daemon.start()
        assert [i["id"] for i in daemon.incidents("web")] == [incident["id"]]
        daemon.wait_until(
            lambda: 'shop_watchdog_check_status{check="web"} 3.0' in daemon.metrics(), what="web failing again"
        )
        daemon.wait_until(
            lambda: 'shop_watchdog_check_runs_total{check="web",status="critical"} 5.0' in daemon.metrics(),
            what="more runs",
        )
        assert daemon.incidents("web")[0]["state"] == "paged"
        assert len(sink.messages(kind="trigger")) == 2
        nginx.fix_config()
        nginx.start()
        daemon.wait_until(lambda: daemon.incidents() == [], what="resolved")
        sink.wait_count(None, "resolve", 2)
        assert sorted(m["kind"] for m in sink.messages("pager")) == ["resolve", "trigger"]
        assert sorted(m["kind"] for m in sink.messages("admins")) == ["resolve", "trigger"]
        assert {m["incident_id"] for m in sink.messages()} == {incident["id"]}
    finally:
        assert daemon.terminate() == 0


# -- a crash seen by the exit watch is a fact: no confirmation, the restart starts at once ------------


def process_config(
    nginx: NginxServer, sink: WebhookSink, *, confirm_exits: bool = False, **remediation: Any
) -> dict[str, Any]:
    """A `process` check on nginx's pid file whose confirmation alone would take 10 s."""
    config = daemon_config(nginx, sink, **remediation)
    config["checks"] = [
        {
            "name": "web",
            "type": "process",
            "pidfile": str(nginx.pid_path),
            "interval": "5m",
            "retries": 3,
            "retry_interval": "5s",
            "confirm_exits": confirm_exits,
            "severity": "critical",
            "remediate": {"command": nginx.ctl_argv(sys.executable, "restart")},
        }
    ]
    return config


def test_a_crash_is_a_fact_restarted_at_once_without_confirmation(
    daemon_dir: Path, nginx: NginxServer, sink: WebhookSink
) -> None:
    daemon = WatchdogDaemon(daemon_dir, process_config(nginx, sink)).start()
    try:
        daemon.wait_for("web", lambda c: c["status"] == "OK")
        nginx.kill()
        killed = time.monotonic()
        daemon.wait_until(lambda: daemon.metric('shop_watchdog_auto_repairs_total{check="web"}') == 1, "repair", 8)
        assert time.monotonic() - killed < 8, "confirming 3 failures 5 s apart would take 10 s"
        assert "event=check_state check=web status=CRITICAL hard=True failures=1 " in daemon.log()
        assert requests.get(nginx.healthz_url, timeout=2).text == "ok"
        assert sink.messages() == []
    finally:
        assert daemon.terminate() == 0


def test_confirm_exits_makes_a_crash_wait_for_retries_like_any_failure(
    daemon_dir: Path, nginx: NginxServer, sink: WebhookSink
) -> None:
    config = process_config(nginx, sink, confirm_exits=True)
    config["checks"][0] |= {"retries": 2, "retry_interval": "1s"}
    daemon = WatchdogDaemon(daemon_dir, config).start()
    try:
        daemon.wait_for("web", lambda c: c["status"] == "OK")
        nginx.kill()
        soft = daemon.wait_for("web", lambda c: c["status"] == "CRITICAL", timeout=5)
        assert (soft["hard"], soft["failures"]) == (False, 1), "seen at once, but not a fact"
        daemon.wait_until(lambda: daemon.metric('shop_watchdog_auto_repairs_total{check="web"}') == 1, "repair", 10)
        assert "event=check_state check=web status=CRITICAL hard=True failures=2 " in daemon.log()
    finally:
        assert daemon.terminate() == 0


def test_a_service_that_crashes_after_every_restart_is_still_stopped_by_the_budget(
    daemon_dir: Path, nginx: NginxServer, sink: WebhookSink
) -> None:
    daemon = WatchdogDaemon(daemon_dir, process_config(nginx, sink, max_restarts=2, restart_window="1h")).start()
    stop = threading.Event()

    def killer() -> None:
        """Kills nginx 2 s after it is back (well past the verification, even on a loaded
        machine): it dies after every restart."""
        while not stop.is_set():
            if nginx.master_pid() is not None:
                stop.wait(2.0)
                nginx.kill()
            stop.wait(0.05)

    thread = threading.Thread(target=killer, daemon=True)
    try:
        daemon.wait_for("web", lambda c: c["status"] == "OK")
        thread.start()
        daemon.wait_until(lambda: [i["state"] for i in daemon.incidents("web")] == ["paged"], "paged", 40)
        stop.set()
        thread.join(5)
        [incident] = daemon.incidents("web")
        assert "restart loop" in incident["tried"], incident
        assert daemon.metric('shop_watchdog_restarts_total{check="web",result="ok"}') == 2
        assert nginx.master_pid() is None  # not restarted a third time
        assert len(sink.messages("pager", "trigger")) == 1
    finally:
        stop.set()
        assert daemon.terminate() == 0
