"""The channel contract: how a transport tells the outbox "try again later" from "never".

A channel renders a `Notification` for one transport and sends it once, synchronously, with
every blocking call bounded by its configured timeout. It never retries by itself: the
outbox owns retries, backoff and fallback, and decides on the error class alone:

* `TransientError` (network errors, timeouts, HTTP 408/429/5xx, SMTP 4xx): retried with
  exponential backoff until delivered; `retry_after` carries a server's Retry-After hint.
* `PermanentError` (HTTP 4xx, SMTP 5xx, a refused login): not retried; the outbox logs and
  counts it and routes the message to the fallback channels.

Error messages end up in logs and the status API, so they never contain secrets (routing
keys, passwords, tokens); the secret values are also registered with the log scrubber.
"""

from __future__ import annotations

from typing import TypeVar

from watchdog.common.plugin import Configured
from watchdog.delivery.channels.transports import Transports
from watchdog.delivery.notification import Notification

ConfigT_co = TypeVar("ConfigT_co", covariant=True)


class DeliveryError(Exception):
    """A send that did not reach the receiver; `str()` is safe to log."""


class TransientError(DeliveryError):
    def __init__(self, message: str, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class PermanentError(DeliveryError):
    pass


class Channel(Configured[ConfigT_co]):
    """Base class of all channels; subclasses set `Config` (the type argument too:
    `class EmailChannel(Channel[EmailConfig])`, see watchdog.common.plugin) and implement `send`.

    `resend_every` (seconds) asks the outbox to re-send the latest firing notification of an
    open incident periodically (Alertmanager forgets alerts that are not refreshed); None
    means send once. `resend_resolved_for` (seconds) keeps re-sending an incident's resolve
    that long too: for a channel whose send counts as delivered when only some of its
    receivers took it (the nodes of an Alertmanager cluster).
    """

    resend_every: float | None = None
    resend_resolved_for: float | None = None

    def __init__(self, name: str, config: ConfigT_co, transports: Transports) -> None:
        super().__init__(config)
        self.name = name
        self.transports = transports

    def secrets(self) -> tuple[str, ...]:
        """Secret values this channel uses, for the log scrubber."""
        return ()

    def send(self, n: Notification) -> None:
        raise NotImplementedError
