"""Incident history through the real engine: silences lifted early, and every incident
(auto-repaired, paged, acknowledged) kept with a timeline of its steps and messages."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from checks.base import Status
from tests.servers.webhook_sink import WebhookSink
from tests.waiting import wait_until
from tests.watchdog.incidents.engine_rig import Rig, check, config
from watchdog.common.clock import ManualClock
from watchdog.common.incident_history import DeliveryEntry
from watchdog.incidents.history import delivery_items
from watchdog.storage.state import TimelineEntry


def test_lifting_a_silence_early_notes_it_and_tells_at_once(tmp_path: Path, sink: WebhookSink) -> None:
    rig = Rig(config(tmp_path, sink, [check("web", command=["true"])]), sink, ManualClock())
    try:
        silence = rig.engine.silence("web", 3600, "nginx upgrade", "dave")
        [shown] = rig.engine.silences_snapshot()
        assert (shown["id"], shown["created_by"], shown["reason"]) == (silence["id"], "dave", "nginx upgrade")
        rig.result("web", Status.CRITICAL)
        assert rig.incident()["state"] == "open" and rig.sent() == 0
        [ended] = rig.engine.unsilence("web", "erin")
        assert ended == shown and rig.engine.silences_snapshot() == []
        assert rig.incident()["state"] == "paged"
        [page] = sink.wait_count("pager", "trigger", 1)
        assert "silence ended" in page["details"]
        timeline = rig.store().timeline(rig.incident()["id"])
        kinds = [e.kind for e in timeline]
        assert kinds[:4] == ["opened", "silenced", "unsilenced", "silence_ended"] and "paged" in kinds
        assert timeline[2].text.startswith(f"silence {silence['id']} lifted by erin (was until ")
        with pytest.raises(KeyError):
            rig.engine.unsilence("web", "erin")
    finally:
        rig.close()


def test_lifting_the_silence_of_a_healthy_check_by_id_sends_nothing(tmp_path: Path, sink: WebhookSink) -> None:
    rig = Rig(config(tmp_path, sink, [check("web", command=["true"])]), sink, ManualClock())
    try:
        silence = rig.engine.silence("web", 3600, "nginx upgrade", "dave")
        rig.result("web", Status.OK)
        assert [s["id"] for s in rig.engine.unsilence(silence["id"], "erin")] == [silence["id"]]
        rig.advance(10)
        assert rig.incidents() == [] and rig.sent() == 0
    finally:
        rig.close()


def test_an_auto_repair_and_a_paged_incident_are_both_in_the_history(tmp_path: Path, sink: WebhookSink) -> None:
    clock = ManualClock()
    rig = Rig(config(tmp_path, sink, [check("web", command=["true"]), check("db")]), sink, clock)
    try:
        started = clock.now()
        rig.result("web", Status.CRITICAL, "connection refused")
        rig.settle()
        rig.advance(5)
        rig.result("web", Status.OK)
        rig.advance(60)
        rig.result("db", Status.CRITICAL, "connection refused")
        db_id = rig.incident("db")["id"]
        wait_until(lambda: rig.engine.outbox_snapshot().get("delivered") == 2, 10, "both pages delivered")
        rig.advance(1)
        assert rig.engine.ack(db_id, "alice")

        repaired, paged = rig.engine.incidents(started)
        assert (repaired["check"], repaired["state"], repaired["resolution"]) == ("web", "repaired", "auto-repaired")
        assert (paged["id"], paged["state"], paged["closed_at"]) == (db_id, "acknowledged", None)
        assert rig.engine.incidents(clock.now() - timedelta(seconds=30)) == [paged]
        assert rig.engine.incidents(clock.now()) == []

        web = rig.engine.incident(repaired["id"])
        assert web is not None
        assert [e["kind"] for e in web["timeline"]] == ["opened", "restart", "restart_result", "closed"]
        assert [r["result"] for r in web.get("restarts", [])] == ["ok"]

        db = rig.engine.incident(db_id)
        assert db is not None and db["acked_by"] == "alice"
        entries = [(e["kind"], e["text"]) for e in db["timeline"]]
        assert ("message", "trigger to pager queued") in entries and ("message", "trigger to admins queued") in entries
        assert entries[-1] == ("acknowledged", "acknowledged by alice")
        times = [datetime.fromisoformat(e["at"]) for e in db["timeline"]]
        assert times == sorted(times)
        assert {d["channel"] for d in db.get("deliveries", [])} == {"pager", "admins"}
        assert rig.engine.incident("inc-nope") is None
    finally:
        rig.close()


def _delivery(**changes: Any) -> DeliveryEntry:
    entry = DeliveryEntry(
        notification_id="n1", channel="pager", kind="trigger", state="pending", attempts=0, last_error=None,
        fallback_of=None, created_at="2026-11-23T12:00:00+00:00", updated_at="2026-11-23T12:00:05+00:00",
    )  # fmt: skip
    entry.update(changes)  # type: ignore[typeddict-item]
    return entry


@pytest.mark.parametrize(
    ("changes", "outcome"),
    [
        ({}, None),
        ({"state": "delivered", "attempts": 1}, "trigger to pager delivered after 1 attempt"),
        (
            {"state": "rejected", "attempts": 2, "last_error": "HTTP 400"},
            "trigger to pager rejected after 2 attempts: HTTP 400",
        ),
        ({"attempts": 3, "last_error": "timed out"}, None),  # each failed attempt is a timeline entry of its own
    ],
)
def test_a_delivery_is_queued_and_then_what_became_of_it(changes: dict[str, Any], outcome: str | None) -> None:
    items = [item for _, item in delivery_items(_delivery(**changes))]
    assert items[0] == {"at": "2026-11-23T12:00:00+00:00", "kind": "message", "text": "trigger to pager queued"}
    assert [i["text"] for i in items[1:]] == ([outcome] if outcome else [])
    assert all(i["at"] == "2026-11-23T12:00:05+00:00" and i["kind"] == "delivery" for i in items[1:])


def test_a_fallback_copy_says_whose_fallback_it_is() -> None:
    [(_, queued)] = delivery_items(_delivery(channel="admins", fallback_of="pager"))
    assert queued["text"] == "trigger to admins queued (fallback for pager)"


def test_entries_of_any_kind_written_by_others_take_their_place_in_time(tmp_path: Path, sink: WebhookSink) -> None:
    clock = ManualClock()
    rig = Rig(config(tmp_path, sink, [check("db")]), sink, clock)
    try:
        rig.result("db", Status.CRITICAL, "connection refused")
        incident_id = rig.incident("db")["id"]
        store = rig.store()
        rec = store.incident(incident_id)
        assert rec is not None
        before = (clock.now() - timedelta(minutes=10)).replace(tzinfo=None)  # written without an offset
        store.save_incident(rec, [TimelineEntry(before, "change", "release r42 (abc123) by bob")])
        detail = rig.engine.incident(incident_id)
        assert detail is not None
        assert [e["kind"] for e in detail["timeline"]][:2] == ["change", "opened"]
    finally:
        rig.close()
