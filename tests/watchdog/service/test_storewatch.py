"""The store's own failure is an incident of the `state-store` check: it pages on the
configured routes while changes are kept in memory, resolves once they are on disk, and
pages once about a database file moved aside. The real engine and outbox run on a real
tmpfs and page a real webhook receiver; only time is a ManualClock."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest

from checks.base import Status
from tests.servers.tmpfs import fill_to
from tests.servers.webhook_sink import WebhookSink
from tests.watchdog.incidents.engine_rig import Rig, check, config
from watchdog.common.clock import ManualClock
from watchdog.service.storewatch import STORE_CHECK
from watchdog.storage.database import DB_NAME


@pytest.fixture
def rig(tmpfs: Path, sink: WebhookSink) -> Iterator[Rig]:
    r = Rig(config(tmpfs / "state", sink, [check("web"), check("db"), check("noise")]), sink, ManualClock())
    r.engine.silence("noise", 86400, "writes for the test, no pages", "tests")
    yield r
    r.close()


def store_messages(sink: WebhookSink, path: str, kind: str | None = None) -> list[dict[str, object]]:
    return [m for m in sink.messages(path, kind) if m["check"] == STORE_CHECK.name]


def write_until(rig: Rig, metric: str, value: float, limit: int = 500) -> None:
    """Flaps the silenced check `noise` (incidents opened and closed, no message) until
    `metric` reads `value`. On a full disk SQLite goes on writing into space its WAL already
    holds, so how many writes it takes before one needs new space is not known up front."""
    for n in range(limit):
        rig.result("noise", Status.OK if n % 2 else Status.CRITICAL, "x" * 250)
        if rig.metric(metric) == value:
            return
    raise AssertionError(f"{metric} never read {value}")


def fill_past_the_reserve(rig: Rig, tmpfs: Path) -> None:
    """The disk fills, the store spends its reserve, the disk fills again, and the store's
    writes go to memory from now on."""
    fill_to(tmpfs, 1.0, "filler")
    write_until(rig, "shop_watchdog_state_store_reserve", 0)
    fill_to(tmpfs, 1.0, "filler-2")
    write_until(rig, "shop_watchdog_state_store_writing", 0)


def free(tmpfs: Path) -> None:
    for name in ("filler", "filler-2"):
        (tmpfs / name).unlink()


def test_store_that_cannot_write_pages_and_resolves_once_everything_is_on_disk(
    rig: Rig, tmpfs: Path, sink: WebhookSink
) -> None:
    rig.watch.tick()
    rig.result("web", Status.CRITICAL, "connection refused")
    fill_past_the_reserve(rig, tmpfs)
    rig.result("db", Status.CRITICAL, "too many connections")  # kept in memory
    rig.watch.tick()
    for channel in ("pager", "admins"):
        [page] = sink.wait_count(channel, "trigger", 3)[2:]
        assert page["check"] == STORE_CHECK.name and page["severity"] == "critical"
        assert "state store cannot write: No space left on device" in str(page["summary"])
    assert [m["check"] for m in sink.messages("pager", "trigger")] == ["web", "db", STORE_CHECK.name]
    assert [i["check"] for i in rig.incidents() if i["check"] != "noise"] == ["web", "db", STORE_CHECK.name]

    rig.advance(1.0)
    rig.watch.tick()  # still full: nothing new
    assert len(store_messages(sink, "pager")) == 1
    free(tmpfs)
    rig.advance(2.0)
    rig.watch.tick()
    for channel in ("pager", "admins"):
        [resolve] = [m for m in sink.wait_count(channel, "resolve", 1) if m["check"] == STORE_CHECK.name]
        assert resolve["incident_id"] == store_messages(sink, channel, "trigger")[0]["incident_id"]
    assert rig.metric("shop_watchdog_state_store_writing") == 1
    assert sink.wait_for(lambda s: rig.engine.outbox_snapshot()["pending"] == 0, 5)
    rig.watch.tick()

    received = [(channel, m["id"]) for channel in ("pager", "admins") for m in sink.messages(channel)]
    assert len(received) == len(set(received)) == 8  # 3 triggers + 1 resolve, on two channels
    conn = sqlite3.connect(Path(rig.cfg.state_dir) / DB_NAME)
    try:
        checks = dict(conn.execute("SELECT check_name, state FROM incidents WHERE check_name != 'noise'").fetchall())
        outbox = conn.execute("SELECT channel, notification_id, state FROM outbox").fetchall()
    finally:
        conn.close()
    assert checks == {"web": "paged", "db": "paged", STORE_CHECK.name: "resolved"}
    assert sorted((channel, nid) for channel, nid, _ in outbox) == sorted(received)
    assert {state for _, _, state in outbox} == {"delivered"}


def test_reload_keeps_the_store_incident_open_without_paging_again(rig: Rig, tmpfs: Path, sink: WebhookSink) -> None:
    fill_past_the_reserve(rig, tmpfs)
    rig.watch.tick()
    sink.wait_count("pager", "trigger", 1)
    rig.watch.reload(rig.cfg)
    rig.advance(1.0)
    rig.watch.tick()
    assert STORE_CHECK.name in [i["check"] for i in rig.incidents()]
    assert len(store_messages(sink, "pager")) == 1
    free(tmpfs)


def test_state_db_moved_aside_pages_once(tmpfs: Path, sink: WebhookSink) -> None:
    state = tmpfs / "state"
    state.mkdir()
    (state / DB_NAME).write_bytes(b"\x00garbage" * 1000)
    cfg = config(state, sink, [check("web")])
    rig = Rig(cfg, sink, ManualClock())
    try:
        rig.watch.tick()
        [page] = sink.wait_count("pager", "trigger", 1)
        assert page["check"] == STORE_CHECK.name
        assert "moved aside to" in str(page["summary"]) and "state.db.corrupt-" in str(page["summary"])
        rig.advance(2.0)
        rig.watch.tick()
        sink.wait_count("pager", "resolve", 1)
        for _ in range(3):
            rig.advance(2.0)
            rig.watch.tick()
        rig.close()
        rig.start()  # a restart does not page again about the same file
        for _ in range(3):
            rig.advance(2.0)
            rig.watch.tick()
    finally:
        rig.close()
    assert [m["kind"] for m in sink.messages("pager")] == ["trigger", "resolve"]
