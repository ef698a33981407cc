"""The policy engine over real 2026-2028 dates: holidays, days before, windows, DST, freezes, next window."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from deploy_guard.release_windows import ReleaseWindows
from tests.deploy_guard.conftest import PLAIN, windows_for
from tests.watchdog.common.polish_holidays import MON_TO_THU_HOLIDAYS, POLISH_HOLIDAYS

WARSAW = ZoneInfo("Europe/Warsaw")


def at(text: str) -> datetime:
    moment = datetime.fromisoformat(text)
    return moment.replace(tzinfo=WARSAW) if moment.tzinfo is None else moment


def codes(windows: ReleaseWindows, when: str, duration: timedelta = timedelta()) -> list[str]:
    return [r.code for r in windows.blockers(at(when), duration)]


@pytest.fixture(scope="module")
def plain() -> ReleaseWindows:
    return windows_for(PLAIN)


@pytest.fixture(scope="module")
def default() -> ReleaseWindows:
    import yaml

    from deploy_guard.default_policy import DEFAULT_POLICY_YAML

    return windows_for(yaml.safe_load(DEFAULT_POLICY_YAML))


@pytest.mark.parametrize("holiday", MON_TO_THU_HOLIDAYS, ids=str)
def test_a_monday_to_thursday_holiday_is_closed_all_morning(plain: ReleaseWindows, holiday: date) -> None:
    for clock in ("08:00", "10:00", "11:59:59"):
        assert codes(plain, f"{holiday}T{clock}") == ["holiday"]


@pytest.mark.parametrize("holiday", sorted(POLISH_HOLIDAYS), ids=str)
def test_the_day_before_every_holiday_is_closed(plain: ReleaseWindows, holiday: date) -> None:
    before = holiday - timedelta(days=1)
    found = codes(plain, f"{before}T10:00")
    if before in POLISH_HOLIDAYS:
        assert "holiday" in found
    elif before.weekday() <= 3:
        assert found == ["day_before_holiday"]
    else:
        assert found == ["outside_window", "day_before_holiday"]


@pytest.mark.parametrize(
    "thursday, friday_holiday",
    [("2026-04-30", "May Day"), ("2027-12-23", "Christmas Eve"), ("2026-12-31", "New Year")],
)
def test_thursday_before_a_friday_holiday_is_closed(plain: ReleaseWindows, thursday: str, friday_holiday: str) -> None:
    assert date.fromisoformat(thursday).weekday() == 3
    reasons = plain.blockers(at(f"{thursday}T09:00"))
    assert [r.code for r in reasons] == ["day_before_holiday"]


def test_new_years_eve_is_closed_across_the_year_boundary(plain: ReleaseWindows, default: ReleaseWindows) -> None:
    assert codes(plain, "2025-12-31T10:00") == ["day_before_holiday"]
    reasons = plain.blockers(at("2026-12-31T10:00"))
    assert [r.code for r in reasons] == ["day_before_holiday"]
    assert "2027-01-01" in reasons[0].message
    assert codes(default, "2026-12-31T10:00") == ["holiday"]  # the company day off
    assert codes(default, "2026-12-30T10:00") == ["day_before_holiday"]
    assert codes(plain, "2026-12-30T10:00") == []


@pytest.mark.parametrize(
    "when, expected",
    [
        ("2026-12-01T07:59:59", ["outside_window"]),
        ("2026-12-01T08:00:00", []),
        ("2026-12-01T11:59:59", []),
        ("2026-12-01T12:00:00", ["outside_window"]),
        ("2026-12-04T09:00:00", ["outside_window"]),  # Friday
        ("2026-12-06T09:00:00", ["outside_window"]),  # Sunday
        ("2026-12-01T08:00:00+01:00", []),
        ("2026-12-01T07:00:00Z", []),
        ("2026-12-01T06:59:59Z", ["outside_window"]),
    ],
)
def test_window_edges_are_start_inclusive_end_exclusive(plain: ReleaseWindows, when: str, expected: list[str]) -> None:
    assert codes(plain, when) == expected


@pytest.mark.parametrize(
    "when, expected",
    [
        # spring forward on Sunday 2026-03-29: CET (+01:00) before, CEST (+02:00) after
        ("2026-03-26T06:59:59Z", ["outside_window"]),
        ("2026-03-26T07:00:00Z", []),
        ("2026-03-26T10:59:59Z", []),
        ("2026-03-26T11:00:00Z", ["outside_window"]),
        ("2026-03-30T05:59:59Z", ["outside_window"]),
        ("2026-03-30T06:00:00Z", []),
        ("2026-03-30T09:59:59Z", []),
        ("2026-03-30T10:00:00Z", ["outside_window"]),
        # fall back on Sunday 2026-10-25
        ("2026-10-22T06:00:00Z", []),
        ("2026-10-22T05:59:59Z", ["outside_window"]),
        ("2026-10-26T06:30:00Z", ["outside_window"]),
        ("2026-10-26T07:00:00Z", []),
        ("2026-10-26T10:59:59Z", []),
        ("2026-10-26T11:00:00Z", ["outside_window"]),
    ],
)
def test_windows_keep_local_hours_across_dst_switch_weeks(
    plain: ReleaseWindows, when: str, expected: list[str]
) -> None:
    assert codes(plain, when) == expected


@pytest.mark.parametrize(
    "when, duration, allowed",
    [
        ("2026-03-29T01:30", timedelta(hours=1, minutes=30), True),  # 01:30 CET + 1h30 = 04:00 CEST
        ("2026-03-29T01:30", timedelta(hours=1, minutes=31), False),
        ("2026-10-25T01:00", timedelta(hours=4), True),  # the repeated hour makes the night 4 h long
        ("2026-10-25T01:00", timedelta(hours=4, seconds=1), False),
        ("2026-11-01T01:00", timedelta(hours=3), True),
        ("2026-11-01T01:00", timedelta(hours=3, seconds=1), False),
    ],
)
def test_duration_counts_real_time_across_dst_changes(when: str, duration: timedelta, allowed: bool) -> None:
    windows = windows_for(
        {**PLAIN, "holidays": {"country": None}, "windows": [{"days": ["sun"], "start": "01:00", "end": "04:00"}]}
    )
    assert (windows.blockers(at(when), duration) == []) is allowed


@pytest.mark.parametrize(
    "when, duration, expected",
    [
        ("2026-12-02T11:30", timedelta(minutes=30), []),
        ("2026-12-02T11:30", timedelta(minutes=31), ["outside_window"]),
        ("2026-12-02T08:00", timedelta(hours=4), []),
        ("2026-12-02T08:00", timedelta(hours=4, seconds=1), ["outside_window"]),
        ("2026-12-02T07:30", timedelta(minutes=10), ["outside_window"]),
    ],
)
def test_duration_must_fit_before_the_window_closes(
    plain: ReleaseWindows, when: str, duration: timedelta, expected: list[str]
) -> None:
    assert codes(plain, when, duration) == expected


def test_duration_running_past_midnight_into_a_closed_day_is_blocked_for_that_day() -> None:
    windows = windows_for({**PLAIN, "windows": [{"days": ["mon", "tue"], "start": "00:00", "end": "24:00"}]})
    assert codes(windows, "2026-11-09T22:00", timedelta(hours=2)) == []
    reasons = windows.blockers(at("2026-11-09T22:00"), timedelta(hours=2, minutes=1))
    assert [r.code for r in reasons] == ["day_before_holiday"]
    assert "would still run at Tue 2026-11-10 00:00 CET (+01:00)" in reasons[0].message


def test_adjacent_windows_count_as_one_for_a_long_release() -> None:
    windows = windows_for(
        {
            **PLAIN,
            "windows": [
                {"days": ["mon"], "start": "08:00", "end": "12:00"},
                {"days": ["mon"], "start": "12:00", "end": "14:00"},
                {"days": ["mon"], "start": "20:00", "end": "24:00"},
                {"days": ["tue"], "start": "00:00", "end": "02:00"},
            ],
        }
    )
    assert codes(windows, "2026-12-07T11:00", timedelta(hours=3)) == []
    assert codes(windows, "2026-12-07T11:00", timedelta(hours=3, minutes=1)) == ["outside_window"]
    assert codes(windows, "2026-12-07T23:00", timedelta(hours=3)) == []  # across midnight


FREEZES: dict[str, Any] = {
    **PLAIN,
    "freezes": [
        {"name": "winter-sale", "start": "2027-02-01", "end": "2027-02-10", "reason": "sale"},
        {"name": "migration", "start": "2027-02-08T10:00", "end": "2027-02-15T09:00"},
        {"name": "db-switch", "start": "2027-03-02T10:00:00+01:00", "end": "2027-03-02T11:00:00+01:00"},
    ],
}


@pytest.mark.parametrize(
    "when, duration, expected",
    [
        ("2027-01-28T11:59", timedelta(), []),
        ("2027-02-01T08:00", timedelta(), ["freeze"]),
        ("2027-02-08T09:00", timedelta(), ["freeze"]),
        ("2027-02-09T10:00", timedelta(), ["freeze", "freeze"]),  # both overlap
        ("2027-02-10T11:59", timedelta(), ["freeze", "freeze"]),  # date end is inclusive
        ("2027-02-11T10:00", timedelta(), ["freeze"]),
        ("2027-02-15T08:59:59", timedelta(), ["freeze"]),
        ("2027-02-15T09:00", timedelta(), []),  # date-time end is exclusive
        ("2027-03-02T09:45", timedelta(minutes=15), []),
        ("2027-03-02T09:45", timedelta(minutes=16), ["freeze"]),  # runs into a timed freeze
        ("2027-03-02T10:30", timedelta(), ["freeze"]),
        ("2027-03-02T11:00", timedelta(), []),
    ],
)
def test_freezes_close_dates_inclusively_and_date_times_half_open(
    when: str, duration: timedelta, expected: list[str]
) -> None:
    assert codes(windows_for(FREEZES), when, duration) == expected


def test_next_window_skips_overlapping_freezes() -> None:
    period = windows_for(FREEZES).next_window(at("2027-02-01T07:00"))
    assert period is not None
    assert (period.start, period.end) == (at("2027-02-15T09:00"), at("2027-02-15T12:00"))


@pytest.mark.parametrize(
    "when, start, end",
    [
        ("2026-04-29T12:00", "2026-05-04T08:00+02:00", "2026-05-04T12:00+02:00"),  # Thu before May Day closed
        ("2026-12-23T12:00", "2026-12-28T08:00+01:00", "2026-12-28T12:00+01:00"),
        ("2026-12-29T12:00", "2026-12-30T08:00+01:00", "2026-12-30T12:00+01:00"),
        ("2027-12-22T12:00", "2027-12-27T08:00+01:00", "2027-12-27T12:00+01:00"),
        ("2027-03-25T12:00", "2027-03-30T08:00+02:00", "2027-03-30T12:00+02:00"),  # Easter + DST
        ("2026-12-01T09:00", "2026-12-01T08:00+01:00", "2026-12-01T12:00+01:00"),  # open now
        ("2026-01-05T07:00", "2026-01-07T08:00+01:00", "2026-01-07T12:00+01:00"),  # Epiphany Tue
    ],
)
def test_next_window_skips_holidays_and_days_before(plain: ReleaseWindows, when: str, start: str, end: str) -> None:
    period = plain.next_window(at(when))
    assert period is not None
    assert (period.start, period.end) == (datetime.fromisoformat(start), datetime.fromisoformat(end))


def test_next_window_of_the_default_policy_skips_black_week_and_the_company_day(default: ReleaseWindows) -> None:
    first = default.next_window(at("2026-11-23T09:00"))
    assert first is not None and first.start == at("2026-12-01T08:00")
    after_christmas = default.next_window(at("2026-12-29T12:00"))
    assert after_christmas is not None and after_christmas.start == at("2027-01-04T08:00")


def test_next_window_needs_room_for_the_duration(plain: ReleaseWindows) -> None:
    period = plain.next_window(at("2026-12-01T11:30"), timedelta(minutes=45))
    assert period is not None and period.start == at("2026-12-02T08:00")
    assert plain.next_window(at("2026-12-01T08:00"), timedelta(hours=5)) is None


def test_next_window_is_none_when_nothing_opens_within_a_year() -> None:
    no_windows = windows_for({**PLAIN, "windows": []})
    assert no_windows.next_window(at("2026-12-01T09:00")) is None
    long_freeze = windows_for({**PLAIN, "freezes": [{"name": "rewrite", "start": "2026-12-01", "end": "2028-01-31"}]})
    assert long_freeze.next_window(at("2026-12-01T09:00")) is None
    shorter = windows_for({**PLAIN, "freezes": [{"name": "rewrite", "start": "2026-12-01", "end": "2027-10-31"}]})
    period = shorter.next_window(at("2026-12-01T09:00"))
    assert period is not None and period.start == at("2027-11-02T08:00")  # Mon 1 Nov is All Saints'


def test_block_days_before_two_closes_two_days() -> None:
    windows = windows_for({**PLAIN, "holidays": {"country": "PL", "block_days_before": 2}})
    assert codes(windows, "2026-11-09T10:00") == ["day_before_holiday"]  # Mon, two days before 11-11
    assert codes(windows, "2026-11-05T10:00") == []


def test_day_plan_shows_partial_freeze_and_holiday(plain: ReleaseWindows) -> None:
    windows = windows_for(FREEZES)
    plan = windows.day_plan(date(2027, 2, 15))
    assert [r.code for r in plan.reasons] == ["freeze"]
    assert [(p.start, p.end) for p in plan.open_periods] == [(at("2027-02-15T09:00"), at("2027-02-15T12:00"))]
    christmas = plain.day_plan(date(2026, 12, 24))
    assert [r.code for r in christmas.reasons] == ["holiday"] and christmas.open_periods == ()
