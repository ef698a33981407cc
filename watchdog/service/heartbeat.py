"""Dead man's switch: regular pings to an outside receiver while the daemon is healthy.

A watchdog that dies silently is the failure nobody hears about. The receiver (healthchecks.io
or anything with the same convention) expects a GET of `url` every `interval` and alerts on
its own when the pings stop, so a dead host, a dead daemon or a broken network all page
without any help from this machine. When the daemon knows it is unhealthy it reports so at
once with `url` + `/fail` (the healthchecks.io convention); with `fail_suffix=None` it sends
nothing instead and the receiver notices the silence.

The ping URL usually embeds the receiver's secret check id, so it is never logged: log lines
name the receiver's host only.
"""

from __future__ import annotations

import logging
import urllib.parse
from typing import Protocol

import requests

from watchdog.common.clock import Clock
from watchdog.common.logs import event

log = logging.getLogger(__name__)


class HttpGet(Protocol):
    def __call__(self, url: str, timeout: float) -> int:
        """HTTP status of a GET of `url`; raises OSError when no response arrives."""
        ...


class RequestsGet:
    """The real sender: one GET through a `requests` session, redirects followed."""

    def __init__(self, session: requests.Session | None = None) -> None:
        self._session = session or requests.Session()

    def __call__(self, url: str, timeout: float) -> int:
        with self._session.get(url, timeout=timeout, stream=True) as response:
            return response.status_code


class Heartbeat:
    """Pings `url` every `interval` seconds, and at once whenever health changes.

    `tick()` is meant to be called often (e.g. from the daemon's main loop, from a thread
    that may block up to `timeout`); it decides whether a ping is due. Attempts, not
    successes, restart the interval: a receiver that is down is retried at the next
    interval, not hammered.
    """

    def __init__(
        self,
        url: str,
        interval: float,
        clock: Clock,
        sender: HttpGet,
        *,
        timeout: float = 10.0,
        fail_suffix: str | None = "/fail",
    ) -> None:
        if interval <= 0:
            raise ValueError("heartbeat interval must be greater than 0")
        self._url = url
        self._interval = interval
        self._clock = clock
        self._sender = sender
        self._timeout = timeout
        self._fail_suffix = fail_suffix
        self._last_attempt: float | None = None
        self._last_healthy: bool | None = None
        self._receiver = urllib.parse.urlsplit(url).hostname or "?"

    def due(self, healthy: bool) -> bool:
        if self._last_attempt is None or healthy != self._last_healthy:
            return True
        return self._clock.monotonic() - self._last_attempt >= self._interval

    def tick(self, healthy: bool) -> bool | None:
        """Pings if due; None when not due, else whether the receiver accepted the ping."""
        if not self.due(healthy):
            return None
        return self.ping(healthy)

    def ping(self, healthy: bool) -> bool:
        """Sends one ping now: `url` when healthy, `url`+fail_suffix when not.

        True when the receiver answered 2xx. An unhealthy ping without a fail suffix sends
        nothing and returns False.
        """
        self._last_attempt = self._clock.monotonic()
        self._last_healthy = healthy
        if healthy:
            url = self._url
        elif self._fail_suffix is not None:
            url = self._url.rstrip("/") + self._fail_suffix
        else:
            return False
        try:
            status = self._sender(url, self._timeout)
        except OSError as exc:
            event(log, "heartbeat_failed", logging.WARNING, receiver=self._receiver, error=type(exc).__name__)
            return False
        if not 200 <= status < 300:
            event(log, "heartbeat_rejected", logging.WARNING, receiver=self._receiver, status=status)
            return False
        event(log, "heartbeat_sent", logging.DEBUG, receiver=self._receiver, healthy=healthy)
        return True
