"""The outbox against real receivers: nothing lost, nothing twice, nobody blocks anybody.

Receivers go down and come back (the SMTP server restarts on its port), answer 500/429/400,
hang; the daemon itself is killed with SIGKILL in a child process between enqueue and
delivery. Timing bounds here are behaviour (woken at once vs the 5 s idle poll), not
performance figures; those are in bench/.
"""

from __future__ import annotations

import os
import random
import signal
import sqlite3
import subprocess
import sys
import textwrap
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import pytest

from tests.servers.notify_fixtures import build_test_channels, channel_spec
from tests.servers.ports import free_port
from tests.servers.smtp import HangingSmtpServer, SmtpServer
from tests.servers.webhook import Reply, Request, WebhookServer
from tests.waiting import wait_until
from watchdog.common.clock import ManualClock
from watchdog.common.metric_values import Recorder
from watchdog.delivery.channels.base import Channel
from watchdog.delivery.channels.transports import Transports
from watchdog.delivery.notification import Notification
from watchdog.delivery.outbox import Outbox, RetryPolicy
from watchdog.service.exposition import registry_of

REPO = Path(__file__).resolve().parents[3]

MakeOutbox = Callable[..., Outbox]


def attempts_of(outbox: Outbox, channel: str) -> int | None:
    """Attempts of the channel's pending messages; None while nothing is pending there."""
    snap = outbox.snapshot()
    backlog = snap["channels"].get(channel) if "channels" in snap else None
    return backlog["attempts"] if backlog is not None else None


MakeNotification = Callable[..., Notification]


def hooks(transports: Transports, **urls: str) -> dict[str, Channel[object]]:
    return build_test_channels(
        [channel_spec(name, "webhook", url=url, timeout="2s") for name, url in urls.items()], transports
    )


def email(transports: Transports, server: SmtpServer | HangingSmtpServer, timeout: str = "2s") -> Channel[object]:
    spec = channel_spec(
        "admins", "email", smtp_host="127.0.0.1", smtp_port=server.port, starttls=False, timeout=timeout,
        **{"from": "watchdog@shop.example"}, to=["ops@shop.example"],
    )  # fmt: skip
    return build_test_channels([spec], transports)["admins"]


def rows(db: Path) -> list[sqlite3.Row]:
    with sqlite3.connect(db) as conn:
        conn.row_factory = sqlite3.Row
        return list(conn.execute("SELECT * FROM outbox ORDER BY seq"))


def delivered_ids(server: WebhookServer) -> list[str]:
    return [r.body["id"] for r in server.requests if 200 <= r.status < 300]


def test_enqueue_is_committed_before_it_returns(
    tmp_path: Path, transports: Transports, make_outbox: MakeOutbox, make_notification: MakeNotification
) -> None:
    outbox = make_outbox(hooks(transports, hook="http://127.0.0.1:9/x"), start=False)
    n = make_notification()
    outbox.enqueue(n, ["hook"])
    [row] = rows(tmp_path / "state.db")  # a separate connection sees it
    assert (row["notification_id"], row["channel"], row["state"]) == (n.id, "hook", "pending")
    assert Notification.from_json(row["body"]) == n


def test_a_message_repeated_under_its_key_is_stored_once_whatever_its_id(
    tmp_path: Path, transports: Transports, make_outbox: MakeOutbox, make_notification: MakeNotification
) -> None:
    """The engine repeats a message after a crash between the outbox commit and its own under
    a new random id, with the same key: it must not go out twice."""
    outbox = make_outbox(hooks(transports, hook="http://127.0.0.1:9/x"), start=False)
    first = make_notification(incident_id="inc-keyed")
    outbox.enqueue(first, ["hook"], key="inc-keyed/0")
    outbox.enqueue(make_notification(incident_id="inc-keyed"), ["hook"], key="inc-keyed/0")
    second = make_notification(incident_id="inc-keyed", kind="resolve")
    outbox.enqueue(second, ["hook"], key="inc-keyed/1")
    assert [(r["notification_id"], r["message_key"]) for r in rows(tmp_path / "state.db")] == [
        (first.id, "inc-keyed/0"),
        (second.id, "inc-keyed/1"),
    ]


