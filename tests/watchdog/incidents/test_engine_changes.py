"""Every incident names what changed before it: recorded releases, successful config reloads,
the check's rollback hint, and whether it opened inside a release's post-deploy watch."""

from __future__ import annotations

import dataclasses
from pathlib import Path

from checks.base import Status
from tests.servers.webhook_sink import WebhookSink
from tests.watchdog.incidents.engine_rig import Rig, check, config
from watchdog.common.clock import ManualClock
from watchdog.config.model import PostDeployConfig
from watchdog.storage.releases import ReleaseNote

START = ReleaseNote("start", "4711", commit="9f1c2e7", branch="main", by="alice")


def test_page_names_the_release_minutes_before_with_the_rollback_hint_and_a_change_row(
    tmp_path: Path, sink: WebhookSink
) -> None:
    web = dataclasses.replace(check("web"), rollback_hint="redeploy the previous tag: make rollback")
    cfg = dataclasses.replace(
        config(tmp_path, sink, [web]), post_deploy=PostDeployConfig(("web",), watch_for=1800, interval=1)
    )
    rig = Rig(cfg, sink, ManualClock())
    try:
        rig.engine.record_release(START)
        rig.advance(12 * 60)
        rig.result("web", Status.CRITICAL, "connection refused")
        [page] = sink.wait_count("pager", "trigger", 1)
        change = (
            "release 4711 (commit 9f1c2e7, branch main, by alice, not a hotfix) went out 12 minutes before "
            "this incident; opened inside its post-deploy watch (30m)"
        )
        assert (
            f"Recent changes:\n- {change}\nRollback hint: redeploy the previous tag: make rollback" in page["details"]
        )
        incident_id = rig.incident("web")["id"]
        timeline = rig.store().timeline(incident_id)
        assert [(e.kind, e.text) for e in timeline if e.kind == "change"] == [("change", change)]
    finally:
        rig.close()


def test_hotfix_past_the_watch_and_a_reload_are_named_and_survive_a_restart(tmp_path: Path, sink: WebhookSink) -> None:
    cfg = dataclasses.replace(
        config(tmp_path, sink, [check("web"), check("db")]),
        post_deploy=PostDeployConfig(("web",), watch_for=600, interval=1),
    )
    clock = ManualClock()
    rig = Rig(cfg, sink, clock)
    try:
        rig.engine.record_release(ReleaseNote("start", "hf-1", commit="abc", by="bob", hotfix=True, reason="pay fix"))
        rig.advance(60)
        rig.engine.record_release(ReleaseNote("finish", "hf-1"))
        rig.advance(40 * 60)
        rig.engine.reload(dataclasses.replace(cfg, source="/etc/shop-watchdog/watchdog.yaml"))
        rig.advance(5 * 60)
        rig.result("db", Status.CRITICAL, "refused")
        [page] = sink.wait_count("pager", "trigger", 1)
        assert (
            "- release hf-1 (commit abc, by bob, hotfix: pay fix) went out 46 minutes before this incident, "
            "finished 45 minutes before this incident\n"
            "- config reloaded from /etc/shop-watchdog/watchdog.yaml 5 minutes before this incident"
        ) in page["details"]
        assert "post-deploy watch" not in page["details"]
        assert "Rollback hint" not in page["details"]
        rig.close()
        rig.start()  # a restarted daemon pages the same changes (reminders, resolve)
        rig.result("db", Status.OK)
        [resolve] = sink.wait_count("pager", "resolve", 1)
        assert "- release hf-1 (commit abc, by bob, hotfix: pay fix)" in resolve["details"]
    finally:
        rig.close()


def test_with_nothing_recorded_the_page_says_so(tmp_path: Path, sink: WebhookSink) -> None:
    rig = Rig(config(tmp_path, sink, [check("web")]), sink, ManualClock())
    try:
        rig.engine.record_release(START)
        rig.advance(25 * 3600)  # older than the 24 hours an incident looks back
        rig.result("web", Status.CRITICAL, "refused")
        [page] = sink.wait_count("pager", "trigger", 1)
        assert "Recent changes: none recorded in the 24 hours before this incident" in page["details"]
    finally:
        rig.close()
