"""The incident store: versioned schema, WAL, everything committed survives a new process."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

from watchdog.storage.database import DB_NAME, Database
from watchdog.storage.migrations import MIGRATIONS
from watchdog.storage.state import (
    BudgetRecord,
    IncidentRecord,
    RestartRecord,
    SilenceRecord,
    StateStore,
    TimelineEntry,
)

T0 = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)


def _incident(**changes: object) -> IncidentRecord:
    rec = IncidentRecord(
        id="inc-0123456789", check="web", check_type="http", severity="critical", state="open",
        opened_at=T0, since=T0 - timedelta(seconds=30), summary="web CRITICAL: refused",
    )  # fmt: skip
    for key, value in changes.items():
        setattr(rec, key, value)
    return rec


def test_new_database_is_wal_at_the_latest_schema(tmp_path: Path) -> None:
    store = StateStore(Database(str(tmp_path / "state")))
    assert store.db.schema_version == len(MIGRATIONS)
    db = sqlite3.connect(tmp_path / "state" / DB_NAME)
    assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_database_from_a_newer_version_is_never_read_but_moved_aside(tmp_path: Path) -> None:
    StateStore(Database(str(tmp_path))).close()
    db = sqlite3.connect(tmp_path / DB_NAME)
    db.execute(f"PRAGMA user_version = {len(MIGRATIONS) + 1}")
    db.close()
    store = StateStore(Database(str(tmp_path)))
    assert store.db.schema_version == len(MIGRATIONS)
    [moved] = store.db.health().quarantined
    assert "newer" in moved.reason and Path(moved.path).name.startswith("state.db.newer-schema-")
    assert sqlite3.connect(moved.path).execute("PRAGMA user_version").fetchone()[0] == len(MIGRATIONS) + 1


def test_incident_and_timeline_round_trip(tmp_path: Path) -> None:
    store = StateStore(Database(str(tmp_path)))
    rec = _incident(
        paged_channels=("pager", "admins"), paged_at=T0, state="paged", notifications=2, tried="restart failed"
    )
    store.save_incident(rec, [TimelineEntry(T0, "opened", "CRITICAL"), TimelineEntry(T0, "paged", "pager, admins")])
    again = StateStore(Database(str(tmp_path)))
    assert again.open_incidents() == [rec]
    assert [(e.kind, e.text) for e in again.timeline(rec.id)] == [("opened", "CRITICAL"), ("paged", "pager, admins")]


def test_closed_incident_is_not_loaded_as_open(tmp_path: Path) -> None:
    store = StateStore(Database(str(tmp_path)))
    store.save_incident(_incident())
    store.save_incident(_incident(state="repaired", closed_at=T0, resolution="auto-repaired"))
    assert store.open_incidents() == []
    closed = store.incident("inc-0123456789")
    assert closed is not None and closed.resolution == "auto-repaired"


def test_restarts_and_budgets_round_trip(tmp_path: Path) -> None:
    store = StateStore(Database(str(tmp_path)))
    store.record_restart(RestartRecord("web", "inc-1", T0, "failed", 1, 0.2, "nginx: [emerg] unknown directive"))
    store.save_budget(BudgetRecord("web", "exhausted", 3, None))
    store.save_budget(BudgetRecord("web", "ready", 0, T0))
    again = StateStore(Database(str(tmp_path)))
    assert again.restarts("web")[0].output == "nginx: [emerg] unknown directive"
    assert again.budgets() == [BudgetRecord("web", "ready", 0, T0)]


def test_committed_incident_survives_kill_9_of_the_writer(tmp_path: Path) -> None:
    script = (
        "import os, signal, sys\n"
        "from datetime import datetime, timezone\n"
        "from watchdog.storage.database import Database\n"
        "from watchdog.storage.state import StateStore, IncidentRecord\n"
        "t = datetime(2026, 11, 23, tzinfo=timezone.utc)\n"
        "s = StateStore(Database(sys.argv[1]))\n"
        "s.save_incident(IncidentRecord('inc-aaaaaaaaaa', 'web', 'http', 'critical', 'paged', t, t,"
        " paged_channels=('pager',)))\n"
        "os.kill(os.getpid(), signal.SIGKILL)\n"
    )
    done = subprocess.run([sys.executable, "-c", script, str(tmp_path)], cwd=Path(__file__).parents[3], check=False)
    assert done.returncode == -9
    [rec] = StateStore(Database(str(tmp_path))).open_incidents()
    assert (rec.id, rec.state, rec.paged_channels) == ("inc-aaaaaaaaaa", "paged", ("pager",))


def test_incidents_opened_since_include_closed_ones_oldest_first(tmp_path: Path) -> None:
    store = StateStore(Database(str(tmp_path)))
    store.save_incident(_incident(id="inc-old", opened_at=T0 - timedelta(days=8)))
    store.save_incident(_incident(id="inc-closed", opened_at=T0 - timedelta(hours=2), closed_at=T0, state="repaired"))
    store.save_incident(_incident(id="inc-open", opened_at=T0 - timedelta(minutes=5)))
    assert [r.id for r in store.opened_since(T0 - timedelta(days=7))] == ["inc-closed", "inc-open"]
    assert [r.id for r in store.opened_since(T0 - timedelta(hours=2))] == ["inc-closed", "inc-open"]
    assert store.opened_since(T0) == []


def test_restarts_of_an_incident_are_its_own_in_order(tmp_path: Path) -> None:
    store = StateStore(Database(str(tmp_path)))
    for incident_id, result in (("inc-a", "failed"), ("inc-b", "ok"), ("inc-a", "ok")):
        store.record_restart(RestartRecord("web", incident_id, T0, result, 0, 0.5, f"{result} output"))
    assert [r.result for r in store.restarts_of_incident("inc-a")] == ["failed", "ok"]
    assert store.restarts_of_incident("inc-none") == []


def test_a_silence_entry_names_who_why_and_until() -> None:
    rec = SilenceRecord("sil-1", "web", T0 + timedelta(hours=1), "nginx upgrade", "anna", T0)
    assert rec.entry() == {
        "id": "sil-1",
        "check": "web",
        "reason": "nginx upgrade",
        "created_by": "anna",
        "created_at": "2026-11-23T12:00:00+00:00",
        "until": "2026-11-23T13:00:00+00:00",
    }
    assert rec.to_json()["by"] == "anna"
