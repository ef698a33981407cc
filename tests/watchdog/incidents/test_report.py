"""The working-hours report from stored incidents and restarts: what counts, and the figures."""

from __future__ import annotations

from datetime import UTC, datetime

from tests.watchdog.incidents.engine_rig import at_local
from watchdog.config.model import BusinessHours
from watchdog.incidents.report import build_report
from watchdog.incidents.report_text import format_report
from watchdog.storage.state import IncidentRecord, RestartRecord

HOUR = 3600.0
SINCE = at_local(2026, 11, 5, 0, 0).astimezone(UTC)
UNTIL = at_local(2026, 11, 12, 0, 0).astimezone(UTC)


def incident(id: str, check: str, opened: datetime, **extra: object) -> IncidentRecord:
    return IncidentRecord(id, check, "tcp", "critical", "closed", opened, opened, **extra)  # type: ignore[arg-type]


def restart(check: str, at: datetime) -> RestartRecord:
    return RestartRecord(check, "i", at, "ok", 0, 0.1, "")


def test_pages_over_a_weekend_and_a_holiday_count_working_hours_only() -> None:
    friday_night = at_local(2026, 11, 6, 22, 0)
    tuesday_evening = at_local(2026, 11, 10, 15, 0)
    incidents = [
        # paged Friday 22:00, acknowledged Monday 08:15, resolved Monday 09:00
        incident(
            "a", "db", friday_night, paged_at=friday_night, acked_at=at_local(2026, 11, 9, 8, 15),
            acked_by="alice", closed_at=at_local(2026, 11, 9, 9, 0), resolution="resolved",
        ),
        # paged Tuesday 15:00, never acknowledged, resolved Thursday 09:00 across Independence Day
        incident(
            "b", "web", tuesday_evening, paged_at=tuesday_evening, closed_at=at_local(2026, 11, 12, 9, 0),
            resolution="resolved",
        ),
        incident(
            "c", "web", at_local(2026, 11, 9, 10, 0), closed_at=at_local(2026, 11, 9, 10, 1),
            resolution="auto-repaired",
        ),
        incident("old", "web", at_local(2026, 11, 1, 10, 0), resolution="auto-repaired"),
    ]  # fmt: skip
    restarts = [restart("web", at_local(2026, 11, 9, 10, 0)), restart("web", at_local(2026, 11, 1, 10, 0))]
    report = build_report("shop-1", BusinessHours(), SINCE, UNTIL, incidents, restarts)
    assert report["incidents"] == 3
    assert report["auto_repairs"] == [{"check": "web", "restarts": 1, "auto_repaired": 1}]
    first, second = report["pages"]
    assert first["to_acknowledge"] == {"clock_seconds": 58.25 * HOUR, "working_seconds": 0.25 * HOUR}
    assert first["to_resolve"] == {"clock_seconds": 59 * HOUR, "working_seconds": 1 * HOUR}
    assert second["to_acknowledge"] is None and second["acked_at"] is None
    # Tuesday 15:00-16:00, Wednesday the 11th a holiday, Thursday 08:00-09:00 (after `until`: still counted)
    assert second["to_resolve"] == {"clock_seconds": 42 * HOUR, "working_seconds": 2 * HOUR}
    assert report["means"] == {
        "to_acknowledge": first["to_acknowledge"],
        "to_resolve": {"clock_seconds": 50.5 * HOUR, "working_seconds": 1.5 * HOUR},
    }
    assert report["business_hours"] == "mon,tue,wed,thu,fri 08:00-16:00 Europe/Warsaw, holidays PL"
    text = format_report(report)
    assert (
        "  b web (critical) paged 2026-11-10T14:00:00Z: not acknowledged yet; resolved after 42h (working 2h)" in text
    )
    assert "mean time to acknowledge: 58h 15m (working 15m); to resolve: 50h 30m (working 1h 30m)" in text


def test_an_empty_period_says_so() -> None:
    text = format_report(build_report("shop-1", BusinessHours(), SINCE, UNTIL, [], []))
    assert "auto-repairs per service: none" in text and "pages: 0" in text and "mean time" not in text
