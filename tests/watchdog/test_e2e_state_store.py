"""End to end: the real daemon with its `state_dir` on a file system that fails under it.

Receivers are real (a webhook receiver and an SMTP server, both on the critical route); the
file systems are real (a size-limited tmpfs, ext4 on a loop device whose disk fails).
Every page must arrive while the store cannot write, once per channel, and everything the
daemon did must be on disk once the disk works again. `app` is a command check the test
breaks by creating a flag file outside the failing file system.
"""

from __future__ import annotations

import sqlite3
import sys
import time
from pathlib import Path
from typing import Any

from tests.servers.loopfs import FailingDisk
from tests.servers.smtp import SmtpServer
from tests.servers.tmpfs import fill_to, remount
from tests.servers.watchdog_daemon import WatchdogDaemon
from tests.servers.webhook_sink import WebhookSink
from watchdog.storage.database import DB_NAME

STORE = "state-store"
FAST = {"interval": "200ms", "timeout": "2s", "retries": 1, "retry_interval": "100ms"}


def app_check(flag: Path) -> dict[str, Any]:
    """CRITICAL (exit 2) while `flag` exists."""
    code = f"import os, sys; sys.exit(2 if os.path.exists({str(flag)!r}) else 0)"
    return {"name": "app", "type": "command", "argv": [sys.executable, "-c", code]}


def daemon_config(state_dir: Path, checks: list[dict[str, Any]], sink: WebhookSink, smtp: SmtpServer) -> dict[str, Any]:
    return {
        "host": "e2e-shop",
        "state_dir": str(state_dir),
        "defaults": FAST,
        "checks": checks,
        "notify": {
            "channels": [
                {"name": "pager", "type": "webhook", "url": sink.url("pager")},
                {"name": "admins", "type": "email", "smtp_host": "127.0.0.1", "smtp_port": smtp.port,
                 "starttls": False, "from": "watchdog@shop.example", "to": ["ops@shop.example"]},
            ],
            "routes": {"critical": {"channels": ["pager", "admins"]}, "warning": {"channels": ["pager"]}},
        },
    }  # fmt: skip


def webhook_pages(sink: WebhookSink, check: str, kind: str | None = None) -> list[dict[str, Any]]:
    return [m for m in sink.messages("pager", kind) if m["check"] == check]


def mail_ids(smtp: SmtpServer) -> list[str]:
    return [str(m.message["Message-ID"]).strip("<>").split("@")[0] for m in smtp.messages]


def mails(smtp: SmtpServer, check: str | None, kind: str) -> list[str]:
    """Subjects of the e-mails of `kind` (about `check`)."""
    return [
        str(m.message["Subject"])
        for m in smtp.messages
        if m.message["X-Shop-Watchdog-Kind"] == kind
        and (check is None or f"e2e-shop {check} " in str(m.message["Subject"]))
    ]


def wait(what: str, predicate: Any, daemon: WatchdogDaemon, timeout: float = 15.0) -> None:
    daemon.wait_until(predicate, what=what, timeout=timeout)


def on_disk(state_dir: Path) -> tuple[dict[str, tuple[str, str]], list[tuple[str, str, str]]]:
    """Incidents (id -> (check, state)) and outbox rows (channel, notification id, state) as the
    file holds them."""
    conn = sqlite3.connect(state_dir / DB_NAME)
    try:
        incidents = {row[0]: (row[1], row[2]) for row in conn.execute("SELECT id, check_name, state FROM incidents")}
        rows = conn.execute("SELECT channel, notification_id, state FROM outbox ORDER BY seq").fetchall()
    finally:
        conn.close()
    return incidents, rows


def assert_each_message_once_and_on_disk(state_dir: Path, sink: WebhookSink, smtp: SmtpServer) -> None:
    received = {"pager": [m["id"] for m in sink.messages("pager")], "admins": mail_ids(smtp)}
    for channel, ids in received.items():
        assert len(ids) == len(set(ids)), f"{channel} got a message twice: {ids}"
    _, rows = on_disk(state_dir)
    assert {(channel, nid) for channel, nid, _ in rows} == {(c, i) for c, ids in received.items() for i in ids}
    assert {state for _, _, state in rows} == {"delivered"}


