"""The local HTTP API of a real running daemon (with the real incident engine)."""

from __future__ import annotations

import json
import re
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from tests.servers.nginx import NginxServer
from tests.servers.ports import free_port
from tests.servers.raw_http import exchange, request_bytes
from tests.servers.watchdog_daemon import WatchdogDaemon
from watchdog.common.incident_terms import IncidentState, Severity
from watchdog.common.status_document import Availability, CheckEntry, IncidentEntry, StatusDocument, read_status
from watchdog.incidents.report import Report
from watchdog.service.api import MAX_TEXT
from watchdog.storage.database import Database
from watchdog.storage.releases import ReleaseStore
from watchdog.storage.state import StateStore

ISO_Z = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")


@pytest.fixture
def shop(tmp_path: Path, nginx: NginxServer) -> Iterator[WatchdogDaemon]:
    """A daemon watching a live nginx (OK) and a closed port (hard CRITICAL at once: an incident)."""
    config = {
        "host": "shop-test-1",
        "checks": [
            {"name": "web", "type": "http", "url": nginx.healthz_url, "interval": "1s", "expect_body": "ok"},
            {"name": "db", "type": "tcp", "host": "127.0.0.1", "port": free_port(), "retries": 1, "interval": "1s"},
        ],
    }
    with WatchdogDaemon(tmp_path / "d", config) as daemon:
        daemon.wait_for("db", lambda c: c["status"] == "CRITICAL")
        daemon.wait_for("web", lambda c: c["status"] == "OK")
        yield daemon


def open_incident(daemon: WatchdogDaemon) -> dict[str, Any]:
    for _ in range(100):
        incidents = daemon.status()["incidents"]
        if incidents:
            return dict(incidents[0])
        time.sleep(0.05)
    raise AssertionError(daemon.log())


def test_status_lists_checks_incidents_and_outbox_per_contract(shop: WatchdogDaemon) -> None:
    status = shop.status()
    assert status["host"] == "shop-test-1"
    web, db = status["checks"]
    for check in (web, db):
        assert {"name", "type", "status", "severity", "since", "message", "hard", "last_run"} <= set(check)
        assert ISO_Z.match(check["since"]) and ISO_Z.match(check["last_run"])
    assert (web["name"], web["type"], web["status"], web["severity"], web["hard"]) == (
        "web",
        "http",
        "OK",
        "critical",
        True,
    )
    assert (db["status"], db["hard"]) == ("CRITICAL", True)
    assert "connection refused" in db["message"]
    incident = open_incident(shop)
    assert {"id", "check", "severity", "state", "opened_at"} <= set(incident)
    assert incident["check"] == "db" and incident["severity"] == "critical"
    assert incident["state"] in ("open", "repairing", "paged", "acknowledged")
    assert isinstance(shop.status()["outbox"], dict)


def test_ack_known_incident_200_unknown_404(shop: WatchdogDaemon) -> None:
    incident = open_incident(shop)
    code, body = shop.request("POST", "/api/v1/incidents/inc-does-not-exist/ack", {"by": "anna"})
    assert code == 404 and "inc-does-not-exist" in json.loads(body)["error"]
    code, body = shop.request("POST", f"/api/v1/incidents/{incident['id']}/ack", {"by": "anna"})
    assert code == 200, body
    assert json.loads(body) == {"id": incident["id"], "acknowledged": True, "by": "anna"}
    assert open_incident(shop)["state"] == "acknowledged"


@pytest.mark.parametrize(
    ("body", "code", "error"),
    [
        ({"check": "web", "duration": "30m", "reason": "nginx upgrade", "by": "anna"}, 201, None),
        ({"check": "nope", "duration": "30m", "reason": "x", "by": "anna"}, 404, "no check named 'nope'"),
        ({"check": "web", "duration": "soon", "reason": "x"}, 400, "duration: expected a duration"),
        ({"check": "web", "duration": "0s", "reason": "x"}, 400, "duration: must be greater than 0"),
        ({"check": "web", "duration": "30m"}, 400, "reason: expected a non-empty string"),
        (["not", "an", "object"], 400, "body must be a JSON object"),
    ],
)
def test_silences_validate_input(shop: WatchdogDaemon, body: object, code: int, error: str | None) -> None:
    got, raw = shop.request("POST", "/api/v1/silences", body)
    answer = json.loads(raw)
    assert got == code, answer
    if error is None:
        assert answer["check"] == "web"
    else:
        assert error in answer["error"]


def test_unknown_paths_and_non_json_bodies(shop: WatchdogDaemon) -> None:
    assert shop.get("/api/v1/nothing")[0] == 404
    assert shop.request("POST", "/api/v1/elsewhere", {})[0] == 404
    req = urllib.request.Request(
        shop.base_url + "/api/v1/silences",
        data=b"{not json",
        method="POST",
        headers={"Content-Type": "application/json"},
    )
    try:
        urllib.request.urlopen(req, timeout=5)
        raise AssertionError("expected 400")
    except urllib.error.HTTPError as exc:
        assert exc.code == 400 and "not JSON" in json.loads(exc.read())["error"]


