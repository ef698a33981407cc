"""An incident's history, resolved or not: its record, and everything that happened to it in
time order.

Read-only, from the state store (incidents, their timelines, restarts) and from the pager,
which reports every message of the incident per channel and what became of it (the outbox).
The timeline merges the engine's own entries (probe results that opened, failed or closed
the incident, restarts with their output, pages, acknowledgements, silences, and whatever
other writers add, e.g. `change`; the outbox adds a `delivery` entry for each failed attempt)
with one `message` entry per message queued for a channel and one `delivery` entry when it
was delivered or rejected.
"""

from __future__ import annotations

from datetime import UTC, datetime

from watchdog.common.incident_history import (
    DeliveryEntry,
    IncidentDetail,
    IncidentSummary,
    RestartEntry,
    TimelineItem,
)
from watchdog.incidents.ports import Pager
from watchdog.storage.state import IncidentRecord, RestartRecord, StateStore


class IncidentHistory:
    """What `GET /api/v1/incidents` and `GET /api/v1/incidents/ID` return; thread-safe (the
    store serialises its reads)."""

    def __init__(self, store: StateStore, pager: Pager) -> None:
        self._store = store
        self._pager = pager

    def opened_since(self, since: datetime) -> list[IncidentSummary]:
        """Incidents opened at or after `since`, closed ones and auto-repairs too, oldest first."""
        return [summary(rec) for rec in self._store.opened_since(since)]

    def detail(self, incident_id: str) -> IncidentDetail | None:
        """The incident with its whole timeline, restarts and deliveries; None for an unknown id."""
        rec = self._store.incident(incident_id)
        if rec is None:
            return None
        deliveries = self._pager.history(incident_id)
        entries = [
            (e.at, TimelineItem(at=e.at.isoformat(), kind=e.kind, text=e.text))
            for e in self._store.timeline(incident_id)
        ]
        entries += [item for d in deliveries for item in delivery_items(d)]
        entries.sort(key=lambda pair: _utc(pair[0]))  # stable: entries of one instant keep their order
        return IncidentDetail(
            **summary(rec),
            timeline=[item for _, item in entries],
            restarts=[restart_entry(r) for r in self._store.restarts_of_incident(incident_id)],
            deliveries=deliveries,
        )


def _utc(at: datetime) -> datetime:
    """`at` comparable with every other entry's time: one written without an offset is UTC."""
    return at if at.tzinfo is not None else at.replace(tzinfo=UTC)


def summary(rec: IncidentRecord) -> IncidentSummary:
    return IncidentSummary(
        id=rec.id,
        check=rec.check,
        check_type=rec.check_type,
        severity=rec.severity,
        state=rec.state,
        opened_at=rec.opened_at.isoformat(),
        closed_at=rec.closed_at.isoformat() if rec.closed_at else None,
        resolution=rec.resolution,
        summary=rec.summary,
        paged_channels=list(rec.paged_channels),
        acked_by=rec.acked_by,
        acked_at=rec.acked_at.isoformat() if rec.acked_at else None,
    )


def restart_entry(rec: RestartRecord) -> RestartEntry:
    return RestartEntry(
        at=rec.at.isoformat(),
        result=rec.result,
        returncode=rec.returncode,
        duration=round(rec.duration, 3),
        output=rec.output,
    )


def delivery_items(d: DeliveryEntry) -> list[tuple[datetime, TimelineItem]]:
    """The timeline entries of one message on one channel: queued, and delivered or rejected."""
    what = f"{d['kind']} to {d['channel']}"
    queued = f"{what} queued" + (f" (fallback for {d['fallback_of']})" if d["fallback_of"] else "")
    items = [(datetime.fromisoformat(d["created_at"]), TimelineItem(at=d["created_at"], kind="message", text=queued))]
    attempts = f"{d['attempts']} attempt" + ("" if d["attempts"] == 1 else "s")
    error = f": {d['last_error']}" if d["last_error"] else ""
    outcome = {
        "delivered": f"{what} delivered after {attempts}",
        "rejected": f"{what} rejected after {attempts}{error}",
    }.get(d["state"])  # each failed attempt of a pending message is in the timeline already
    if outcome:
        at = d["updated_at"]
        items.append((datetime.fromisoformat(at), TimelineItem(at=at, kind="delivery", text=outcome)))
    return items
