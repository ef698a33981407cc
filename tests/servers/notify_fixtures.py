"""pytest fixtures for real notification receivers: SMTP, webhook/PagerDuty, Alertmanager.

Every receiver is our own, on a fresh loopback port, and stopped at teardown. `make_outbox`
builds Outboxes on the test's own state DB with a fast retry policy and closes them.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from checks.registry import CHECKS
from tests.servers.alertmanager import Alertmanager, AlertmanagerCluster
from tests.servers.smtp import HangingSmtpServer, SmtpServer
from tests.servers.webhook import WebhookServer
from watchdog.common.clock import Clock, SystemClock
from watchdog.common.metric_values import Recorder
from watchdog.config.loader import parse_config
from watchdog.delivery.channels.base import Channel
from watchdog.delivery.channels.registry import CHANNELS, build_channels
from watchdog.delivery.channels.transports import Transports, default_transports
from watchdog.delivery.notification import Notification, new_notification_id
from watchdog.delivery.outbox import Outbox, RetryPolicy
from watchdog.service.metrics import outbox_state
from watchdog.storage.database import Database
from watchdog.storage.outbox import OutboxStore

FAST_RETRY = RetryPolicy(initial=0.05, maximum=0.5, jitter=0.1, fallback_after_attempts=3, fallback_after=30.0)


@pytest.fixture
def smtp_server() -> Iterator[SmtpServer]:
    server = SmtpServer().start()
    yield server
    server.stop()


@pytest.fixture
def hanging_smtp() -> Iterator[HangingSmtpServer]:
    server = HangingSmtpServer()
    yield server
    server.close()


@pytest.fixture
def webhook_server() -> Iterator[WebhookServer]:
    server = WebhookServer().start()
    yield server
    server.close()


@pytest.fixture
def pagerduty_receiver() -> Iterator[WebhookServer]:
    """Answers like PagerDuty's Events API v2 and validates every event against its rules."""
    server = WebhookServer(pagerduty=True).start()
    yield server
    server.close()


@pytest.fixture
def alertmanager(tmp_path: Path) -> Iterator[tuple[Alertmanager, WebhookServer]]:
    """A real Alertmanager and the webhook receiver it notifies."""
    hook = WebhookServer().start()
    am = Alertmanager(tmp_path / "alertmanager", hook.url)
    try:
        am.start()
        yield am, hook
    finally:
        am.stop()
        hook.close()


@pytest.fixture
def alertmanager_cluster(tmp_path: Path) -> Iterator[tuple[AlertmanagerCluster, WebhookServer]]:
    """A real two-node Alertmanager cluster (gossip on loopback) and the webhook receiver it notifies."""
    hook = WebhookServer().start()
    try:
        with AlertmanagerCluster(tmp_path / "am-cluster", hook.url) as cluster:
            yield cluster, hook
    finally:
        hook.close()


@pytest.fixture
def transports() -> Iterator[Transports]:
    t = default_transports()
    yield t
    t.http.close()


@pytest.fixture
def make_notification() -> Callable[..., Notification]:
    """make_notification(kind=..., incident_id=..., ...) -> a Notification about check `web`."""
    counter = itertools.count(1)

    def make(**overrides: Any) -> Notification:
        now = datetime.now(UTC)
        values: dict[str, Any] = {
            "id": new_notification_id(),
            "incident_id": f"inc-test-{next(counter)}",
            "kind": "trigger",
            "severity": "critical",
            "host": "shop-web-1",
            "check": "web",
            "check_type": "http",
            "summary": "web: connection refused; restart of nginx.service failed (exit 1)",
            "details": "GET http://127.0.0.1/healthz: connection refused\nrestart of nginx.service failed (exit 1)",
            "since": now - timedelta(minutes=2),
            "created_at": now,
            "runbook_url": "https://wiki.example/runbooks/web",
        }
        values.update(overrides)
        return Notification(**values)

    return make


@pytest.fixture
def make_outbox(tmp_path: Path) -> Iterator[Callable[..., Outbox]]:
    """make_outbox(channels, state_dir=, policy=, recorder=, clock=, start=) -> an Outbox (closed at teardown)."""
    made: list[tuple[Outbox, Database]] = []

    def make(
        channels: Mapping[str, Channel[object]],
        *,
        state_dir: Path | None = None,
        policy: RetryPolicy = FAST_RETRY,
        recorder: Recorder | None = None,
        clock: Clock | None = None,
        start: bool = True,
    ) -> Outbox:
        recorder = recorder or Recorder()
        db = Database(str(state_dir or tmp_path))
        outbox = Outbox(
            OutboxStore(db),
            channels,
            clock or SystemClock(),
            recorder,
            policy=policy,
            close_timeout=5.0,
        )
        recorder.read_at_scrape(outbox_state(outbox))  # as the daemon reads it: at scrape time
        made.append((outbox, db))
        if start:
            outbox.start()
        return outbox

    yield make
    for outbox, db in made:
        outbox.close()
        db.close()


def channel_spec(name: str, type_: str, **options: Any) -> dict[str, Any]:
    """A `notify.channels` entry as YAML would give it."""
    return {"name": name, "type": type_, **options}


def build_test_channels(entries: Sequence[dict[str, Any]], transports: Transports) -> dict[str, Channel[object]]:
    """Channels parsed through the real config parser (so tests cover the config keys too)."""
    config = parse_config({"notify": {"channels": list(entries)}}, "test.yaml", checks=CHECKS, channels=CHANNELS)
    return build_channels(config.notify.channels, transports)
