"""The releases table: one row per release id, start and finish merged, bounded in age and count."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from watchdog.storage.database import Database
from watchdog.storage.releases import KEEP_DAYS, KEEP_ROWS, ReleaseNote, ReleaseStore

T0 = datetime(2026, 11, 24, 9, 0, tzinfo=UTC)


def test_start_then_finish_is_one_release_with_both_times(tmp_path: Path) -> None:
    store = ReleaseStore(Database(str(tmp_path)))
    store.record(ReleaseNote("start", "r1", commit="abc", branch="main", by="alice", reason=None), T0)
    done = store.record(ReleaseNote("finish", "r1"), T0 + timedelta(minutes=7))
    assert (done.started_at, done.finished_at) == (T0, T0 + timedelta(minutes=7))
    assert (done.commit, done.branch, done.by, done.hotfix) == ("abc", "main", "alice", False)
    assert [r.id for r in ReleaseStore(Database(str(tmp_path))).started_since(T0)] == ["r1"]


def test_a_finish_without_a_start_is_kept_but_never_counts_as_started(tmp_path: Path) -> None:
    store = ReleaseStore(Database(str(tmp_path)))
    rec = store.record(ReleaseNote("finish", "r2", hotfix=True, reason="pay fix"), T0)
    assert (rec.started_at, rec.finished_at, rec.hotfix, rec.reason) == (None, T0, True, "pay fix")
    assert store.started_since(T0 - timedelta(days=1)) == []
    assert store.count() == 1


def test_the_table_keeps_the_newest_rows_within_the_age_limit(tmp_path: Path) -> None:
    store = ReleaseStore(Database(str(tmp_path)))
    store.record(ReleaseNote("start", "ancient"), T0 - timedelta(days=KEEP_DAYS + 1))
    for i in range(KEEP_ROWS + 5):
        store.record(ReleaseNote("start", f"r{i}"), T0 + timedelta(seconds=i))
    assert store.count() == KEEP_ROWS
    ids = {r.id for r in store.started_since(T0 - timedelta(days=KEEP_DAYS + 2))}
    assert "ancient" not in ids and "r0" not in ids and f"r{KEEP_ROWS + 4}" in ids
