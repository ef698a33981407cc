"""A state database that cannot be used is moved aside with a timestamp, never read and
never deleted; the store starts a fresh one (or runs in memory until it can)."""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
import sys
import tempfile
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from tests.servers.tmpfs import remount, tmpfs_mount
from watchdog.common.clock import ManualClock
from watchdog.storage.database import DB_NAME, Database
from watchdog.storage.migrations import LATEST
from watchdog.storage.state import IncidentRecord, StateStore

AT = datetime(2026, 12, 1, 10, 15, tzinfo=UTC)
REPO = Path(__file__).resolve().parents[3]


def incident(n: int) -> IncidentRecord:
    return IncidentRecord(f"inc-{n:010d}", "web", "http", "critical", "paged", AT, AT, summary="web down")


def written_db(state: Path) -> None:
    store = StateStore(Database(str(state)))
    for n in range(20):
        store.save_incident(incident(n))
    store.close()


def garbage(path: Path) -> None:
    path.write_bytes(os.urandom(3 * 4096))


def garbage_with_companions(path: Path) -> None:
    garbage(path)
    path.with_name(DB_NAME + "-wal").write_bytes(b"old wal")
    path.with_name(DB_NAME + "-shm").write_bytes(b"old shm")


def truncated(path: Path) -> None:
    written_db(path.parent)
    os.truncate(path, path.stat().st_size // 2)


def newer(path: Path) -> None:
    written_db(path.parent)
    conn = sqlite3.connect(path)
    conn.execute(f"PRAGMA user_version = {LATEST + 1}")
    conn.close()


def directory(path: Path) -> None:
    path.mkdir()


@pytest.mark.parametrize(
    ("spoil", "label", "reason"),
    [
        (garbage, "corrupt", "not a database"),
        (garbage_with_companions, "corrupt", "not a database"),
        (truncated, "corrupt", "malformed"),
        (newer, "newer-schema", f"schema version {LATEST + 1} is newer"),
        (directory, "unreadable", "not a regular file"),
    ],
)
def test_unusable_state_db_is_moved_aside_with_its_companions_and_a_fresh_one_started(
    tmp_path: Path, spoil: Callable[[Path], None], label: str, reason: str
) -> None:
    path = tmp_path / DB_NAME
    spoil(path)
    companions = {suffix: path.with_name(DB_NAME + suffix).read_bytes() for suffix in ("-wal", "-shm")
                  if path.with_name(DB_NAME + suffix).exists()}  # fmt: skip
    store = StateStore(Database(str(tmp_path), clock=ManualClock(AT)))
    [moved] = store.db.health().quarantined
    assert moved.path == str(tmp_path / f"state.db.{label}-20261201T101500Z")
    assert reason in moved.reason
    assert os.path.lexists(moved.path)
    for suffix, content in companions.items():
        assert Path(moved.path + suffix).read_bytes() == content
    assert store.db.health().writing and store.db.schema_version == LATEST
    assert store.open_incidents() == []
    store.save_incident(incident(1))
    store.close()
    assert [r.id for r in StateStore(Database(str(tmp_path))).open_incidents()] == [incident(1).id]


def test_second_bad_file_in_the_same_second_gets_its_own_name(tmp_path: Path) -> None:
    for _ in range(2):
        garbage(tmp_path / DB_NAME)
        Database(str(tmp_path), clock=ManualClock(AT)).close()
    assert sorted(p.name for p in tmp_path.glob("state.db.corrupt-*")) == [
        "state.db.corrupt-20261201T101500Z",
        "state.db.corrupt-20261201T101500Z-2",
    ]


@pytest.fixture
def world_reachable_dir() -> Iterator[Path]:
    """A directory another user can reach (pytest's tmp_path is root's alone)."""
    path = Path(tempfile.mkdtemp(prefix="watchdog-state-"))
    yield path
    shutil.rmtree(path)


def test_state_db_the_daemons_user_cannot_read_is_moved_aside(world_reachable_dir: Path) -> None:
    state = world_reachable_dir
    written_db(state)
    os.chmod(state / DB_NAME, 0o000)
    os.chown(state, 65534, 65534)  # the directory is the daemon's, the file is not
    script = (
        "import sys\n"
        "from watchdog.storage.database import Database\n"
        "db = Database(sys.argv[1])\n"
        "[moved] = db.health().quarantined\n"
        "print(moved.reason, db.health().writing)\n"
    )
    done = subprocess.run(
        ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", sys.executable, "-c", script, str(state)],
        cwd=REPO,
        env={**os.environ, "PYTHONPATH": str(REPO)},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "not readable by this user True"
    assert len(list(state.glob("state.db.unreadable-*"))) == 1


def test_bad_file_on_a_read_only_file_system_runs_in_memory_then_moves_it_aside() -> None:
    with tmpfs_mount("8m") as mountpoint:
        state = mountpoint / "state"
        state.mkdir()
        garbage(state / DB_NAME)
        remount(mountpoint, "ro")
        store = StateStore(Database(str(state), clock=ManualClock(AT)))
        assert not store.db.health().writing and store.db.health().quarantined == ()
        store.save_incident(incident(7))
        remount(mountpoint, "rw")
        store.db.maintain(force=True)
        health = store.db.health()
        assert health.writing and [Path(q.path).name for q in health.quarantined] == [
            "state.db.corrupt-20261201T101500Z"
        ]
        store.close()
        assert [r.id for r in StateStore(Database(str(state))).open_incidents()] == [incident(7).id]


def test_damage_found_while_in_memory_moves_the_file_aside_and_keeps_everything_known() -> None:
    with tmpfs_mount("8m") as mountpoint:
        state = mountpoint / "state"
        written_db(state)
        remount(mountpoint, "ro")
        store = StateStore(Database(str(state), clock=ManualClock(AT)))
        assert not store.db.health().writing and len(store.open_incidents()) == 20  # copied to memory
        store.save_incident(incident(99))
        remount(mountpoint, "rw")
        garbage(state / DB_NAME)  # the disk came back with garbage where the database was
        store.db.maintain(force=True)
        health = store.db.health()
        assert health.writing and len(health.quarantined) == 1
        store.close()
        assert len(StateStore(Database(str(state))).open_incidents()) == 21
