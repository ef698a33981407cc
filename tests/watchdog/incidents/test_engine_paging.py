"""Paging: reminders, escalation, acknowledgement, resolve, silences, business hours, depends_on."""

from __future__ import annotations

import sqlite3
from contextlib import closing
from datetime import UTC
from pathlib import Path

import pytest

from checks.base import Status
from tests.servers.loopfs import FailingDisk
from tests.servers.webhook_sink import WebhookSink
from tests.watchdog.incidents.engine_rig import Rig, at_local, check, config, failing_repair
from watchdog.common.clock import ManualClock
from watchdog.config.model import Route
from watchdog.storage.database import DB_NAME

PAGING = Route(channels=("pager", "admins"), repeat_every=60, escalate_after=150, escalate_to=("boss",))


def kinds(sink: WebhookSink, channel: str) -> list[str]:
    return [m["kind"] for m in sink.messages(channel)]


def test_reminders_until_ack_and_escalation_once(tmp_path: Path, sink: WebhookSink) -> None:
    rig = Rig(config(tmp_path, sink, [check("db")], critical=PAGING), sink, ManualClock())
    try:
        rig.result("db", Status.CRITICAL, "connection refused")
        rig.advance(59)
        assert rig.sent() == 2  # the page, no reminder yet
        rig.advance(1)
        rig.advance(60)
        sink.wait_count(None, "reminder", 4)
        assert kinds(sink, "pager") == ["trigger", "reminder", "reminder"]
        rig.advance(30)  # 150 s without ack
        rig.advance(30)
        [escalation] = sink.wait_count("boss", "escalation", 1)
        assert escalation["check"] == "db"
        rig.advance(200)
        assert len(sink.messages("boss")) == 1  # escalated once, no reminders to the escalation target
        assert rig.engine.ack(rig.incident("db")["id"], "alice")
        assert rig.incident("db")["state"] == "acknowledged"
        sent = rig.sent()
        rig.advance(3600)
        assert rig.sent() == sent
        rig.result("db", Status.OK)
        for channel in ("pager", "admins", "boss"):
            assert len(sink.wait_count(channel, "resolve", 1)) == 1
        assert rig.incidents() == []
    finally:
        rig.close()


def test_ack_before_escalation_prevents_it(tmp_path: Path, sink: WebhookSink) -> None:
    rig = Rig(config(tmp_path, sink, [check("db")], critical=PAGING), sink, ManualClock())
    try:
        rig.result("db", Status.CRITICAL)
        assert rig.engine.ack(rig.incident("db")["id"], "bob")
        assert rig.engine.ack(rig.incident("db")["id"], "bob")  # idempotent
        rig.advance(1000)
        rig.result("db", Status.OK)
        sink.wait_count(None, "resolve", 2)
        assert kinds(sink, "pager") == ["trigger", "resolve"]
        assert sink.messages("boss") == []
    finally:
        rig.close()


def test_ack_of_unknown_incident_is_refused(tmp_path: Path, sink: WebhookSink) -> None:
    rig = Rig(config(tmp_path, sink, [check("db")]), sink, ManualClock())
    try:
        assert not rig.engine.ack("inc-0000000000", "alice")
    finally:
        rig.close()


def test_resolve_goes_to_every_paged_channel_even_when_silenced(tmp_path: Path, sink: WebhookSink) -> None:
    rig = Rig(config(tmp_path, sink, [check("db")], critical=PAGING), sink, ManualClock())
    try:
        rig.result("db", Status.CRITICAL)
        for step in (60, 60, 30):
            rig.advance(step)
        sink.wait_count("boss", "escalation", 1)
        sink.wait_count("pager", "reminder", 2)
        rig.engine.silence("db", 3600, "replacing the disk", "carol")
        sent = rig.sent()
        rig.advance(600)
        assert rig.sent() == sent  # no reminders while silenced
        rig.result("db", Status.OK)
        for channel in ("pager", "admins", "boss"):
            assert len(sink.wait_count(channel, "resolve", 1)) == 1
    finally:
        rig.close()