def test_enqueue_wakes_the_channel_at_once(
    smtp_server: SmtpServer, transports: Transports, make_outbox: MakeOutbox, make_notification: MakeNotification
) -> None:
    outbox = make_outbox({"admins": email(transports, smtp_server)})
    time.sleep(0.3)  # the delivery thread is idle, in its 5 s wait
    enqueued = time.time()
    outbox.enqueue(make_notification(), ["admins"])
    [got] = smtp_server.wait_for(1, timeout=5)
    assert got.at - enqueued < 2.0


def test_smtp_down_while_paging_delivers_once_it_is_back(
    smtp_server: SmtpServer, transports: Transports, make_outbox: MakeOutbox, make_notification: MakeNotification
) -> None:
    smtp_server.stop()
    outbox = make_outbox({"admins": email(transports, smtp_server)})
    n = make_notification()
    outbox.enqueue(n, ["admins"])
    wait_until(lambda: (attempts_of(outbox, "admins") or 0) >= 3, 5, "3 failed attempts")
    snap = outbox.snapshot()
    assert snap["pending"] == 1 and "refused" in (snap["channels"]["admins"]["last_error"] or "")
    smtp_server.start()  # same port
    [got] = smtp_server.wait_for(1, timeout=5)
    assert got.message["Message-ID"] == f"<{n.id}@shop.example>"
    time.sleep(1.0)  # longer than the longest backoff: nothing more comes
    assert len(smtp_server.messages) == 1
    assert outbox.snapshot()["pending"] == 0 and outbox.snapshot()["delivered"] == 1


def test_500_then_200_is_delivered_exactly_once(
    webhook_server: WebhookServer, transports: Transports, make_outbox: MakeOutbox, make_notification: MakeNotification
) -> None:
    webhook_server.respond(Reply(500), Reply(503))
    recorder = Recorder()
    registry = registry_of(recorder)
    outbox = make_outbox(hooks(transports, hook=webhook_server.url), recorder=recorder)
    n = make_notification()
    outbox.enqueue(n, ["hook"])
    webhook_server.wait_for(1, status=200)
    time.sleep(0.8)
    assert [r.status for r in webhook_server.requests] == [500, 503, 200]
    assert delivered_ids(webhook_server) == [n.id]
    labels = {"channel": "hook", "kind": "trigger"}
    assert registry.get_sample_value("shop_watchdog_notifications_total", {**labels, "result": "retry"}) == 2
    assert registry.get_sample_value("shop_watchdog_notifications_total", {**labels, "result": "delivered"}) == 1
    assert registry.get_sample_value("shop_watchdog_outbox_pending") == 0


def test_429_is_retried_after_the_servers_retry_after(
    webhook_server: WebhookServer, transports: Transports, make_outbox: MakeOutbox, make_notification: MakeNotification
) -> None:
    webhook_server.respond(Reply(429, headers={"Retry-After": "0.4"}))
    outbox = make_outbox(hooks(transports, hook=webhook_server.url))
    outbox.enqueue(make_notification(), ["hook"])
    first, second = webhook_server.wait_for(2)
    assert (first.status, second.status) == (429, 200)
    assert second.at - first.at >= 0.35


