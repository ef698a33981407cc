"""The shared holiday calendar: Polish holidays, company days off, days before, cheap imports."""

from __future__ import annotations

import subprocess
import sys
from datetime import date

import pytest

from tests.watchdog.common.polish_holidays import POLISH_HOLIDAYS
from watchdog.common.holiday_calendar import HolidayCalendar, is_known_country


@pytest.mark.parametrize("year", [2026, 2027, 2028])
def test_polish_holidays_match_the_statutory_list(year: int) -> None:
    calendar = HolidayCalendar("PL")
    assert set(calendar.holidays_in(year)) == {d for d in POLISH_HOLIDAYS if d.year == year}


def test_christmas_eve_is_a_holiday_from_2025_only() -> None:
    calendar = HolidayCalendar("PL")
    assert calendar.holiday(date(2024, 12, 24)) is None
    assert calendar.holiday(date(2025, 12, 24)) == "Christmas Eve"
    assert calendar.holiday(date(2026, 12, 24)) == "Christmas Eve"


def test_company_days_off_are_holidays_and_join_names_with_public_ones() -> None:
    calendar = HolidayCalendar("PL", {date(2026, 12, 31): "company day off", date(2026, 12, 25): "party"})
    assert calendar.holiday(date(2026, 12, 31)) == "company day off"
    assert calendar.holiday(date(2026, 12, 25)) == "Christmas Day; party"
    assert calendar.holiday(date(2026, 12, 30)) is None


def test_holiday_ahead_looks_across_the_year_boundary() -> None:
    calendar = HolidayCalendar("PL", block_days_before=2)
    assert calendar.holiday_ahead(date(2026, 12, 30)) == (date(2027, 1, 1), "New Year's Day")
    assert calendar.holiday_ahead(date(2026, 12, 31)) == (date(2027, 1, 1), "New Year's Day")
    assert calendar.holiday_ahead(date(2026, 12, 29)) is None
    assert calendar.is_blocked(date(2026, 12, 30)) and not calendar.is_blocked(date(2026, 12, 29))


def test_no_days_before_are_blocked_when_block_days_before_is_zero() -> None:
    calendar = HolidayCalendar("PL")
    assert calendar.holiday_ahead(date(2026, 12, 31)) is None


def test_business_days_skip_weekends_and_holidays_but_not_days_before() -> None:
    calendar = HolidayCalendar("PL", block_days_before=1)
    assert calendar.is_business_day(date(2026, 11, 10))  # Tuesday before Independence Day
    assert not calendar.is_business_day(date(2026, 11, 11))
    assert not calendar.is_business_day(date(2026, 11, 14))  # Saturday
    assert calendar.is_business_day(date(2026, 11, 14), weekdays={5})


def test_without_a_country_only_company_days_count() -> None:
    calendar = HolidayCalendar(None, {date(2027, 3, 3): "offsite"})
    assert calendar.holiday(date(2027, 1, 1)) is None
    assert calendar.holiday(date(2027, 3, 3)) == "offsite"


def test_unknown_country_is_refused() -> None:
    assert is_known_country("PL") and is_known_country("pol") and not is_known_country("XX")
    with pytest.raises(ValueError, match="unknown country code 'XX'"):
        HolidayCalendar("XX")


def test_only_the_requested_country_module_is_imported() -> None:
    code = (
        "import sys\n"
        "from datetime import date\n"
        "from watchdog.common.holiday_calendar import HolidayCalendar\n"
        "assert HolidayCalendar('DE').holiday(date(2026, 10, 3))\n"
        "print(sorted(m for m in sys.modules if m.startswith('holidays.countries')))\n"
        "print('holidays.version' in sys.modules, 'holidays' in sys.modules)\n"
        "import holidays\n"
        "print(bool(holidays.__version__), len(holidays.country_holidays('US', years=2026)) > 5)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.splitlines() == ["['holidays.countries.germany']", "False False", "True True"]


def test_checking_a_country_loads_nothing_of_the_library_until_a_date_is_asked() -> None:
    """A daemon validates `business_hours.holidays` at every start: 2.2 MB if that imported the library."""
    code = (
        "import sys\n"
        "from datetime import date\n"
        "from watchdog.common.holiday_calendar import HolidayCalendar, is_known_country\n"
        "calendar = HolidayCalendar('PL')\n"
        "print(is_known_country('POL'), sorted(m for m in sys.modules if m.startswith(('holidays', 'dateutil'))))\n"
        "print(calendar.holiday(date(2026, 5, 3)))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.splitlines() == ["True []", "National Day of the Third of May"]


def test_the_full_library_still_works_after_a_single_country_was_loaded() -> None:
    HolidayCalendar("PL").holiday(date(2026, 1, 1))
    import holidays

    assert date(2026, 7, 4) in holidays.country_holidays("US", years=2026)