def test_ack_links_are_404_without_public_url(shop: WatchdogDaemon) -> None:
    assert shop.get("/ack/anything.here")[0] == 404
    status, body = shop.request_raw(
        "POST", "/ack/anything.here", b"", {"Content-Type": "application/x-www-form-urlencoded"}
    )
    assert status == 404 and "ack links are off" in json.loads(body)["error"]


def test_writing_calls_need_the_bearer_token_when_one_is_configured(tmp_path: Path, nginx: NginxServer) -> None:
    token = tmp_path / "api.token"
    token.write_text("tok-ABCDEFG-123\n")
    config = {
        "api_token_file": str(token),
        "checks": [{"name": "web", "type": "tcp", "host": "127.0.0.1", "port": nginx.port}],
    }
    silence = {"check": "web", "duration": "5m", "reason": "deploy"}
    with WatchdogDaemon(tmp_path / "d", config) as daemon:
        assert daemon.request("POST", "/api/v1/silences", silence)[0] == 401
        assert daemon.request("POST", "/api/v1/silences", silence, token="wrong")[0] == 401
        assert daemon.request("POST", "/api/v1/silences", silence, token="tok-ABCDEFG-123")[0] == 201
        assert daemon.get("/api/v1/status")[0] == 200, "reading needs no token"
        assert daemon.get("/metrics")[0] == 200
        assert daemon.get("/api/v1/silences")[0] == 200
        assert daemon.request("DELETE", "/api/v1/silences/web", {"by": "ops"})[0] == 401
        assert daemon.request("DELETE", "/api/v1/silences/web", {"by": "ops"}, token="wrong")[0] == 401
        assert len(daemon.status()["silences"]) == 1
        assert daemon.request("DELETE", "/api/v1/silences/web", {"by": "ops"}, token="tok-ABCDEFG-123")[0] == 200
        assert daemon.status()["silences"] == []
        assert "tok-ABCDEFG" not in daemon.log()


def test_healthz_is_ok_while_the_loop_runs(shop: WatchdogDaemon) -> None:
    assert shop.get("/healthz") == (200, b"ok\n")
    assert shop.status()["healthy"] is True


def test_metrics_content_type(shop: WatchdogDaemon) -> None:
    with urllib.request.urlopen(shop.base_url + "/metrics", timeout=5) as r:
        assert r.headers["Content-Type"].startswith("text/plain; version=0.0.4")


def test_status_is_exactly_the_documented_shape_and_reads_back(shop: WatchdogDaemon) -> None:
    incident = open_incident(shop)
    code, body = shop.get("/api/v1/status?availability=1h")
    assert code == 200
    raw = json.loads(body)
    assert set(raw) == set(StatusDocument.__annotations__)
    assert set(raw["availability"]) == set(Availability.__annotations__)
    assert "availability" not in json.loads(shop.get("/api/v1/status")[1]), "only when asked: it reads the history"
    assert all(set(c) == set(CheckEntry.__annotations__) for c in raw["checks"])
    assert set(raw["incidents"][0]) == set(IncidentEntry.__annotations__)
    reading = read_status(body)
    assert reading.unreadable == ()
    [read] = reading.document["incidents"]
    assert (read["id"], read["severity"], read["state"]) == (incident["id"], Severity.CRITICAL, IncidentState.PAGED)
    assert read.get("substate") is None  # paged: nothing to wait for


BAD_BODIES = [
    (b"{not json", "body is not JSON"),
    (b'{"check": "web", "duration": NaN, "reason": "x"}', "NaN is not a number JSON allows"),
    (b'{"check": "web", "duration": Infinity, "reason": "x"}', "Infinity is not a number JSON allows"),
    (b'{"check": "web", "duration": -Infinity, "reason": "x"}', "-Infinity is not a number JSON allows"),
    (b'{"check": "web", "duration": 1e999, "reason": "x"}', "1e999 is out of range"),
    (b'{"check": "web", "duration": ' + b"9" * 5000 + b', "reason": "x"}', "body is not JSON"),
    (b"[" * 30_000 + b"]" * 30_000, "body is not JSON"),
    (b'{"check": "web\xff", "duration": "5m", "reason": "x"}', "body is not JSON"),
    (b'{"check": "web", "duration": "5m", "reason": "x"} trailing', "body is not JSON"),
    (b'"just a string"', "body must be a JSON object"),
]


@pytest.mark.parametrize(("raw", "error"), BAD_BODIES)
def test_a_bad_body_is_400_and_the_connection_stays_usable(shop: WatchdogDaemon, raw: bytes, error: str) -> None:
    bad = request_bytes("POST", "/api/v1/silences", headers={"Content-Type": "application/json"}, body=raw, close=False)

    answer = exchange(shop.port, bad + request_bytes("GET", "/healthz"))

    assert answer.statuses == [400, 200], answer.data[:300]
    assert error in str(answer.json()["error"])