def test_rejection_is_not_retried_and_goes_to_the_fallback(
    webhook_server: WebhookServer, transports: Transports, make_outbox: MakeOutbox, make_notification: MakeNotification
) -> None:
    spare = WebhookServer().start()
    try:
        webhook_server.respond(Reply(400, {"error": "invalid"}))
        recorder = Recorder()
        registry = registry_of(recorder)
        outbox = make_outbox(hooks(transports, pager=webhook_server.url, admins=spare.url), recorder=recorder)
        n = make_notification()
        outbox.enqueue(n, ["pager"], fallback=["pager", "admins"])
        spare.wait_for(1)
        time.sleep(0.8)
        assert [r.status for r in webhook_server.requests] == [400]
        assert delivered_ids(spare) == [n.id]
        snap = outbox.snapshot()
        assert (snap["failed"], snap["delivered"], snap["pending"]) == (1, 1, 0)
        labels = {"channel": "pager", "kind": "trigger"}
        assert registry.get_sample_value("shop_watchdog_notifications_total", {**labels, "result": "rejected"}) == 1
        assert registry.get_sample_value("shop_watchdog_notifications_total", {**labels, "result": "fallback"}) == 1
        history = outbox.history(n.incident_id)
        assert [(h["channel"], h["state"], h["fallback_of"]) for h in history] == [
            ("pager", "rejected", None),
            ("admins", "delivered", "pager"),
        ]
        assert "HTTP 400" in (history[0]["last_error"] or "")
    finally:
        spare.close()


def test_channel_that_keeps_failing_falls_back_once_while_retries_go_on(
    webhook_server: WebhookServer, transports: Transports, make_outbox: MakeOutbox, make_notification: MakeNotification
) -> None:
    spare = WebhookServer().start()
    try:
        webhook_server.respond_to(lambda body: True, Reply(502))
        outbox = make_outbox(hooks(transports, pager=webhook_server.url, admins=spare.url))
        trigger = make_notification(incident_id="inc-f")
        outbox.enqueue(trigger, ["pager"], fallback=["admins"])
        spare.wait_for(1)
        wait_until(lambda: len(webhook_server.requests) >= 6, 10, "retries to go on")
        assert delivered_ids(spare) == [trigger.id]  # once, not per attempt
        webhook_server.clear_rules()
        webhook_server.wait_for(1, status=200)
        assert delivered_ids(webhook_server) == [trigger.id]

        resolve = make_notification(incident_id="inc-f", kind="resolve")
        outbox.enqueue(resolve, ["pager"])  # the engine only knows the pager was paged
        wait_until(lambda: len(delivered_ids(spare)) == 2, 5, "the resolve on the fallback channel")
        assert delivered_ids(spare) == [trigger.id, resolve.id]
        assert delivered_ids(webhook_server) == [trigger.id, resolve.id]
    finally:
        spare.close()


def test_resolve_never_overtakes_its_trigger_and_other_incidents_go_on(
    webhook_server: WebhookServer, transports: Transports, make_outbox: MakeOutbox, make_notification: MakeNotification
) -> None:
    webhook_server.respond_to(lambda body: body["incident_id"] == "inc-a" and body["kind"] == "trigger", Reply(500))
    outbox = make_outbox(hooks(transports, hook=webhook_server.url))
    trigger_a = make_notification(incident_id="inc-a")
    resolve_a = make_notification(incident_id="inc-a", kind="resolve")
    trigger_b = make_notification(incident_id="inc-b")
    for n in (trigger_a, resolve_a, trigger_b):
        outbox.enqueue(n, ["hook"])
    wait_until(lambda: trigger_b.id in delivered_ids(webhook_server), 5, "the other incident")
    wait_until(lambda: len(webhook_server.requests) >= 5, 5, "retries of the trigger")
    assert resolve_a.id not in [r.body["id"] for r in webhook_server.requests]
    webhook_server.clear_rules()
    wait_until(lambda: resolve_a.id in delivered_ids(webhook_server), 5, "the resolve")
    assert delivered_ids(webhook_server) == [trigger_b.id, trigger_a.id, resolve_a.id]


