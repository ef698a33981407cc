"""When a normal release may start: weekly windows minus holidays, days before them and freezes.

Every instant is handled in UTC internally and only turned into the policy's local time to
find its date and wall-clock time. (Python compares two aware datetimes that share a tzinfo
by wall clock, which is wrong in the repeated hour of a DST change; UTC avoids that.) Window
edges are wall-clock times of each local date, so a window is 08:00-12:00 local on both sides
of a DST change, and `--duration` counts real elapsed time.

Openness is constant between "boundaries" (local midnights, window edges, freeze edges), so
an interval is open when its start is open and every boundary inside it is.

Only the dates the policy can judge are judged (`first_day`..`last_day`): the years the
holidays library knows for the policy's country (outside them it knows no holiday at all,
which must not read as "open"), and never so close to Python's year 1 or 9999 that the
searches here would run off the calendar. Searches stop at `last_day`.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Literal

from deploy_guard.policy import Freeze, Policy, Window
from deploy_guard.timefmt import days_text, duration_text, local_text
from watchdog.common.holiday_calendar import HolidayCalendar

HORIZON_DAYS = 366
FIRST_DAY = date(2, 1, 1)
LAST_DAY = date(9998, 12, 31)


ReasonCode = Literal[
    "outside_window",
    "holiday",
    "day_before_holiday",
    "freeze",
    "incident_open",
    "incident_status_unreachable",
    "error_budget_exhausted",
    "error_budget_unreachable",
    "hotfix",
]
"""Every code a decision's reasons (`check --json`, the audit log) can carry; docs/deploy-guard.md
lists them and tests/docs keeps the two equal."""


@dataclass(frozen=True)
class Reason:
    """Why a release is blocked (or, code `hotfix`, why it is allowed anyway).

    `setting` is the policy setting behind it as written in the file ("holidays.country: PL"),
    so a blocked developer knows what decided; empty when no setting did.
    """

    code: ReasonCode
    message: str
    setting: str = ""


@dataclass(frozen=True)
class Period:
    """`[start, end)` in UTC."""

    start: datetime
    end: datetime


@dataclass(frozen=True)
class DayPlan:
    """One local date as the `calendar` command shows it."""

    day: date
    windows: tuple[Window, ...]
    reasons: tuple[Reason, ...]
    open_periods: tuple[Period, ...]


def _utc(moment: datetime) -> datetime:
    return moment.astimezone(UTC)


class ReleaseWindows:
    """Answers "is this instant / interval open?" and "when is the next opening?" for a policy."""

    def __init__(self, policy: Policy, calendar: HolidayCalendar) -> None:
        self.policy = policy
        self.calendar = calendar
        self.tz = policy.timezone
        self._freezes = tuple(
            (Period(_utc(f.start), _utc(f.end)), f) for f in sorted(policy.freezes, key=lambda f: f.start)
        )
        known = calendar.known_years
        self.first_day, self.last_day = FIRST_DAY, LAST_DAY
        self.range_why = "the range of dates deploy-guard computes with"
        if known is not None:
            self.first_day = max(FIRST_DAY, date(known[0], 1, 1))
            self.last_day = min(LAST_DAY, date(known[1], 12, 31) - timedelta(days=calendar.block_days_before))
            self.range_why = f"the holidays library knows {calendar.country} holidays for {known[0]}-{known[1]} only"

    def range_text(self) -> str:
        return f"{self.first_day.isoformat()} to {self.last_day.isoformat()}: {self.range_why}"

    def out_of_range(self, day: date) -> str | None:
        """Why the guard cannot judge this local date, or None when it can."""
        if self.first_day <= day <= self.last_day:
            return None
        return f"{day.isoformat()} is outside the dates this policy can judge ({self.range_text()})"

    def _at(self, day: date, minutes: int) -> datetime:
        """UTC instant of a wall-clock time on a local date (a skipped time maps past the gap)."""
        wall = datetime.combine(day, time(), tzinfo=self.tz) + timedelta(minutes=minutes)
        return _utc(wall)

    def local_date(self, moment: datetime) -> date:
        return moment.astimezone(self.tz).date()

    def window_periods(self, day: date) -> list[Period]:
        """The configured windows of a local date, unmerged, before holidays and freezes."""
        return [
            Period(self._at(day, w.start), self._at(day, w.end)) for w in self.policy.windows if day.weekday() in w.days
        ]

    def day_reasons(self, day: date) -> list[Reason]:
        """`holiday` or `day_before_holiday` for a local date, else nothing."""
        name = self.calendar.holiday(day)
        if name is not None:
            return [Reason("holiday", f"{day.isoformat()} is a holiday: {name}", self._holiday_setting(day))]
        ahead = self.calendar.holiday_ahead(day)
        if ahead is not None:
            when = "the day" if ahead[0] - day == timedelta(days=1) else f"{(ahead[0] - day).days} days"
            return [
                Reason(
                    "day_before_holiday",
                    f"{day.isoformat()} is {when} before a holiday: {ahead[1]} ({ahead[0].isoformat()})",
                    f"holidays.block_days_before: {self.calendar.block_days_before}",
                )
            ]
        return []

    def _holiday_setting(self, day: date) -> str:
        if day in self.calendar.extra:
            return f"holidays.extra: {day.isoformat()}"
        return f"holidays.country: {self.calendar.country}"

    def _freeze_reason(self, freeze: Freeze) -> Reason:
        if freeze.whole_days:
            last = (freeze.end.astimezone(self.tz) - timedelta(days=1)).date()
            span = f"{freeze.start.astimezone(self.tz).date().isoformat()} to {last.isoformat()}"
        else:
            span = f"{local_text(freeze.start, self.tz)} to {local_text(freeze.end, self.tz)}"
        why = f" ({freeze.reason})" if freeze.reason else ""
        return Reason("freeze", f"freeze {freeze.name}{why} from {span}", f"{freeze.key}: {freeze.name}")

    def closures(self, moment: datetime) -> list[Reason]:
        """Every reason why a release may not start at this instant; empty when open."""
        moment = _utc(moment)
        day = self.local_date(moment)
        reasons: list[Reason] = []
        if not any(p.start <= moment < p.end for p in self.window_periods(day)):
            reasons.append(
                Reason(
                    "outside_window",
                    f"{local_text(moment, self.tz)} is outside the release windows ({self.windows_text()})",
                    f"windows: {self.windows_text()}",
                )
            )
        reasons.extend(self.day_reasons(day))
        reasons.extend(self._freeze_reason(f) for p, f in self._freezes if p.start <= moment < p.end)
        return reasons

    def windows_text(self) -> str:
        if not self.policy.windows:
            return "none configured"
        return "; ".join(f"{days_text(w.days)} {w.hours}" for w in self.policy.windows)

    def _boundaries(self, start: datetime, end: datetime) -> list[datetime]:
        """Instants strictly inside (start, end) where openness may change, sorted."""
        found: set[datetime] = set()
        day = self.local_date(start) - timedelta(days=1)
        last = self.local_date(end) + timedelta(days=1)
        while day <= last:
            found.add(self._at(day, 0))
            for period in self.window_periods(day):
                found.update((period.start, period.end))
            day += timedelta(days=1)
        for period, _ in self._freezes:
            found.update((period.start, period.end))
        return sorted(b for b in found if start < b < end)

    def blockers(self, at: datetime, duration: timedelta = timedelta()) -> list[Reason]:
        """Why a release of `duration` starting at `at` may not go now; empty when it may.

        The release must fit: every instant of `[at, at + duration)` open, so it may finish
        exactly when the window closes.
        """
        at = _utc(at)
        reasons = self.closures(at)
        if reasons or duration <= timedelta():
            return reasons
        for boundary in self._boundaries(at, at + duration):
            later = self.closures(boundary)
            if later:
                release = f"a {duration_text(duration)} release starting {local_text(at, self.tz, date=False)}"
                return [
                    Reason(
                        r.code,
                        f"{release} would run past the window's end at {local_text(boundary, self.tz)}"
                        if r.code == "outside_window"
                        else f"{release} would still run at {local_text(boundary, self.tz)}: {r.message}",
                        r.setting,
                    )
                    for r in later
                ]
        return []

    def _open_days(self, first: date, last: date) -> Iterator[Period]:
        """Window periods of open dates, merged where they touch, in time order."""
        current: Period | None = None
        day = first
        while day <= last:
            if not self.calendar.is_blocked(day):
                for period in sorted(self.window_periods(day), key=lambda p: p.start):
                    if current is not None and period.start <= current.end:
                        current = Period(current.start, max(current.end, period.end))
                        continue
                    if current is not None:
                        yield current
                    current = period
            day += timedelta(days=1)
        if current is not None:
            yield current

    def open_periods(self, first: date, last: date) -> Iterator[Period]:
        """Open periods of the local dates `first..last`: windows minus closed days and freezes."""
        for period in self._open_days(first, last):
            pieces = [period]
            for frozen, _ in self._freezes:
                pieces = [
                    piece
                    for p in pieces
                    for piece in (Period(p.start, min(p.end, frozen.start)), Period(max(p.start, frozen.end), p.end))
                    if piece.start < piece.end
                ]
            yield from pieces

    def next_window(
        self, at: datetime, duration: timedelta = timedelta(), horizon_days: int = HORIZON_DAYS
    ) -> Period | None:
        """The first open period in which a release of `duration` can start at or after `at`.

        If `at` is inside such a period, that period (its start may lie before `at`). None when
        nothing opens within `horizon_days`.
        """
        at = _utc(at)
        first = self.local_date(at) - timedelta(days=1)
        last = first + timedelta(days=min(horizon_days + 1, (self.last_day - first).days))
        for period in self.open_periods(first, last):
            if period.end <= at:
                continue
            if period.end - max(period.start, at) >= duration:
                if period.start - at > timedelta(days=horizon_days):
                    return None
                return period
        return None

    def search_limit(self, at: datetime, horizon_days: int = HORIZON_DAYS) -> date | None:
        """The last date `next_window` looks at when that is before the usual horizon, else None."""
        if (self.last_day - self.local_date(at)).days < horizon_days:
            return self.last_day
        return None

    def day_plan(self, day: date) -> DayPlan:
        """Windows, closing reasons and what is really open on one local date."""
        start, end = self._at(day, 0), self._at(day + timedelta(days=1), 0)
        reasons = self.day_reasons(day)
        seen: set[str] = set()
        for period, freeze in self._freezes:
            if period.start < end and period.end > start and freeze.name not in seen:
                seen.add(freeze.name)
                reasons.append(self._freeze_reason(freeze))
        opened = tuple(
            Period(max(p.start, start), min(p.end, end))
            for p in self.open_periods(day, day)
            if p.start < end and p.end > start
        )
        windows = tuple(w for w in self.policy.windows if day.weekday() in w.days)
        return DayPlan(day, windows, tuple(reasons), opened)
