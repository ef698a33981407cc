"""Prometheus Alertmanager: alerts POSTed to `{url}/api/v2/alerts`, kept alive by re-sending.

Alertmanager treats an alert as resolved once its `endsAt` has passed, and sets `endsAt`
itself when a client leaves it out; so, like Prometheus, a firing alert is re-sent every
`resend_every` with `endsAt` a few periods ahead (it expires by itself if this daemon dies),
and a resolve sends `endsAt` one second in the past, which is how the API takes a resolve.
The alert's identity is its label set; `incident` makes it the incident id, and every label
stays the same from trigger to resolve so they all address the same alert.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from watchdog.common.configtools import Duration
from watchdog.delivery.channels.base import Channel
from watchdog.delivery.channels.http import check_http_url, post_json
from watchdog.delivery.channels.transports import Transports
from watchdog.delivery.notification import Notification

ALERT_NAME = "ShopWatchdogCheckFailed"
TEST_ALERT_NAME = "ShopWatchdogTest"
_EXPIRY_PERIODS = 4
_TEST_ALERT_LIFETIME = timedelta(minutes=5)


@dataclass(frozen=True)
class AlertmanagerConfig:
    url: str
    resend_every: Duration = 60.0
    timeout: Duration = 10.0
    generator_url: str | None = None

    def __post_init__(self) -> None:
        check_http_url(self.url)
        if self.resend_every <= 0:
            raise ValueError("resend_every must be greater than 0")
        if self.timeout <= 0:
            raise ValueError("timeout must be greater than 0")


def alert_for(n: Notification, now: datetime, resend_every: float, generator_url: str | None) -> dict[str, Any]:
    """The postable alert for `n` sent at `now` (labels, annotations, startsAt, endsAt)."""
    labels = {
        "alertname": TEST_ALERT_NAME if n.kind == "test" else ALERT_NAME,
        "instance": n.host,
        "check": n.check,
        "check_type": n.check_type,
        "severity": n.severity,
        "incident": n.incident_id,
    }
    annotations = {"summary": n.summary, "description": n.details}
    if n.runbook_url:
        annotations["runbook_url"] = n.runbook_url
    if n.kind == "resolve":
        ends_at = now - timedelta(seconds=1)
    elif n.kind == "test":
        ends_at = now + _TEST_ALERT_LIFETIME
    else:
        ends_at = now + timedelta(seconds=_EXPIRY_PERIODS * resend_every)
    starts_at = min(n.since, ends_at - timedelta(seconds=1))
    alert: dict[str, Any] = {
        "labels": labels,
        "annotations": annotations,
        "startsAt": starts_at.isoformat(),
        "endsAt": ends_at.isoformat(),
    }
    if generator_url:
        alert["generatorURL"] = generator_url
    return alert


class AlertmanagerChannel(Channel[AlertmanagerConfig]):
    Config = AlertmanagerConfig

    def __init__(self, name: str, config: AlertmanagerConfig, transports: Transports) -> None:
        super().__init__(name, config, transports)
        self.resend_every = config.resend_every

    def send(self, n: Notification) -> None:
        config = self.config
        now = self.transports.clock.now()
        alert = alert_for(n, now, config.resend_every, config.generator_url)
        post_json(self.transports.http, config.url.rstrip("/") + "/api/v2/alerts", [alert], timeout=config.timeout)
