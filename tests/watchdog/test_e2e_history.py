"""End to end through the real daemon, its API and the `shop-watchdog` command: silences an
admin can see and lift, and the history of incidents (auto-repaired, paged, acknowledged)
with their post-mortem timelines."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from tests.servers.nginx import NginxServer
from tests.servers.ports import free_port
from tests.servers.watchdog_daemon import WatchdogDaemon
from tests.servers.webhook_sink import WebhookSink
from tests.watchdog.cli.test_main import cli
from tests.watchdog.test_e2e_repair import daemon_config
from watchdog.cli.output import when


@pytest.fixture
def daemon(tmp_path: Path, nginx: NginxServer, sink: WebhookSink) -> Iterator[WatchdogDaemon]:
    proc = WatchdogDaemon(tmp_path / "daemon", daemon_config(nginx, sink))
    proc.start()
    proc.wait_until(lambda: 'shop_watchdog_check_status{check="web"} 0.0' in proc.metrics(), what="web OK")
    yield proc
    if proc.proc is not None and proc.proc.poll() is None:
        assert proc.terminate() == 0


def api_json(daemon: WatchdogDaemon, method: str, path: str, body: object = None) -> tuple[int, Any]:
    code, raw = daemon.request(method, path, body)
    return code, json.loads(raw)


def test_a_silence_is_shown_with_who_why_and_until_and_lifting_it_tells_at_once(
    daemon: WatchdogDaemon, nginx: NginxServer, sink: WebhookSink
) -> None:
    config = str(daemon.config_path)
    proc = cli("silence", "web", "--for", "1h", "--reason", "nginx upgrade", "--by", "anna", "-c", config)
    assert proc.returncode == 0, proc.stderr
    [silence] = daemon.status()["silences"]
    assert (silence["check"], silence["reason"], silence["created_by"]) == ("web", "nginx upgrade", "anna")
    assert set(silence) == {"id", "check", "reason", "created_by", "created_at", "until"}
    hour = datetime.fromisoformat(silence["until"]) - datetime.fromisoformat(silence["created_at"])
    assert hour.total_seconds() == 3600
    assert api_json(daemon, "GET", "/api/v1/silences") == (200, {"silences": [silence]})
    listed = cli("silences", "-c", config)
    assert listed.returncode == 0, listed.stderr
    until = when(silence["until"], "seconds")
    assert f"{silence['id']} web until {until} (by anna at " in listed.stdout
    assert listed.stdout.rstrip().endswith(": nginx upgrade")
    assert f"{silence['id']} web until {until}" in cli("status", "-c", config).stdout

    nginx.broken_config()
    nginx.kill()
    daemon.wait_until(lambda: [i["state"] for i in daemon.incidents("web")] == ["open"], what="held by the silence")
    assert sink.messages() == []

    proc = cli("unsilence", "web", "--by", "bob", "-c", config)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith(f"ended silence {silence['id']} of web (was until ")
    [page] = sink.wait_count("pager", "trigger", 1)
    assert "silence ended" in page["details"]
    assert daemon.status()["silences"] == []
    [incident] = daemon.incidents("web")
    _, detail = api_json(daemon, "GET", f"/api/v1/incidents/{incident['id']}")
    kinds = [e["kind"] for e in detail["timeline"]]
    assert kinds.index("silenced") < kinds.index("unsilenced") < kinds.index("silence_ended") < kinds.index("paged")
    lifted = next(e for e in detail["timeline"] if e["kind"] == "unsilenced")
    assert lifted["text"].startswith(f"silence {silence['id']} lifted by bob") and "nginx upgrade" in lifted["text"]

    again = cli("unsilence", "web", "-c", config)
    assert again.returncode == 1 and "no silence in force with id or check 'web'" in again.stderr
    assert api_json(daemon, "DELETE", "/api/v1/silences/sil-nope") == (
        404,
        {"error": "no silence in force with id or check 'sil-nope'"},
    )


def test_lifting_a_silence_by_id_obeys_the_write_rules(daemon: WatchdogDaemon) -> None:
    code, created = api_json(
        daemon, "POST", "/api/v1/silences", {"check": "web", "duration": "10m", "reason": "db move", "by": "ops"}
    )
    assert code == 201
    path = f"/api/v1/silences/{created['id']}"
    code, raw = daemon.request("DELETE", path, headers={"Origin": "https://evil.example", "Content-Length": "0"})
    assert code == 403 and b"cross-site" in raw
    assert len(daemon.status()["silences"]) == 1
    code, raw = daemon.request("DELETE", path, headers={"Content-Length": "0"})  # no body: `curl -X DELETE`
    assert code == 200, raw
    [ended] = json.loads(raw)["ended"]
    assert (ended["id"], ended["check"], ended["created_by"]) == (created["id"], "web", "ops")
    assert daemon.status()["silences"] == []


def test_an_auto_repair_is_in_the_history_with_its_restart_output_and_timeline(
    daemon: WatchdogDaemon, nginx: NginxServer, sink: WebhookSink
) -> None:
    config = str(daemon.config_path)
    nginx.kill()
    daemon.wait_until(lambda: daemon.metric("shop_watchdog_auto_repairs_total") == 1, what="auto-repaired")
    code, listing = api_json(daemon, "GET", "/api/v1/incidents?since=1h")
    assert code == 200 and listing["since"] == "1h"
    [incident] = listing["incidents"]
    assert (incident["check"], incident["severity"], incident["state"]) == ("web", "critical", "repaired")
    assert incident["resolution"] == "auto-repaired" and incident["closed_at"] is not None

    code, detail = api_json(daemon, "GET", f"/api/v1/incidents/{incident['id']}")
    assert code == 200
    kinds = [e["kind"] for e in detail["timeline"]]
    assert kinds == ["opened", "restart", "restart_result", "closed"]
    [restart] = detail["restarts"]
    assert restart["result"] == "ok" and restart["returncode"] == 0
    assert detail["deliveries"] == [] and sink.messages() == []

    shown = cli("incident", incident["id"], "-c", config)
    assert shown.returncode == 0, shown.stderr
    assert shown.stdout.startswith(f"{incident['id']}: web (http), critical, closed (auto-repaired)")
    assert "  restart_result  " in shown.stdout and "restarts:\n" in shown.stdout
    listed = cli("incidents", "-c", config)
    assert listed.returncode == 0, listed.stderr
    assert listed.stdout.startswith("1 incident opened in the last 7d:\n")
    assert f"  {incident['id']} web critical closed (auto-repaired), opened " in listed.stdout

    markdown = cli("timeline", incident["id"], "-c", config)
    assert markdown.returncode == 0, markdown.stderr
    lines = markdown.stdout.splitlines()
    assert lines[0] == f"# Incident {incident['id']}: web (critical)"
    assert "- Severity: critical" in lines and "| time | kind | text |" in lines
    assert [line.split(" | ")[1] for line in lines if line.startswith("| 20")] == kinds
    as_json = cli("timeline", incident["id"], "--format", "json", "-c", config)
    timeline = json.loads(as_json.stdout)
    assert timeline["id"] == incident["id"] and timeline["resolution"] == "auto-repaired"
    assert [e["kind"] for e in timeline["timeline"]] == kinds
    assert all(set(e) == {"at", "kind", "text"} for e in timeline["timeline"])


def test_a_paged_and_acknowledged_incident_shows_every_message_and_delivery_attempt_in_order(
    tmp_path: Path, nginx: NginxServer, sink: WebhookSink
) -> None:
    config = daemon_config(nginx, sink)
    dead = f"http://127.0.0.1:{free_port()}/admins"  # nothing listens: every attempt fails, and is retried
    config["notify"]["channels"] = [
        c | {"url": dead} if c["name"] == "admins" else c for c in config["notify"]["channels"]
    ]
    with WatchdogDaemon(tmp_path / "daemon", config) as daemon:
        daemon.wait_for("web", lambda c: c["status"] == "OK")
        nginx.broken_config()
        nginx.kill()
        daemon.wait_until(lambda: [i["state"] for i in daemon.incidents("web")] == ["paged"], what="paged")
        [incident] = daemon.incidents("web")
        sink.wait_count("pager", "trigger", 1)
        assert daemon.ack(incident["id"], "alice") == 200

        def attempted_twice() -> list[dict[str, str]]:
            detail = api_json(daemon, "GET", f"/api/v1/incidents/{incident['id']}")[1]
            entries: list[dict[str, str]] = detail["timeline"]
            failed = [e for e in entries if e["text"].startswith("trigger to admins: attempt ")]
            delivered = [e for e in entries if e["text"] == "trigger to pager delivered after 1 attempt"]
            return entries if len(failed) >= 2 and delivered else []

        daemon.wait_until(attempted_twice, what="two failed attempts to admins, the page to pager delivered")
        timeline = attempted_twice()
    times = [datetime.fromisoformat(e["at"]) for e in timeline]
    assert times == sorted(times)
    texts = [(e["kind"], e["text"]) for e in timeline]
    assert ("message", "trigger to pager queued") in texts and ("message", "trigger to admins queued") in texts
    failures = [t for k, t in texts if k == "delivery" and t.startswith("trigger to admins: attempt ")]
    assert failures[0].startswith("trigger to admins: attempt 1 failed: ")
    assert failures[1].startswith("trigger to admins: attempt 2 failed: ")
    assert ("acknowledged", "acknowledged by alice") in texts
    kinds = [k for k, _ in texts]
    assert kinds.index("opened") < kinds.index("paged") < kinds.index("acknowledged")
    assert kinds.index("message") < kinds.index("delivery")


def test_unknown_ids_bad_spans_and_a_stopped_daemon_have_clear_errors(daemon: WatchdogDaemon) -> None:
    config = str(daemon.config_path)
    assert api_json(daemon, "GET", "/api/v1/incidents/inc-nope") == (404, {"error": "no incident 'inc-nope'"})
    code, body = api_json(daemon, "GET", "/api/v1/incidents?since=lately")
    assert code == 400 and "since: expected a duration like 30s" in str(body["error"])
    assert api_json(daemon, "GET", "/api/v1/incidents?since=0s")[0] == 400
    assert api_json(daemon, "GET", "/api/v1/incidents?since=")[0] == 400
    code, body = api_json(daemon, "GET", "/api/v1/incidents?since=99999999999d")
    assert code == 400 and "since: must be more than 0 and at most 366d" in str(body["error"])
    assert api_json(daemon, "GET", "/api/v1/incidents") == (200, {"since": "7d", "incidents": []})
    for command in (["incident", "inc-nope"], ["timeline", "inc-nope"]):
        proc = cli(*command, "-c", config)
        assert proc.returncode == 1 and "no incident 'inc-nope'" in proc.stderr
    proc = cli("incidents", "--since", "lately", "-c", config)
    assert proc.returncode == 2 and "--since: expected a duration" in proc.stderr
    assert cli("unsilence", "sil-nope", "-c", config).returncode == 1
    assert daemon.terminate() == 0
    for command in (["silences"], ["unsilence", "web"], ["incident", "inc-1"], ["incidents"], ["timeline", "inc-1"]):
        proc = cli(*command, "-c", config)
        assert proc.returncode == 3 and "daemon not reachable at" in proc.stderr, command
