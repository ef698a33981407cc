"""Many services through Apprise: ntfy, Microsoft Teams (Workflows), Slack, Mattermost,
Telegram, SMS gateways, JSON webhooks, e-mail..., one channel per list of Apprise URLs.

The URLs carry the services' secrets (tokens in paths, passwords), so they come only from
`urls_env` or `urls_file` (one URL per line or separated by spaces; `#` starts a comment
line), are registered with the log scrubber piece by piece, and no error text quotes them:
errors name the service (Apprise's name for it) and the status it answered.

Apprise's `notify()` says only delivered or not, and its plugins catch every exception
themselves (each plugin's `send()` returns a bool), so there is no exception to class.
Whether a failure is worth retrying is read from the structured result Apprise 2 returns for
each service: its status (TIMEOUT is transient) and the log lines Apprise captured from that
service during that very attempt. Every Apprise HTTP plugin reports a refused request as
`Failed to send ...: REASON - error=STATUS.`; the status is classed like the daemon's own
HTTP channels (watchdog.delivery.channels.http): 408/425/429/5xx transient, any other
permanent. A failure without a status (connection refused, DNS, TLS, a timeout) is transient.
So is a failed `mailto://`: Apprise's SMTP helper logs the server's reply on its module
logger, outside the service's capture, so a refusal cannot be told from greylisting; the
outbox then falls back once the channel keeps failing (`fallback_after_attempts`). For
exact SMTP classes use the `email` channel. Each URL is sent to on its own, and a retry goes
only to the URLs that did not take the message yet; the send is a permanent rejection
(fallback to the route's other channels) only when no URL took it and none failed
transiently.

Native formatting: the headline is the title and Apprise's notify type carries the severity
(FAILURE for critical, WARNING for warning, SUCCESS for resolved: Slack, Teams, Mattermost
colour by it). ntfy URLs also get a priority, tags (severity emoji, host, check), and — with
ack links configured — the link as click target and an "Acknowledge" action button (an HTTP
POST to the link); whatever the user's URL already sets wins.
"""

from __future__ import annotations

import logging
import re
import threading
from dataclasses import dataclass, field
from urllib.parse import parse_qsl, quote, unquote, urlencode, urlsplit, urlunsplit

import apprise

from watchdog.common.configtools import Duration, Secret
from watchdog.common.hostnames import is_ip_literal
from watchdog.common.logs import event
from watchdog.delivery.channels.base import Channel, DeliveryError, PermanentError, TransientError
from watchdog.delivery.channels.transports import Transports
from watchdog.delivery.notification import Notification

log = logging.getLogger(__name__)

_HTTP_STATUS = re.compile(r"error=(\d{3})\d*\b")
"""ntfy reports its own 5-digit error code when it sends one (40301 = HTTP 403, reason 01)."""
_RETRY_HTTP = frozenset({408, 425, 429})
_MIN_SCRUB_PART = 6
_NTFY_SCHEMES = frozenset({"ntfy", "ntfys"})
_NTFY_PRIORITY = {"critical": "max", "warning": "high", "resolve": "default", "test": "low"}
_NTFY_EMOJI = {"critical": "rotating_light", "warning": "warning", "resolve": "white_check_mark", "test": "test_tube"}


def split_urls(text: str) -> tuple[str, ...]:
    """The URLs in a `urls_env`/`urls_file` value: whitespace-separated, `#` lines skipped."""
    lines = (line for line in text.splitlines() if not line.lstrip().startswith("#"))
    return tuple(url for line in lines for url in line.split())


@dataclass(frozen=True)
class AppriseConfig:
    urls: Secret
    timeout: Duration = 10.0
    parsed: tuple[str, ...] = field(init=False, default=(), repr=False)  # the URLs: secrets

    def __post_init__(self) -> None:
        if not isinstance(self.urls, Secret):  # the parser hands over None when both keys are absent
            raise ValueError("urls_env or urls_file is required (Apprise URLs carry secrets: never inline)")
        if self.timeout <= 0:
            raise ValueError("timeout must be greater than 0")
        urls = split_urls(self.urls.reveal())
        if not urls:
            raise ValueError(f"{self.urls.origin} holds no Apprise URL")
        for i, url in enumerate(urls, 1):
            if apprise.Apprise.instantiate(url, asset=_asset()) is None:
                scheme = url.partition("://")[0] if "://" in url else "none"
                raise ValueError(
                    f"URL {i} of {self.urls.origin} is not one Apprise can use (scheme {scheme!r}; "
                    "see Apprise's list of services)"
                )
        object.__setattr__(self, "parsed", urls)


def _asset() -> apprise.AppriseAsset:
    """Apprise keeps nothing on disk (its persistent store) and loads no custom plugins."""
    return apprise.AppriseAsset(storage_mode="memory", plugin_paths=[])


