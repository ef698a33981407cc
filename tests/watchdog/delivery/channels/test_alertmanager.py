"""Alertmanager channel against the real Prometheus Alertmanager: fire, keep alive, resolve."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from tests.servers.alertmanager import Alertmanager
from tests.servers.notify_fixtures import build_test_channels, channel_spec
from tests.servers.webhook import Reply, WebhookServer
from tests.waiting import wait_until
from watchdog.delivery.channels.alertmanager import ALERT_NAME, alert_for
from watchdog.delivery.channels.base import Channel, PermanentError, TransientError
from watchdog.delivery.channels.transports import Transports
from watchdog.delivery.notification import Notification
from watchdog.delivery.outbox import Outbox

AM = tuple[Alertmanager, WebhookServer]


def am_channel(transports: Transports, url: str, **options: Any) -> Channel[object]:
    spec = channel_spec("am", "alertmanager", url=url, **{"timeout": "2s", **options})
    return build_test_channels([spec], transports)["am"]


def test_trigger_becomes_an_active_alert_with_our_labels(
    alertmanager: AM, transports: Transports, make_notification: Callable[..., Notification]
) -> None:
    am, hook = alertmanager
    n = make_notification(incident_id="inc-am-1")
    am_channel(transports, am.url).send(n)
    [alert] = wait_until(
        lambda: [a for a in am.alerts(incident="inc-am-1") if a["status"]["state"] == "active"], 5, "an active alert"
    )
    assert alert["labels"] == {
        "alertname": ALERT_NAME, "instance": "shop-web-1", "check": "web", "check_type": "http",
        "severity": "critical", "incident": "inc-am-1",
    }  # fmt: skip
    assert alert["annotations"]["summary"] == n.summary
    assert alert["annotations"]["runbook_url"] == "https://wiki.example/runbooks/web"
    [notified] = hook.wait_for(1, timeout=10)
    assert notified.body["status"] == "firing"
    assert notified.body["alerts"][0]["labels"]["incident"] == "inc-am-1"


def test_resend_keeps_it_active_and_resolve_ends_it(
    alertmanager: AM, transports: Transports, make_outbox: Callable[..., Outbox],
    make_notification: Callable[..., Notification],
) -> None:  # fmt: skip
    am, hook = alertmanager
    channel = am_channel(transports, am.url, resend_every="500ms")
    outbox = make_outbox({"am": channel})
    outbox.enqueue(make_notification(incident_id="inc-am-2"), ["am"])
    first = wait_until(
        lambda: [a for a in am.alerts(incident="inc-am-2") if a["status"]["state"] == "active"], 5, "an active alert"
    )[0]
    first_end = datetime.fromisoformat(first["endsAt"])
    assert first_end - datetime.now(UTC) < timedelta(seconds=3)  # expires unless refreshed
    time.sleep(3.0)
    [alert] = am.alerts(incident="inc-am-2")
    assert alert["status"]["state"] == "active"
    assert datetime.fromisoformat(alert["endsAt"]) > first_end + timedelta(seconds=1)

    outbox.enqueue(make_notification(incident_id="inc-am-2", kind="resolve"), ["am"])
    wait_until(lambda: not am.alerts(incident="inc-am-2"), 5, "the alert to resolve")
    [resolved] = wait_until(
        lambda: [r for r in hook.requests if r.body["status"] == "resolved"], 10, "Alertmanager's resolved notification"
    )
    assert resolved.body["alerts"][0]["labels"]["incident"] == "inc-am-2"
    time.sleep(1.5)  # no re-send after the resolve brings it back
    assert am.alerts(incident="inc-am-2") == []
    assert outbox.snapshot()["pending"] == 0


def test_resolve_sends_endsat_in_the_past(make_notification: Callable[..., Notification]) -> None:
    now = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
    since = now - timedelta(minutes=5)
    firing = alert_for(make_notification(incident_id="inc-9", since=since), now, 60.0, None)
    resolved = alert_for(make_notification(incident_id="inc-9", kind="resolve", since=since), now, 60.0, None)
    assert datetime.fromisoformat(firing["endsAt"]) == now + timedelta(minutes=4)
    assert datetime.fromisoformat(resolved["endsAt"]) == now - timedelta(seconds=1)
    assert firing["labels"] == resolved["labels"]
    assert firing["startsAt"] == resolved["startsAt"] == (now - timedelta(minutes=5)).isoformat()


def test_alertmanager_errors_are_classed(
    webhook_server: WebhookServer, transports: Transports, make_notification: Callable[..., Notification]
) -> None:
    channel = am_channel(transports, webhook_server.base_url)
    webhook_server.respond(Reply(400, "bad alert"), Reply(503))
    with pytest.raises(PermanentError, match="HTTP 400"):
        channel.send(make_notification())
    with pytest.raises(TransientError, match="HTTP 503"):
        channel.send(make_notification())
    assert [r.path for r in webhook_server.requests] == ["/api/v2/alerts", "/api/v2/alerts"]
