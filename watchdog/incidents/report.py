"""The working-hours report: what the watchdog repaired and whom it paged, and how fast
people reacted, in clock time and in working hours.

A service restarted five times a week is a problem nobody was paged for, so auto-repairs
are counted per check (restarts run, incidents closed as auto-repaired). Every incident
told to people in the period is listed with its time to acknowledge (from the page to the
acknowledgement) and to resolve (from the incident's opening to its close), each in clock
seconds and in business-hours seconds (watchdog.incidents.working_hours: the config's
`business_hours`, the deploy guard's holiday calendar). The same document answers
`GET /api/v1/report?since=7d`, `shop-watchdog report` and the weekly digest.

No `from __future__ import annotations`: the TypedDicts are read at class creation.
"""

from collections import Counter
from datetime import datetime
from typing import TypedDict

from watchdog.common.clock import utc_iso
from watchdog.config.model import BusinessHours
from watchdog.incidents.working_hours import BusinessClock
from watchdog.storage.state import IncidentRecord, RestartRecord

AUTO_REPAIRED = "auto-repaired"


class Elapsed(TypedDict):
    clock_seconds: float
    working_seconds: float


class Repairs(TypedDict):
    check: str
    restarts: int
    auto_repaired: int


class Page(TypedDict):
    id: str
    check: str
    severity: str
    opened_at: str
    paged_at: str
    acked_at: str | None
    acked_by: str | None
    closed_at: str | None
    resolution: str | None
    to_acknowledge: Elapsed | None
    to_resolve: Elapsed | None


class Means(TypedDict):
    """Means over the pages that were acknowledged / resolved (None when there were none)."""

    to_acknowledge: Elapsed | None
    to_resolve: Elapsed | None


class Report(TypedDict):
    host: str
    since: str
    until: str
    business_hours: str
    incidents: int
    auto_repairs: list[Repairs]
    pages: list[Page]
    means: Means


def _iso_or_none(moment: datetime | None) -> str | None:
    return utc_iso(moment) if moment is not None else None


def hours_text(hours: BusinessHours) -> str:
    days = ",".join(hours.days)
    holidays = f", holidays {hours.holidays}" if hours.holidays else ""
    return f"{days} {hours.hours} {hours.timezone}{holidays}"


def _between(clock: BusinessClock, start: datetime, end: datetime | None) -> Elapsed | None:
    if end is None:
        return None
    return Elapsed(
        clock_seconds=round((end - start).total_seconds(), 3),
        working_seconds=round(clock.working_seconds(start, end), 3),
    )


def _mean(durations: list[Elapsed | None]) -> Elapsed | None:
    known = [d for d in durations if d is not None]
    if not known:
        return None
    return Elapsed(
        clock_seconds=round(sum(d["clock_seconds"] for d in known) / len(known), 3),
        working_seconds=round(sum(d["working_seconds"] for d in known) / len(known), 3),
    )


def _page(clock: BusinessClock, rec: IncidentRecord, paged_at: datetime) -> Page:
    return Page(
        id=rec.id,
        check=rec.check,
        severity=rec.severity,
        opened_at=utc_iso(rec.opened_at),
        paged_at=utc_iso(paged_at),
        acked_at=_iso_or_none(rec.acked_at),
        acked_by=rec.acked_by,
        closed_at=_iso_or_none(rec.closed_at),
        resolution=rec.resolution,
        to_acknowledge=_between(clock, paged_at, rec.acked_at),
        to_resolve=_between(clock, rec.opened_at, rec.closed_at),
    )


def build_report(
    host: str,
    hours: BusinessHours,
    since: datetime,
    until: datetime,
    incidents: list[IncidentRecord],
    restarts: list[RestartRecord],
) -> Report:
    """The report of `[since, until)` from the stored incidents and restarts."""
    clock = BusinessClock(hours)
    opened = [rec for rec in incidents if since <= rec.opened_at < until]
    restarted = Counter(r.check for r in restarts if since <= r.at < until)
    repaired = Counter(rec.check for rec in opened if rec.resolution == AUTO_REPAIRED)
    repairs = [
        Repairs(check=check, restarts=restarted[check], auto_repaired=repaired[check])
        for check in sorted(restarted.keys() | repaired.keys(), key=lambda c: (-restarted[c], -repaired[c], c))
    ]
    pages = [
        _page(clock, rec, rec.paged_at)
        for rec in incidents
        if rec.paged_at is not None and since <= rec.paged_at < until
    ]
    return Report(
        host=host,
        since=utc_iso(since),
        until=utc_iso(until),
        business_hours=hours_text(hours),
        incidents=len(opened),
        auto_repairs=repairs,
        pages=pages,
        means=Means(
            to_acknowledge=_mean([p["to_acknowledge"] for p in pages]),
            to_resolve=_mean([p["to_resolve"] for p in pages]),
        ),
    )
