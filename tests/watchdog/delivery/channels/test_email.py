"""E-mail against a real SMTP server (aiosmtpd): threading, TLS, AUTH and SMTP reply classes."""

from __future__ import annotations

import logging
import ssl
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from checks.registry import CHECKS
from tests.servers.certs import self_signed
from tests.servers.notify_fixtures import build_test_channels, channel_spec
from tests.servers.smtp import HangingSmtpServer, SmtpServer
from watchdog.common.configtools import ConfigError
from watchdog.common.logs import event
from watchdog.config.loader import parse_config
from watchdog.delivery.channels.base import Channel, PermanentError, TransientError
from watchdog.delivery.channels.registry import CHANNELS
from watchdog.delivery.channels.transports import Transports
from watchdog.delivery.notification import Notification


def email_channel(transports: Transports, server: Any, **options: Any) -> Channel[object]:
    spec = channel_spec(
        "admins", "email", smtp_host="127.0.0.1", smtp_port=server.port, starttls=False,
        **{"from": "watchdog@shop.example"}, to=["ops@shop.example"], timeout="2s",
    )  # fmt: skip
    spec.update(options)
    return build_test_channels([spec], transports)["admins"]


def tls_context(directory: Path) -> tuple[ssl.SSLContext, str]:
    """A server TLS context with a fresh self-signed certificate, and that certificate as CA file."""
    cert = self_signed(directory, "smtp", days=1)
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert.cert, cert.key)
    return context, str(cert.cert)


def test_trigger_arrives_with_subject_and_sender(
    smtp_server: SmtpServer, transports: Transports, make_notification: Callable[..., Notification]
) -> None:
    n = make_notification()
    email_channel(transports, smtp_server).send(n)
    [got] = smtp_server.wait_for(1)
    assert got.mail_from == "watchdog@shop.example"
    assert got.rcpt_tos == ("ops@shop.example",)
    assert (
        got.message["Subject"]
        == "[CRITICAL] shop-web-1 web: connection refused; restart of nginx.service failed (exit 1)"
    )
    body = got.message.get_content()
    assert "restart of nginx.service failed" in body
    assert n.incident_id in body and "https://wiki.example/runbooks/web" in body


@pytest.mark.parametrize(
    "summary",
    ["test message from shop-watchdog on vm through channel admins", "x" * 300, "web: refused\nsecond line"],
)
def test_subject_is_one_unbroken_line(
    smtp_server: SmtpServer, transports: Transports, make_notification: Callable[..., Notification], summary: str
) -> None:
    n = make_notification(kind="test", host="vm", summary=summary)
    email_channel(transports, smtp_server).send(n)
    [got] = smtp_server.wait_for(1)
    assert got.message["Subject"] == n.headline
    assert got.message["Subject"].startswith("[TEST] vm ")


def test_messages_of_one_incident_thread_together(
    smtp_server: SmtpServer, transports: Transports, make_notification: Callable[..., Notification]
) -> None:
    channel = email_channel(transports, smtp_server, to=["ops@shop.example", "oncall@shop.example"])
    trigger = make_notification(incident_id="inc-1")
    resolve = make_notification(incident_id="inc-1", kind="resolve")
    other = make_notification(incident_id="inc-2")
    for n in (trigger, resolve, other):
        channel.send(n)
    first, second, third = (r.message for r in smtp_server.wait_for(3))
    assert first["Message-ID"] == f"<{trigger.id}@shop.example>"
    assert second["Message-ID"] == f"<{resolve.id}@shop.example>"
    assert first["References"] == second["References"] == second["In-Reply-To"]
    assert third["References"] != first["References"]
    assert second["Subject"].startswith("[RESOLVED] shop-web-1 ")
    assert smtp_server.messages[0].rcpt_tos == ("ops@shop.example", "oncall@shop.example")


