"""The state database on real file systems that fail: a size-limited tmpfs filled up, ext4
on a loop device whose disk returns I/O errors or that turns read-only, and a file system
mounted read-only before the store starts. Nothing written is lost, nothing is written
twice, and no caller ever sees the fault."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

from tests.servers.loopfs import FailingDisk
from tests.servers.notify_fixtures import build_test_channels, channel_spec
from tests.servers.tmpfs import fill_to, remount
from tests.servers.webhook_sink import WebhookSink
from watchdog.common.clock import SystemClock
from watchdog.common.metric_values import Recorder
from watchdog.delivery.channels.transports import Transports
from watchdog.delivery.notification import Notification
from watchdog.delivery.outbox import Outbox
from watchdog.storage.database import DB_NAME, Database, StoreHealth, write_down
from watchdog.storage.outbox import Message, OutboxStore
from watchdog.storage.reserve import RESERVE_NAME
from watchdog.storage.state import IncidentRecord, RestartRecord, StateStore, TimelineEntry

T0 = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)


DISK_INCIDENTS = "SELECT id FROM incidents WHERE check_name = 'disk' ORDER BY id"
DISK_TIMELINE = (
    "SELECT t.text FROM timeline t JOIN incidents i ON i.id = t.incident_id WHERE i.check_name = 'disk' ORDER BY t.seq"
)


def incident(n: int) -> IncidentRecord:
    return IncidentRecord(f"inc-{n:010d}", "disk", "disk", "critical", "paged", T0, T0, summary=f"disk full ({n})")


def on_disk(state_dir: Path, sql: str) -> list[tuple[object, ...]]:
    """What a separate connection reads from the file (not the store's memory)."""
    conn = sqlite3.connect(state_dir / DB_NAME)
    try:
        return [tuple(row) for row in conn.execute(sql)]
    finally:
        conn.close()


def write_until(store: StateStore, done: Callable[[StoreHealth], bool], limit: int = 500) -> None:
    """Writes incidents of check `noise` (8 KiB of timeline each) until `done(health)`.

    On a full disk SQLite goes on writing into space its WAL already holds (and the checkpoint
    reuses), so how many writes it takes before one needs new space is not known up front."""
    for n in range(limit):
        noise = IncidentRecord(f"inc-noise-{n:04d}", "noise", "disk", "warning", "open", T0, T0)
        store.save_incident(noise, [TimelineEntry(T0, "opened", "x" * 8192)])
        if done(store.db.health()):
            return
    raise AssertionError(f"still {store.db.health()} after {limit} writes")


def fill_past_the_reserve(mountpoint: Path, store: StateStore) -> None:
    """Fills the disk, lets the store spend its reserve, fills again and writes until a write
    goes to memory: from then on every change is kept in memory."""
    fill_to(mountpoint, 1.0, "filler")
    write_until(store, lambda health: not health.reserve)
    fill_to(mountpoint, 1.0, "filler-2")
    write_until(store, lambda health: not health.writing)


def free(mountpoint: Path) -> None:
    for name in ("filler", "filler-2"):
        (mountpoint / name).unlink(missing_ok=True)


def test_full_disk_takes_the_reserve_and_the_crisis_is_committed_on_disk(tmpfs: Path) -> None:
    state = tmpfs / "state"
    store = StateStore(Database(str(state)))
    assert (state / RESERVE_NAME).stat().st_size == 8 * 1024 * 1024 // 64  # 1/64 of the file system
    store.save_incident(incident(0))
    fill_to(tmpfs, 1.0, "filler")
    write_until(store, lambda health: not health.reserve)
    store.save_incident(incident(1), [TimelineEntry(T0, "opened", "CRITICAL: 100% used")])
    assert store.db.health().writing
    assert on_disk(state, DISK_INCIDENTS) == [(incident(0).id,), (incident(1).id,)]
    assert on_disk(state, "SELECT text FROM timeline WHERE incident_id = 'inc-0000000001'") == [
        ("CRITICAL: 100% used",)
    ]
    free(tmpfs)
    store.db.maintain(force=True)
    assert store.db.health().reserve and (state / RESERVE_NAME).exists()
    store.close()


def test_reserve_is_made_only_while_twice_its_size_is_free(tmpfs: Path) -> None:
    db = Database(str(tmpfs / "state"))
    assert db.health().reserve
    db.close()
    (tmpfs / "state" / RESERVE_NAME).unlink()
    fill_to(tmpfs, 0.975)  # 200 KiB free, less than twice 128 KiB
    db = Database(str(tmpfs / "state"))
    db.maintain(force=True)
    assert not db.health().reserve and not (tmpfs / "state" / RESERVE_NAME).exists()
    (tmpfs / "filler").unlink()
    db.maintain(force=True)
    assert db.health().reserve
    db.close()


def test_full_disk_past_the_reserve_keeps_changes_in_memory_and_writes_them_down_later(tmpfs: Path) -> None:
    state = tmpfs / "state"
    faults: list[str] = []
    store = StateStore(Database(str(state), on_fault=lambda: faults.append("told")))
    fill_past_the_reserve(tmpfs, store)
    assert faults == ["told"]  # the daemon's loop is woken to page about it
    for n in range(3):
        store.save_incident(incident(n), [TimelineEntry(T0, "opened", f"entry {n}")])
    store.record_restart(RestartRecord("disk", incident(0).id, T0, "failed", 1, 0.1, "no space"))
    health = store.db.health()
    assert not health.writing and health.unsaved == 1 + 4  # the write that failed, and these
    assert health.error is not None and "No space left on device" in health.error
    assert [r.id for r in store.open_incidents() if r.check == "disk"] == [incident(n).id for n in range(3)]
    assert on_disk(state, DISK_INCIDENTS) == []

    store.db.maintain(force=True)  # still full
    assert not store.db.health().writing
    free(tmpfs)
    store.db.maintain(force=True)
    health = store.db.health()
    assert health.writing and health.unsaved == 0 and health.error is None and health.reserve
    assert on_disk(state, DISK_INCIDENTS) == [(incident(n).id,) for n in range(3)]
    assert on_disk(state, DISK_TIMELINE) == [("entry 0",), ("entry 1",), ("entry 2",)]
    assert on_disk(state, "SELECT result FROM restarts") == [("failed",)]
    store.close()


def test_outbox_sends_from_memory_on_a_full_disk_and_the_file_catches_up_without_resending(
    tmpfs: Path, transports: Transports, sink: WebhookSink, make_notification: Callable[..., Notification]
) -> None:
    state = tmpfs / "state"
    db = Database(str(state))
    channels = build_test_channels([channel_spec("pager", "webhook", url=sink.url("pager"))], transports)
    outbox = Outbox(OutboxStore(db), channels, SystemClock(), Recorder(), close_timeout=5.0)
    outbox.start()
    try:
        fill_past_the_reserve(tmpfs, StateStore(db))
        n = make_notification()
        outbox.enqueue(n, ["pager"])
        [got] = sink.wait_count("pager", None, 1, timeout=5)
        assert got["id"] == n.id
        assert sink.wait_for(lambda s: outbox.snapshot()["delivered"] == 1, 5)
        assert not db.health().writing
        assert on_disk(state, "SELECT COUNT(*) FROM outbox") == [(0,)]
        free(tmpfs)
        db.maintain(force=True)
        assert on_disk(state, "SELECT notification_id, state FROM outbox") == [(n.id, "delivered")]
    finally:
        outbox.close()
        db.close()
    again = Database(str(state))
    restarted = Outbox(OutboxStore(again), channels, SystemClock(), Recorder(), close_timeout=5.0)
    restarted.start()
    try:
        assert not sink.wait_for(lambda s: len(s.messages()) > 1, 1.0)
    finally:
        restarted.close()
        again.close()


def test_io_error_keeps_changes_in_memory_until_the_disk_is_repaired(loop_disk: FailingDisk) -> None:
    state = loop_disk.mountpoint / "state"
    store = StateStore(Database(str(state)))
    store.save_incident(incident(0), [TimelineEntry(T0, "opened", "before")])
    loop_disk.break_disk()
    write_until(store, lambda health: not health.writing)
    store.save_incident(incident(1), [TimelineEntry(T0, "opened", "during")])
    health = store.db.health()
    assert not health.writing and health.error is not None
    assert "I/O error" in health.error or "Read-only" in health.error
    assert loop_disk.read_only()  # ext4 gave up on its journal after the I/O error
    assert [r.id for r in store.open_incidents() if r.check == "disk"] == [incident(0).id, incident(1).id]
    loop_disk.repair()  # unmounting proves the store let go of the file
    store.db.maintain(force=True)
    assert store.db.health().writing
    assert on_disk(state, DISK_INCIDENTS) == [(incident(0).id,), (incident(1).id,)]
    assert on_disk(state, DISK_TIMELINE) == [("before",), ("during",)]
    assert on_disk(state, "SELECT COUNT(*) = COUNT(DISTINCT entry_key) FROM timeline") == [(1,)]
    store.close()


def test_file_system_turned_read_only_keeps_changes_in_memory_until_it_is_writable(loop_disk: FailingDisk) -> None:
    state = loop_disk.mountpoint / "state"
    store = StateStore(Database(str(state)))
    store.save_incident(incident(0))
    loop_disk.trigger_error()
    store.save_incident(incident(1), [TimelineEntry(T0, "opened", "during")])
    health = store.db.health()
    assert not health.writing and health.error is not None and "Read-only file system" in health.error
    loop_disk.repair()
    store.db.maintain(force=True)
    assert store.db.health().writing
    assert on_disk(state, "SELECT id FROM incidents ORDER BY id") == [(incident(0).id,), (incident(1).id,)]
    store.close()


def test_store_starts_in_memory_on_a_read_only_file_system_and_writes_down_once_it_is_writable(tmpfs: Path) -> None:
    state = tmpfs / "state"
    before = StateStore(Database(str(state)))
    before.save_incident(incident(0))
    before.close()
    remount(tmpfs, "ro")
    store = StateStore(Database(str(state)))
    health = store.db.health()
    assert not health.writing and health.error is not None and "Read-only file system" in health.error
    assert [r.id for r in store.open_incidents()] == [incident(0).id]  # read from the file
    store.save_incident(incident(1))
    store.db.maintain(force=True)
    assert not store.db.health().writing
    remount(tmpfs, "rw")
    store.db.maintain(force=True)
    assert store.db.health().writing and store.db.health().quarantined == ()
    assert on_disk(state, "SELECT id FROM incidents ORDER BY id") == [(incident(0).id,), (incident(1).id,)]
    store.close()


def test_store_that_cannot_create_its_directory_runs_in_memory(tmpfs: Path) -> None:
    remount(tmpfs, "ro")
    store = StateStore(Database(str(tmpfs / "state")))
    assert not store.db.health().writing
    store.save_incident(incident(0))
    assert [r.id for r in store.open_incidents()] == [incident(0).id]
    remount(tmpfs, "rw")
    store.close()  # a last try on the way out
    assert on_disk(tmpfs / "state", "SELECT id FROM incidents") == [(incident(0).id,)]


def test_writing_down_a_change_that_reached_the_disk_after_all_adds_nothing_twice(
    tmpfs: Path, make_notification: Callable[..., Notification]
) -> None:
    """An fsync error may hide a commit that did reach the disk: writing it down again
    (as the store does with what it kept) must leave the file as it was."""
    state = tmpfs / "state"
    db = Database(str(state))
    store, outbox = StateStore(db), OutboxStore(db)
    fill_past_the_reserve(tmpfs, store)
    store.save_incident(incident(0), [TimelineEntry(T0, "opened", "a"), TimelineEntry(T0, "paged", "b")])
    store.record_restart(RestartRecord("disk", incident(0).id, T0, "failed", 1, 0.1, "out"))
    n = make_notification()
    outbox.add(Message(n.id, n.incident_id, n.kind, n.to_json()), ["pager", "admins"], ["boss"], T0)
    [row, _] = outbox.pending("pager") + outbox.pending("admins")
    outbox.reject(row, 1, "HTTP 400", T0, copy=True)
    kept = list(db._unsaved)
    assert len(kept) == 1 + 4  # the write that failed, and these
    free(tmpfs)
    db.maintain(force=True)
    assert db.health().writing
    queries = [
        "SELECT * FROM incidents",
        "SELECT incident_id, kind, text, entry_key FROM timeline ORDER BY seq",
        "SELECT check_name, result, entry_key FROM restarts",
        "SELECT notification_id, channel, state, fell_back, fallback_of FROM outbox ORDER BY seq",
    ]
    before = [on_disk(state, q) for q in queries]
    assert len(before[3]) == 3  # pager (rejected), admins, boss (fallback copy)
    conn = sqlite3.connect(state / DB_NAME, isolation_level=None)
    write_down(conn, kept)
    conn.close()
    assert [on_disk(state, q) for q in queries] == before
    db.close()


def test_lock_held_by_another_process_keeps_changes_in_memory_until_it_is_released(tmp_path: Path) -> None:
    store = StateStore(Database(str(tmp_path), busy_timeout=0.3))
    holder = subprocess.Popen(
        [sys.executable, "-c", _HOLD_LOCK, str(tmp_path / DB_NAME)], stdin=subprocess.PIPE, stdout=subprocess.PIPE
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline() == b"locked\n"
        store.save_incident(incident(0))
        health = store.db.health()
        assert not health.writing and health.error is not None and "locked" in health.error
        store.db.maintain(force=True)
        assert not store.db.health().writing
    finally:
        holder.communicate(b"\n", timeout=10)
    store.db.maintain(force=True)
    assert store.db.health().writing
    assert on_disk(tmp_path, "SELECT id FROM incidents") == [(incident(0).id,)]
    store.close()


_HOLD_LOCK = """
import sqlite3, sys
conn = sqlite3.connect(sys.argv[1], isolation_level=None)
conn.execute("BEGIN IMMEDIATE")
print("locked", flush=True)
sys.stdin.readline()
conn.execute("ROLLBACK")
"""
