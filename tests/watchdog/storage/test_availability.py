"""The availability history: hourly buckets that add up, sum over a window and are pruned."""

from __future__ import annotations

from pathlib import Path

from watchdog.storage.availability import SHOP, AvailabilityStore, Span
from watchdog.storage.database import Database


def test_spans_add_up_per_check_and_hour_and_sum_from_a_start(tmp_path: Path) -> None:
    store = AvailabilityStore(Database(str(tmp_path)))
    store.add({("web", 0): Span(50.0, 60.0), (SHOP, 0): Span(50.0, 60.0)})
    store.add({("web", 0): Span(10.0, 10.0), ("web", 3600): Span(0.0, 30.0)})
    assert store.totals(0) == {"web": Span(60.0, 100.0), SHOP: Span(50.0, 60.0)}
    assert store.totals(3600) == {"web": Span(0.0, 30.0)}
    assert store.db.query("SELECT COUNT(*) FROM availability")[0][0] == 3, "one row per check and hour"


def test_prune_deletes_the_buckets_before_a_time(tmp_path: Path) -> None:
    store = AvailabilityStore(Database(str(tmp_path)))
    store.add({("web", 0): Span(1.0, 1.0), ("web", 3600): Span(2.0, 2.0), ("db", 7200): Span(3.0, 3.0)})
    store.prune(3600)
    assert store.totals(0) == {"web": Span(2.0, 2.0), "db": Span(3.0, 3.0)}


def test_history_survives_reopening_the_database(tmp_path: Path) -> None:
    AvailabilityStore(Database(str(tmp_path))).add({("web", 0): Span(5.0, 6.0)})
    assert AvailabilityStore(Database(str(tmp_path))).totals(0) == {"web": Span(5.0, 6.0)}