@pytest.mark.parametrize(
    ("duration", "error"),
    [
        ("99999999999999999999d", "duration: at most 90d"),
        (10**400, "duration: int too large to convert to float"),
        (1e300, "duration: at most 90d"),
        ("91d", "duration: at most 90d"),
        (-5, "duration: duration must not be negative"),
        (True, "duration: expected a duration"),
        (None, "duration: expected a duration"),
        ({"minutes": 5}, "duration: expected a duration"),
        ("0ms", "duration: must be greater than 0"),
    ],
)
def test_out_of_range_durations_are_400_and_the_previous_silence_stays(
    shop: WatchdogDaemon, duration: object, error: str
) -> None:
    first = {"check": "web", "duration": "30m", "reason": "planned nginx upgrade", "by": "anna"}
    assert shop.request("POST", "/api/v1/silences", first)[0] == 201

    code, body = shop.request("POST", "/api/v1/silences", {"check": "web", "duration": duration, "reason": "x"})

    assert code == 400 and error in json.loads(body)["error"], body
    assert shop.metric("shop_watchdog_silences_active") == 1
    assert shop.terminate() == 0
    (kept,) = StateStore(Database(str(shop.directory / "state"))).active_silences()
    assert (kept.check, kept.reason, kept.by) == ("web", "planned nginx upgrade", "anna")


@pytest.mark.parametrize("field", ["check", "reason", "by"])
def test_overlong_text_fields_are_400(shop: WatchdogDaemon, field: str) -> None:
    body = {"check": "web", "duration": "5m", "reason": "x"} | {field: "y" * (MAX_TEXT + 1)}

    code, raw = shop.request("POST", "/api/v1/silences", body)

    assert code == 400 and f"{field}: at most {MAX_TEXT} characters" in json.loads(raw)["error"]


def test_wrong_methods_are_405_with_allow(shop: WatchdogDaemon) -> None:
    code, body = shop.request("DELETE", "/api/v1/status")

    assert code == 405 and "DELETE is not allowed here" in json.loads(body)["error"]
    assert (
        exchange(shop.port, request_bytes("PUT", "/api/v1/silences", body=b"{}")).data.count(
            b"Allow: GET, HEAD, POST\r\n"
        )
        == 1
    )


@pytest.mark.parametrize(
    ("path", "error"),
    [
        ("/api/v1/report?since=0s", "since: must be more than 0 and at most 366d, got '0s'"),
        ("/api/v1/report?since=soon", "since: expected a duration like 30s, 5m or 500ms, got 'soon'"),
        ("/api/v1/report?since=1d&since=2d", "since: give it once"),
        ("/api/v1/availability?window=91d", "window: must be more than 0 and at most 90d, got '91d'"),
        ("/api/v1/status?availability=", "availability: expected a duration"),
    ],
)
def test_report_and_availability_periods_are_validated(shop: WatchdogDaemon, path: str, error: str) -> None:
    code, body = shop.get(path)
    assert code == 400 and error in json.loads(body)["error"]


def test_report_and_availability_answer_with_their_documents(shop: WatchdogDaemon) -> None:
    open_incident(shop)
    code, body = shop.get("/api/v1/report?since=1h")
    report = json.loads(body)
    assert code == 200 and set(report) == set(Report.__annotations__)
    assert report["host"] == "shop-test-1" and report["incidents"] >= 1
    code, body = shop.get("/api/v1/availability")
    found = json.loads(body)
    assert code == 200 and set(found) == set(Availability.__annotations__) and found["window"] == "28d"


def test_a_release_start_and_finish_are_stored_as_one_release(shop: WatchdogDaemon) -> None:
    start = {"event": "start", "id": "r-1", "commit": "9f1c2e7", "branch": "main", "by": "ci", "hotfix": False}
    code, body = shop.request("POST", "/api/v1/releases", start)
    assert code == 201, body
    answer = json.loads(body)
    assert answer["event"] == "start" and answer["watch"] is None  # no post_deploy configured
    assert answer["release"]["id"] == "r-1" and answer["release"]["finished_at"] is None
    code, body = shop.request("POST", "/api/v1/releases", {"event": "finish", "id": "r-1"})
    assert code == 201, body
    finished = json.loads(body)["release"]
    assert finished["started_at"] == answer["release"]["started_at"] and finished["finished_at"] is not None
    [stored] = ReleaseStore(Database(str(shop.directory / "state"))).started_since(
        datetime.now(UTC) - timedelta(hours=1)
    )
    assert (stored.id, stored.commit, stored.branch, stored.by, stored.finished_at is not None) == (
        "r-1",
        "9f1c2e7",
        "main",
        "ci",
        True,
    )