def test_full_disk_under_state_dir_pages_resolves_and_the_store_catches_up(
    tmp_path: Path, tmpfs: Path, sink: WebhookSink, smtp_server: SmtpServer
) -> None:
    state, flag = tmpfs / "state", tmp_path / "app-broken"
    checks = [{"name": "disk", "type": "disk", "path": str(tmpfs), "warn": "70%", "crit": "80%"}, app_check(flag)]
    daemon = WatchdogDaemon(tmp_path / "daemon", daemon_config(state, checks, sink, smtp_server))
    daemon.start()
    try:
        daemon.wait_for("disk", lambda c: c["status"] == "OK")
        daemon.wait_for("app", lambda c: c["status"] == "OK")

        # The disk fills: the page about it is committed in the reserve's space, then sent.
        fill_to(tmpfs, 1.0, "filler")
        wait("disk paged by webhook", lambda: webhook_pages(sink, "disk", "trigger"), daemon)
        wait("disk paged by e-mail", lambda: mails(smtp_server, "disk", "trigger"), daemon)
        wait("pages marked delivered", lambda: daemon.status()["outbox"]["pending"] == 0, daemon)
        incidents, _ = on_disk(state)
        assert list(incidents.values()) == [("disk", "paged")]  # on disk although the disk is full
        # A crash now loses nothing: the restarted daemon knows it paged already.
        daemon.kill()
        daemon.start()
        daemon.wait_for("disk", lambda c: c["status"] == "CRITICAL")
        time.sleep(1.0)
        assert len(webhook_pages(sink, "disk")) == 1 and len(mails(smtp_server, "disk", "trigger")) == 1

        # The disk fills again (the reserve is gone). The daemon goes on writing into space
        # its database already holds, until a write needs more: then the store pages.
        fill_to(tmpfs, 1.0, "filler-2")
        flaps = flap_until_the_store_pages(daemon, sink, flag)
        wait("store paged by e-mail", lambda: mails(smtp_server, STORE, "trigger"), daemon)
        [store_page] = webhook_pages(sink, STORE, "trigger")
        assert "state store cannot write: No space left on device" in store_page["summary"]
        assert daemon.metric("shop_watchdog_state_store_writing ") == 0

        # A new problem is paged from memory, as fast as on a good day (200 ms checks).
        flag.touch()
        broken = time.monotonic()
        wait("app paged", lambda: len(webhook_pages(sink, "app", "trigger")) == flaps + 1, daemon)
        assert time.monotonic() - broken < 5.0
        wait("app paged by e-mail", lambda: len(mails(smtp_server, "app", "trigger")) == flaps + 1, daemon)
        in_memory = webhook_pages(sink, "app", "trigger")[-1]["incident_id"]
        status = daemon.status()
        assert [c["name"] for c in status["checks"]] == ["disk", "app"]
        assert sorted(i["check"] for i in status["incidents"]) == ["app", "disk", STORE]
        assert daemon.metric("shop_watchdog_checks ") == 2
        flag.unlink()
        wait("app resolved from memory", lambda: len(webhook_pages(sink, "app", "resolve")) == flaps + 1, daemon)
        assert in_memory not in on_disk(state)[0]

        # Space is back: everything is written down, the store's incident and the disk's resolve.
        (tmpfs / "filler").unlink()
        (tmpfs / "filler-2").unlink()
        wait("store resolved", lambda: webhook_pages(sink, STORE, "resolve"), daemon)
        wait("disk resolved", lambda: webhook_pages(sink, "disk", "resolve"), daemon)
        wait("resolves by e-mail", lambda: len(mails(smtp_server, None, "resolve")) >= 3, daemon)
        wait("nothing pending", lambda: daemon.status()["outbox"]["pending"] == 0, daemon)
        assert daemon.metric("shop_watchdog_state_store_writing ") == 1
    finally:
        assert daemon.terminate() == 0
    incidents, _ = on_disk(state)
    assert {check for check, _ in incidents.values()} == {"disk", "app", STORE}
    assert {state for _, state in incidents.values()} == {"resolved"}
    assert in_memory in incidents
    assert_each_message_once_and_on_disk(state, sink, smtp_server)
    for check, pages in (("disk", 1), ("app", flaps + 1), (STORE, 1)):
        assert len(webhook_pages(sink, check, "trigger")) == pages == len(mails(smtp_server, check, "trigger"))


def flap_until_the_store_pages(daemon: WatchdogDaemon, sink: WebhookSink, flag: Path, limit: int = 40) -> int:
    """Breaks and repairs `app` (an incident, its page and its resolve each time) until the
    store pages that it cannot write; how many times it took."""
    for n in range(1, limit + 1):
        flag.touch()
        wait("app paged", lambda n=n: len(webhook_pages(sink, "app", "trigger")) == n, daemon)
        flag.unlink()
        wait("app resolved", lambda n=n: len(webhook_pages(sink, "app", "resolve")) == n, daemon)
        if webhook_pages(sink, STORE, "trigger"):
            return n
    raise AssertionError(f"the store still writes after {limit} incidents on a full disk")


