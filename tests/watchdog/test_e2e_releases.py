"""Releases end to end: the installed `deploy-guard` tells a real `shop-watchdog` daemon when a
release starts and ends, the daemon watches the named check more closely for `watch_for`,
and the page a failure then sends to a real receiver names the release; hostile bodies are
refused; a watchdog that cannot be told makes `record` exit 3 and never turns a block into an
allow."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.deploy_guard.conftest import GuardRunner
from tests.deploy_guard.test_release_record import CI
from tests.servers.nginx import NginxServer
from tests.servers.ports import free_port
from tests.servers.watchdog_daemon import WatchdogDaemon
from tests.servers.webhook_sink import WebhookSink
from tests.watchdog.cli.test_main import cli
from tests.watchdog.test_e2e_repair import daemon_config

TOKEN = "release-token-5f2d9c"
ALWAYS_OPEN: dict[str, Any] = {
    "timezone": "UTC",
    "windows": [{"days": ["mon", "tue", "wed", "thu", "fri", "sat", "sun"], "start": "00:00", "end": "24:00"}],
    "holidays": {"country": None, "block_days_before": 0},
}
RUNS = 'shop_watchdog_check_runs_total{check="web",status="ok"}'


@pytest.fixture
def guard(tmp_path: Path) -> GuardRunner:
    return GuardRunner(tmp_path)


@pytest.fixture
def daemon(tmp_path: Path, nginx: NginxServer, sink: WebhookSink) -> Iterator[WatchdogDaemon]:
    token_file = tmp_path / "api.token"
    token_file.write_text(TOKEN + "\n")
    config = daemon_config(nginx, sink, verify_after="300ms")
    [web] = config["checks"]
    config |= {
        "api_token_file": str(token_file),
        "defaults": config["defaults"] | {"interval": "5s"},
        "checks": [web | {"rollback_hint": "redeploy the previous tag: make rollback"}],
        "post_deploy": {"watch_for": "60s", "interval": "200ms", "checks": ["web"]},
    }
    proc = WatchdogDaemon(tmp_path / "daemon", config)
    proc.start()
    proc.wait_until(lambda: 'shop_watchdog_check_status{check="web"} 0.0' in proc.metrics(), what="web OK")
    yield proc
    assert proc.terminate() == 0


def gate_policy(guard: GuardRunner, daemon: WatchdogDaemon, tmp_path: Path, **gate: Any) -> Path:
    token_file = tmp_path / "guard.token"
    token_file.write_text(TOKEN)
    return guard.policy(
        ALWAYS_OPEN
        | {
            "incident_gate": {
                "status_urls": [f"{daemon.base_url}/api/v1/status"],
                "api_token_file": str(token_file),
                **gate,
            }
        }
    )


def runs_in(daemon: WatchdogDaemon, seconds: float) -> float:
    before = daemon.metric(RUNS)
    time.sleep(seconds)
    return daemon.metric(RUNS) - before


def test_a_recorded_release_is_watched_closely_and_the_page_names_it(
    guard: GuardRunner, daemon: WatchdogDaemon, nginx: NginxServer, sink: WebhookSink, tmp_path: Path
) -> None:
    policy = gate_policy(guard, daemon, tmp_path)
    assert runs_in(daemon, 1.5) <= 1, "5s interval before the release"
    checked = guard.run("check", "--record", "--json", policy=policy, env=CI)
    assert checked.code == 0, checked
    document = checked.json()
    assert document["allowed"] is True
    assert document["recorded"] == [{"url": f"{daemon.base_url}/api/v1/releases", "recorded": True, "error": None}]
    assert runs_in(daemon, 1.5) >= 5, "200ms interval inside the post-deploy watch"

    nginx.broken_config()
    nginx.kill()
    [page] = sink.wait_count("pager", "trigger", 1, timeout=20)
    assert (
        "- release 4711 (commit 9f1c2e7, branch main, by alice, not a hotfix) went out 0 minutes before "
        "this incident; opened inside its post-deploy watch (1m)"
    ) in page["details"], page["details"]
    assert "Rollback hint: redeploy the previous tag: make rollback" in page["details"]
    timeline = cli("timeline", page["incident_id"], "-c", str(daemon.config_path))
    assert timeline.returncode == 0, timeline.stderr
    assert any(" | change | release 4711 (commit 9f1c2e7" in line for line in timeline.stdout.splitlines())
    assert TOKEN not in daemon.log()

    finished = guard.run("record", "finish", "--json", policy=policy, env=CI)
    assert finished.code == 0, finished
    assert finished.json()["recorded"][0]["recorded"] is True
    nginx.fix_config()
    nginx.start()
    daemon.wait_until(lambda: daemon.incidents() == [], what="resolved")


@pytest.mark.parametrize(
    ("body", "token", "headers", "status", "error"),
    [
        ({"event": "start", "id": "1"}, None, {}, 401, "bearer token"),
        ({"event": "start", "id": "1"}, "wrong", {}, 401, "bearer token"),
        ({"event": "start", "id": "1"}, TOKEN, {"Origin": "https://evil.example"}, 403, "cross-site"),
        ({"event": "start", "id": "1"}, TOKEN, {"Content-Type": "text/plain"}, 415, "application/json"),
        ({"event": "start", "id": "1", "admin": True}, TOKEN, {}, 400, "admin: unknown key"),
        ({"event": "start", "id": "1", "hotfix": "yes"}, TOKEN, {}, 400, "hotfix: expected true or false"),
        ({"event": "start", "id": "1", "by": "x\r\nFAKE"}, TOKEN, {}, 400, "by: must be one line"),
        ({"event": "start", "id": "1", "reason": "r" * 70_000}, TOKEN, {}, 413, ""),
        (["start", "1"], TOKEN, {}, 400, "body must be a JSON object"),
    ],
)
def test_hostile_or_invalid_release_posts_are_refused_with_json(
    daemon: WatchdogDaemon, body: object, token: str | None, headers: dict[str, str], status: int, error: str
) -> None:
    code, answer = daemon.request("POST", "/api/v1/releases", body, token=token, headers=headers)
    assert code == status, answer
    assert error in json.loads(answer)["error"]
    assert "event=release_recorded" not in daemon.log()


def test_a_watchdog_that_cannot_be_told_exits_3_and_a_block_stays_a_block(
    guard: GuardRunner, daemon: WatchdogDaemon, tmp_path: Path
) -> None:
    nobody = f"http://127.0.0.1:{free_port()}/api/v1/status"
    policy = gate_policy(guard, daemon, tmp_path, status_urls=[f"{daemon.base_url}/api/v1/status", nobody])
    recorded = guard.run("record", "start", "--id", "r-2", policy=policy, env=CI)
    assert recorded.code == 3, recorded
    assert "release r-2 start: recorded at 1 of 2 watchdog(s)" in recorded.out
    assert "NOT recorded" in recorded.err and nobody.replace("status", "releases") in recorded.err

    blocked = guard.run("check", "--record", policy=policy, env=CI)  # on_unreachable: block
    assert blocked.code == 1, blocked
    allowing = gate_policy(guard, daemon, tmp_path, status_urls=[nobody], on_unreachable="allow")
    allowed = guard.run("check", "--record", "--id", "r-3", policy=allowing, env=CI)
    assert allowed.code == 3, allowed
    assert allowed.out.startswith("ALLOWED") and "allowed, but the release start was NOT recorded" in allowed.err
    log = daemon.log()
    assert "release=r-2" in log and "release=4711" not in log and "release=r-3" not in log
    outside = guard.policy(
        {"timezone": "UTC", "windows": [], "incident_gate": {"status_urls": [f"{daemon.base_url}/api/v1/status"]}}
    )
    closed = guard.run("check", "--record", policy=outside, env=CI)
    assert closed.code == 1, closed
    assert "release=4711" not in daemon.log()


def test_a_wrong_token_is_told_with_the_daemons_reason(
    guard: GuardRunner, daemon: WatchdogDaemon, tmp_path: Path
) -> None:
    policy = gate_policy(guard, daemon, tmp_path)
    (tmp_path / "guard.token").write_text("not-the-token")
    refused = guard.run("record", "start", policy=policy, env=CI)
    assert refused.code == 3, refused
    assert "HTTP 401: missing or wrong bearer token" in refused.err
    assert "not-the-token" not in refused.out + refused.err


def test_a_daemon_restarted_inside_the_watch_keeps_watching(
    guard: GuardRunner, daemon: WatchdogDaemon, tmp_path: Path
) -> None:
    policy = gate_policy(guard, daemon, tmp_path)
    assert guard.run("record", "start", policy=policy, env=CI).code == 0
    assert daemon.terminate() == 0
    daemon.start()
    daemon.wait_until(lambda: 'shop_watchdog_check_status{check="web"} 0.0' in daemon.metrics(), what="web OK")
    assert runs_in(daemon, 1.5) >= 5, "still 200ms inside the post-deploy watch"
    assert "event=post_deploy_watch release=4711" in daemon.log()
