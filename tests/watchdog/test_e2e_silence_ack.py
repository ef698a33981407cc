"""End to end through the daemon's API: a silence holds restarts and pages until it ends,
and an acknowledgement stops reminders while the resolve still goes out."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from tests.servers.nginx import NginxServer
from tests.servers.watchdog_daemon import WatchdogDaemon
from tests.servers.webhook_sink import WebhookSink
from tests.watchdog.test_e2e_repair import daemon_config


@pytest.fixture
def daemon(tmp_path: Path, nginx: NginxServer, sink: WebhookSink) -> Iterator[WatchdogDaemon]:
    (tmp_path / "daemon").mkdir()
    proc = WatchdogDaemon(tmp_path / "daemon", daemon_config(nginx, sink))
    proc.start()
    proc.wait_until(lambda: 'shop_watchdog_check_status{check="web"} 0.0' in proc.metrics(), what="web OK")
    yield proc
    assert proc.terminate() == 0


def test_silenced_nginx_is_left_alone_and_told_at_once_when_the_silence_ends(
    daemon: WatchdogDaemon, nginx: NginxServer, sink: WebhookSink
) -> None:
    reply = requests.post(
        f"{daemon.base_url}/api/v1/silences",
        json={"check": "web", "duration": "3s", "reason": "nginx upgrade", "by": "ops"},
        timeout=5,
    )
    assert reply.status_code == 201, reply.text
    nginx.kill()
    daemon.wait_until(lambda: [i["state"] for i in daemon.incidents("web")] == ["open"], what="incident held open")
    time.sleep(1)
    assert nginx.master_pid() is None  # not restarted during planned work
    assert sink.messages() == []
    daemon.wait_until(
        lambda: [i["state"] for i in daemon.incidents("web")] == ["paged"], timeout=10, what="paged after the silence"
    )
    [page] = sink.wait_count("pager", "trigger", 1)
    assert "silence ended" in page["details"]
    assert daemon.metric('shop_watchdog_restarts_total{check="web",result="ok"}') == 0


def test_ack_through_the_api_stops_reminders_and_escalation(
    daemon: WatchdogDaemon, nginx: NginxServer, sink: WebhookSink
) -> None:
    nginx.broken_config()
    nginx.kill()
    daemon.wait_until(lambda: [i["state"] for i in daemon.incidents("web")] == ["paged"], what="paged")
    [incident] = daemon.incidents("web")
    assert daemon.ack(incident["id"], "alice") == 200
    assert daemon.incidents("web")[0]["state"] == "acknowledged"
    time.sleep(3.5)  # past repeat_every (2s) and escalate_after (3s)
    assert {m["kind"] for m in sink.messages()} == {"trigger"}
    assert sink.messages("boss") == []
    assert daemon.ack("inc-0000000000") == 404
    nginx.fix_config()
    nginx.start()
    daemon.wait_until(lambda: daemon.incidents() == [], what="resolved")
    assert len(sink.wait_count(None, "resolve", 2)) == 2