def test_hanging_smtp_never_delays_the_webhook(
    hanging_smtp: HangingSmtpServer, webhook_server: WebhookServer, transports: Transports,
    make_outbox: MakeOutbox, make_notification: MakeNotification,
) -> None:  # fmt: skip
    channels = {"admins": email(transports, hanging_smtp, timeout="5s"), **hooks(transports, hook=webhook_server.url)}
    outbox = make_outbox(channels)
    first = make_notification()
    outbox.enqueue(first, ["admins", "hook"])
    second = make_notification()
    outbox.enqueue(second, ["admins", "hook"])
    webhook_server.wait_for(2, timeout=1.5)
    assert delivered_ids(webhook_server) == [first.id, second.id]
    assert outbox.snapshot()["channels"]["admins"]["pending"] == 2
    hanging_smtp.close()  # resets its connections: the e-mail thread stops waiting


def test_unknown_channel_is_rejected_and_falls_back(
    webhook_server: WebhookServer, transports: Transports, make_outbox: MakeOutbox, make_notification: MakeNotification
) -> None:
    outbox = make_outbox(hooks(transports, hook=webhook_server.url))
    n = make_notification()
    outbox.enqueue(n, ["gone"], fallback=["hook"])
    webhook_server.wait_for(1)
    wait_until(lambda: outbox.snapshot()["delivered"] == 1, 5, "the fallback row marked delivered")
    [gone, hook] = outbox.history(n.incident_id)
    assert (gone["state"], hook["state"]) == ("rejected", "delivered")
    assert "no channel named 'gone'" in (gone["last_error"] or "")


def test_reload_adds_and_removes_channels(
    webhook_server: WebhookServer, transports: Transports, make_outbox: MakeOutbox, make_notification: MakeNotification
) -> None:
    late = WebhookServer().start()
    try:
        outbox = make_outbox(hooks(transports, old="http://127.0.0.1:9/down"))
        stuck = make_notification()
        outbox.enqueue(stuck, ["old"], fallback=["new"])
        outbox.reload(hooks(transports, new=late.url, hook=webhook_server.url))
        late.wait_for(1)
        assert delivered_ids(late) == [stuck.id]  # the removed channel's message went to its fallback
        fresh = make_notification()
        outbox.enqueue(fresh, ["hook"])
        webhook_server.wait_for(1)
        assert delivered_ids(webhook_server) == [fresh.id]
    finally:
        late.close()


def test_close_leaves_pending_rows_for_the_next_start(
    tmp_path: Path, transports: Transports, make_outbox: MakeOutbox, make_notification: MakeNotification
) -> None:
    port = free_port()
    outbox = make_outbox(hooks(transports, hook=f"http://127.0.0.1:{port}/hook"))
    n = make_notification()
    outbox.enqueue(n, ["hook"])
    outbox.close()
    assert [r["state"] for r in rows(tmp_path / "state.db")] == ["pending"]
    server = WebhookServer(port=port).start()
    try:
        make_outbox(hooks(transports, hook=server.url))
        server.wait_for(1)
        time.sleep(0.5)
        assert delivered_ids(server) == [n.id]
    finally:
        server.close()


_CHILD = textwrap.dedent(
    """
    import os, sys, time
    from watchdog.common.metric_values import Recorder
    from watchdog.delivery.channels.transports import default_transports
    from watchdog.delivery.channels.webhook import WebhookChannel, WebhookConfig
    from watchdog.common.clock import SystemClock
    from watchdog.delivery.notification import Notification
    from watchdog.delivery.outbox import Outbox, RetryPolicy
    from watchdog.storage.database import Database
    from watchdog.storage.outbox import OutboxStore

    db, url, body = sys.argv[1:4]
    channels = {"hook": WebhookChannel("hook", WebhookConfig(url=url, timeout=30.0), default_transports())}
    store = OutboxStore(Database(os.path.dirname(db)))
    outbox = Outbox(store, channels, SystemClock(), Recorder(), policy=RetryPolicy(initial=0.05, maximum=0.2))
    outbox.start()
    outbox.enqueue(Notification.from_json(body), ["hook"])
    print("queued", flush=True)
    time.sleep(60)
    """
)


