"""PagerDuty Events API v2 against a receiver that validates events like PagerDuty does."""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from checks.registry import CHECKS
from tests.servers.notify_fixtures import build_test_channels, channel_spec
from tests.servers.webhook import Reply, WebhookServer, validate_pagerduty_event
from watchdog.common.configtools import ConfigError
from watchdog.config.loader import parse_config
from watchdog.delivery.channels.base import Channel, PermanentError, TransientError
from watchdog.delivery.channels.pagerduty import DEFAULT_URL, PagerDutyConfig
from watchdog.delivery.channels.registry import CHANNELS
from watchdog.delivery.channels.transports import Transports
from watchdog.delivery.notification import Notification
from watchdog.delivery.outbox import Outbox

ROUTING_KEY = "R0UT1NGK3Y0123456789abcdefABCDEF"


@pytest.fixture
def routing_key(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    monkeypatch.setenv("TEST_PD_ROUTING_KEY", ROUTING_KEY)
    yield ROUTING_KEY


def pd_channel(transports: Transports, url: str) -> Channel[object]:
    spec = channel_spec("pager", "pagerduty", routing_key_env="TEST_PD_ROUTING_KEY", url=url, timeout="2s")
    return build_test_channels([spec], transports)["pager"]


def test_trigger_is_a_valid_event_deduplicated_by_incident(
    pagerduty_receiver: WebhookServer, transports: Transports, routing_key: str,
    make_notification: Callable[..., Notification],
) -> None:  # fmt: skip
    n = make_notification(incident_id="inc-42")
    pd_channel(transports, pagerduty_receiver.url).send(n)
    [request] = pagerduty_receiver.wait_for(1)
    assert request.status == 202
    event = request.body
    assert event["routing_key"] == routing_key
    assert event["event_action"] == "trigger"
    assert event["dedup_key"] == "inc-42"
    payload = event["payload"]
    assert payload["summary"] == n.headline
    assert (payload["source"], payload["severity"], payload["component"]) == ("shop-web-1", "critical", "web")
    assert payload["custom_details"]["details"] == n.details
    assert event["links"] == [{"href": "https://wiki.example/runbooks/web", "text": "Runbook"}]


def test_reminder_triggers_again_and_resolve_closes_the_same_alert(
    pagerduty_receiver: WebhookServer, transports: Transports, routing_key: str,
    make_notification: Callable[..., Notification],
) -> None:  # fmt: skip
    channel = pd_channel(transports, pagerduty_receiver.url)
    for kind in ("trigger", "reminder", "resolve"):
        channel.send(make_notification(incident_id="inc-7", kind=kind, severity="warning"))
    requests = pagerduty_receiver.wait_for(3)
    assert [r.status for r in requests] == [202, 202, 202]
    assert [r.body["event_action"] for r in requests] == ["trigger", "trigger", "resolve"]
    assert {r.body["dedup_key"] for r in requests} == {"inc-7"}
    assert requests[0].body["payload"]["severity"] == "warning"


def test_test_message_opens_nothing(
    pagerduty_receiver: WebhookServer, transports: Transports, routing_key: str,
    make_notification: Callable[..., Notification],
) -> None:  # fmt: skip
    pd_channel(transports, pagerduty_receiver.url).send(make_notification(kind="test", incident_id="test-1"))
    requests = pagerduty_receiver.wait_for(2)
    assert [r.body["event_action"] for r in requests] == ["trigger", "resolve"]
    assert requests[0].body["payload"]["severity"] == "info"


def test_invalid_event_is_permanent(
    pagerduty_receiver: WebhookServer, transports: Transports, monkeypatch: pytest.MonkeyPatch,
    make_notification: Callable[..., Notification],
) -> None:  # fmt: skip
    monkeypatch.setenv("TEST_PD_ROUTING_KEY", "too-short")
    with pytest.raises(PermanentError, match=r"HTTP 400.*routing_key"):
        pd_channel(transports, pagerduty_receiver.url).send(make_notification())


@pytest.mark.parametrize("status", [429, 500, 503])
def test_rate_limit_and_outage_are_transient(
    pagerduty_receiver: WebhookServer, transports: Transports, routing_key: str,
    make_notification: Callable[..., Notification], status: int,
) -> None:  # fmt: skip
    pagerduty_receiver.respond(
        Reply(status, {"status": "throttle event", "message": "Requests for this service are arriving too quickly."})
    )
    with pytest.raises(TransientError, match=f"HTTP {status}"):
        pd_channel(transports, pagerduty_receiver.url).send(make_notification())


def test_long_texts_stay_within_pagerduty_limits(
    pagerduty_receiver: WebhookServer, transports: Transports, routing_key: str,
    make_notification: Callable[..., Notification],
) -> None:  # fmt: skip
    n = make_notification(summary="x" * 3000, incident_id="i" * 400)
    pd_channel(transports, pagerduty_receiver.url).send(n)
    [request] = pagerduty_receiver.wait_for(1)
    assert request.status == 202, request.body


def test_routing_key_is_required_and_url_defaults_to_pagerduty() -> None:
    with pytest.raises(ConfigError, match=r"notify.channels\[0\]: routing_key_env or routing_key_file is required"):
        parse_config(
            {"notify": {"channels": [{"name": "pager", "type": "pagerduty"}]}},
            "watchdog.yaml",
            checks=CHECKS,
            channels=CHANNELS,
        )


def test_routing_key_from_file_and_default_url(tmp_path: Path) -> None:
    key_file = tmp_path / "pd.key"
    key_file.write_text(ROUTING_KEY + "\n")
    config = parse_config(
        {"notify": {"channels": [{"name": "pager", "type": "pagerduty", "routing_key_file": str(key_file)}]}},
        "w.yaml",
        checks=CHECKS,
        channels=CHANNELS,
    )
    options = config.notify.channels[0].options
    assert isinstance(options, PagerDutyConfig)
    assert options.url == DEFAULT_URL == "https://events.pagerduty.com/v2/enqueue"
    assert options.routing_key.reveal() == ROUTING_KEY
    assert ROUTING_KEY not in repr(options)


def test_routing_key_never_reaches_the_log(
    pagerduty_receiver: WebhookServer, transports: Transports, routing_key: str, tmp_path: Path,
    make_notification: Callable[..., Notification], make_outbox: Callable[..., Outbox],
    caplog: pytest.LogCaptureFixture,
) -> None:  # fmt: skip
    pagerduty_receiver.respond(Reply(400, {"status": "invalid event", "errors": [f"bad key {routing_key}"]}))
    outbox = make_outbox({"pager": pd_channel(transports, pagerduty_receiver.url)}, state_dir=tmp_path / "s")
    n = make_notification()
    with caplog.at_level(logging.DEBUG):
        outbox.enqueue(n, ["pager"])
        pagerduty_receiver.wait_for(1)
        outbox.close()
    assert "event=notification_rejected" in caplog.text
    assert routing_key not in caplog.text
    [row] = _stored_errors(tmp_path / "s" / "state.db")
    assert "HTTP 400" in row and routing_key not in row


def _stored_errors(db: Path) -> list[str]:
    with sqlite3.connect(db) as conn:
        return [error for (error,) in conn.execute("SELECT last_error FROM outbox")]


def test_receiver_validator_knows_pagerduty_rules() -> None:
    assert validate_pagerduty_event({"routing_key": ROUTING_KEY, "event_action": "resolve"}) == [
        "'dedup_key' is required for resolve"
    ]
    assert "'payload.severity' must be one of critical, error, warning, info" in validate_pagerduty_event(
        {
            "routing_key": ROUTING_KEY,
            "event_action": "trigger",
            "payload": {"summary": "s", "source": "h", "severity": "high"},
        }
    )
