"""Business hours (with the deploy guard's holiday calendar) and routes by severity."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from watchdog.common.incident_terms import Severity
from watchdog.config.model import BusinessHours, ChannelSpec, NotifyConfig, Route, Routes
from watchdog.incidents.routing import Router
from watchdog.incidents.working_hours import BusinessClock

WARSAW = ZoneInfo("Europe/Warsaw")


def _at(year: int, month: int, day: int, hour: int, minute: int) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=WARSAW).astimezone(UTC)


def test_inside_and_outside_business_hours() -> None:
    bh = BusinessClock(BusinessHours())
    assert bh.is_open(_at(2026, 11, 24, 8, 0))  # Tuesday 08:00 is inside
    assert bh.is_open(_at(2026, 11, 24, 15, 59))
    assert not bh.is_open(_at(2026, 11, 24, 16, 0))  # [start, end)
    assert not bh.is_open(_at(2026, 11, 24, 7, 59))
    assert not bh.is_open(_at(2026, 11, 28, 10, 0))  # Saturday


def test_next_open_after_an_evening_is_the_next_morning() -> None:
    bh = BusinessClock(BusinessHours())
    assert bh.next_open(_at(2026, 11, 24, 23, 0)) == _at(2026, 11, 25, 8, 0)


def test_next_open_skips_weekend_and_public_holiday() -> None:
    bh = BusinessClock(BusinessHours())
    # Thursday 2026-12-24 evening -> 25th and 26th are holidays in PL, then the weekend
    # 26-27th, so Monday 28th 08:00.
    assert bh.next_open(_at(2026, 12, 24, 17, 0)) == _at(2026, 12, 28, 8, 0)
    # Independence Day (Wednesday 2026-11-11) is not a business day.
    assert not bh.is_open(_at(2026, 11, 11, 10, 0))


def test_next_open_inside_business_hours_is_now() -> None:
    at = _at(2026, 11, 24, 10, 30)
    assert BusinessClock(BusinessHours()).next_open(at) == at


def test_business_hours_in_their_own_timezone_across_dst() -> None:
    bh = BusinessClock(BusinessHours(timezone="Europe/Warsaw", hours="09:00-17:00", holidays=None))
    # Sunday 2026-03-29 is the spring-forward day; Monday's 09:00 local is 07:00 UTC.
    assert bh.next_open(_at(2026, 3, 28, 20, 0)) == datetime(2026, 3, 30, 7, 0, tzinfo=UTC)


def test_warning_route_defers_outside_business_hours_critical_never() -> None:
    notify = NotifyConfig(
        channels=(ChannelSpec("admins", "webhook", None), ChannelSpec("pager", "webhook", None)),
        routes=Routes(critical=Route(channels=("pager",)), warning=Route(channels=("admins",), when="business_hours")),
    )
    router = Router(notify, BusinessHours())
    night = _at(2026, 11, 24, 23, 0)
    assert router.delivery(Severity.CRITICAL, night).not_before is None
    assert router.delivery(Severity.WARNING, night).not_before == _at(2026, 11, 25, 8, 0)
    assert router.delivery(Severity.WARNING, _at(2026, 11, 25, 9, 0)).not_before is None
    assert router.route(Severity.CRITICAL).channels == ("pager",)


def test_unconfigured_routes_use_every_channel() -> None:
    notify = NotifyConfig(channels=(ChannelSpec("a", "webhook", None), ChannelSpec("b", "webhook", None)))
    router = Router(notify, BusinessHours())
    assert router.route(Severity.CRITICAL).channels == ("a", "b")
    assert router.route(Severity.WARNING).when == "business_hours"