def run_and_kill(db: Path, url: str, n: Notification, settle: Callable[[], object]) -> None:
    """Runs an Outbox in a child process, lets it enqueue `n`, waits for `settle`, SIGKILLs it."""
    child = subprocess.Popen(
        [sys.executable, "-c", _CHILD, str(db), url, n.to_json()],
        cwd=REPO,
        env={**os.environ, "PYTHONPATH": str(REPO)},
        stdout=subprocess.PIPE,
    )
    try:
        assert child.stdout is not None
        assert child.stdout.readline().strip() == b"queued"
        settle()
    finally:
        os.kill(child.pid, signal.SIGKILL)
        child.wait(10)
    assert child.returncode == -signal.SIGKILL


def test_pending_message_survives_kill_9_and_is_delivered_once(
    tmp_path: Path, transports: Transports, make_outbox: MakeOutbox, make_notification: MakeNotification
) -> None:
    db, port = tmp_path / "state.db", free_port()
    n = make_notification()
    run_and_kill(db, f"http://127.0.0.1:{port}/hook", n, lambda: wait_until(
        lambda: rows(db) and rows(db)[0]["attempts"] >= 2, 5, "failed attempts in the child"))  # fmt: skip
    assert [r["state"] for r in rows(db)] == ["pending"]
    server = WebhookServer(port=port).start()
    try:
        restarted = make_outbox(hooks(transports, hook=server.url), state_dir=tmp_path)
        server.wait_for(1)
        wait_until(lambda: restarted.snapshot()["delivered"] == 1, 5, "the row marked delivered")
        restarted.close()
        make_outbox(hooks(transports, hook=server.url), state_dir=tmp_path)  # and once more: nothing re-sent
        time.sleep(0.5)
        assert delivered_ids(server) == [n.id]
        assert len(server.requests) == 1
    finally:
        server.close()


def test_kill_9_during_the_send_resends_after_restart(
    tmp_path: Path, webhook_server: WebhookServer, transports: Transports, make_outbox: MakeOutbox,
    make_notification: MakeNotification,
) -> None:  # fmt: skip
    db = tmp_path / "state.db"
    n = make_notification()
    webhook_server.respond(Reply(200, hang=30))
    run_and_kill(db, webhook_server.url, n, lambda: webhook_server.wait_for(1))
    make_outbox(hooks(transports, hook=webhook_server.url), state_dir=tmp_path)
    second = webhook_server.wait_for(2)[1]
    assert second.body["id"] == n.id and second.status == 200


def test_backoff_doubles_with_jitter_up_to_the_maximum() -> None:
    policy = RetryPolicy(initial=1.0, maximum=300.0, jitter=0.2)
    rng = random.Random(7)
    delays = [policy.delay(attempt, rng) for attempt in range(1, 12)]
    for attempt, delay in enumerate(delays, start=1):
        base = min(300.0, 2.0 ** (attempt - 1))
        assert base * 0.8 <= delay <= min(300.0, base * 1.2)
    assert delays[-1] == pytest.approx(300.0, rel=0.2)
    assert policy.delay(1, rng, retry_after=30.0) == 30.0
    assert policy.delay(1, rng, retry_after=9999.0) == 300.0


def test_firing_alerts_are_resent_until_resolved(
    webhook_server: WebhookServer, transports: Transports, make_outbox: MakeOutbox, make_notification: MakeNotification
) -> None:
    spec = channel_spec("am", "alertmanager", url=webhook_server.base_url, resend_every="200ms")
    outbox = make_outbox(build_test_channels([spec], transports))
    outbox.enqueue(make_notification(incident_id="inc-r"), ["am"])
    wait_until(lambda: len(webhook_server.requests) >= 3, 5, "re-sends")
    outbox.enqueue(make_notification(incident_id="inc-r", kind="resolve"), ["am"])
    wait_until(lambda: any(map(is_resolve, webhook_server.requests)), 5, "the resolve")
    count = len(webhook_server.requests)
    time.sleep(0.8)
    assert len(webhook_server.requests) == count
    assert is_resolve(webhook_server.requests[-1])


