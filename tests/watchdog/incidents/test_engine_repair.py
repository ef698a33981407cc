"""Repair first: restarts of a real nginx, verification, and paging only when repair fails."""

from __future__ import annotations

import logging
import subprocess
import sys
from pathlib import Path

import pytest
import requests

from checks.base import Status
from tests.servers.nginx import NginxServer
from tests.servers.webhook_sink import WebhookSink
from tests.watchdog.incidents.engine_rig import Rig, check, config, failing_repair
from watchdog.common.clock import ManualClock
from watchdog.config.model import RemediationConfig, Route
from watchdog.service.exposition import render


def probe(rig: Rig, nginx: NginxServer) -> None:
    """Runs a real HTTP probe of nginx and feeds its result as check `web`."""
    try:
        ok = requests.get(nginx.healthz_url, timeout=1).text == "ok"
        rig.result("web", Status.OK if ok else Status.CRITICAL, "healthz" if ok else "bad body")
    except requests.RequestException as exc:
        rig.result("web", Status.CRITICAL, f"connection failed: {type(exc).__name__}")


def nginx_rig(tmp_path: Path, sink: WebhookSink, nginx: NginxServer, **remediation: float) -> Rig:
    restart = nginx.ctl_argv(sys.executable, "restart")
    rem = RemediationConfig(backend="command", verify_after=5, restart_timeout=15, **remediation)  # type: ignore[arg-type]
    cfg = config(
        tmp_path / "state", sink, [check("web", command=restart, runbook_url="https://wiki/web")], remediation=rem
    )
    return Rig(cfg, sink, ManualClock())


def repair_cycle(rig: Rig, nginx: NginxServer) -> None:
    """A hard failure of `web`, the restart it triggers, and the verification result."""
    probe(rig, nginx)
    rig.settle()
    rig.advance(rig.cfg.remediation.verify_after)
    probe(rig, nginx)


