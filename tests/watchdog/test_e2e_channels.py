"""End to end through every real receiver: e-mail (aiosmtpd), PagerDuty's Events API
(a validating receiver) and a real Alertmanager, paged by the real daemon for an nginx that
cannot be repaired, then resolved on each when it is fixed."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.servers.alertmanager import Alertmanager
from tests.servers.nginx import NginxServer
from tests.servers.smtp import SmtpServer
from tests.servers.watchdog_daemon import WatchdogDaemon, web_check_with_restart
from tests.servers.webhook import WebhookServer

ROUTING_KEY = "e2e-routing-key-0123456789abcdef"


@pytest.fixture
def nginx(tmp_path: Path) -> Iterator[NginxServer]:
    server = NginxServer(tmp_path / "nginx")
    server.start()
    yield server
    server.stop()


def test_unrepairable_nginx_pages_each_channel_once_and_resolves_each(
    tmp_path: Path,
    nginx: NginxServer,
    smtp_server: SmtpServer,
    pagerduty_receiver: WebhookServer,
    alertmanager: tuple[Alertmanager, WebhookServer],
) -> None:
    am, _am_hook = alertmanager
    (tmp_path / "daemon").mkdir()
    config = web_check_with_restart(nginx) | {
        "host": "e2e-shop",
        "notify": {
            "channels": [
                {"name": "admins", "type": "email", "smtp_host": "127.0.0.1", "smtp_port": smtp_server.port,
                 "starttls": False, "from": "watchdog@shop.example", "to": ["admins@shop.example"]},
                {"name": "pager", "type": "pagerduty", "url": pagerduty_receiver.url, "routing_key_env": "E2E_PD_KEY"},
                {"name": "am", "type": "alertmanager", "url": am.url, "resend_every": "1s"},
            ],
            "routes": {"critical": {"channels": ["pager", "admins", "am"]}},
        },
    }  # fmt: skip
    daemon = WatchdogDaemon(tmp_path / "daemon", config, env={"E2E_PD_KEY": ROUTING_KEY})
    daemon.start()
    try:
        daemon.wait_until(lambda: 'shop_watchdog_check_status{check="web"} 0.0' in daemon.metrics(), what="web OK")
        nginx.broken_config()
        nginx.kill()
        daemon.wait_until(lambda: [i["state"] for i in daemon.incidents("web")] == ["paged"], what="paged")
        [incident] = daemon.incidents("web")
        [mail] = smtp_server.wait_for(1)
        assert incident["id"] in mail.message.as_string() and "e2e-shop" in str(mail.message["Subject"])
        [event] = pagerduty_receiver.wait_for(1)
        assert (event.body["event_action"], event.body["dedup_key"]) == ("trigger", incident["id"])
        daemon.wait_until(lambda: len(am.alerts(incident=incident["id"])) == 1, what="alert firing in Alertmanager")
        assert ROUTING_KEY not in daemon.log()
        nginx.fix_config()
        nginx.start()
        daemon.wait_until(lambda: daemon.incidents() == [], what="resolved")
        mails = smtp_server.wait_for(2)
        assert "RESOLVED" in str(mails[1].message["Subject"])
        events = pagerduty_receiver.wait_for(2)
        assert (events[1].body["event_action"], events[1].body["dedup_key"]) == ("resolve", incident["id"])
        daemon.wait_until(lambda: am.alerts(incident=incident["id"]) == [], what="alert resolved in Alertmanager")
        assert len(smtp_server.messages) == 2 and len(pagerduty_receiver.requests) == 2
    finally:
        assert daemon.terminate() == 0
