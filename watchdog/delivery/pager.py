"""Delivery as the incident engine and the CLI use it.

`OutboxPager` is the engine's `Pager`: channels built from the config, the durable outbox
that retries and falls back, and the transports they share (closed with it). `test_notify`
sends one message synchronously, bypassing the outbox, so `shop-watchdog test-notify` shows
the receiver's answer at once.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from watchdog.common.clock import Clock, SystemClock
from watchdog.common.incident_history import DeliveryEntry
from watchdog.common.metric_values import Recorder
from watchdog.common.status_document import OutboxSummary
from watchdog.config.model import WatchdogConfig
from watchdog.delivery.channels.base import DeliveryError
from watchdog.delivery.channels.registry import build_channels
from watchdog.delivery.channels.transports import default_transports
from watchdog.delivery.notification import Notification
from watchdog.delivery.outbox import Outbox
from watchdog.storage.outbox import OutboxStore


class OutboxPager:
    """The delivery side as the engine uses it: channels built from the config, the durable
    outbox over `store`, and the transports they share (closed with it)."""

    def __init__(self, config: WatchdogConfig, store: OutboxStore, clock: Clock, recorder: Recorder) -> None:
        self._transports = default_transports(clock)
        channels = build_channels(config.notify.channels, self._transports)
        self._outbox = Outbox(store, channels, clock, recorder)
        self._outbox.start()

    def enqueue(
        self, n: Notification, channels: Sequence[str], fallback: Sequence[str] = (), *, key: str | None = None
    ) -> None:
        self._outbox.enqueue(n, channels, fallback, key=key)

    def snapshot(self) -> OutboxSummary:
        return self._outbox.snapshot()

    def history(self, incident_id: str) -> list[DeliveryEntry]:
        return self._outbox.history(incident_id)

    def reload(self, config: WatchdogConfig) -> None:
        self._outbox.reload(build_channels(config.notify.channels, self._transports))

    def close(self) -> None:
        self._outbox.close()
        self._transports.http.close()


def test_notify(config: WatchdogConfig, channel: str) -> tuple[bool, str]:
    """Sends a `test` message through one channel synchronously (no outbox).

    Raises KeyError for an unknown channel name."""
    spec = config.notify.channel(channel)
    transports = default_transports(SystemClock())
    try:
        ch = build_channels([spec], transports)[channel]
        now = transports.clock.now()
        n = Notification(
            id=uuid.uuid4().hex,
            incident_id="test-" + uuid.uuid4().hex[:10],
            kind="test",
            severity="warning",
            host=config.host,
            check="test-notify",
            check_type="test",
            summary=f"test message from shop-watchdog on {config.host} through channel {channel}",
            details=f"Sent by `shop-watchdog test-notify {channel}` at {now.isoformat()}. No action needed.",
            since=now,
            created_at=now,
        )
        ch.send(n)
    except DeliveryError as exc:
        return False, f"{channel}: {type(exc).__name__}: {exc}"
    finally:
        transports.http.close()
    return True, f"{channel}: delivered"
