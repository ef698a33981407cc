"""Apprise channel against real local receivers shaped like each service's API, and real SMTP.

Slack and Telegram plugins of Apprise post only to their fixed cloud hosts, so the Slack
wire format is tested through Mattermost (the same incoming-webhook shape, on any host).
"""

from __future__ import annotations

import ssl
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.servers.certs import self_signed
from tests.servers.notify_fixtures import build_test_channels, channel_spec
from tests.servers.smtp import SmtpServer
from tests.servers.webhook import Reply, WebhookServer
from tests.waiting import wait_until
from watchdog.common.configtools import ConfigError
from watchdog.common.incident_history import DeliveryEntry
from watchdog.common.logs import SCRUBBER
from watchdog.delivery.channels.base import Channel, PermanentError, TransientError
from watchdog.delivery.channels.transports import Transports
from watchdog.delivery.notification import Notification
from watchdog.delivery.outbox import Outbox

ACK = "https://watchdog.example/ack/abc.def"


def apprise_channel(transports: Transports, monkeypatch: pytest.MonkeyPatch, *urls: str) -> Channel[object]:
    monkeypatch.setenv("TEST_APPRISE_URLS", "\n".join(urls))
    spec = channel_spec("phones", "apprise", urls_env="TEST_APPRISE_URLS", timeout="3s")
    return build_test_channels([spec], transports)["phones"]


def host_of(server: WebhookServer) -> str:
    return server.url.split("://", 1)[1].split("/", 1)[0]


def test_ntfy_page_has_title_priority_tags_and_an_ack_action(
    webhook_server: WebhookServer, transports: Transports, monkeypatch: pytest.MonkeyPatch,
    make_notification: Callable[..., Notification],
) -> None:  # fmt: skip
    channel = apprise_channel(transports, monkeypatch, f"ntfy://{host_of(webhook_server)}/shop-alerts")
    channel.send(make_notification(ack_url=ACK))
    [request] = webhook_server.wait_for(1)
    headers = {k.lower(): v for k, v in request.headers.items()}
    body: Any = request.body
    message = body["message"] if isinstance(body, dict) else body
    title = body.get("title") if isinstance(body, dict) else headers.get("x-title")
    assert "[CRITICAL] shop-web-1" in str(title)
    assert f"Acknowledge: {ACK}" in message
    fields = {**headers, **({k.lower(): str(v) for k, v in body.items()} if isinstance(body, dict) else {})}
    assert fields.get("x-priority", fields.get("priority")) in ("5", "max")
    assert "rotating_light" in fields.get("x-tags", fields.get("tags", ""))
    actions = fields.get("x-actions", fields.get("actions", ""))
    assert actions == f"http, Acknowledge, {ACK}, method=POST, clear=true"
    assert fields["x-click"] == ACK


def test_ntfy_resolve_is_not_urgent_and_has_no_ack_button(
    webhook_server: WebhookServer, transports: Transports, monkeypatch: pytest.MonkeyPatch,
    make_notification: Callable[..., Notification],
) -> None:  # fmt: skip
    channel = apprise_channel(transports, monkeypatch, f"ntfy://{host_of(webhook_server)}/shop-alerts")
    channel.send(make_notification(kind="resolve"))
    [request] = webhook_server.wait_for(1)
    headers = {k.lower(): v for k, v in request.headers.items()}
    assert "x-actions" not in headers
    assert "white_check_mark" in headers.get("x-tags", "")


@pytest.fixture
def https_receiver(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[WebhookServer]:
    """An HTTPS receiver whose self-signed certificate the sender trusts (REQUESTS_CA_BUNDLE)."""
    files = self_signed(tmp_path / "tls", "receiver", days=2)
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(files.cert, files.key)
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(files.cert))
    server = WebhookServer(tls_context=context).start()
    yield server
    server.close()


def test_teams_workflow_gets_an_adaptive_card_with_the_headline(
    https_receiver: WebhookServer, transports: Transports, monkeypatch: pytest.MonkeyPatch,
    make_notification: Callable[..., Notification],
) -> None:  # fmt: skip
    url = f"workflow://{host_of(https_receiver)}/wf123abc/sig456def"
    channel = apprise_channel(transports, monkeypatch, url)
    channel.send(make_notification(ack_url=ACK))
    [request] = https_receiver.wait_for(1)
    assert request.path.startswith("/workflows/wf123abc/triggers/manual/paths/invoke")
    assert "sig=sig456def" in request.path
    [attachment] = request.body["attachments"]
    assert attachment["contentType"] == "application/vnd.microsoft.card.adaptive"
    texts = [block.get("text", "") for block in attachment["content"]["body"]]
    assert any("[CRITICAL] shop-web-1" in t for t in texts)
    assert any(ACK.replace(".", "\\.") in t for t in texts)  # Teams' markdown shows the escaped dots as dots


