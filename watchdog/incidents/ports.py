"""The engine's two outward edges: the pager it hands messages to, and the observer it reports
its domain events to. The daemon passes in the real ones (watchdog.service.wiring): the
durable outbox (watchdog.delivery.pager.OutboxPager) and the Prometheus counters
(watchdog.service.metrics.IncidentCounters). The engine counts nothing and sends nothing
itself.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from watchdog.common.incident_history import DeliveryEntry
from watchdog.common.incident_terms import Severity
from watchdog.common.status_document import OutboxSummary
from watchdog.config.model import WatchdogConfig
from watchdog.delivery.notification import Kind, Notification


class Pager(Protocol):
    """What the engine needs from delivery.

    `enqueue` commits before it returns; enqueueing a notification id, or a `key`, twice is a
    no-op, which makes the engine's deterministic keys (incident id / message number) an
    exactly-once guard across crashes, while notification ids are random: after a crash
    that lost what the store kept in memory, message numbers repeat but ids never do."""

    def enqueue(
        self, n: Notification, channels: Sequence[str], fallback: Sequence[str] = (), *, key: str | None = None
    ) -> None: ...

    def snapshot(self) -> OutboxSummary: ...

    def history(self, incident_id: str) -> list[DeliveryEntry]:
        """Every message of the incident per channel, oldest first, with what became of it."""
        ...

    def reload(self, config: WatchdogConfig) -> None: ...

    def close(self) -> None: ...


class IncidentObserver(Protocol):
    """Domain events of the engine, reported as they happen (on the engine's thread, under its
    lock: implementations only count or log, they never call back)."""

    def opened(self, check: str, severity: Severity) -> None: ...

    def restart_finished(self, check: str, result: str) -> None:
        """`result` is RestartOutcome.result: ok | failed | timeout | error."""
        ...

    def auto_repaired(self, check: str) -> None: ...

    def gave_up(self, check: str) -> None:
        """A failure needed a restart and the restart budget was used up (a restart loop)."""
        ...

    def paged(self, check: str, severity: Severity) -> None: ...

    def message_queued(self, kind: Kind) -> None: ...
