"""Who is told, and when: severity routes and business hours.

Critical incidents go to their route's channels at once. A route with
`when: business_hours` (warnings by default) tells people only inside business hours; a
warning found at 23:00 waits for the next business-hours start and is dropped if it cleared
meanwhile. Business days come from the same holiday calendar the deploy guard uses
(`watchdog.common.holiday_calendar`), so "no deploys on a holiday" and "no warnings on a
holiday" never disagree.
"""

from __future__ import annotations

import zoneinfo
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from watchdog.common.holiday_calendar import HolidayCalendar
from watchdog.common.incident_terms import Severity
from watchdog.config.model import WEEKDAYS, BusinessHours, NotifyConfig, Route

_SEARCH_DAYS = 400


class BusinessClock:
    """Business hours in their own timezone; instants in and out are UTC-aware datetimes."""

    def __init__(self, hours: BusinessHours) -> None:
        self._hours = hours
        self._tz = zoneinfo.ZoneInfo(hours.timezone)
        self._days = frozenset(WEEKDAYS.index(d) for d in hours.days)
        self._calendar = HolidayCalendar(hours.holidays)

    def _business_day(self, day: date) -> bool:
        return self._calendar.is_business_day(day, self._days)

    def _opening(self, day: date) -> tuple[datetime, datetime]:
        start = datetime.combine(day, self._hours.start, tzinfo=self._tz)
        end = datetime.combine(day, self._hours.end, tzinfo=self._tz)
        return start, end

    def is_open(self, at: datetime) -> bool:
        local = at.astimezone(self._tz)
        if not self._business_day(local.date()):
            return False
        start, end = self._opening(local.date())
        return start <= local < end

    def next_open(self, at: datetime) -> datetime:
        """`at` itself when inside business hours, else the start of the next business period."""
        if self.is_open(at):
            return at
        local = at.astimezone(self._tz)
        for offset in range(_SEARCH_DAYS):
            day = local.date() + timedelta(days=offset)
            if not self._business_day(day):
                continue
            start, _ = self._opening(day)
            if start > local:
                return start.astimezone(at.tzinfo)
        raise ValueError(f"no business hours within {_SEARCH_DAYS} days of {at.isoformat()}")


@dataclass(frozen=True)
class Delivery:
    """The decision for a message: the route, and when it may go (None: now)."""

    route: Route
    not_before: datetime | None


class Router:
    def __init__(self, notify: NotifyConfig, hours: BusinessHours) -> None:
        self._notify = notify
        self._clock = BusinessClock(hours)

    def route(self, severity: Severity) -> Route:
        return self._notify.route("critical" if severity == Severity.CRITICAL else "warning")

    def delivery(self, severity: Severity, now: datetime) -> Delivery:
        route = self.route(severity)
        if route.when == "business_hours" and not self._clock.is_open(now):
            return Delivery(route, self._clock.next_open(now))
        return Delivery(route, None)
