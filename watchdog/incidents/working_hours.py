"""Business hours as a clock: open or closed at an instant, when they open next, and how
much working time lies between two instants.

The support practice counts reaction times in working hours: a page at 23:00 on Friday
acknowledged at 08:30 on Monday took 30 working minutes, not 57.5 hours. Business days come
from the same holiday calendar the deploy guard uses (`watchdog.common.holiday_calendar`).
Openings are local times in the config's timezone, converted to UTC before any arithmetic,
so a day whose clock jumps (DST) counts the time that really passed; `hours: 00:00-24:00`
runs to the next local midnight.
"""

from __future__ import annotations

import zoneinfo
from datetime import UTC, date, datetime, time, timedelta

from watchdog.common.holiday_calendar import HolidayCalendar
from watchdog.config.model import WEEKDAYS, BusinessHours

_SEARCH_DAYS = 400
_END_OF_DAY = time(23, 59, 59, 999999)
"""BusinessHours' spelling of `24:00`."""


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
        """The day's opening `[start, end)` in UTC."""
        start = datetime.combine(day, self._hours.start, tzinfo=self._tz)
        if self._hours.end == _END_OF_DAY:
            end = datetime.combine(day + timedelta(days=1), time(0), tzinfo=self._tz)
        else:
            end = datetime.combine(day, self._hours.end, tzinfo=self._tz)
        return start.astimezone(UTC), end.astimezone(UTC)

    def is_open(self, at: datetime) -> bool:
        day = at.astimezone(self._tz).date()
        if not self._business_day(day):
            return False
        start, end = self._opening(day)
        return start <= at < end

    def next_open(self, at: datetime) -> datetime:
        """`at` itself when inside business hours, else the start of the next business period."""
        if self.is_open(at):
            return at
        first = at.astimezone(self._tz).date()
        for offset in range(_SEARCH_DAYS):
            day = first + timedelta(days=offset)
            if not self._business_day(day):
                continue
            start, _ = self._opening(day)
            if start > at:
                return start.astimezone(at.tzinfo)
        raise ValueError(f"no business hours within {_SEARCH_DAYS} days of {at.isoformat()}")

    def working_seconds(self, start: datetime, end: datetime) -> float:
        """Seconds of business hours within `[start, end)`; 0 when `end` is not after `start`."""
        if end <= start:
            return 0.0
        total = 0.0
        day = start.astimezone(self._tz).date() - timedelta(days=1)
        last = end.astimezone(self._tz).date()
        while day <= last:
            if self._business_day(day):
                opens, closes = self._opening(day)
                overlap = (min(closes, end) - max(opens, start)).total_seconds()
                total += max(0.0, overlap)
            day += timedelta(days=1)
        return total