def test_slack_shaped_webhook_via_mattermost_carries_title_and_colour(
    webhook_server: WebhookServer, transports: Transports, monkeypatch: pytest.MonkeyPatch,
    make_notification: Callable[..., Notification],
) -> None:  # fmt: skip
    host, _, port = host_of(webhook_server).partition(":")
    channel = apprise_channel(transports, monkeypatch, f"mmost://{host}:{port}/tokentokentoken")
    channel.send(make_notification())
    [request] = webhook_server.wait_for(1)
    assert request.path.endswith("/hooks/tokentokentoken")
    assert "[CRITICAL] shop-web-1" in str(request.body)


def test_generic_json_gateway_gets_title_body_and_type(
    webhook_server: WebhookServer, transports: Transports, monkeypatch: pytest.MonkeyPatch,
    make_notification: Callable[..., Notification],
) -> None:  # fmt: skip
    channel = apprise_channel(transports, monkeypatch, f"json://{host_of(webhook_server)}/sms/send")
    channel.send(make_notification(severity="warning"))
    [request] = webhook_server.wait_for(1)
    assert request.path == "/sms/send"
    assert request.body["title"].startswith("[WARNING] shop-web-1")
    assert request.body["type"] == "warning"


def test_mailto_reaches_a_real_smtp_server(
    smtp_server: SmtpServer, transports: Transports, monkeypatch: pytest.MonkeyPatch,
    make_notification: Callable[..., Notification],
) -> None:  # fmt: skip
    url = f"mailto://127.0.0.1:{smtp_server.port}?from=watchdog@example.com&to=ops@example.com&secure=no"
    channel = apprise_channel(transports, monkeypatch, url)
    channel.send(make_notification(ack_url=ACK))
    [received] = smtp_server.wait_for(1)
    assert received.rcpt_tos == ("ops@example.com",)
    assert "[CRITICAL] shop-web-1" in str(received.message["Subject"])


def test_smtp_refusal_through_apprise_is_retried_since_apprise_drops_the_reply_code(
    smtp_server: SmtpServer, transports: Transports, monkeypatch: pytest.MonkeyPatch,
    make_notification: Callable[..., Notification],
) -> None:  # fmt: skip
    """Apprise logs the SMTP reply outside the service's captured log: a refused mail cannot
    be told from greylisting, so it is retried (and falls back once it keeps failing)."""
    url = f"mailto://127.0.0.1:{smtp_server.port}?from=watchdog@example.com&to=ops@example.com&secure=no"
    channel = apprise_channel(transports, monkeypatch, url)
    smtp_server.fail_next("554 5.7.1 rejected")
    n = make_notification()
    with pytest.raises(TransientError, match="E-Mail: not delivered"):
        channel.send(n)
    channel.send(n)
    assert len(smtp_server.wait_for(1)) == 1


@pytest.mark.parametrize(("status", "error"), [(400, PermanentError), (403, PermanentError), (429, TransientError),
                                               (503, TransientError)])  # fmt: skip
def test_http_status_classes(
    status: int, error: type[Exception], webhook_server: WebhookServer, transports: Transports,
    monkeypatch: pytest.MonkeyPatch, make_notification: Callable[..., Notification],
) -> None:  # fmt: skip
    channel = apprise_channel(transports, monkeypatch, f"json://{host_of(webhook_server)}/sms")
    webhook_server.respond(Reply(status, {"error": "no"}))
    with pytest.raises(error, match=f"HTTP {status}"):
        channel.send(make_notification())


def test_unreachable_service_is_transient(
    transports: Transports, monkeypatch: pytest.MonkeyPatch, make_notification: Callable[..., Notification]
) -> None:
    from tests.servers.ports import free_port

    channel = apprise_channel(transports, monkeypatch, f"json://127.0.0.1:{free_port()}/sms")
    with pytest.raises(TransientError):
        channel.send(make_notification())


