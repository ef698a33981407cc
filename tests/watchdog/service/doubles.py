"""A result sink without incidents, for tests of the daemon's loop (and benchmarks).

The daemon monitors and exports metrics only. Silences are recorded so the API contract
holds, but nothing acts on them.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import datetime
from typing import Any

from watchdog.common.ack_links import AckClaim, LinkOutcome
from watchdog.common.clock import Clock
from watchdog.common.incident_history import IncidentDetail, IncidentSummary
from watchdog.common.metric_values import Recorder
from watchdog.common.status_document import Availability, IncidentEntry, OutboxSummary, RepairEntry, SilenceEntry
from watchdog.config.model import CheckSpec, WatchdogConfig
from watchdog.monitor.checkstate import CheckState, Rechecker, ResultSink
from watchdog.service.daemon import SinkFactory, iso
from watchdog.storage.releases import ReleaseNote, ReleaseRecord


class NullSink:
    def __init__(self, config: WatchdogConfig, clock: Clock) -> None:
        self._names = {c.name for c in config.checks}
        self._clock = clock
        self._lock = threading.Lock()
        self._silences: list[dict[str, Any]] = []

    def on_result(self, spec: CheckSpec, state: CheckState) -> None:
        return None

    def tick(self) -> None:
        return None

    def reload(self, config: WatchdogConfig) -> None:
        with self._lock:
            self._names = {c.name for c in config.checks}

    def incidents_snapshot(self) -> list[IncidentEntry]:
        return []

    def outbox_snapshot(self) -> OutboxSummary:
        return {"pending": 0, "failed": 0}

    def recent_repairs(self, since: datetime) -> list[RepairEntry]:
        return []

    def availability(self, window: float) -> Availability:
        return Availability(window="0s", since="", availability=None, good_seconds=0.0, total_seconds=0.0, checks=[])

    def report(self, since: float) -> dict[str, Any]:
        return {}

    def ack(self, incident_id: str, by: str) -> bool:
        return False

    def ack_link(self, claim: AckClaim, by: str) -> LinkOutcome:
        return LinkOutcome.NOT_OPEN

    def silence(self, check: str, seconds: float, reason: str, by: str) -> dict[str, Any]:
        with self._lock:
            if check not in self._names:
                raise KeyError(check)
            start = self._clock.now()
            item = {"check": check, "reason": reason, "by": by, "start": iso(start), "seconds": seconds}
            self._silences.append(item)
            return item

    def silences_snapshot(self) -> list[SilenceEntry]:
        return []

    def unsilence(self, key: str, by: str) -> list[SilenceEntry]:
        raise KeyError(key)

    def incident(self, incident_id: str) -> IncidentDetail | None:
        return None

    def incidents(self, since: datetime) -> list[IncidentSummary]:
        return []

    def record_release(self, note: ReleaseNote) -> ReleaseRecord:
        """The release as stored, without storing it (no incidents here to name it)."""
        started = self._clock.now() if note.event == "start" else None
        finished = self._clock.now() if note.event == "finish" else None
        return ReleaseRecord(note.id, started, finished, note.commit, note.branch, note.by, note.hotfix, note.reason)

    def releases_started_since(self, since: datetime) -> list[ReleaseRecord]:
        return []

    def close(self) -> None:
        return None


def null_sink_factory(
    config: WatchdogConfig, *, clock: Clock, recheck: Rechecker, recorder: Recorder, wake: Callable[[], None]
) -> ResultSink:
    return NullSink(config, clock)


def sink_factory_for(sink: ResultSink) -> SinkFactory:
    """A sink factory that hands the daemon an already built `sink` (to provoke it from a test)."""

    def factory(
        config: WatchdogConfig,
        *,
        clock: Clock,
        recheck: Rechecker,
        recorder: Recorder,
        wake: Callable[[], None],
    ) -> ResultSink:
        return sink

    return factory