def test_silence_blocks_restart_and_page_and_tells_at_once_when_it_ends(tmp_path: Path, sink: WebhookSink) -> None:
    rig = Rig(config(tmp_path, sink, [check("web", command=["true"])]), sink, ManualClock())
    try:
        silence = rig.engine.silence("web", 300, "nginx upgrade", "dave")
        assert silence["check"] == "web" and silence["by"] == "dave"
        rig.result("web", Status.CRITICAL)
        rig.advance(299)
        rig.result("web", Status.CRITICAL)
        assert rig.incident()["state"] == "open" and rig.incident()["silenced_until"]
        assert rig.sent() == 0 and rig.store().restarts("web") == []
        rig.advance(1)
        assert rig.incident()["state"] == "paged"
        [page] = sink.wait_count("pager", "trigger", 1)
        assert "silence ended" in page["details"]
        timeline = [e.kind for e in rig.store().timeline(rig.incident()["id"])]
        assert timeline[:2] == ["opened", "silenced"] and "silence_ended" in timeline
    finally:
        rig.close()


def test_problem_cleared_during_silence_sends_nothing(tmp_path: Path, sink: WebhookSink) -> None:
    rig = Rig(config(tmp_path, sink, [check("web", command=["true"])]), sink, ManualClock())
    try:
        rig.engine.silence("web", 300, "maintenance", "dave")
        rig.result("web", Status.CRITICAL)
        rig.result("web", Status.OK)
        rig.advance(400)
        assert rig.incidents() == [] and rig.sent() == 0
    finally:
        rig.close()


def test_silence_of_unknown_check_is_refused(tmp_path: Path, sink: WebhookSink) -> None:
    rig = Rig(config(tmp_path, sink, [check("web")]), sink, ManualClock())
    try:
        with pytest.raises(KeyError):
            rig.engine.silence("nope", 60, "x", "y")
    finally:
        rig.close()


def test_warning_at_23_00_waits_for_business_hours(tmp_path: Path, sink: WebhookSink) -> None:
    tuesday_night = at_local(2026, 11, 24, 23, 0).astimezone(UTC)
    rig = Rig(config(tmp_path, sink, [check("disk", severity="warning")]), sink, ManualClock(tuesday_night))
    try:
        rig.result("disk", Status.WARNING, "82% used")
        inc = rig.incident("disk")
        assert inc["state"] == "open"
        assert inc["deferred_until"] == at_local(2026, 11, 25, 8, 0).astimezone(UTC).isoformat()
        rig.advance(8 * 3600 + 59 * 60)
        rig.result("disk", Status.WARNING, "83% used")
        assert rig.sent() == 0
        rig.advance(60)  # 08:00 Warsaw
        assert rig.incident("disk")["state"] == "paged"
        [told] = sink.wait_count("admins", "trigger", 1)
        assert told["severity"] == "warning" and "83% used" in told["summary"]
        assert sink.messages("pager") == []
    finally:
        rig.close()


def test_warning_cleared_overnight_sends_nothing(tmp_path: Path, sink: WebhookSink) -> None:
    night = at_local(2026, 11, 24, 23, 0).astimezone(UTC)
    rig = Rig(config(tmp_path, sink, [check("disk", severity="warning")]), sink, ManualClock(night))
    try:
        rig.result("disk", Status.WARNING, "82% used")
        rig.advance(3 * 3600)
        rig.result("disk", Status.OK)
        rig.advance(6 * 3600)
        assert rig.incidents() == [] and rig.sent() == 0
        [closed] = rig.store().incidents_of("disk")
        assert closed.resolution == "cleared before anyone was told"
    finally:
        rig.close()


