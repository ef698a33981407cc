"""Alertmanager channel against the real Prometheus Alertmanager, one node or a cluster: fire, keep alive, resolve."""

from __future__ import annotations

import functools
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from checks.registry import CHECKS
from tests.servers.alertmanager import Alertmanager, AlertmanagerCluster
from tests.servers.cut_proxy import CutProxy
from tests.servers.notify_fixtures import build_test_channels, channel_spec
from tests.servers.status_server import closed_port_url
from tests.servers.webhook import Reply, WebhookServer
from tests.waiting import wait_until
from watchdog.common.configtools import ConfigError
from watchdog.config.loader import parse_config
from watchdog.delivery.channels.alertmanager import ALERT_NAME, alert_for
from watchdog.delivery.channels.base import Channel, PermanentError, TransientError
from watchdog.delivery.channels.registry import CHANNELS
from watchdog.delivery.channels.transports import Transports
from watchdog.delivery.notification import Notification
from watchdog.delivery.outbox import Outbox

AM = tuple[Alertmanager, WebhookServer]


def am_channel(transports: Transports, url: str, **options: Any) -> Channel[object]:
    """The channel for one node (`url`), or for a cluster: `am_channel(t, "", urls=[...])`."""
    node = {"url": url} if url else {}
    spec = channel_spec("am", "alertmanager", **{"timeout": "2s", **node, **options})
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
        "alertname": ALERT_NAME, "host": "shop-web-1", "check": "web", "check_type": "http",
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


def test_labels_and_generator_url_follow_prometheus_alerts(make_notification: Callable[..., Notification]) -> None:
    now = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
    n = make_notification(incident_id="inc 7/a")
    alert = alert_for(n, now, 60.0, "https://shop-web-1.example/watchdog/", {"region": "eu-1"})
    assert alert["labels"] == {
        "region": "eu-1", "alertname": ALERT_NAME, "severity": "critical", "host": "shop-web-1",
        "check": "web", "check_type": "http", "incident": "inc 7/a",
    }  # fmt: skip
    assert alert["generatorURL"] == "https://shop-web-1.example/watchdog/api/v1/incidents/inc%207%2Fa"
    assert "generatorURL" not in alert_for(n, now, 60.0, None)


def test_a_cluster_gets_every_alert_on_every_node_and_notifies_once(
    alertmanager_cluster: tuple[AlertmanagerCluster, WebhookServer], transports: Transports,
    make_notification: Callable[..., Notification],
) -> None:  # fmt: skip
    cluster, hook = alertmanager_cluster
    am_channel(transports, "", urls=cluster.urls).send(make_notification(incident_id="inc-c1"))
    for node in cluster.nodes:
        [alert] = wait_until(functools.partial(node.alerts, incident="inc-c1"), 5, f"the alert on {node.url}")
        assert alert["labels"]["host"] == "shop-web-1"
    [notified] = hook.wait_for(1, timeout=15)
    assert notified.body["alerts"][0]["labels"]["incident"] == "inc-c1"
    time.sleep(3.5)  # the second node waits its peer timeout (2 s), then sees the first one notified
    assert len(hook.requests) == 1


def test_a_node_that_is_down_does_not_stop_delivery_and_catches_up_on_the_resend(
    alertmanager_cluster: tuple[AlertmanagerCluster, WebhookServer], transports: Transports,
    make_outbox: Callable[..., Outbox], make_notification: Callable[..., Notification],
) -> None:  # fmt: skip
    cluster, _hook = alertmanager_cluster
    up, down = cluster.nodes
    down.stop()
    outbox = make_outbox({"am": am_channel(transports, "", urls=cluster.urls, resend_every="500ms")})
    outbox.enqueue(make_notification(incident_id="inc-c2"), ["am"])
    wait_until(lambda: up.alerts(incident="inc-c2"), 5, "the alert on the node that is up")
    wait_until(lambda: outbox.snapshot()["delivered"] == 1, 5, "the row counted as delivered")
    assert outbox.snapshot()["pending"] == 0
    down.start()
    wait_until(lambda: down.alerts(incident="inc-c2"), 10, "the restarted node to get the alert from a re-send")


