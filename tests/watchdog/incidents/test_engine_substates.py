"""What an OPEN or REPAIRING incident waits for, as the status API shows it (`substate`)."""

from __future__ import annotations

import logging
from datetime import UTC
from pathlib import Path

import pytest

from checks.base import Status
from tests.servers.webhook_sink import WebhookSink
from tests.watchdog.incidents.engine_rig import Rig, at_local, check, config
from watchdog.common.clock import ManualClock


def where(rig: Rig, name: str = "web") -> tuple[str, str | None]:
    inc = rig.incident(name)
    return inc["state"], inc.get("substate")


def test_held_by_parent_until_the_parent_recovers_then_repaired(tmp_path: Path, sink: WebhookSink) -> None:
    checks = [check("db"), check("web", command=["true"], depends_on=["db"])]
    rig = Rig(config(tmp_path, sink, checks), sink, ManualClock())
    try:
        rig.result("db", Status.CRITICAL)
        rig.result("web", Status.CRITICAL)
        assert where(rig) == ("open", "held_by_parent")
        assert where(rig, "db") == ("paged", None)
        rig.result("db", Status.OK)
        rig.result("web", Status.CRITICAL)
        assert where(rig) == ("repairing", "restart_running")
        rig.settle()
        assert where(rig) == ("repairing", "verifying")
    finally:
        rig.close()


def test_a_silence_replaces_the_parent_hold_and_ends_in_a_page(
    tmp_path: Path, sink: WebhookSink, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    checks = [check("db"), check("web", command=["true"], depends_on=["db"])]
    rig = Rig(config(tmp_path, sink, checks), sink, ManualClock())
    try:
        rig.result("db", Status.CRITICAL)
        rig.result("web", Status.CRITICAL)
        rig.engine.silence("web", 60, "moving the app server", "dave")
        assert where(rig) == ("open", "silenced")
        steps = [
            (m.split("old=")[1].split()[0], m.split("new=")[1].split()[0])
            for m in (r.getMessage() for r in caplog.records)
            if "event=incident_substate" in m and "check=web" in m
        ]
        assert steps == [("waiting", "held_by_parent"), ("held_by_parent", "waiting"), ("waiting", "silenced")]
        rig.result("db", Status.OK)
        rig.advance(60)
        assert where(rig) == ("paged", None)
        [page] = [m for m in sink.wait_count("pager", "trigger", 2) if m["check"] == "web"]
        assert "silence ended" in page["details"]
    finally:
        rig.close()


def test_deferred_warning_waits_again_after_a_daemon_restart(tmp_path: Path, sink: WebhookSink) -> None:
    night = at_local(2026, 11, 24, 23, 0).astimezone(UTC)
    cfg = config(tmp_path, sink, [check("disk", severity="warning")])
    clock = ManualClock(night)
    rig = Rig(cfg, sink, clock)
    rig.result("disk", Status.WARNING, "82% used")
    assert where(rig, "disk") == ("open", "deferred")
    rig.close()
    again = Rig(cfg, sink, clock)
    try:
        assert where(again, "disk") == ("open", "waiting")  # deferral is decided again, not stored
        again.result("disk", Status.WARNING, "82% used")
        assert where(again, "disk") == ("open", "deferred") and again.sent() == 0
    finally:
        again.close()


def test_paged_and_acknowledged_incidents_have_no_substate(tmp_path: Path, sink: WebhookSink) -> None:
    rig = Rig(config(tmp_path, sink, [check("db")]), sink, ManualClock())
    try:
        rig.result("db", Status.CRITICAL)
        assert where(rig, "db") == ("paged", None)
        assert rig.engine.ack(rig.incident("db")["id"], "erin")
        assert where(rig, "db") == ("acknowledged", None)
    finally:
        rig.close()
