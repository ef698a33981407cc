"""The daemon's own state store, reported like a check so its failure pages.

When the disk under `state_dir` cannot be written, the store keeps changes in memory
(watchdog.storage.database) and the daemon goes on paging from there; people must hear
that it does, through the routes they configured, and hear when it is over. So the store
is a check of the daemon itself, `state-store`, that nobody configures: it is not
scheduled, and it is not among the checks of `status`, `once` or the check counts, which
show the configured checks only. Its results go to the incident engine by the same door as
every check's (`on_result`), so routing, silences, acknowledgements, reminders and the
resolve work as for any other check; the engine knows its spec through `with_store_check`.

`StoreWatch` wraps the engine as the daemon's `ResultSink`. On every `tick()` of the loop
the database tries to write down what it keeps in memory (at most every few seconds), and
the store's health becomes a result, fed to the engine whenever it changes:

* CRITICAL "state store cannot write: ..." while changes are kept in memory; OK once they
  are written down, which resolves the incident.
* CRITICAL for a database file moved aside (corrupt, unreadable, newer schema), once per
  file: the next result (OK unless the store cannot write) resolves it. One page and its
  resolve, never a reminder loop about a file that is already out of the way.

The store's health is also exported at scrape time (watchdog.service.metrics.store_state).
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from checks.base import Status
from watchdog.common.ack_links import AckClaim, LinkOutcome
from watchdog.common.clock import Clock
from watchdog.common.incident_history import IncidentDetail, IncidentSummary
from watchdog.common.status_document import Availability, IncidentEntry, OutboxSummary, RepairEntry, SilenceEntry
from watchdog.config.model import STATE_STORE_CHECK, CheckSpec, WatchdogConfig
from watchdog.monitor.checkstate import CheckState, ResultSink
from watchdog.storage.database import Database, StoreHealth
from watchdog.storage.releases import ReleaseNote, ReleaseRecord

STORE_CHECK = CheckSpec(
    name=STATE_STORE_CHECK,
    type="state-store",
    interval=2.0,
    timeout=5.0,
    retries=1,
    retry_interval=2.0,
    severity="critical",
    remediate=None,
    depends_on=(),
    runbook_url=None,
    options=None,
)


def with_store_check(config: WatchdogConfig) -> WatchdogConfig:
    """`config` as the incident engine sees it: the configured checks and `state-store`."""
    return dataclasses.replace(config, checks=(*config.checks, STORE_CHECK))


class StoreWatch:
    """The incident engine with the store's health fed to it; see the module docstring."""

    def __init__(self, engine: ResultSink, db: Database, clock: Clock) -> None:
        self.engine = engine
        self._db = db
        self._clock = clock
        self._reported = 0
        """Moved-aside files already told about."""
        self._last: tuple[Status, str] | None = None

    def tick(self) -> None:
        try:
            self._db.maintain()
            self._report(self._db.health())
        finally:
            self.engine.tick()

    def _report(self, health: StoreHealth) -> None:
        problems = []
        if not health.writing:
            held = f" since {health.since.replace(microsecond=0).isoformat()}" if health.since is not None else ""
            problems.append(f"state store cannot write: {health.error}; changes are kept in memory{held}")
        for moved in health.quarantined[self._reported :]:
            problems.append(
                f"{os.path.basename(health.path)} could not be used ({moved.reason}): moved aside to {moved.path}"
                "; incidents and messages from before are in that file; started a fresh one"
            )
        status = Status.CRITICAL if problems else Status.OK
        message = "; ".join(problems) or "state store writes to disk"
        if self._last != (status, message):
            now = self._clock.now()
            since = health.since if health.since is not None and not health.writing else now
            state = CheckState(STORE_CHECK.name, status, True, message, since, now, int(bool(problems)), 0.0)
            self.engine.on_result(STORE_CHECK, state)
            self._last = (status, message)
        self._reported = len(health.quarantined)

    # --- the rest of the sink is the engine's ------------------------------------------------

    def on_result(self, spec: CheckSpec, state: CheckState) -> None:
        self.engine.on_result(spec, state)

    def reload(self, config: WatchdogConfig) -> None:
        self.engine.reload(with_store_check(config))

    def incidents_snapshot(self) -> list[IncidentEntry]:
        return self.engine.incidents_snapshot()

    def outbox_snapshot(self) -> OutboxSummary:
        return self.engine.outbox_snapshot()

    def recent_repairs(self, since: datetime) -> list[RepairEntry]:
        return self.engine.recent_repairs(since)

    def availability(self, window: float) -> Availability:
        return self.engine.availability(window)

    def report(self, since: float) -> Mapping[str, Any]:
        return self.engine.report(since)

    def ack(self, incident_id: str, by: str) -> bool:
        return self.engine.ack(incident_id, by)

    def ack_link(self, claim: AckClaim, by: str) -> LinkOutcome:
        return self.engine.ack_link(claim, by)

    def silence(self, check: str, seconds: float, reason: str, by: str) -> dict[str, Any]:
        return self.engine.silence(check, seconds, reason, by)

    def silences_snapshot(self) -> list[SilenceEntry]:
        return self.engine.silences_snapshot()

    def unsilence(self, key: str, by: str) -> list[SilenceEntry]:
        return self.engine.unsilence(key, by)

    def incident(self, incident_id: str) -> IncidentDetail | None:
        return self.engine.incident(incident_id)

    def incidents(self, since: datetime) -> list[IncidentSummary]:
        return self.engine.incidents(since)

    def record_release(self, note: ReleaseNote) -> ReleaseRecord:
        return self.engine.record_release(note)

    def releases_started_since(self, since: datetime) -> list[ReleaseRecord]:
        return self.engine.releases_started_since(since)

    def close(self) -> None:
        self.engine.close()