def test_io_error_under_state_dir_pages_and_the_store_catches_up_after_the_repair(
    tmp_path: Path, loop_disk: FailingDisk, sink: WebhookSink, smtp_server: SmtpServer
) -> None:
    state, flag = loop_disk.mountpoint / "state", tmp_path / "app-broken"
    daemon = WatchdogDaemon(tmp_path / "daemon", daemon_config(state, [app_check(flag)], sink, smtp_server))
    daemon.start()
    try:
        daemon.wait_for("app", lambda c: c["status"] == "OK")
        loop_disk.break_disk()
        flaps = flap_until_the_store_pages(daemon, sink, flag)
        wait("all paged by e-mail", lambda: len(mails(smtp_server, None, "trigger")) == flaps + 1, daemon)
        [store_page] = webhook_pages(sink, STORE, "trigger")
        assert "state store cannot write:" in store_page["summary"]
        assert "I/O error" in store_page["summary"] or "Read-only file system" in store_page["summary"]
        repair_while_running(loop_disk)
        wait("store resolved", lambda: webhook_pages(sink, STORE, "resolve"), daemon)
        wait("nothing pending", lambda: daemon.status()["outbox"]["pending"] == 0, daemon)
    finally:
        assert daemon.terminate() == 0
    assert set(on_disk(state)[0].values()) == {("app", "resolved"), (STORE, "resolved")}
    assert_each_message_once_and_on_disk(state, sink, smtp_server)


def repair_while_running(disk: FailingDisk, timeout: float = 10.0) -> None:
    """The daemon holds no file on the broken disk, but its store looks every 2 s: an
    unmount that meets one of those looks is tried again."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            disk.repair()
            return
        except RuntimeError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)


def test_daemon_on_a_read_only_state_dir_starts_pages_and_writes_down_once_writable(
    tmp_path: Path, tmpfs: Path, sink: WebhookSink, smtp_server: SmtpServer
) -> None:
    state = tmpfs / "state"
    state.mkdir()
    remount(tmpfs, "ro")
    daemon = WatchdogDaemon(
        tmp_path / "daemon", daemon_config(state, [app_check(tmp_path / "never")], sink, smtp_server)
    )
    daemon.start()
    try:
        daemon.wait_for("app", lambda c: c["status"] == "OK")  # monitors
        wait("store paged", lambda: webhook_pages(sink, STORE, "trigger"), daemon)
        assert "Read-only file system" in webhook_pages(sink, STORE, "trigger")[0]["summary"]
        remount(tmpfs, "rw")
        wait("store resolved", lambda: webhook_pages(sink, STORE, "resolve"), daemon)
        wait("nothing pending", lambda: daemon.status()["outbox"]["pending"] == 0, daemon)
    finally:
        assert daemon.terminate() == 0
    assert list(on_disk(state)[0].values()) == [(STORE, "resolved")]
    assert_each_message_once_and_on_disk(state, sink, smtp_server)


def test_daemon_with_a_corrupt_state_db_starts_monitors_and_pages_once(
    tmp_path: Path, sink: WebhookSink, smtp_server: SmtpServer
) -> None:
    state, flag = tmp_path / "state", tmp_path / "app-broken"
    state.mkdir()
    (state / DB_NAME).write_bytes(b"this is not a database\n" * 400)
    (state / (DB_NAME + "-wal")).write_bytes(b"nor is this its WAL\n")
    daemon = WatchdogDaemon(tmp_path / "daemon", daemon_config(state, [app_check(flag)], sink, smtp_server))
    daemon.start()
    try:
        wait("store paged", lambda: webhook_pages(sink, STORE, "trigger"), daemon)
        [moved] = list(state.glob("state.db.corrupt-*Z"))
        assert (state / f"{moved.name}-wal").read_bytes() == b"nor is this its WAL\n"
        assert moved.name in webhook_pages(sink, STORE, "trigger")[0]["summary"]
        wait("store resolved", lambda: webhook_pages(sink, STORE, "resolve"), daemon)
        flag.touch()  # and it monitors and pages as usual, on the fresh database
        wait("app paged", lambda: webhook_pages(sink, "app", "trigger"), daemon)
        wait("page marked delivered", lambda: daemon.status()["outbox"]["pending"] == 0, daemon)
        daemon.kill()
        daemon.start()  # a restart does not page again
        flag.unlink()
        wait("app resolved", lambda: webhook_pages(sink, "app", "resolve"), daemon)
        time.sleep(1.0)
    finally:
        assert daemon.terminate() == 0
    assert [m["kind"] for m in webhook_pages(sink, STORE)] == ["trigger", "resolve"]
    assert_each_message_once_and_on_disk(state, sink, smtp_server)
