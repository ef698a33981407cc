"""The availability ledger through the real engine: which time counts as good, bad or unwatched."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime
from pathlib import Path

from checks.base import Status
from tests.servers.webhook_sink import WebhookSink
from tests.watchdog.incidents.engine_rig import Rig, config
from watchdog.common.clock import ManualClock
from watchdog.config.model import CheckSpec, WatchdogConfig
from watchdog.storage.availability import AvailabilityStore
from watchdog.storage.database import Database

MONTH = 28 * 86400.0


def spec(name: str, severity: str = "critical") -> CheckSpec:
    """A check every 60 s with a 5 s timeout: spans over 185 s are not counted."""
    return CheckSpec(name, "tcp", 60.0, 5.0, 1, 5.0, severity, None, (), None, None)  # type: ignore[arg-type]


def rig_for(tmp_path: Path, sink: WebhookSink, *names: str, warning: str = "") -> Rig:
    checks = [spec(n) for n in names] + ([spec(warning, "warning")] if warning else [])
    clock = ManualClock(datetime(2026, 11, 23, 9, 59, tzinfo=UTC))
    return Rig(config(tmp_path, sink, checks), sink, clock)


def figures(rig: Rig) -> dict[str, tuple[float, float]]:
    found = rig.engine.availability(MONTH)
    shop = {"": (found["good_seconds"], found["total_seconds"])}
    return shop | {c["name"]: (c["good_seconds"], c["total_seconds"]) for c in found["checks"]}


def test_time_counts_with_the_status_the_check_had_during_it(tmp_path: Path, sink: WebhookSink) -> None:
    rig = rig_for(tmp_path, sink, "web", "db")
    try:
        rig.result("web", Status.OK)
        rig.result("db", Status.OK)
        rig.advance(60)  # across 10:00: the spans are split between two hours
        rig.result("web", Status.CRITICAL)
        rig.result("db", Status.OK)
        rig.advance(30)
        rig.result("web", Status.OK)
        rig.advance(30)
        rig.result("db", Status.WARNING)  # not critical: the shop still takes orders
        rig.advance(60)
        rig.result("db", Status.OK)
        assert figures(rig) == {"": (150.0, 180.0), "web": (60.0, 90.0), "db": (180.0, 180.0)}
        hours = rig.engine.availability(MONTH)
        assert hours["availability"] == 150 / 180 and hours["window"] == "28d"
    finally:
        rig.close()


def test_a_soft_failure_is_not_downtime_yet(tmp_path: Path, sink: WebhookSink) -> None:
    rig = rig_for(tmp_path, sink, "web")
    try:
        rig.result("web", Status.CRITICAL, hard=False)
        rig.advance(10)
        rig.result("web", Status.OK)
        assert figures(rig)["web"] == (10.0, 10.0)
    finally:
        rig.close()


def test_a_gap_longer_than_three_intervals_is_not_counted(tmp_path: Path, sink: WebhookSink) -> None:
    rig = rig_for(tmp_path, sink, "web")
    try:
        rig.result("web", Status.CRITICAL)
        rig.advance(186)  # the daemon was stopped or stalled: nobody watched
        rig.result("web", Status.CRITICAL)
        rig.advance(185)
        rig.result("web", Status.OK)
        assert figures(rig)["web"] == (0.0, 185.0)
    finally:
        rig.close()


def test_warning_checks_and_the_state_store_are_not_the_shops_availability(tmp_path: Path, sink: WebhookSink) -> None:
    rig = rig_for(tmp_path, sink, "web", warning="slow")
    try:
        rig.result("web", Status.OK)
        rig.result("slow", Status.CRITICAL)
        rig.advance(60)
        rig.result("web", Status.OK)
        rig.result("slow", Status.CRITICAL)
        assert figures(rig) == {"": (60.0, 60.0), "web": (60.0, 60.0)}
    finally:
        rig.close()


def test_a_removed_check_no_longer_holds_the_shop_down(tmp_path: Path, sink: WebhookSink) -> None:
    rig = rig_for(tmp_path, sink, "web", "db")
    try:
        rig.result("web", Status.OK)
        rig.result("db", Status.CRITICAL)
        rig.engine.reload(_without(rig.cfg, "db"))
        rig.advance(60)
        rig.result("web", Status.OK)
        assert figures(rig)[""] == (60.0, 60.0)
    finally:
        rig.close()


def _without(cfg: WatchdogConfig, name: str) -> WatchdogConfig:
    return dataclasses.replace(cfg, checks=tuple(c for c in cfg.checks if c.name != name))


def test_history_is_written_down_and_read_back_after_a_restart(tmp_path: Path, sink: WebhookSink) -> None:
    rig = rig_for(tmp_path, sink, "web")
    try:
        rig.result("web", Status.OK)
        rig.advance(40)
        rig.result("web", Status.CRITICAL)
        store = AvailabilityStore(Database(str(tmp_path)))
        assert store.totals(0) == {}, "kept in memory for up to a minute"
        rig.advance(20)  # a minute after start: written down
        assert sum(s.total for s in store.totals(0).values()) == 80.0
        rig.result("web", Status.OK)
        rig.close()
        rig.start()  # a new daemon on the same database: the last span was written on the way out
        assert figures(rig) == {"": (40.0, 60.0), "web": (40.0, 60.0)}
    finally:
        rig.close()


def test_buckets_older_than_ninety_days_are_pruned(tmp_path: Path, sink: WebhookSink) -> None:
    rig = rig_for(tmp_path, sink, "web")
    try:
        rig.result("web", Status.OK)
        rig.advance(60)
        rig.result("web", Status.OK)
        rig.advance(60)  # written down
        rig.clock.advance(91 * 86400)
        rig.advance(3600)  # the next hourly prune
        store = AvailabilityStore(Database(str(tmp_path)))
        assert store.totals(0) == {}
    finally:
        rig.close()
