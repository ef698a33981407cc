"""The working-hours digest: the report (watchdog.incidents.report) sent to people once per
period on the warning route, through the outbox like any message.

Periods of `report.every` (a week by default) start on Mondays 00:00 UTC (counted from
Monday 1970-01-05). A period's digest goes at the first moment of it that lies in business
hours (Monday 08:00 in Warsaw with the default settings; Tuesday after a Monday holiday) and
covers the `every` before that moment. A new state database sends none for the period it
starts in (a digest of nothing, at install time): that period is recorded as if sent, and
the first digest goes in the next one. The period it was sent for is committed to the state
database, and the outbox key of its message is derived from the period, so a restart at any
point neither skips it nor sends it twice (the outbox ignores a key it already has).
"""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta

from watchdog.config.model import ReportConfig
from watchdog.delivery.notification import Notification, new_notification_id
from watchdog.incidents.report import Report
from watchdog.incidents.report_text import format_report
from watchdog.incidents.working_hours import BusinessClock
from watchdog.storage.state import StateStore

ANCHOR = datetime(1970, 1, 5, tzinfo=UTC)
"""A Monday: periods are counted from its midnight (UTC)."""


def period_start(now: datetime, every: float) -> datetime:
    """The start of the period of `every` seconds that holds `now`."""
    count = math.floor((now - ANCHOR).total_seconds() / every)
    return ANCHOR + timedelta(seconds=count * every)


class DigestSchedule:
    """Which period's digest is due; remembers the sent ones in `store`."""

    def __init__(self, store: StateStore) -> None:
        self._store = store
        self._sent = store.last_digest()

    def due(self, now: datetime, config: ReportConfig, hours: BusinessClock) -> datetime | None:
        """The start of the period whose digest should go now, or None."""
        if not config.digest:
            return None
        start = period_start(now, config.every)
        if self._sent is None:  # a new state database: this period is the baseline
            self.sent(start, now)
            return None
        if self._sent >= start or not hours.is_open(now):
            return None
        return start

    def sent(self, period: datetime, now: datetime) -> None:
        self._store.record_digest(period, now)
        self._sent = period


def digest_key(period: datetime) -> str:
    """The digest's incident id and outbox key: the period's, so enqueueing it twice sends it once."""
    return "report-" + period.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")


def digest_notification(report: Report, period: datetime, now: datetime) -> Notification:
    """The digest's message."""
    repairs = sum(item["restarts"] for item in report["auto_repairs"])
    summary = f"working-hours report since {report['since']}: {repairs} auto-repairs, {len(report['pages'])} pages"
    return Notification(
        id=new_notification_id(),
        incident_id=digest_key(period),
        kind="report",
        severity="warning",
        host=report["host"],
        check="report",
        check_type="report",
        summary=summary,
        details=format_report(report),
        since=now,
        created_at=now,
    )
