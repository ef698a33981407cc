"""Prometheus Alertmanager: alerts POSTed to `{url}/api/v2/alerts` of every node, kept alive by re-sending.

Alertmanager treats an alert as resolved once its `endsAt` has passed, and sets `endsAt`
itself when a client leaves it out; so, like Prometheus, a firing alert is re-sent every
`resend_every` with `endsAt` four periods ahead (it expires by itself if this daemon dies),
and a resolve sends `endsAt` one second in the past, which is how the API takes a resolve.
The alert's identity is its label set; `incident` makes it the incident id, and every label
stays the same from trigger to resolve so they all address the same alert.

A cluster (`urls:`) is sent to as Prometheus sends: every node gets every alert, all at once
(the nodes gossip silences and what they notified, never the alerts themselves), and the
send counts as delivered when at least one node accepted it; a node that failed meanwhile
is logged (`alertmanager_node_failed`) and catches up with the next periodic re-send. Only
when no node accepted does the outbox retry: transiently unless every node rejected it. A
resolve is re-sent too, for as long as a node that missed it would keep the alert (four
periods), as Prometheus re-sends resolved alerts: a node still holding a firing alert that
the others resolved would otherwise notify it again.

Labels follow Prometheus' own alerts: a CamelCase `alertname`, `severity`, the host the
problem is on as `host` (the daemon's `host:`; Prometheus carries no such label unless its
scrape config adds one, which the shipped example does, so both kinds of alert group and
inhibit together), plus `check`, `check_type` and `incident`, and the channel's `labels:`
(like Prometheus' external labels). `generatorURL` links back to what raised the alert, as
Prometheus links to its expression: the incident in this daemon's API under `generator_url`.
"""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import quote, urlsplit

from watchdog.common.configtools import Duration
from watchdog.common.logs import event
from watchdog.delivery.channels.base import Channel, DeliveryError, PermanentError, TransientError
from watchdog.delivery.channels.http import check_http_url, post_json
from watchdog.delivery.channels.transports import Transports
from watchdog.delivery.notification import Notification

log = logging.getLogger(__name__)

ALERT_NAME = "ShopWatchdogCheckFailed"
TEST_ALERT_NAME = "ShopWatchdogTest"
OWN_LABELS = ("alertname", "severity", "host", "check", "check_type", "incident")
_EXPIRY_PERIODS = 4
_TEST_ALERT_LIFETIME = timedelta(minutes=5)
_LABEL_NAME = re.compile(r"^[a-zA-Z_][a-zA-Z0-9_]*$")