def test_warning_that_turns_critical_at_night_is_handled_as_critical(tmp_path: Path, sink: WebhookSink) -> None:
    night = at_local(2026, 11, 24, 23, 0).astimezone(UTC)
    rig = Rig(config(tmp_path, sink, [check("disk")]), sink, ManualClock(night))
    try:
        rig.result("disk", Status.WARNING, "85% used")
        assert rig.sent() == 0
        rig.result("disk", Status.CRITICAL, "95% used")
        inc = rig.incident("disk")
        assert (inc["severity"], inc["state"]) == ("critical", "paged")
        assert sink.wait_count("pager", "trigger", 1)[0]["severity"] == "critical"
    finally:
        rig.close()


def test_dependent_check_does_not_page_while_parent_fails(tmp_path: Path, sink: WebhookSink) -> None:
    checks = [check("db"), check("web", command=["true"], depends_on=["db"])]
    rig = Rig(config(tmp_path, sink, checks), sink, ManualClock())
    try:
        rig.result("db", Status.CRITICAL, "refused")
        rig.result("web", Status.CRITICAL, "502 from the app")
        rig.advance(30)
        rig.result("web", Status.CRITICAL, "502 from the app")
        assert rig.incident("web")["state"] == "open"
        assert rig.store().restarts("web") == []
        assert [m["check"] for m in sink.wait_count("pager", "trigger", 1)] == ["db"]
        timeline = rig.store().timeline(rig.incident("web")["id"])
        assert [e.kind for e in timeline] == ["opened", "suppressed"]
        rig.result("db", Status.OK)
        rig.result("web", Status.CRITICAL, "502 from the app")  # parent fine, child still failing
        assert rig.incident("web")["state"] == "repairing"
        rig.settle()
    finally:
        rig.close()


def test_dependent_check_that_recovers_with_its_parent_sends_nothing(tmp_path: Path, sink: WebhookSink) -> None:
    checks = [check("db"), check("web", depends_on=["db"])]
    rig = Rig(config(tmp_path, sink, checks), sink, ManualClock())
    try:
        rig.result("db", Status.CRITICAL)
        rig.result("web", Status.CRITICAL)
        rig.result("db", Status.OK)
        rig.result("web", Status.OK)
        sink.wait_count(None, "resolve", 2)
        assert (
            sorted((m["check"], m["kind"]) for m in sink.messages())
            == [("db", "resolve")] * 2 + [("db", "trigger")] * 2
        )
        assert rig.sent() == 4
    finally:
        rig.close()


def test_open_incident_survives_restart_without_second_page(tmp_path: Path, sink: WebhookSink) -> None:
    cfg = config(tmp_path, sink, [check("db")], critical=PAGING)
    clock = ManualClock()
    rig = Rig(cfg, sink, clock)
    rig.result("db", Status.CRITICAL)
    incident_id = rig.incident("db")["id"]
    rig.advance(40)
    sink.wait_count("pager", "trigger", 1)
    rig.close()
    again = Rig(cfg, sink, clock)
    try:
        assert again.incident("db")["id"] == incident_id
        assert again.incident("db")["state"] == "paged"
        again.result("db", Status.CRITICAL)
        again.advance(19)
        assert again.sent() == 2
        again.advance(1)  # 60 s after the page, counted across the restart
        sink.wait_count("pager", "reminder", 1)
        again.result("db", Status.OK)
        sink.wait_count(None, "resolve", 2)
        assert kinds(sink, "pager") == ["trigger", "reminder", "resolve"]
        assert {m["incident_id"] for m in sink.messages()} == {incident_id}
    finally:
        again.close()


