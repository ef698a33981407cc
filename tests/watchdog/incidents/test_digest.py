"""The weekly working-hours digest through the real engine, outbox and a webhook receiver."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime
from pathlib import Path

from checks.base import Status
from tests.servers.webhook_sink import WebhookSink
from tests.watchdog.incidents.engine_rig import Rig, at_local, check, config
from watchdog.common.clock import ManualClock
from watchdog.config.model import ReportConfig
from watchdog.incidents.digest import period_start

HOUR = 3600.0


def test_periods_start_on_monday_midnight_utc() -> None:
    week = 7 * 86400.0
    assert period_start(datetime(2026, 11, 29, 23, 59, tzinfo=UTC), week) == datetime(2026, 11, 23, tzinfo=UTC)
    assert period_start(datetime(2026, 11, 30, 0, 0, tzinfo=UTC), week) == datetime(2026, 11, 30, tzinfo=UTC)
    assert period_start(datetime(2026, 11, 30, 13, 0, tzinfo=UTC), 86400.0) == datetime(2026, 11, 30, tzinfo=UTC)


def test_the_digest_goes_once_a_week_at_the_first_business_hour_and_not_twice_after_a_restart(
    tmp_path: Path, sink: WebhookSink
) -> None:
    clock = ManualClock(at_local(2026, 11, 25, 10, 0).astimezone(UTC))  # Wednesday: installed
    rig = Rig(config(tmp_path, sink, [check("web")]), sink, clock)
    try:
        rig.advance(60)
        assert rig.sent() == 0, "no digest of nothing at install time"
        rig.result("web", Status.CRITICAL)  # paged to pager and admins
        rig.advance(HOUR)
        rig.engine.ack(rig.incident("web")["id"], "alice")
        rig.result("web", Status.OK)
        rig.advance(at_local(2026, 11, 30, 7, 59).timestamp() - clock.now().timestamp())
        assert sink.messages("admins", "report") == [], "Monday before business hours: not yet"
        rig.advance(60)  # Monday 08:00 in Warsaw
        [digest] = sink.wait_count("admins", "report", 1)
        assert sink.messages("pager", "report") == [], "the warning route only"
        assert digest["status"] == "report" and digest["severity"] == "warning"
        assert digest["incident_id"] == "report-20261130T000000Z"
        assert "1 pages" in digest["summary"] and "acknowledged after 1h (working 1h) by alice" in digest["details"]
        rig.close()
        rig.start()  # a restart inside the same week
        rig.advance(HOUR)
        rig.advance(86400)
        assert len(sink.messages("admins", "report")) == 1
        rig.advance(at_local(2026, 12, 7, 8, 0).timestamp() - clock.now().timestamp())
        assert len(sink.wait_count("admins", "report", 2)) == 2, "and again the next Monday"
    finally:
        rig.close()


def test_switched_off_no_digest_is_sent(tmp_path: Path, sink: WebhookSink) -> None:
    cfg = dataclasses.replace(config(tmp_path, sink, [check("web")]), report=ReportConfig(digest=False))
    clock = ManualClock(at_local(2026, 11, 25, 10, 0).astimezone(UTC))
    rig = Rig(cfg, sink, clock)
    try:
        rig.advance(60)
        rig.advance(at_local(2026, 11, 30, 9, 0).timestamp() - clock.now().timestamp())
        assert rig.sent() == 0
    finally:
        rig.close()
