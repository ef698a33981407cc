"""Webhook against a real HTTP receiver: body, auth header, and how statuses are classed."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import pytest

from checks.registry import CHECKS
from tests.servers.notify_fixtures import build_test_channels, channel_spec
from tests.servers.ports import free_port
from tests.servers.webhook import Reply, WebhookServer
from watchdog.common.configtools import ConfigError
from watchdog.config.loader import parse_config
from watchdog.delivery.channels.base import Channel, PermanentError, TransientError
from watchdog.delivery.channels.registry import CHANNELS
from watchdog.delivery.channels.transports import Transports
from watchdog.delivery.notification import Notification


def webhook_channel(transports: Transports, url: str, **options: Any) -> Channel[object]:
    spec = channel_spec("hook", "webhook", url=url, **{"timeout": "2s", **options})
    return build_test_channels([spec], transports)["hook"]


def test_body_carries_every_notification_field(
    webhook_server: WebhookServer, transports: Transports, make_notification: Callable[..., Notification],
    monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    monkeypatch.setenv("TEST_HOOK_TOKEN", "tok-123456")
    channel = webhook_channel(transports, webhook_server.url, headers={"X-Team": "ops"}, token_env="TEST_HOOK_TOKEN")
    n = make_notification()
    channel.send(n)
    [request] = webhook_server.wait_for(1)
    assert request.method == "POST" and request.path == "/hook"
    assert request.headers["Authorization"] == "Bearer tok-123456"
    assert request.headers["X-Team"] == "ops"
    assert request.headers["Content-Type"] == "application/json"
    assert request.body == {**n.to_dict(), "status": "firing", "headline": n.headline}
    assert Notification.from_dict({k: v for k, v in request.body.items() if k not in ("status", "headline")}) == n


def test_resolve_is_marked_resolved(
    webhook_server: WebhookServer, transports: Transports, make_notification: Callable[..., Notification]
) -> None:
    webhook_channel(transports, webhook_server.url).send(make_notification(kind="resolve"))
    [request] = webhook_server.wait_for(1)
    assert request.body["status"] == "resolved" and request.body["kind"] == "resolve"


@pytest.mark.parametrize("status", [500, 502, 503, 429, 408])
def test_server_trouble_is_transient(
    webhook_server: WebhookServer, transports: Transports, make_notification: Callable[..., Notification], status: int
) -> None:
    webhook_server.respond(Reply(status, {"error": "busy"}))
    with pytest.raises(TransientError, match=f"HTTP {status}"):
        webhook_channel(transports, webhook_server.url).send(make_notification())


def test_retry_after_is_passed_on(
    webhook_server: WebhookServer, transports: Transports, make_notification: Callable[..., Notification]
) -> None:
    webhook_server.respond(Reply(429, headers={"Retry-After": "7"}))
    with pytest.raises(TransientError) as info:
        webhook_channel(transports, webhook_server.url).send(make_notification())
    assert info.value.retry_after == 7.0


@pytest.mark.parametrize("status", [400, 401, 403, 404, 301])
def test_rejection_is_permanent(
    webhook_server: WebhookServer, transports: Transports, make_notification: Callable[..., Notification], status: int
) -> None:
    webhook_server.respond(Reply(status, {"error": "bad request"}, headers={"Location": "/elsewhere"}))
    with pytest.raises(PermanentError, match=f"HTTP {status}"):
        webhook_channel(transports, webhook_server.url).send(make_notification())
    assert len(webhook_server.requests) == 1


def test_receiver_down_is_transient(transports: Transports, make_notification: Callable[..., Notification]) -> None:
    with pytest.raises(TransientError, match="refused"):
        webhook_channel(transports, f"http://127.0.0.1:{free_port()}/hook").send(make_notification())


def test_hanging_receiver_times_out(
    webhook_server: WebhookServer, transports: Transports, make_notification: Callable[..., Notification]
) -> None:
    webhook_server.respond(Reply(200, hang=10))
    started = time.monotonic()
    with pytest.raises(TransientError, match=r"no answer within 0\.5s"):
        webhook_channel(transports, webhook_server.url, timeout="500ms").send(make_notification())
    assert time.monotonic() - started < 2.0


def test_url_with_a_token_never_appears_in_errors(
    transports: Transports, make_notification: Callable[..., Notification]
) -> None:
    url = f"http://127.0.0.1:{free_port()}/services/T000/B000/secret-path-token"
    with pytest.raises(TransientError) as info:
        webhook_channel(transports, url).send(make_notification())
    assert "secret-path-token" not in str(info.value)


def test_token_and_authorization_header_conflict(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TEST_HOOK_TOKEN", "tok-123456")
    with pytest.raises(ConfigError, match="either token_env/token_file or an Authorization header"):
        parse_config(
            {"notify": {"channels": [channel_spec("hook", "webhook", url="https://hooks.example/x",
                                                  headers={"Authorization": "x"}, token_env="TEST_HOOK_TOKEN")]}},
            "watchdog.yaml", checks=CHECKS, channels=CHANNELS,
        )  # fmt: skip