def test_only_a_send_no_node_accepted_fails_and_it_names_every_node(
    webhook_server: WebhookServer, transports: Transports, make_notification: Callable[..., Notification]
) -> None:
    closed = closed_port_url("")
    channel = am_channel(transports, "", urls=[webhook_server.base_url, closed])
    webhook_server.respond(Reply(503))
    with pytest.raises(TransientError) as transient:
        channel.send(make_notification())
    port = webhook_server.port
    assert f"127.0.0.1:{port}: HTTP 503" in str(transient.value) and "Connection refused" in str(transient.value)
    webhook_server.respond(Reply(400, "bad alert"))
    with pytest.raises(TransientError):  # one node rejected, the other may take it once it is back
        channel.send(make_notification())
    second = WebhookServer().start()
    try:
        webhook_server.respond(Reply(400, "bad alert"))
        second.respond(Reply(422, "bad alert"))
        with pytest.raises(PermanentError, match=r"HTTP 400.*HTTP 422|HTTP 422.*HTTP 400"):
            am_channel(transports, "", urls=[webhook_server.base_url, second.base_url]).send(make_notification())
        webhook_server.respond(Reply(500))
        am_channel(transports, "", urls=[webhook_server.base_url, second.base_url]).send(make_notification())
        assert second.requests[-1].path == "/api/v2/alerts"
    finally:
        second.close()


@pytest.mark.parametrize(
    "options, problem",
    [
        ({"url": "http://127.0.0.1:9093", "urls": ["http://127.0.0.1:9094"]}, "give the Alertmanager as `url`"),
        ({}, "give the Alertmanager as `url`"),
        ({"urls": ["http://127.0.0.1:9093", "ftp://am-2:9093"]}, "urls[1]: url must be an absolute http://"),
        ({"urls": ["http://127.0.0.1:9093", "http://127.0.0.1:9093"]}, "urls: each node only once"),
        ({"url": "http://127.0.0.1:9093", "labels": {"incident": "x"}}, "labels.incident: set by the channel"),
        ({"url": "http://127.0.0.1:9093", "labels": {"a-b": "x"}}, "labels.a-b: not a Prometheus label name"),
    ],
)
def test_bad_node_lists_and_labels_are_config_errors(options: dict[str, Any], problem: str) -> None:
    with pytest.raises(ConfigError) as info:
        parse_config(
            {"notify": {"channels": [{"name": "am", "type": "alertmanager", **options}]}},
            "watchdog.yaml",
            checks=CHECKS,
            channels=CHANNELS,
        )
    [found] = [str(p) for p in info.value.problems]
    assert found.startswith("notify.channels[0]: ") and problem in found, found


def test_a_node_that_missed_the_resolve_gets_it_from_a_resend(
    alertmanager_cluster: tuple[AlertmanagerCluster, WebhookServer], transports: Transports,
    make_outbox: Callable[..., Outbox], make_notification: Callable[..., Notification],
) -> None:  # fmt: skip
    cluster, _hook = alertmanager_cluster
    first, second = cluster.nodes
    with CutProxy(second.url).start() as path_to_second:
        channel = am_channel(transports, "", urls=[first.url, path_to_second.url], resend_every="2s")
        outbox = make_outbox({"am": channel})
        outbox.enqueue(make_notification(incident_id="inc-c3"), ["am"])
        [alert] = wait_until(lambda: second.alerts(incident="inc-c3"), 5, "the alert on the second node")
        assert datetime.fromisoformat(alert["endsAt"]) - datetime.now(UTC) > timedelta(seconds=6)
        path_to_second.cut.set()
        outbox.enqueue(make_notification(incident_id="inc-c3", kind="resolve"), ["am"])
        wait_until(lambda: not first.alerts(incident="inc-c3"), 5, "the first node to resolve it")
        wait_until(lambda: outbox.snapshot()["delivered"] == 2, 5, "the resolve counted as delivered")
        assert second.alerts(incident="inc-c3"), "the second node missed the resolve"
        path_to_second.cut.clear()
        wait_until(lambda: not second.alerts(incident="inc-c3"), 5, "a re-sent resolve to reach the second node")
