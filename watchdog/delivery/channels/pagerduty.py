"""PagerDuty Events API v2: trigger and resolve alerts deduplicated by incident id.

PagerDuty answers 202 when it accepted an event, 400 for an invalid one (permanent), 429
when rate-limited and 5xx on its own trouble (both retried). Reminders and escalations are
sent as another `trigger` with the same `dedup_key`: PagerDuty folds them into the open
alert, so re-sending after an unclear outcome is harmless. A `test` message triggers and
at once resolves a throw-away alert, so a test never leaves an incident open.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from watchdog.common.configtools import Duration, Secret
from watchdog.delivery.channels.base import Channel
from watchdog.delivery.channels.http import check_http_url, post_json
from watchdog.delivery.notification import Notification

DEFAULT_URL = "https://events.pagerduty.com/v2/enqueue"
_SUMMARY_LIMIT = 1024
_DEDUP_LIMIT = 255
_DETAILS_LIMIT = 8000


@dataclass(frozen=True)
class PagerDutyConfig:
    routing_key: Secret
    url: str = DEFAULT_URL
    timeout: Duration = 10.0

    def __post_init__(self) -> None:
        if not isinstance(self.routing_key, Secret):  # the parser hands over None when both keys are absent
            raise ValueError("routing_key_env or routing_key_file is required (the integration key)")
        check_http_url(self.url)
        if self.timeout <= 0:
            raise ValueError("timeout must be greater than 0")


def trigger_event(n: Notification, routing_key: str) -> dict[str, Any]:
    payload: dict[str, Any] = {
        "summary": _cut(n.headline, _SUMMARY_LIMIT),
        "source": n.host,
        "severity": "info" if n.standalone else n.severity,
        "timestamp": n.since.isoformat(),
        "component": n.check,
        "group": n.host,
        "class": n.check_type,
        "custom_details": {
            "details": _cut(n.details, _DETAILS_LIMIT),
            "kind": n.kind,
            "incident": n.incident_id,
            "notification": n.id,
            "since": n.since.isoformat(),
        },
    }
    event: dict[str, Any] = {
        "routing_key": routing_key,
        "event_action": "trigger",
        "dedup_key": _cut(n.incident_id, _DEDUP_LIMIT),
        "payload": payload,
        "client": "shop-watchdog",
    }
    links = [{"href": n.runbook_url, "text": "Runbook"}] if n.runbook_url else []
    if n.ack_url:
        links.append({"href": n.ack_url, "text": "Acknowledge in shop-watchdog"})
    if links:
        event["links"] = links
    return event


def resolve_event(n: Notification, routing_key: str) -> dict[str, Any]:
    return {"routing_key": routing_key, "event_action": "resolve", "dedup_key": _cut(n.incident_id, _DEDUP_LIMIT)}


def _cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


class PagerDutyChannel(Channel[PagerDutyConfig]):
    Config = PagerDutyConfig

    def _key(self) -> str:
        return self.config.routing_key.reveal()

    def secrets(self) -> tuple[str, ...]:
        return (self._key(),)

    def send(self, n: Notification) -> None:
        if n.kind == "resolve":
            self._post(resolve_event(n, self._key()))
            return
        self._post(trigger_event(n, self._key()))
        if n.standalone:
            self._post(resolve_event(n, self._key()))

    def _post(self, event: dict[str, Any]) -> None:
        config = self.config
        post_json(self.transports.http, config.url, event, timeout=config.timeout)
