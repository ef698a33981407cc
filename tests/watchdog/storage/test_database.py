"""The state database: one file, one migration chain for every table, transactions.

`data/state-0.1.0.db` was written by the first release (commit aeeaec7) running its own
engine and outbox against a local HTTP receiver: incidents `cache` (paged, resolved) and
`web` (restart failed, paged), a silence, a budget, a restart, and outbox rows delivered
to `pager` and `am` while `admins` answered 503 (three rows still pending, with one failed
attempt each). It is at `user_version` 1 with the outbox tables that release created
outside any version.
"""

from __future__ import annotations

import shutil
import sqlite3
from datetime import UTC, datetime
from pathlib import Path

import pytest

from tests.servers.notify_fixtures import build_test_channels, channel_spec
from tests.servers.webhook_sink import WebhookSink
from watchdog.common.clock import ManualClock
from watchdog.common.metric_values import Recorder
from watchdog.delivery.channels.transports import Transports
from watchdog.delivery.outbox import Outbox
from watchdog.storage.database import DB_NAME, Database
from watchdog.storage.migrations import LATEST, MIGRATIONS
from watchdog.storage.outbox import OutboxStore
from watchdog.storage.state import StateStore, TimelineEntry

FIRST_RELEASE_DB = Path(__file__).parent / "data" / "state-0.1.0.db"
WRITTEN_AT = datetime(2026, 11, 30, 9, 1, tzinfo=UTC)


def tables(path: Path) -> set[str]:
    with sqlite3.connect(path) as conn:
        return {name for (name,) in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}


def test_new_database_holds_every_table_at_the_latest_version(tmp_path: Path) -> None:
    db = Database(str(tmp_path / "state"))
    assert db.schema_version == LATEST == len(MIGRATIONS)
    assert {"incidents", "timeline", "restarts", "budgets", "silences", "outbox", "outbox_firing"} <= tables(
        tmp_path / "state" / DB_NAME
    )
    with sqlite3.connect(tmp_path / "state" / DB_NAME) as conn:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    db.close()


def test_state_db_of_the_first_release_migrates_and_keeps_everything(tmp_path: Path) -> None:
    shutil.copy(FIRST_RELEASE_DB, tmp_path / DB_NAME)
    db = Database(str(tmp_path))
    assert db.schema_version == LATEST
    assert db.health().quarantined == () and db.health().writing
    store = StateStore(db)
    [web] = store.open_incidents()
    assert (web.check, web.state, web.paged_channels) == ("web", "paged", ("pager", "admins", "am"))
    assert web.tried == "restart (false) failed (exit 1)"
    assert [e.kind for e in store.timeline(web.id)] == ["opened", "restart", "restart_result", "paged"]
    [cache] = store.incidents_of("cache")
    assert (cache.state, cache.resolution) == ("resolved", "resolved")
    [restart] = store.restarts("web")
    assert (restart.incident_id, restart.result, restart.returncode) == (web.id, "failed", 1)
    assert {(b.check, b.count) for b in store.budgets()} == {("web", 1), ("cache", 0)}
    assert [(s.check, s.reason) for s in store.active_silences()] == [("db", "disk swap")]

    store.save_incident(web, [TimelineEntry(WRITTEN_AT, "acknowledged", "acknowledged by ops")])
    store.save_incident(web, [TimelineEntry(WRITTEN_AT, "acknowledged", "acknowledged by ops")])
    assert [e.kind for e in store.timeline(web.id)][-2:] == ["acknowledged", "acknowledged"]
    db.close()
    again = StateStore(Database(str(tmp_path)))
    assert len(again.timeline(web.id)) == 6


def test_pending_messages_of_the_first_release_go_out_once_after_the_upgrade(
    tmp_path: Path, transports: Transports, sink: WebhookSink
) -> None:
    shutil.copy(FIRST_RELEASE_DB, tmp_path / DB_NAME)
    with sqlite3.connect(tmp_path / DB_NAME) as conn:
        pending = [nid for (nid,) in conn.execute("SELECT notification_id FROM outbox WHERE state = 'pending'")]
    assert len(pending) == 3
    db = Database(str(tmp_path))
    channels = build_test_channels(
        [channel_spec(name, "webhook", url=sink.url(name)) for name in ("pager", "admins")], transports
    )
    outbox = Outbox(OutboxStore(db), channels, ManualClock(WRITTEN_AT), Recorder(), close_timeout=5.0)
    outbox.start()
    try:
        got = sink.wait_count("admins", None, 3)
        assert [m["id"] for m in got] == pending
        assert [m["kind"] for m in got] == ["trigger", "resolve", "trigger"]
        assert sink.wait_for(lambda s: outbox.snapshot()["pending"] == 0, 5)
        assert sink.messages("pager") == []  # delivered by the old release: not again
    finally:
        outbox.close()
        db.close()
    with sqlite3.connect(tmp_path / DB_NAME) as conn:
        states = conn.execute("SELECT state, COUNT(*) FROM outbox GROUP BY state").fetchall()
    assert states == [("delivered", 9)]


def test_outbox_tables_made_before_any_version_are_adopted(tmp_path: Path) -> None:
    """The first release's outbox could create its tables before the incident store ran."""
    with sqlite3.connect(tmp_path / DB_NAME) as conn:
        conn.executescript(MIGRATIONS[1])
        conn.execute(
            "INSERT INTO outbox (notification_id, incident_id, channel, kind, body, created_at, updated_at)"
            " VALUES ('n1', 'inc-1', 'pager', 'trigger', '{}', 't', 't')"
        )
    db = Database(str(tmp_path))
    assert db.schema_version == LATEST
    assert [row.message.notification_id for row in OutboxStore(db).pending("pager")] == ["n1"]
    db.close()


def test_a_bug_in_a_transaction_is_raised_and_nothing_of_it_is_kept(tmp_path: Path) -> None:
    db = Database(str(tmp_path))
    with pytest.raises(sqlite3.OperationalError, match="no such table"), db.transaction() as tx:
        tx.execute("INSERT INTO budgets (check_name, state, count) VALUES ('web', 'ready', 0)")
        tx.execute("INSERT INTO no_such_table VALUES (1)")
    assert db.query("SELECT COUNT(*) FROM budgets")[0][0] == 0
    assert db.health().writing
    db.close()


def test_committed_transaction_is_visible_to_another_connection_at_once(tmp_path: Path) -> None:
    db = Database(str(tmp_path))
    with db.transaction() as tx:
        tx.execute("INSERT INTO budgets (check_name, state, count) VALUES ('web', 'ready', 2)")
    with sqlite3.connect(tmp_path / DB_NAME) as conn:
        assert conn.execute("SELECT count FROM budgets").fetchall() == [(2,)]
    db.close()