@dataclass(frozen=True)
class AlertmanagerConfig:
    """`url` (one node) or `urls` (the nodes of a cluster), not both."""

    url: str | None = None
    urls: tuple[str, ...] = ()
    resend_every: Duration = 60.0
    timeout: Duration = 10.0
    generator_url: str | None = None
    labels: Mapping[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if (self.url is None) == (not self.urls):
            raise ValueError("give the Alertmanager as `url` (one node) or `urls` (every node of a cluster)")
        for i, url in enumerate(self.nodes):
            try:
                check_http_url(url)
            except ValueError as exc:
                raise ValueError(f"urls[{i}]: {exc}" if self.urls else str(exc)) from None
        if len(set(self.nodes)) != len(self.nodes):
            raise ValueError("urls: each node only once")
        if self.generator_url is not None:
            check_http_url(self.generator_url)
        for name in self.labels:
            if not _LABEL_NAME.match(name):
                raise ValueError(f"labels.{name}: not a Prometheus label name ([a-zA-Z_][a-zA-Z0-9_]*)")
            if name in OWN_LABELS:
                raise ValueError(f"labels.{name}: set by the channel itself ({', '.join(OWN_LABELS)})")
        if self.resend_every <= 0:
            raise ValueError("resend_every must be greater than 0")
        if self.timeout <= 0:
            raise ValueError("timeout must be greater than 0")

    @property
    def nodes(self) -> tuple[str, ...]:
        return (self.url,) if self.url is not None else self.urls


def alert_for(
    n: Notification,
    now: datetime,
    resend_every: float,
    generator_url: str | None,
    extra_labels: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """The postable alert for `n` sent at `now` (labels, annotations, startsAt, endsAt)."""
    labels = {
        **(extra_labels or {}),
        "alertname": TEST_ALERT_NAME if n.kind == "test" else ALERT_NAME,
        "severity": n.severity,
        "host": n.host,
        "check": n.check,
        "check_type": n.check_type,
        "incident": n.incident_id,
    }
    annotations = {"summary": n.summary, "description": n.details}
    if n.runbook_url:
        annotations["runbook_url"] = n.runbook_url
    if n.kind == "resolve":
        ends_at = now - timedelta(seconds=1)
    elif n.standalone:
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
        alert["generatorURL"] = f"{generator_url.rstrip('/')}/api/v1/incidents/{quote(n.incident_id, safe='')}"
    return alert


def node_name(url: str) -> str:
    """`host:port` of a node, for logs and errors (never the path or any credentials)."""
    parts = urlsplit(url)
    host = parts.hostname or "?"
    return f"[{host}]:{parts.port}" if ":" in host else f"{host}:{parts.port or parts.scheme}"


class AlertmanagerChannel(Channel[AlertmanagerConfig]):
    Config = AlertmanagerConfig

    def __init__(self, name: str, config: AlertmanagerConfig, transports: Transports) -> None:
        super().__init__(name, config, transports)
        self.resend_every = config.resend_every
        if len(config.nodes) > 1:  # a node that missed the resolve holds the alert until it expires
            self.resend_resolved_for = _EXPIRY_PERIODS * config.resend_every

    def send(self, n: Notification) -> None:
        config = self.config
        alert = alert_for(n, self.transports.clock.now(), config.resend_every, config.generator_url, config.labels)
        failures = self._post_to_all([alert])
        if len(failures) < len(config.nodes):
            for url, exc in failures.items():
                event(
                    log,
                    "alertmanager_node_failed",
                    logging.WARNING,
                    channel=self.name,
                    node=node_name(url),
                    incident=n.incident_id,
                    kind=n.kind,
                    error=str(exc),
                    accepted_by=len(config.nodes) - len(failures),
                )
            return
        raise _all_failed(failures)

    def _post_to_all(self, body: list[dict[str, Any]]) -> dict[str, DeliveryError]:
        """POSTs `body` to every node at once; the failures by node URL (empty: all accepted)."""
        failures: dict[str, DeliveryError] = {}
        lock = threading.Lock()

        def post(url: str) -> None:
            try:
                post_json(self.transports.http, url.rstrip("/") + "/api/v2/alerts", body, timeout=self.config.timeout)
            except DeliveryError as exc:
                with lock:
                    failures[url] = exc
            except Exception as exc:  # a bug must not count as accepted; the outbox retries it
                with lock:
                    failures[url] = TransientError(f"{type(exc).__name__}: {exc}")

        nodes = self.config.nodes
        if len(nodes) == 1:
            post(nodes[0])
            return failures
        threads = [threading.Thread(target=post, args=(url,), name=f"alertmanager-{self.name}") for url in nodes]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()  # each post is bounded by its own timeout
        return failures


def _all_failed(failures: Mapping[str, DeliveryError]) -> DeliveryError:
    """One error for a send that no node accepted: permanent only if every node rejected it."""
    if len(failures) == 1:
        return next(iter(failures.values()))
    each = "; ".join(f"{node_name(url)}: {exc}" for url, exc in failures.items())
    text = f"no Alertmanager node accepted the alert: {each}"
    if all(isinstance(exc, PermanentError) for exc in failures.values()):
        return PermanentError(text)
    hints = [e.retry_after for e in failures.values() if isinstance(e, TransientError) and e.retry_after is not None]
    return TransientError(text, retry_after=min(hints, default=None))