def url_secrets(url: str) -> set[str]:
    """The URL and every part of it that may be a token (user, password, host unless it is
    an IP or localhost, path segments, query values), for the scrubber."""
    found = {url}
    try:
        parts = urlsplit(url)
        host = parts.hostname or ""
    except ValueError:
        return found
    pieces = [parts.username or "", parts.password or "", *parts.path.split("/")]
    pieces += [value for _, value in parse_qsl(parts.query)]
    if host and host != "localhost" and not is_ip_literal(host):
        pieces.append(host)
    for piece in pieces:
        for value in (piece, unquote(piece)):
            if len(value) >= _MIN_SCRUB_PART:
                found.add(value)
    return found


def _level(n: Notification) -> str:
    if n.kind in ("resolve", "test"):
        return n.kind
    return n.severity


def notify_type(n: Notification) -> str:
    return {
        "critical": apprise.NotifyType.FAILURE,
        "warning": apprise.NotifyType.WARNING,
        "resolve": apprise.NotifyType.SUCCESS,
        "test": apprise.NotifyType.INFO,
    }[_level(n)]


def body_of(n: Notification) -> str:
    lines = [n.details.rstrip()]
    if n.runbook_url:
        lines.append(f"Runbook: {n.runbook_url}")
    if n.ack_url:
        lines.append(f"Acknowledge: {n.ack_url}")
    return "\n".join(lines)


def native_url(url: str, n: Notification) -> str:
    """`url` with the per-message options its service understands (ntfy: priority, tags,
    click, the ack action), unless the URL sets them itself."""
    parts = urlsplit(url)
    if parts.scheme.lower() not in _NTFY_SCHEMES:
        return url
    query = parse_qsl(parts.query, keep_blank_values=True)
    given = {key.lower() for key, _ in query}
    extra = {
        "priority": _NTFY_PRIORITY[_level(n)],
        "tags": ",".join((_NTFY_EMOJI[_level(n)], n.host, n.check)),
    }
    if n.ack_url:
        extra["click"] = n.ack_url
        extra["actions"] = f"http, Acknowledge, {n.ack_url}, method=POST, clear=true"
    if "xtags" in given:
        given.add("tags")
    query += [(key, value) for key, value in extra.items() if key not in given]
    return urlunsplit(parts._replace(query=urlencode(query, quote_via=quote)))  # Apprise reads %20, not +


def classify(result: apprise.AppriseResult) -> DeliveryError | None:
    """None when the service took the message; else the outbox's error class for its failure."""
    if bool(result):
        return None
    service = next(iter(result), None)
    name = service.name if service is not None else "Apprise"
    if service is not None and service.status == apprise.AppriseResultStatus.TIMEOUT:
        return TransientError(f"{name}: no answer in time")
    lines = [entry.message for entry in (service.logs() if service is not None else result.logs())]
    for line in reversed(lines):
        if found := _HTTP_STATUS.search(line):
            status = int(found.group(1))
            text = f"{name}: HTTP {status}"
            if status in _RETRY_HTTP or status >= 500:
                return TransientError(text)
            return PermanentError(text)
    return TransientError(f"{name}: not delivered (no answer from the service)")


class AppriseChannel(Channel[AppriseConfig]):
    Config = AppriseConfig

    def __init__(self, name: str, config: AppriseConfig, transports: Transports) -> None:
        super().__init__(name, config, transports)
        self._done: dict[str, set[int]] = {}
        """By notification id: the URLs (by index) that took it or rejected it for good."""
        self._lock = threading.Lock()

    def secrets(self) -> tuple[str, ...]:
        found: set[str] = {self.config.urls.reveal()}
        for url in self.config.parsed:
            found |= url_secrets(url)
        return tuple(sorted(found))

    def send(self, n: Notification) -> None:
        with self._lock:
            done = self._done.setdefault(n.id, set())
        delivered = rejected = 0
        transient: list[str] = []
        permanent: list[str] = []
        for index, url in enumerate(self.config.parsed):
            if index in done:
                continue
            error = classify(self._notify(url, n))
            if isinstance(error, TransientError):
                transient.append(str(error))
                continue
            done.add(index)
            if error is None:
                delivered += 1
            else:
                rejected += 1
                permanent.append(str(error))
                event(log, "apprise_rejected", logging.WARNING, channel=self.name, notification=n.id, error=error)
        if transient:
            raise TransientError("; ".join(transient + permanent))
        with self._lock:
            self._done.pop(n.id, None)
        if rejected and rejected == len(self.config.parsed):
            raise PermanentError("; ".join(permanent))

    def _notify(self, url: str, n: Notification) -> apprise.AppriseResult:
        sender = apprise.Apprise(asset=_asset())
        sender.add(native_url(url, n))
        return sender.notify(
            body=body_of(n),
            title=n.headline,
            notify_type=notify_type(n),
            body_format=apprise.NotifyFormat.TEXT,
            timeout=self.config.timeout,
            log_level=logging.DEBUG,
        )