def test_notification_ids_never_repeat_after_a_crash_that_lost_the_stores_memory(
    loop_disk: FailingDisk, sink: WebhookSink
) -> None:
    """Receivers deduplicate on the notification id. While the file system under the store is
    read-only, reminders go out from the store's memory; a crash loses that memory, so the
    restarted daemon counts the incident's messages from the file again. Its next messages
    must still carry ids no receiver has seen, or they would be dropped as duplicates."""
    cfg = config(
        loop_disk.mountpoint / "state", sink, [check("db")], critical=Route(channels=("pager",), repeat_every=60)
    )
    clock = ManualClock()
    rig = Rig(cfg, sink, clock)
    try:
        rig.result("db", Status.CRITICAL)
        sink.wait_count("pager", "trigger", 1)
        loop_disk.trigger_error()
        rig.advance(60)
        rig.advance(60)
        assert len(sink.wait_count("pager", "reminder", 2)) == 2
    finally:
        rig.close()  # as a crash: the file system is still read-only, the memory copy is lost
    loop_disk.repair()
    with closing(sqlite3.connect(loop_disk.mountpoint / "state" / DB_NAME)) as db:
        assert db.execute("SELECT kind FROM outbox").fetchall() == [("trigger",)], "reminders were in memory only"
    again = Rig(cfg, sink, clock)
    try:
        again.result("db", Status.CRITICAL)
        again.advance(60)
        sink.wait_count("pager", "reminder", 3)
        again.result("db", Status.OK)
        sink.wait_count("pager", "resolve", 1)
    finally:
        again.close()
    assert kinds(sink, "pager") == ["trigger", "reminder", "reminder", "reminder", "resolve"]
    ids = [m["id"] for m in sink.messages("pager")]
    assert len(set(ids)) == len(ids), f"an id was reused: {ids}"


def test_restart_budget_survives_daemon_restart(tmp_path: Path, sink: WebhookSink) -> None:
    from watchdog.config.model import RemediationConfig

    rem = RemediationConfig(backend="command", verify_after=1, max_restarts=1, restart_window=3600)
    cfg = config(tmp_path, sink, [check("web", command=["true"])], remediation=rem)
    clock = ManualClock()
    rig = Rig(cfg, sink, clock)
    rig.result("web", Status.CRITICAL)
    rig.settle()
    rig.advance(1)
    rig.result("web", Status.OK)
    rig.close()
    again = Rig(cfg, sink, clock)
    try:
        again.result("web", Status.CRITICAL)
        assert again.incident()["state"] == "paged"
        assert "restart loop" in again.incident()["tried"]
    finally:
        again.close()


def test_reload_resolves_incident_of_a_removed_check_and_applies_new_routes(tmp_path: Path, sink: WebhookSink) -> None:
    cfg = config(tmp_path, sink, [check("db"), check("cache")])
    rig = Rig(cfg, sink, ManualClock())
    try:
        rig.result("db", Status.CRITICAL)
        sink.wait_count(None, "trigger", 2)
        rig.engine.reload(config(tmp_path, sink, [check("cache")], critical=Route(channels=("boss",))))
        assert rig.incidents() == []
        sink.wait_count(None, "resolve", 2)
        rig.result("cache", Status.CRITICAL)
        assert [m["check"] for m in sink.wait_count("boss", "trigger", 1)] == ["cache"]
    finally:
        rig.close()


def test_told_warning_that_turns_critical_pages_the_critical_route(tmp_path: Path, sink: WebhookSink) -> None:
    rig = Rig(config(tmp_path, sink, [check("disk")], warning=Route(channels=("admins",))), sink, ManualClock())
    try:
        rig.result("disk", Status.WARNING, "85% used")
        sink.wait_count("admins", "trigger", 1)
        rig.result("disk", Status.CRITICAL, "99% used")
        rig.result("disk", Status.CRITICAL, "99% used")
        inc = rig.incident("disk")
        assert (inc["severity"], inc["state"]) == ("critical", "paged")
        [page] = sink.wait_count("pager", "trigger", 1)
        assert page["severity"] == "critical" and page["incident_id"] == inc["id"]
        assert [m["severity"] for m in sink.wait_count("admins", "trigger", 2)] == ["warning", "critical"]
        rig.result("disk", Status.OK)
        assert len(sink.wait_count(None, "resolve", 2)) == 2
    finally:
        rig.close()