def test_a_cluster_channel_resends_the_resolve_for_four_periods_then_stops(
    webhook_server: WebhookServer, transports: Transports, make_outbox: MakeOutbox, make_notification: MakeNotification
) -> None:
    second = WebhookServer().start()
    try:
        urls = [webhook_server.base_url, second.base_url]
        spec = channel_spec("am", "alertmanager", urls=urls, resend_every="200ms")
        outbox = make_outbox(build_test_channels([spec], transports))
        outbox.enqueue(make_notification(incident_id="inc-rr"), ["am"])
        wait_until(lambda: webhook_server.requests, 5, "the trigger")
        resolve = make_notification(incident_id="inc-rr", kind="resolve")
        outbox.enqueue(resolve, ["am"])
        wait_until(lambda: sum(map(is_resolve, second.requests)) >= 3, 5, "the resolve, re-sent")
        time.sleep(1.2)  # four periods (800 ms) after the resolve was written it is let go
        count = len(second.requests)
        time.sleep(0.6)
        assert len(second.requests) == count
        assert all(map(is_resolve, second.requests[-3:]))
        assert [r.body[0]["labels"]["incident"] for r in second.requests[-3:]] == ["inc-rr"] * 3
    finally:
        second.close()


def is_resolve(request: Request) -> bool:
    return datetime.fromisoformat(request.body[0]["endsAt"]) < datetime.now(UTC)


def test_firing_alerts_are_refreshed_at_once_after_a_restart(
    tmp_path: Path, webhook_server: WebhookServer, transports: Transports, make_outbox: MakeOutbox,
    make_notification: MakeNotification,
) -> None:  # fmt: skip
    spec = channel_spec("am", "alertmanager", url=webhook_server.base_url, resend_every="1h")
    first = make_outbox(build_test_channels([spec], transports))
    first.enqueue(make_notification(incident_id="inc-open"), ["am"])
    first.enqueue(make_notification(incident_id="inc-closed"), ["am"])
    first.enqueue(make_notification(incident_id="inc-closed", kind="resolve"), ["am"])
    webhook_server.wait_for(3)
    wait_until(lambda: first.snapshot()["delivered"] == 3, 5, "rows marked delivered")
    first.close()
    make_outbox(build_test_channels([spec], transports))  # the daemon restarted
    [refresh] = webhook_server.wait_for(4)[3:]
    assert refresh.body[0]["labels"]["incident"] == "inc-open" and not is_resolve(refresh)
    time.sleep(0.5)
    assert len(webhook_server.requests) == 4


def test_channel_failing_for_two_minutes_falls_back_even_with_few_attempts(
    webhook_server: WebhookServer, transports: Transports, make_outbox: MakeOutbox, make_notification: MakeNotification
) -> None:
    spare = WebhookServer().start()
    try:
        webhook_server.respond_to(lambda body: True, Reply(503))
        clock = ManualClock()
        policy = RetryPolicy(initial=60.0, maximum=300.0, jitter=0.0, fallback_after_attempts=100, fallback_after=120.0)
        outbox = make_outbox(hooks(transports, pager=webhook_server.url, admins=spare.url), policy=policy, clock=clock)
        outbox.enqueue(make_notification(), ["pager"], fallback=["admins"])

        def attempts() -> object:
            return attempts_of(outbox, "pager")

        wait_until(lambda: attempts() == 1, 5, "the first attempt")
        clock.advance(61)
        outbox.wake()
        wait_until(lambda: attempts() == 2, 5, "the second attempt, failing for 61 s")
        time.sleep(0.3)
        assert spare.requests == []
        clock.advance(120)
        outbox.wake()
        spare.wait_for(1, timeout=5)  # third attempt, failing for 181 s
        assert attempts() == 3
    finally:
        spare.close()
