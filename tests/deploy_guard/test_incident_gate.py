"""The incident gate against a real HTTP server on 127.0.0.1 (incidents, errors, hangs, closed ports)
and against the real daemon with the installed `deploy-guard`."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest

from deploy_guard.incident_gate import check_incident_gate
from deploy_guard.policy import IncidentGateConfig
from tests.deploy_guard.conftest import ALWAYS_OPEN, PLAIN, GuardRunner
from tests.servers.ports import free_port
from tests.servers.status_server import StatusServer, closed_port_url
from tests.servers.watchdog_daemon import WatchdogDaemon

CRITICAL = {
    "id": "inc-7a1",
    "check": "web",
    "severity": "critical",
    "state": "paged",
    "opened_at": "2026-11-23T08:00:00Z",
}
WARNING = {
    "id": "inc-7a2",
    "check": "root-disk",
    "severity": "warning",
    "state": "open",
    "opened_at": "2026-11-23T08:05:00Z",
}
ACKED = {**CRITICAL, "id": "inc-7a3", "state": "acknowledged"}


def gate(*urls: str, **options: Any) -> IncidentGateConfig:
    return IncidentGateConfig(status_urls=tuple(urls), **options)


@pytest.mark.parametrize(
    "incidents, block_on, expected",
    [
        ([], "critical", []),
        ([WARNING], "critical", []),
        ([CRITICAL], "critical", ["incident_open"]),
        ([ACKED], "critical", ["incident_open"]),  # acknowledged is still unresolved
        ([WARNING, CRITICAL], "critical", ["incident_open"]),
        ([WARNING], "warning", ["incident_open"]),
        ([], "warning", []),
    ],
)
def test_open_incidents_block_by_severity(
    status_server: StatusServer, incidents: list[dict[str, Any]], block_on: str, expected: list[str]
) -> None:
    url = status_server.incidents("/api/v1/status", *incidents)
    result = check_incident_gate(gate(url, block_on=block_on))
    assert [r.code for r in result.reasons] == expected
    if expected:
        assert "inc-7a" in result.reasons[0].message and url in result.reasons[0].message


@pytest.mark.parametrize(
    "setup, error",
    [
        (lambda s: s.answer("/s", {"oops": 1}, status=500), "HTTP 500"),
        (lambda s: s.answer("/s", raw=b"<html>maintenance</html>"), "answer is not JSON"),
        (lambda s: s.answer("/s", {"checks": []}), 'answer has no "incidents" list'),
        (lambda s: s.answer("/s", {"incidents": ["inc-1"]}), 'answer has no "incidents" list'),
        (lambda s: s.url("/missing"), "HTTP 404"),
        (lambda s: closed_port_url(), "Connection refused"),
    ],
)
@pytest.mark.parametrize("on_unreachable", ["block", "allow"])
def test_a_status_url_without_a_usable_answer_follows_on_unreachable(
    status_server: StatusServer, setup: Any, error: str, on_unreachable: str
) -> None:
    url = setup(status_server)
    result = check_incident_gate(gate(url, on_unreachable=on_unreachable, timeout=1.0))
    if on_unreachable == "block":
        assert [r.code for r in result.reasons] == ["incident_status_unreachable"]
        assert error in result.reasons[0].message
        assert result.notes == ()
    else:
        assert result.reasons == ()
        assert len(result.notes) == 1 and error in result.notes[0]


def test_a_hanging_status_url_is_given_up_after_the_timeout(status_server: StatusServer) -> None:
    hung = status_server.hang("/hang")
    ok = status_server.incidents("/ok")
    started = time.monotonic()
    result = check_incident_gate(gate(hung, ok, timeout=0.5))
    elapsed = time.monotonic() - started
    assert elapsed < 1.5
    assert [r.code for r in result.reasons] == ["incident_status_unreachable"]
    assert hung in result.reasons[0].message
    assert [s.error is None for s in result.sources] == [False, True]


def test_every_status_url_is_asked(status_server: StatusServer) -> None:
    quiet = status_server.incidents("/a")
    burning = status_server.incidents("/b", CRITICAL)
    result = check_incident_gate(gate(quiet, burning))
    assert [r.code for r in result.reasons] == ["incident_open"]
    assert sorted(status_server.requests) == ["/a", "/b"]


def gated_policy(guard: GuardRunner, *urls: str, **options: Any) -> Any:
    return guard.policy({**ALWAYS_OPEN, "incident_gate": {"status_urls": list(urls), **options}})


def test_cli_blocks_a_normal_release_while_a_critical_incident_is_open(
    guard: GuardRunner, status_server: StatusServer
) -> None:
    url = status_server.incidents("/api/v1/status", CRITICAL)
    result = guard.run("check", "--json", policy=gated_policy(guard, url))
    assert result.code == 1
    document = result.json()
    assert document["allowed"] is False
    assert [r["code"] for r in document["reasons"]] == ["incident_open"]
    assert guard.audit_records()[-1]["incident_gate"] == [{"url": url, "incidents": ["inc-7a1"]}]


def test_cli_hotfix_passes_the_gate_without_asking(guard: GuardRunner, status_server: StatusServer) -> None:
    url = status_server.incidents("/api/v1/status", CRITICAL)
    result = guard.run("check", "--hotfix", "--reason", "fix for inc-7a1", "--json", policy=gated_policy(guard, url))
    assert result.code == 0, result
    assert [r["code"] for r in result.json()["reasons"]] == ["hotfix"]
    assert status_server.requests == []


def test_cli_outside_the_window_does_not_ask_the_gate(guard: GuardRunner, status_server: StatusServer) -> None:
    url = status_server.incidents("/api/v1/status")
    policy = guard.policy({**ALWAYS_OPEN, "windows": [], "incident_gate": {"status_urls": [url]}})
    assert guard.run("check", policy=policy).code == 1
    assert status_server.requests == []


def test_cli_with_a_hung_status_url_answers_within_the_default_3s(
    guard: GuardRunner, status_server: StatusServer
) -> None:
    hung = status_server.hang("/api/v1/status")
    started = time.monotonic()
    result = guard.run("check", "--json", policy=gated_policy(guard, hung), timeout=20)
    elapsed = time.monotonic() - started
    assert result.code == 1
    assert [r["code"] for r in result.json()["reasons"]] == ["incident_status_unreachable"]
    assert 2.9 < elapsed < 5.0


def test_cli_closed_port_with_on_unreachable_allow_allows_and_warns(guard: GuardRunner) -> None:
    url = closed_port_url()
    result = guard.run("check", policy=gated_policy(guard, url, on_unreachable="allow"))
    assert result.code == 0, result
    assert result.out.startswith("ALLOWED at ")
    assert f"warning: incident status {url} unreachable" in result.err
    record = guard.audit_records()[-1]
    assert record["decision"] == "allowed" and "Connection refused" in record["incident_gate"][0]["error"]


def test_cli_closed_port_with_on_unreachable_block_blocks(guard: GuardRunner) -> None:
    result = guard.run("check", "--json", policy=gated_policy(guard, closed_port_url()))
    assert result.code == 1
    assert [r["code"] for r in result.json()["reasons"]] == ["incident_status_unreachable"]


def test_an_incident_without_a_readable_severity_blocks_even_under_block_on_critical(
    status_server: StatusServer,
) -> None:
    odd = {**WARNING, "id": "inc-7a4", "severity": "major"}
    missing = {k: v for k, v in WARNING.items() if k != "severity"} | {"id": "inc-7a5"}
    url = status_server.incidents("/api/v1/status", WARNING, odd, missing)
    result = check_incident_gate(gate(url, block_on="critical"))
    [reason] = result.reasons
    assert reason.code == "incident_open"
    assert "inc-7a4 that cannot be read (incidents[1]: severity: expected one of critical, warning" in reason.message
    assert "inc-7a5 that cannot be read (incidents[2]: severity: missing)" in reason.message
    assert "inc-7a2" not in reason.message  # the readable warning does not block under block_on: critical
    [source] = result.sources
    assert source.as_json()["incidents"] == ["inc-7a2"] and len(source.as_json()["unreadable"]) == 2


def test_an_answer_without_host_is_no_status_document(status_server: StatusServer) -> None:
    url = status_server.answer("/s", {"checks": [], "incidents": [CRITICAL]})
    result = check_incident_gate(gate(url, on_unreachable="block"))
    assert [r.code for r in result.reasons] == ["incident_status_unreachable"]
    assert "host: missing" in result.reasons[0].message


# -- the real daemon and the installed deploy-guard ------------------------------------------


def daemon_with_failing(tmp_path: Path, severity: str) -> WatchdogDaemon:
    """A real daemon whose one check (`severity`) fails hard at once: one open incident."""
    port = free_port()
    check = {"name": "shop-db", "type": "tcp", "host": "127.0.0.1", "port": port, "retries": 1, "interval": "1s"}
    return WatchdogDaemon(tmp_path / "watchdog", {"checks": [check | {"severity": severity}]})


TUESDAY_MORNING = "2026-11-24T09:00:00+01:00"


@pytest.mark.parametrize(("severity", "code"), [("critical", 1), ("warning", 0)])
def test_installed_deploy_guard_against_a_real_daemon_blocks_only_on_a_critical_incident(
    tmp_path: Path, guard: GuardRunner, severity: str, code: int
) -> None:
    with daemon_with_failing(tmp_path, severity) as daemon:
        daemon.wait_until(lambda: [i["severity"] for i in daemon.incidents()] == [severity], f"a {severity} incident")
        [incident] = daemon.incidents()
        policy = guard.policy(
            {**PLAIN, "incident_gate": {"status_urls": [f"{daemon.base_url}/api/v1/status"], "block_on": "critical"}}
        )
        result = guard.run("check", "--at", TUESDAY_MORNING, "--json", policy=policy)
    assert result.code == code, result
    document = result.json()
    if code:
        assert [r["code"] for r in document["reasons"]] == ["incident_open"]
        assert incident["id"] in document["reasons"][0]["message"] and "shop-db" in document["reasons"][0]["message"]
    else:
        assert document["allowed"] is True and document["reasons"] == []
    assert guard.audit_records()[-1]["incident_gate"] == [
        {"url": f"{daemon.base_url}/api/v1/status", "incidents": [incident["id"]]}
    ]