def test_incident_repairing_at_a_crash_is_verified_by_the_next_result(tmp_path: Path, sink: WebhookSink) -> None:
    cfg = config(tmp_path, sink, [check("web", command=["sleep", "0.3"]), check("db", command=["sleep", "0.3"])])
    clock = ManualClock()
    rig = Rig(cfg, sink, clock)
    rig.result("web", Status.CRITICAL)
    rig.result("db", Status.CRITICAL)
    rig.close()  # the daemon stops while both restarts run
    again = Rig(cfg, sink, clock)
    try:
        assert {i["check"]: i["state"] for i in again.incidents()} == {"web": "repairing", "db": "repairing"}
        again.result("web", Status.OK)
        again.result("db", Status.CRITICAL, "still refused")
        assert [i["check"] for i in again.incidents()] == ["db"]
        assert again.incident("db")["state"] == "paged"
        assert [m["check"] for m in sink.wait_count(None, "trigger", 2)] == ["db", "db"]
        [web] = again.store().incidents_of("web")
        assert web.resolution == "auto-repaired"
    finally:
        again.close()


def test_acknowledged_incident_stays_quiet_after_restart(tmp_path: Path, sink: WebhookSink) -> None:
    cfg = config(tmp_path, sink, [check("db")], critical=PAGING)
    clock = ManualClock()
    rig = Rig(cfg, sink, clock)
    rig.result("db", Status.CRITICAL)
    assert rig.engine.ack(rig.incident("db")["id"], "erin")
    rig.close()
    again = Rig(cfg, sink, clock)
    try:
        assert again.incident("db")["state"] == "acknowledged" and again.incident("db")["acked_by"] == "erin"
        again.advance(1000)
        assert again.sent() == 2
        again.result("db", Status.OK)
        assert len(sink.wait_count(None, "resolve", 2)) == 2
    finally:
        again.close()


NIGHT_CRITICAL = Route(channels=("pager",), when="business_hours", repeat_every=3600)


def test_critical_on_a_business_hours_route_is_repaired_at_night_and_told_when_business_hours_open(
    tmp_path: Path, sink: WebhookSink
) -> None:
    tuesday_night = at_local(2026, 11, 24, 23, 0).astimezone(UTC)
    cfg = config(tmp_path, sink, [check("web", command=["false"])], critical=NIGHT_CRITICAL)
    rig = Rig(cfg, sink, ManualClock(tuesday_night))
    try:
        rig.result("web", Status.CRITICAL, "connection refused")
        assert rig.incident()["state"] == "repairing"  # repair first, whatever the hour
        rig.settle()
        inc = rig.incident()
        assert (inc["state"], inc["substate"]) == ("open", "deferred")
        assert inc["deferred_until"] == at_local(2026, 11, 25, 8, 0).astimezone(UTC).isoformat()
        assert "failed (exit 1)" in inc["tried"]
        rig.advance(3600)
        rig.result("web", Status.CRITICAL, "connection refused")
        assert rig.incident()["substate"] == "deferred" and rig.sent() == 0
        assert len(rig.store().restarts("web")) == 1  # the failed repair is not tried again all night
        rig.advance(8 * 3600 - 60)
        assert rig.sent() == 0
        rig.advance(60)  # 08:00 Warsaw
        assert rig.incident()["state"] == "paged"
        [page] = sink.wait_count("pager", "trigger", 1)
        assert page["severity"] == "critical" and "failed (exit 1)" in page["details"]
    finally:
        rig.close()