def test_retry_goes_only_to_the_service_that_failed(
    webhook_server: WebhookServer, transports: Transports, monkeypatch: pytest.MonkeyPatch,
    make_notification: Callable[..., Notification],
) -> None:  # fmt: skip
    host = host_of(webhook_server)
    channel = apprise_channel(transports, monkeypatch, f"json://{host}/first", f"json://{host}/second")
    webhook_server.respond_to(lambda body: False, Reply(200))
    webhook_server.respond(Reply(200), Reply(503))
    n = make_notification()
    with pytest.raises(TransientError, match="HTTP 503"):
        channel.send(n)
    channel.send(n)
    paths = [r.path for r in webhook_server.wait_for(3)]
    assert paths == ["/first", "/second", "/second"]


def test_urls_are_secrets_never_inline_and_scrubbed(transports: Transports, monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(ConfigError, match="inline secrets are not accepted"):
        build_test_channels([channel_spec("p", "apprise", urls="ntfy://x/y")], transports)
    monkeypatch.setenv("TEST_APPRISE_URLS", "nonsense://token-abcdef123")
    with pytest.raises(ConfigError) as info:
        build_test_channels([channel_spec("p", "apprise", urls_env="TEST_APPRISE_URLS")], transports)
    assert "token-abcdef123" not in str(info.value) and "nonsense" in str(info.value)
    apprise_channel(transports, monkeypatch, "ntfy://ntfy.example.com/topic-s3cr3t-name?token=tk_verysecret")
    assert SCRUBBER.scrub("got tk_verysecret and topic-s3cr3t-name") == "got *** and ***"


def test_a_service_that_rejects_for_good_falls_back_to_the_routes_other_channel(
    webhook_server: WebhookServer, transports: Transports, monkeypatch: pytest.MonkeyPatch,
    make_outbox: Callable[..., Outbox], make_notification: Callable[..., Notification],
) -> None:  # fmt: skip
    """Through the real outbox: ntfy answers 403 (wrong token) once, is not retried, and the
    page goes to the e-mail-like webhook instead; a 429 is retried on the same channel."""
    spare = WebhookServer().start()
    try:
        phones = apprise_channel(transports, monkeypatch, f"ntfy://{host_of(webhook_server)}/shop-alerts")
        admins = build_test_channels([channel_spec("admins", "webhook", url=spare.url)], transports)["admins"]
        webhook_server.respond(Reply(403, {"code": 40301, "error": "forbidden"}))
        outbox = make_outbox({"phones": phones, "admins": admins})
        n = make_notification()
        outbox.enqueue(n, ["phones"], fallback=["phones", "admins"])
        [fallback] = spare.wait_for(1)
        assert fallback.body["id"] == n.id

        def settled() -> list[DeliveryEntry] | None:
            entries = outbox.history(n.incident_id)
            return entries if entries and entries[-1]["state"] == "delivered" else None

        history = wait_until(settled, timeout=5, what="fallback marked delivered")
        assert [(h["channel"], h["state"], h["fallback_of"]) for h in history] == [
            ("phones", "rejected", None),
            ("admins", "delivered", "phones"),
        ]
        error = history[0]["last_error"] or ""
        assert "HTTP 403" in error and "shop-alerts" not in error
        assert len(webhook_server.requests) == 1
        webhook_server.respond(Reply(429, {"error": "slow down"}, headers={"Retry-After": "0"}))
        retried = make_notification()
        outbox.enqueue(retried, ["phones"], fallback=["phones", "admins"])
        assert [r.status for r in webhook_server.wait_for(3)][1:] == [429, 200]
        assert len(spare.requests) == 1
    finally:
        spare.close()


def test_one_service_refusing_while_another_took_it_counts_as_delivered(
    webhook_server: WebhookServer, transports: Transports, monkeypatch: pytest.MonkeyPatch,
    make_notification: Callable[..., Notification], caplog: pytest.LogCaptureFixture,
) -> None:  # fmt: skip
    host = host_of(webhook_server)
    channel = apprise_channel(transports, monkeypatch, f"json://{host}/sms-gw", f"json://{host}/chat")
    webhook_server.respond(Reply(401, {"error": "bad api key"}), Reply(200))
    n = make_notification()
    channel.send(n)
    channel.send(n)  # a re-send after an unclear outcome goes to both again (nothing is remembered)
    assert [(r.path, r.status) for r in webhook_server.wait_for(4)] == [
        ("/sms-gw", 401), ("/chat", 200), ("/sms-gw", 200), ("/chat", 200),
    ]  # fmt: skip
    assert any("apprise_rejected" in r.getMessage() and "HTTP 401" in r.getMessage() for r in caplog.records)
