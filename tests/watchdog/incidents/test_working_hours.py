"""Working time between two instants: nights, weekends, holidays and DST days count right."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from watchdog.config.model import BusinessHours
from watchdog.incidents.working_hours import BusinessClock

WARSAW = ZoneInfo("Europe/Warsaw")
HOUR = 3600.0
OFFICE = BusinessClock(BusinessHours())
"""Mon-Fri 08:00-16:00 Europe/Warsaw, Polish public holidays."""
ALWAYS = BusinessClock(
    BusinessHours(days=("mon", "tue", "wed", "thu", "fri", "sat", "sun"), hours="00:00-24:00", holidays=None)
)


def _at(month: int, day: int, hour: int, minute: int = 0, year: int = 2026) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=WARSAW).astimezone(UTC)


def test_inside_one_opening_counts_the_clock_time() -> None:
    assert OFFICE.working_seconds(_at(11, 24, 10), _at(11, 24, 10, 30)) == 30 * 60


def test_a_night_between_two_days_counts_nothing() -> None:
    # Tuesday 15:00 -> Wednesday 09:00: the last hour of Tuesday, the first of Wednesday
    assert OFFICE.working_seconds(_at(11, 24, 15), _at(11, 25, 9)) == 2 * HOUR


def test_a_weekend_counts_nothing() -> None:
    # paged Friday 23:00, acknowledged Monday 08:30: 57.5 hours on the clock, 30 working minutes
    assert OFFICE.working_seconds(_at(11, 27, 23), _at(11, 30, 8, 30)) == 30 * 60


def test_a_public_holiday_counts_nothing() -> None:
    # Wednesday 2026-11-11 is Independence Day in Poland
    assert OFFICE.working_seconds(_at(11, 10, 15), _at(11, 12, 9)) == 2 * HOUR


def test_a_span_entirely_outside_business_hours_is_zero() -> None:
    assert OFFICE.working_seconds(_at(11, 28, 9), _at(11, 29, 18)) == 0.0
    assert OFFICE.working_seconds(_at(11, 24, 16), _at(11, 25, 8)) == 0.0


def test_a_whole_week_without_holidays_is_forty_hours() -> None:
    assert OFFICE.working_seconds(_at(11, 16, 0), _at(11, 23, 0)) == 40 * HOUR


def test_from_before_opening_to_after_closing_is_the_whole_opening() -> None:
    assert OFFICE.working_seconds(_at(11, 24, 6), _at(11, 24, 20)) == 8 * HOUR


def test_an_end_not_after_the_start_is_zero() -> None:
    start = _at(11, 24, 10)
    assert OFFICE.working_seconds(start, start) == 0.0
    assert OFFICE.working_seconds(start, _at(11, 24, 9)) == 0.0


def test_the_dst_night_in_autumn_has_25_hours() -> None:
    # Europe/Warsaw falls back on Sunday 2026-10-25: Saturday 24 h, Sunday 25 h
    assert ALWAYS.working_seconds(_at(10, 24, 0), _at(10, 26, 0)) == 49 * HOUR


def test_the_dst_night_in_spring_has_23_hours() -> None:
    # Europe/Warsaw springs forward on Sunday 2026-03-29
    assert ALWAYS.working_seconds(_at(3, 29, 0), _at(3, 30, 0)) == 23 * HOUR


def test_office_hours_across_a_dst_weekend_keep_their_local_times() -> None:
    # Friday 12:00 CET -> Monday 12:00 CEST: 4 h + 4 h
    assert OFFICE.working_seconds(_at(3, 27, 12), _at(3, 30, 12)) == 8 * HOUR
    assert OFFICE.working_seconds(_at(10, 23, 12), _at(10, 26, 12)) == 8 * HOUR


def test_instants_in_other_timezones_mean_the_same_moments() -> None:
    start = _at(11, 24, 15).astimezone(ZoneInfo("America/New_York"))
    end = _at(11, 25, 9).astimezone(ZoneInfo("Asia/Tokyo"))
    assert OFFICE.working_seconds(start, end) == 2 * HOUR


def test_a_timezone_east_of_utc_counts_its_own_morning() -> None:
    tokyo = BusinessClock(BusinessHours(timezone="Asia/Tokyo", hours="09:00-18:00", holidays=None))
    # Monday 2026-11-23 00:00 UTC is 09:00 in Tokyo: the whole Tokyo working day lies after it
    monday = datetime(2026, 11, 23, 0, 0, tzinfo=UTC)
    assert tokyo.working_seconds(monday, datetime(2026, 11, 23, 12, 0, tzinfo=UTC)) == 9 * HOUR
    assert tokyo.is_open(monday)
