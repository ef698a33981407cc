"""`test_notify`: one synchronous test message through one configured channel."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.servers.webhook_sink import WebhookSink
from tests.watchdog.incidents.engine_rig import config
from watchdog.config.model import ChannelSpec, NotifyConfig
from watchdog.delivery.channels.webhook import WebhookConfig
from watchdog.delivery.pager import test_notify as send_test


def test_test_message_reaches_the_channel(tmp_path: Path, sink: WebhookSink) -> None:
    ok, text = send_test(config(tmp_path, sink, []), "admins")
    assert ok, text
    [message] = sink.messages("admins")
    assert message["kind"] == "test" and message["host"] == "shop-test-1"
    assert sink.messages("pager") == []


def test_rejected_test_message_reports_failure(tmp_path: Path, sink: WebhookSink) -> None:
    cfg = config(tmp_path, sink, [])
    bad = NotifyConfig(
        (ChannelSpec("hook", "webhook", WebhookConfig(url=sink.url("reject"), timeout=5)),), cfg.notify.routes
    )
    ok, text = send_test(cfg.__class__(**{**cfg.__dict__, "notify": bad}), "hook")
    assert not ok and "400" in text


def test_unreachable_receiver_reports_failure(tmp_path: Path, sink: WebhookSink) -> None:
    cfg = config(tmp_path, sink, [])
    sink.stop()
    ok, text = send_test(cfg, "pager")
    assert not ok and "pager" in text


def test_unknown_channel_is_a_key_error(tmp_path: Path, sink: WebhookSink) -> None:
    with pytest.raises(KeyError):
        send_test(config(tmp_path, sink, []), "nope")