def test_starttls_with_login(
    tmp_path: Path, transports: Transports, make_notification: Callable[..., Notification],
    monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    context, ca_file = tls_context(tmp_path)
    server = SmtpServer(tls_context=context, credentials=("watchdog", "s3cret-pw")).start()
    try:
        monkeypatch.setenv("TEST_SMTP_PASSWORD", "s3cret-pw")
        channel = email_channel(
            transports, server, starttls=True, ca_file=ca_file, username="watchdog",
            password_env="TEST_SMTP_PASSWORD",
        )  # fmt: skip
        channel.send(make_notification())
        [got] = server.wait_for(1)
        assert got.tls and got.auth_login == "watchdog"
    finally:
        server.stop()


def test_wrong_password_is_permanent_and_never_shown(
    tmp_path: Path, transports: Transports, make_notification: Callable[..., Notification],
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture,
) -> None:  # fmt: skip
    context, ca_file = tls_context(tmp_path)
    server = SmtpServer(tls_context=context, credentials=("watchdog", "right-pw")).start()
    try:
        monkeypatch.setenv("TEST_SMTP_PASSWORD", "wrong-pw-123")
        channel = email_channel(
            transports, server, starttls=True, ca_file=ca_file, username="watchdog",
            password_env="TEST_SMTP_PASSWORD",
        )  # fmt: skip
        with pytest.raises(PermanentError, match="535") as info:
            channel.send(make_notification())
        assert "wrong-pw-123" not in str(info.value)
        assert server.messages == []
    finally:
        server.stop()


def test_implicit_tls(tmp_path: Path, transports: Transports, make_notification: Callable[..., Notification]) -> None:
    context, ca_file = tls_context(tmp_path)
    server = SmtpServer(tls_context=context, implicit_tls=True).start()
    try:
        email_channel(transports, server, tls=True, ca_file=ca_file).send(make_notification())
        [got] = server.wait_for(1)
        assert got.tls
    finally:
        server.stop()


def test_untrusted_certificate_is_not_sent_to(
    tmp_path: Path, transports: Transports, make_notification: Callable[..., Notification]
) -> None:
    context, _ca_file = tls_context(tmp_path)
    server = SmtpServer(tls_context=context).start()
    try:
        with pytest.raises(TransientError, match="CERTIFICATE_VERIFY_FAILED"):
            email_channel(transports, server, starttls=True).send(make_notification())
        assert server.messages == []
    finally:
        server.stop()


def test_starttls_missing_on_server_is_permanent_not_plaintext(
    smtp_server: SmtpServer, transports: Transports, make_notification: Callable[..., Notification]
) -> None:
    with pytest.raises(PermanentError, match="STARTTLS"):
        email_channel(transports, smtp_server, starttls=True).send(make_notification())
    assert smtp_server.messages == []


@pytest.mark.parametrize(
    ("reply", "error"),
    [
        ("451 4.3.0 Mail server temporarily rejected message", TransientError),
        ("554 5.7.1 Message rejected", PermanentError),
    ],
)
def test_smtp_4xx_is_transient_and_5xx_permanent(
    smtp_server: SmtpServer, transports: Transports, make_notification: Callable[..., Notification],
    reply: str, error: type[Exception],
) -> None:  # fmt: skip
    smtp_server.fail_next(reply)
    with pytest.raises(error, match=reply.split()[0]):
        email_channel(transports, smtp_server).send(make_notification())
    assert smtp_server.messages == []


def test_refused_recipients(
    smtp_server: SmtpServer, transports: Transports, make_notification: Callable[..., Notification]
) -> None:
    smtp_server.rcpt_refusals["gone@shop.example"] = "550 5.1.1 No such user"
    smtp_server.rcpt_refusals["full@shop.example"] = "452 4.2.2 Mailbox full"
    with pytest.raises(PermanentError, match="550"):
        email_channel(transports, smtp_server, to=["gone@shop.example"]).send(make_notification())
    with pytest.raises(TransientError, match="452"):
        email_channel(transports, smtp_server, to=["full@shop.example"]).send(make_notification())
    email_channel(transports, smtp_server, to=["gone@shop.example", "ops@shop.example"]).send(make_notification())
    [got] = smtp_server.wait_for(1)
    assert got.rcpt_tos == ("ops@shop.example",)


def test_server_down_is_transient(
    smtp_server: SmtpServer, transports: Transports, make_notification: Callable[..., Notification]
) -> None:
    channel = email_channel(transports, smtp_server)
    smtp_server.stop()
    with pytest.raises(TransientError, match="refused"):
        channel.send(make_notification())


def test_hanging_server_times_out(
    hanging_smtp: HangingSmtpServer, transports: Transports, make_notification: Callable[..., Notification]
) -> None:
    channel = email_channel(transports, hanging_smtp, timeout="500ms")
    started = time.monotonic()
    with pytest.raises(TransientError):
        channel.send(make_notification())
    assert time.monotonic() - started < 2.0


def test_password_is_scrubbed_from_logs(
    smtp_server: SmtpServer, transports: Transports, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setenv("TEST_SMTP_PASSWORD", "hunter2-secret")
    email_channel(transports, smtp_server, username="u", password_env="TEST_SMTP_PASSWORD")
    with caplog.at_level(logging.INFO):
        event(logging.getLogger("test"), "oops", detail="password is hunter2-secret")
    assert "hunter2-secret" not in caplog.text and "***" in caplog.text


def test_config_problems_are_reported_with_their_keys() -> None:
    with pytest.raises(ConfigError) as info:
        parse_config(
            {"notify": {"channels": [
                {"name": "a", "type": "email", "smtp_host": "h", "from": "x@y", "to": []},
                {"name": "b", "type": "email", "smtp_host": "h", "from": "x@y", "to": ["o@y"], "password": "inline"},
                {"name": "c", "type": "email", "smtp_host": "h", "from": "x@y", "to": ["o@y"], "username": "u"},
            ]}},
            "watchdog.yaml", checks=CHECKS, channels=CHANNELS,
        )  # fmt: skip
    text = str(info.value)
    assert "notify.channels[0]: to: give at least one recipient" in text
    assert "notify.channels[1].password: inline secrets are not accepted" in text
    assert "notify.channels[2]: username and password_env/password_file go together" in text
