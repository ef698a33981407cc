"""An incident's history as the API returns it (`GET /api/v1/incidents/ID` and
`GET /api/v1/incidents?since=7d`), defined once for the daemon that writes it and the CLI
that prints it (`shop-watchdog incident`, `incidents`, `timeline`).

Times are ISO-8601 UTC. A timeline entry's `kind` is open-ended: the engine writes `opened`,
`restart`, `restart_result`, `paged`, `acknowledged`, `silenced`, `unsilenced`, `closed` and
more, delivery adds `message` and `delivery`, and other writers add their own (`change` for a
release or config reload before the incident); readers show any kind as it comes.
"""

from typing import TypedDict


class TimelineItem(TypedDict):
    at: str
    kind: str
    text: str


class DeliveryEntry(TypedDict):
    """One notification of the incident on one channel, and what became of it."""

    notification_id: str
    channel: str
    kind: str
    state: str
    """pending, delivered or rejected"""
    attempts: int
    last_error: str | None
    fallback_of: str | None
    created_at: str
    updated_at: str


class RestartEntry(TypedDict):
    at: str
    result: str
    """ok, failed, timeout or error"""
    returncode: int | None
    duration: float
    output: str


class IncidentSummary(TypedDict):
    """An incident, resolved or not; `closed_at` and `resolution` are null while it is open."""

    id: str
    check: str
    check_type: str
    severity: str
    state: str
    opened_at: str
    closed_at: str | None
    resolution: str | None
    summary: str
    paged_channels: list[str]
    acked_by: str | None
    acked_at: str | None


class IncidentDetail(IncidentSummary):
    """An incident with everything that happened to it, in time order."""

    timeline: list[TimelineItem]
    restarts: list[RestartEntry]
    deliveries: list[DeliveryEntry]
