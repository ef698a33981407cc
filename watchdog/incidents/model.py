"""An incident as the engine works on it, and how it maps to its stored record.

`Incident` carries typed state (`IncidentState`, `Severity`, `Substate`) and the monotonic
deadlines of this process; `IncidentRecord` (watchdog.storage.state) is what the database
keeps, with the enums' string values. `record()` and `from_record()` are the only crossing;
`status_entry` is the incident as the status document shows it.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from datetime import datetime, timedelta

from watchdog.common.clock import Clock
from watchdog.common.incident_terms import IncidentState, Severity, Substate
from watchdog.common.status_document import IncidentEntry, RepairEntry
from watchdog.storage.state import IncidentRecord, SilenceRecord


@dataclass
class Incident:
    """An unresolved incident. The fields down to `tried` are stored (see IncidentRecord);
    the rest is this process's working state, rebuilt on load."""

    id: str
    check: str
    check_type: str
    severity: Severity
    state: IncidentState
    opened_at: datetime
    since: datetime
    summary: str = ""
    closed_at: datetime | None = None
    resolution: str | None = None
    paged_channels: tuple[str, ...] = ()
    paged_at: datetime | None = None
    last_reminder_at: datetime | None = None
    escalated_at: datetime | None = None
    acked_by: str | None = None
    acked_at: datetime | None = None
    notifications: int = 0
    tried: str = ""
    """What was tried or decided: once set on an OPEN incident, it only waits to be told."""

    substate: Substate | None = None
    verify_due: float | None = None
    verify_deadline: float | None = None
    next_reminder: float | None = None
    escalate_at: float | None = None
    deferred_until: datetime | None = None
    waiting_noted: bool = False
    changes: tuple[str, ...] = ()
    """The recent changes (releases, config reloads) named when it opened (its `change` timeline rows)."""

    def record(self) -> IncidentRecord:
        stored = {f.name: getattr(self, f.name) for f in fields(IncidentRecord)}
        return IncidentRecord(**stored | {"severity": self.severity.value, "state": self.state.value})

    @classmethod
    def from_record(cls, rec: IncidentRecord) -> Incident:
        stored = {f.name: getattr(rec, f.name) for f in fields(IncidentRecord)}
        return cls(**stored | {"severity": Severity(rec.severity), "state": IncidentState(rec.state)})


def monotonic_of(clock: Clock, at: datetime) -> float:
    """A stored wall-clock instant as a monotonic time of this process."""
    return clock.monotonic() - (clock.now() - at).total_seconds()


def wall_of(clock: Clock, mono: float) -> datetime:
    """A monotonic time of this process as a wall-clock instant (to be stored)."""
    return clock.now() + timedelta(seconds=mono - clock.monotonic())


AUTO_REPAIRED = "auto-repaired"
"""The resolution of an incident a restart fixed (verified OK, nobody paged)."""


def repair_entry(rec: IncidentRecord) -> RepairEntry:
    """A closed auto-repaired incident as the status document lists it."""
    return RepairEntry(
        id=rec.id,
        check=rec.check,
        opened_at=rec.opened_at.isoformat(),
        closed_at=rec.closed_at.isoformat() if rec.closed_at else "",
        summary=rec.summary,
    )


def status_entry(inc: Incident, silence: SilenceRecord | None) -> IncidentEntry:
    """The incident as `/api/v1/status` lists it; `silence` is the check's active silence."""
    return IncidentEntry(
        id=inc.id,
        check=inc.check,
        severity=inc.severity,
        state=inc.state,
        opened_at=inc.opened_at.isoformat(),
        substate=inc.substate,
        since=inc.since.isoformat(),
        summary=inc.summary,
        tried=inc.tried,
        paged_channels=list(inc.paged_channels),
        acked_by=inc.acked_by,
        silenced_until=silence.until.isoformat() if silence else None,
        deferred_until=inc.deferred_until.isoformat() if inc.deferred_until else None,
    )