def test_successful_restart_sends_nothing(
    tmp_path: Path, sink: WebhookSink, nginx: NginxServer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    rig = nginx_rig(tmp_path, sink, nginx)
    try:
        nginx.kill()
        probe(rig, nginx)
        assert rig.incident()["state"] == "repairing"
        incident_id = rig.incident()["id"]
        rig.settle()
        assert rig.rechecks == [("web", 5)]
        probe(rig, nginx)  # a result before verify_after is not the verification
        assert rig.incident()["state"] == "repairing"
        rig.advance(5)
        probe(rig, nginx)
        assert rig.incidents() == []
        assert rig.sent() == 0
        assert sink.messages() == []
        assert requests.get(nginx.healthz_url, timeout=1).text == "ok"
        assert rig.metric("shop_watchdog_auto_repairs_total", check="web") == 1
        assert rig.metric("shop_watchdog_restarts_total", check="web", result="ok") == 1
        store = rig.store()
        closed = store.incident(incident_id)
        assert closed is not None and (closed.state, closed.resolution) == ("repaired", "auto-repaired")
        kinds = [e.kind for e in store.timeline(incident_id)]
        assert kinds == ["opened", "restart", "restart_result", "closed"]
        assert [r.result for r in store.restarts("web")] == ["ok"]
        lines = [r.getMessage() for r in caplog.records if "event=incident_state" in r.getMessage()]
        assert all(f"incident={incident_id}" in line and "check=web" in line for line in lines) and len(lines) == 2
    finally:
        rig.close()


def test_restart_that_fails_pages_once(tmp_path: Path, sink: WebhookSink, nginx: NginxServer) -> None:
    rig = nginx_rig(tmp_path, sink, nginx)
    try:
        nginx.broken_config()
        nginx.kill()
        probe(rig, nginx)
        rig.settle()
        inc = rig.incident()
        assert inc["state"] == "paged" and inc["paged_channels"] == ["pager", "admins"]
        for _ in range(5):
            probe(rig, nginx)
            rig.advance(1)
        for channel in ("pager", "admins"):
            [page] = sink.wait_count(channel, "trigger", 1)
            assert page["incident_id"] == inc["id"] and page["host"] == "shop-test-1"
            assert "failed (exit 1)" in page["summary"]
            assert "this_directive_breaks_the_config" in page["details"]
            assert page["runbook_url"] == "https://wiki/web"
        assert rig.metric("shop_watchdog_restarts_total", check="web", result="failed") == 1
        assert rig.metric("shop_watchdog_pages_total", check="web", severity="critical") == 1
        timeline = rig.store().timeline(inc["id"])
        assert any("unknown directive" in e.text for e in timeline if e.kind == "restart_result")
        nginx.fix_config()
        nginx.start()
        probe(rig, nginx)
        assert rig.incidents() == []
        for channel in ("pager", "admins"):
            assert len(sink.wait_count(channel, "resolve", 1)) == 1
        assert len(sink.messages(kind="trigger")) == 2
        assert sink.messages("boss") == []
    finally:
        rig.close()


def test_restart_that_does_not_help_pages_after_verification(tmp_path: Path, sink: WebhookSink) -> None:
    cfg = config(tmp_path, sink, [check("web", command=["true"])])
    rig = Rig(cfg, sink, ManualClock())
    try:
        rig.result("web", Status.CRITICAL, "connection refused")
        rig.settle()
        assert rig.incident()["state"] == "repairing"
        rig.advance(5)
        rig.result("web", Status.CRITICAL, "connection refused")
        assert rig.incident()["state"] == "paged"
        [page] = sink.wait_count("pager", "trigger", 1)
        assert "still CRITICAL after the restart" in page["details"]
        assert "connection refused" in page["summary"]
    finally:
        rig.close()


def test_hanging_restart_times_out_and_pages(tmp_path: Path, sink: WebhookSink) -> None:
    rem = RemediationConfig(backend="command", verify_after=1, restart_timeout=0.3)
    rig = Rig(config(tmp_path, sink, [check("web", command=["sleep", "30"])], remediation=rem), sink, ManualClock())
    try:
        rig.result("web", Status.CRITICAL)
        rig.engine.tick()  # the main loop is not held up by the restart
        assert rig.incident()["state"] == "repairing"
        rig.settle()
        assert rig.incident()["state"] == "paged"
        [page] = sink.wait_count("pager", "trigger", 1)
        assert "timed out" in page["summary"]
        assert rig.metric("shop_watchdog_restarts_total", check="web", result="timeout") == 1
    finally:
        rig.close()


def test_missing_verification_result_pages(tmp_path: Path, sink: WebhookSink) -> None:
    rig = Rig(config(tmp_path, sink, [check("web", command=["true"])]), sink, ManualClock())
    try:
        rig.result("web", Status.CRITICAL)
        rig.settle()
        rig.advance(5 + 1 + 0.2 + 9)
        assert rig.incident()["state"] == "repairing"
        rig.advance(1)
        assert rig.incident()["state"] == "paged"
    finally:
        rig.close()


def test_no_remediation_pages_at_once(tmp_path: Path, sink: WebhookSink) -> None:
    rig = Rig(config(tmp_path, sink, [check("db")]), sink, ManualClock())
    try:
        rig.result("db", Status.CRITICAL, "connection refused")
        assert rig.incident("db")["state"] == "paged"
        [page] = sink.wait_count("pager", "trigger", 1)
        assert "no automatic repair configured" in page["details"]
        assert rig.metric("shop_watchdog_restarts_total", check="db", result="ok") == 0
    finally:
        rig.close()


def test_soft_failure_does_nothing(tmp_path: Path, sink: WebhookSink) -> None:
    rig = Rig(config(tmp_path, sink, [check("web", command=["true"])]), sink, ManualClock())
    try:
        rig.result("web", Status.CRITICAL, hard=False)
        assert rig.incidents() == [] and rig.sent() == 0
    finally:
        rig.close()


def test_critical_of_a_warning_check_is_a_warning_and_not_restarted(tmp_path: Path, sink: WebhookSink) -> None:
    warning_now = Route(channels=("admins",))
    cfg = config(tmp_path, sink, [check("disk", command=["true"], severity="warning")], warning=warning_now)
    rig = Rig(cfg, sink, ManualClock())
    try:
        rig.result("disk", Status.CRITICAL, "91% used")
        inc = rig.incident("disk")
        assert (inc["severity"], inc["state"]) == ("warning", "paged")
        assert sink.wait_count("admins", "trigger", 1)[0]["severity"] == "warning"
        assert rig.store().restarts("disk") == []
    finally:
        rig.close()


def test_restart_loop_stops_at_max_restarts_and_pages(tmp_path: Path, sink: WebhookSink, nginx: NginxServer) -> None:
    rig = nginx_rig(tmp_path, sink, nginx, max_restarts=2, restart_window=600)
    try:
        for _ in range(2):
            nginx.kill()
            repair_cycle(rig, nginx)
            assert rig.incidents() == []
        assert rig.sent() == 0
        nginx.kill()
        probe(rig, nginx)
        inc = rig.incident()
        assert inc["state"] == "paged"
        assert "restart loop" in inc["tried"]
        assert len(rig.store().restarts("web")) == 2
        assert rig.metric("shop_watchdog_restart_give_ups_total", check="web") == 1
        assert len(sink.wait_count("pager", "trigger", 1)) == 1
    finally:
        rig.close()


def test_counter_resets_after_a_whole_window_ok(tmp_path: Path, sink: WebhookSink) -> None:
    rem = RemediationConfig(backend="command", verify_after=1, max_restarts=1, restart_window=60)
    rig = Rig(config(tmp_path, sink, [check("web", command=["true"])], remediation=rem), sink, ManualClock())
    try:
        rig.result("web", Status.CRITICAL)
        rig.settle()
        rig.advance(1)
        rig.result("web", Status.OK)
        assert rig.incidents() == []
        rig.advance(59)
        rig.result("web", Status.OK)  # OK for 59 s of a 60 s window: not reset yet
        rig.result("web", Status.CRITICAL)
        assert rig.incident()["state"] == "paged"
        rig.result("web", Status.OK)
        rig.advance(60)
        rig.result("web", Status.OK)  # gave up -> recovered, and a whole window OK
        rig.result("web", Status.CRITICAL)
        assert rig.incident()["state"] == "repairing"
    finally:
        rig.close()


def test_gave_up_check_resumes_restarting_when_it_recovers(tmp_path: Path, sink: WebhookSink) -> None:
    rem = RemediationConfig(backend="command", verify_after=1, max_restarts=1, restart_window=3600)
    rig = Rig(config(tmp_path, sink, [check("web", command=["true"])], remediation=rem), sink, ManualClock())
    try:
        rig.result("web", Status.CRITICAL)
        rig.settle()
        rig.advance(1)
        rig.result("web", Status.OK)
        rig.result("web", Status.CRITICAL)
        assert rig.incident()["state"] == "paged"  # restart loop: gave up
        rig.advance(10)
        rig.result("web", Status.OK)  # someone fixed it: no "monitor again" step needed
        rig.result("web", Status.CRITICAL)
        assert rig.incident()["state"] == "repairing"
        rig.settle()
    finally:
        rig.close()


def test_status_shows_repairing_while_the_restart_runs(tmp_path: Path, sink: WebhookSink) -> None:
    rig = Rig(config(tmp_path, sink, [check("web", command=["sleep", "0.5"])]), sink, ManualClock())
    try:
        rig.result("web", Status.CRITICAL)
        [inc] = rig.incidents()
        assert set(inc) >= {"id", "check", "severity", "state", "opened_at"}
        assert inc["state"] == "repairing" and inc["id"].startswith("inc-") and len(inc["id"]) == 14
        rig.settle()
        assert rig.incident()["state"] == "repairing"  # waiting for the verification now
    finally:
        rig.close()


def test_engine_metrics_pass_promtool(tmp_path: Path, sink: WebhookSink) -> None:
    rig = Rig(config(tmp_path, sink, [check("web", command=["false"])]), sink, ManualClock())
    try:
        rig.result("web", Status.CRITICAL)
        rig.settle()
        text = render(rig.registry)
        assert b"shop_watchdog_restarts_total" in text and b"shop_watchdog_incidents_open" in text
        done = subprocess.run(["promtool", "check", "metrics"], input=text, capture_output=True, check=False)
        assert done.returncode == 0, done.stdout + done.stderr
    finally:
        rig.close()


def test_ack_while_the_restart_runs_is_kept_and_a_failed_repair_pages_nobody(tmp_path: Path, sink: WebhookSink) -> None:
    rig = Rig(config(tmp_path, sink, [check("web", command=failing_repair())]), sink, ManualClock())
    try:
        rig.result("web", Status.CRITICAL, "connection refused")
        inc = rig.incident()
        assert (inc["state"], inc["substate"]) == ("repairing", "restart_running")
        assert rig.engine.ack(inc["id"], "alice")
        assert (rig.incident()["state"], rig.incident()["acked_by"]) == ("repairing", "alice")
        assert rig.engine.ack(inc["id"], "bob")  # idempotent: the first acknowledgement stays
        rig.settle()
        after = rig.incident()
        assert (after["state"], after["substate"], after["acked_by"]) == ("acknowledged", None, "alice")
        assert "failed (exit 1)" in after["tried"]
        assert rig.sent() == 0 and rig.metric("shop_watchdog_pages_total", check="web", severity="critical") == 0
        timeline = rig.store().timeline(inc["id"])
        assert [e.kind for e in timeline] == ["opened", "restart", "acknowledged", "restart_result", "acknowledged"]
        assert "not paged: acknowledged by alice" in timeline[-1].text
        rig.advance(3600)
        rig.result("web", Status.OK)
        assert rig.incidents() == [] and rig.sent() == 0  # nobody was paged: no resolve owed
    finally:
        rig.close()


def test_ack_while_verifying_turns_a_failed_verification_into_acknowledged(tmp_path: Path, sink: WebhookSink) -> None:
    rig = Rig(config(tmp_path, sink, [check("web", command=["true"])]), sink, ManualClock())
    try:
        rig.result("web", Status.CRITICAL)
        rig.settle()
        assert rig.incident()["substate"] == "verifying"
        assert rig.engine.ack(rig.incident()["id"], "alice")
        rig.advance(5)
        rig.result("web", Status.CRITICAL, "still refused")
        inc = rig.incident()
        assert inc["state"] == "acknowledged" and "still CRITICAL after the restart" in inc["tried"]
        assert rig.sent() == 0
    finally:
        rig.close()


def test_ack_while_the_repair_runs_lets_a_working_repair_close_the_incident(tmp_path: Path, sink: WebhookSink) -> None:
    rig = Rig(config(tmp_path, sink, [check("web", command=["true"])]), sink, ManualClock())
    try:
        rig.result("web", Status.CRITICAL)
        incident_id = rig.incident()["id"]
        assert rig.engine.ack(incident_id, "alice")
        rig.settle()
        rig.advance(5)
        rig.result("web", Status.OK)
        assert rig.incidents() == [] and rig.sent() == 0
        closed = rig.store().incident(incident_id)
        assert closed is not None and (closed.resolution, closed.acked_by) == ("auto-repaired", "alice")
    finally:
        rig.close()


def remediation(max_restarts: int) -> RemediationConfig:
    return RemediationConfig(backend="command", verify_after=1, max_restarts=max_restarts, restart_window=3600)


def repaired(rig: Rig) -> None:
    """A hard failure of `web` that one restart fixes."""
    rig.result("web", Status.CRITICAL)
    rig.settle()
    rig.advance(1)
    rig.result("web", Status.OK)
    assert rig.incidents() == []


def test_raising_max_restarts_by_reload_restarts_again_instead_of_paging_a_loop(
    tmp_path: Path, sink: WebhookSink
) -> None:
    checks = [check("web", command=["true"])]
    rig = Rig(config(tmp_path, sink, checks, remediation=remediation(1)), sink, ManualClock())
    try:
        repaired(rig)  # the budget of 1 is used up
        rig.engine.reload(config(tmp_path, sink, checks, remediation=remediation(3)))
        rig.result("web", Status.CRITICAL)
        assert rig.incident()["state"] == "repairing"
        rig.settle()
        assert len(rig.store().restarts("web")) == 2 and rig.sent() == 0
    finally:
        rig.close()


def test_lowering_max_restarts_by_reload_allows_no_restart_past_the_new_limit(
    tmp_path: Path, sink: WebhookSink
) -> None:
    checks = [check("web", command=["true"])]
    rig = Rig(config(tmp_path, sink, checks, remediation=remediation(3)), sink, ManualClock())
    try:
        repaired(rig)
        repaired(rig)
        rig.engine.reload(config(tmp_path, sink, checks, remediation=remediation(2)))
        rig.result("web", Status.CRITICAL)
        inc = rig.incident()
        assert inc["state"] == "paged" and "restart loop: 2 restarts (max_restarts 2)" in inc["tried"]
        assert len(rig.store().restarts("web")) == 2
    finally:
        rig.close()
