"""What the scheduler knows about a check, and what it tells the incident engine.

The scheduler owns confirmation (soft/hard, per DESIGN "Confirmation"): a non-OK result
becomes *hard* after `retries` consecutive non-OK results; OK is always hard. After every
completed run it calls `ResultSink.on_result(spec, state)` on the main-loop thread, and
`ResultSink.tick()` on every loop iteration. The incident engine is the real sink; the
scheduler never decides about restarts or pages.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

from checks.base import Status
from watchdog.common.ack_links import AckClaim, LinkOutcome
from watchdog.common.incident_history import IncidentDetail, IncidentSummary
from watchdog.common.status_document import Availability, IncidentEntry, OutboxSummary, RepairEntry, SilenceEntry
from watchdog.config.model import CheckSpec, WatchdogConfig
from watchdog.storage.releases import ReleaseNote, ReleaseRecord


@dataclass(frozen=True)
class CheckState:
    """A check's state after its latest run.

    `since` is when the current status began (wall clock, UTC-aware); `failures` counts
    consecutive non-OK results; `hard` is True for OK and for confirmed failures.
    """

    name: str
    status: Status
    hard: bool
    message: str
    since: datetime
    last_run: datetime
    failures: int
    duration: float
    measurements: Mapping[str, float] = field(default_factory=dict)


class Rechecker(Protocol):
    """Asks the scheduler to run a check again after `delay` seconds (verification after a
    restart), regardless of its interval; the result arrives through `on_result`."""

    def __call__(self, name: str, delay: float) -> None: ...


class ResultSink(Protocol):
    """The incident engine as the scheduler, API and CLI see it.

    `on_result` and `tick` run on the main-loop thread; `ack`, `silence` and the snapshots
    may be called from API threads, so implementations lock their state.
    """

    def on_result(self, spec: CheckSpec, state: CheckState) -> None: ...

    def tick(self) -> None: ...

    def reload(self, config: WatchdogConfig) -> None: ...

    def incidents_snapshot(self) -> list[IncidentEntry]:
        """Unresolved incidents, oldest first, as the status document lists them."""
        ...

    def outbox_snapshot(self) -> OutboxSummary:
        """Delivery queue summary, e.g. {"pending": 2, "failed": 0, "oldest_pending_at": ...}."""
        ...

    def recent_repairs(self, since: datetime) -> list[RepairEntry]:
        """Incidents closed as auto-repaired at or after `since`, newest first."""
        ...

    def availability(self, window: float) -> Availability:
        """The shop's availability over the last `window` seconds (watchdog.incidents.availability)."""
        ...

    def report(self, since: float) -> Mapping[str, Any]:
        """The working-hours report of the last `since` seconds (watchdog.incidents.report)."""
        ...

    def ack(self, incident_id: str, by: str) -> bool:
        """Acknowledges an unresolved incident (in any unresolved state); False when no such
        incident is open."""
        ...

    def ack_link(self, claim: AckClaim, by: str) -> LinkOutcome:
        """Acknowledges through a verified ack link, once per link (see watchdog.common.ack_links)."""
        ...

    def silence(self, check: str, seconds: float, reason: str, by: str) -> dict[str, Any]:
        """Silences a check (no restarts, no pages) for `seconds`; returns the silence as JSON.

        Raises KeyError for an unknown check."""
        ...

    def silences_snapshot(self) -> list[SilenceEntry]:
        """The silences in force, oldest first."""
        ...

    def unsilence(self, key: str, by: str) -> list[SilenceEntry]:
        """Ends early the silence with id `key`, or every silence of the check named `key`;
        returns those ended. Raises KeyError when none matches."""
        ...

    def incident(self, incident_id: str) -> IncidentDetail | None:
        """An incident, resolved or not, with its timeline; None for an unknown id."""
        ...

    def incidents(self, since: datetime) -> list[IncidentSummary]:
        """Incidents opened at or after `since`, resolved ones too, oldest first."""
        ...

    def record_release(self, note: ReleaseNote) -> ReleaseRecord:
        """Stores a release's start or finish (any thread); later incidents name it."""
        ...

    def releases_started_since(self, since: datetime) -> list[ReleaseRecord]:
        """Stored releases that started at or after `since`, newest first."""
        ...

    def close(self) -> None:
        """Stops background delivery threads; pending messages stay in the outbox."""
        ...