def test_critical_without_repair_on_a_business_hours_route_cleared_at_night_sends_nothing(
    tmp_path: Path, sink: WebhookSink
) -> None:
    night = at_local(2026, 11, 24, 23, 0).astimezone(UTC)
    rig = Rig(config(tmp_path, sink, [check("db")], critical=NIGHT_CRITICAL), sink, ManualClock(night))
    try:
        rig.result("db", Status.CRITICAL, "connection refused")
        inc = rig.incident("db")
        assert (inc["state"], inc["substate"]) == ("open", "deferred")
        rig.advance(3 * 3600)
        rig.result("db", Status.OK)
        rig.advance(6 * 3600)
        assert rig.incidents() == [] and rig.sent() == 0
        [closed] = rig.store().incidents_of("db")
        assert closed.resolution == "cleared before anyone was told"
    finally:
        rig.close()


def test_reminders_of_a_business_hours_critical_route_wait_for_business_hours(
    tmp_path: Path, sink: WebhookSink
) -> None:
    tuesday_afternoon = at_local(2026, 11, 24, 15, 30).astimezone(UTC)
    rig = Rig(config(tmp_path, sink, [check("db")], critical=NIGHT_CRITICAL), sink, ManualClock(tuesday_afternoon))
    try:
        rig.result("db", Status.CRITICAL)
        assert rig.incident("db")["state"] == "paged"  # inside business hours: at once
        sink.wait_count("pager", "trigger", 1)
        rig.advance(3600)  # 16:30: a reminder is due, business hours are over
        rig.advance(15 * 3600)  # 07:30
        assert rig.sent() == 1
        rig.advance(1800)  # 08:00
        assert len(sink.wait_count("pager", "reminder", 1)) == 1
    finally:
        rig.close()


def test_repair_that_fails_during_a_silence_is_held_and_told_when_the_silence_ends(
    tmp_path: Path, sink: WebhookSink
) -> None:
    rig = Rig(config(tmp_path, sink, [check("web", command=failing_repair())]), sink, ManualClock())
    try:
        rig.result("web", Status.CRITICAL)
        assert rig.incident()["substate"] == "restart_running"
        rig.engine.silence("web", 300, "replacing the disk", "carol")
        rig.settle()
        inc = rig.incident()
        assert (inc["state"], inc["substate"]) == ("open", "silenced") and rig.sent() == 0
        rig.result("web", Status.CRITICAL)
        assert len(rig.store().restarts("web")) == 1
        rig.advance(300)
        assert rig.incident()["state"] == "paged"
        [page] = sink.wait_count("pager", "trigger", 1)
        assert "failed (exit 1)" in page["details"]
    finally:
        rig.close()


def test_silence_ending_on_a_paged_problem_tells_its_route_once(tmp_path: Path, sink: WebhookSink) -> None:
    rig = Rig(config(tmp_path, sink, [check("db")]), sink, ManualClock())
    try:
        rig.result("db", Status.CRITICAL)
        sink.wait_count("pager", "trigger", 1)
        rig.engine.silence("db", 300, "replacing the disk", "carol")
        rig.advance(301)
        rig.result("db", Status.CRITICAL)
        rig.advance(600)
        for channel in ("pager", "admins"):
            [notice] = sink.wait_count(channel, "notice", 1)
            assert "silence ended and the problem is still there" in notice["summary"]
        assert kinds(sink, "pager") == ["trigger", "notice"]
        timeline = [e.kind for e in rig.store().timeline(rig.incident("db")["id"])]
        assert timeline.count("notice") == 1
    finally:
        rig.close()


def test_silence_ending_after_the_problem_cleared_tells_nothing_more(tmp_path: Path, sink: WebhookSink) -> None:
    rig = Rig(config(tmp_path, sink, [check("db")]), sink, ManualClock())
    try:
        rig.result("db", Status.CRITICAL)
        sink.wait_count("pager", "trigger", 1)
        rig.engine.silence("db", 300, "replacing the disk", "carol")
        rig.result("db", Status.OK)
        sink.wait_count("pager", "resolve", 1)
        rig.advance(301)
        assert kinds(sink, "pager") == ["trigger", "resolve"]
    finally:
        rig.close()
