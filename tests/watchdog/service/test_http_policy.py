"""Who may use the API, against the real daemon: DNS rebinding, cross-site writes, tokens.

A browser page can send requests to the loopback API; these tests send what such a page's
browser would send (its Host after rebinding, its Origin, a form's content type) and check
that nothing is read or changed, while the CLI, Prometheus and a page the API serves itself
keep working.
"""

from __future__ import annotations

import json
import socket
import subprocess
from pathlib import Path

import pytest

from tests.servers.watchdog_daemon import CLI, WatchdogDaemon
from tests.watchdog.service.conftest import API_HOST_NAME

SILENCE = {"check": "root", "duration": "5m", "reason": "cross-site attempt", "by": "mallory"}


def silences_active(daemon: WatchdogDaemon) -> float:
    return daemon.metric("shop_watchdog_silences_active")


def open_incident_id(daemon: WatchdogDaemon) -> str:
    (incident,) = daemon.incidents("db")
    return str(incident["id"])


@pytest.mark.parametrize("path", ["/api/v1/status", "/metrics", "/healthz"])
@pytest.mark.parametrize("host", ["evil.example", "evil.example:9841", "127.0.0.1.evil.example", "localhost.evil"])
def test_a_rebound_name_reads_nothing(api_daemon: WatchdogDaemon, path: str, host: str) -> None:
    code, body = api_daemon.request("GET", path, headers={"Host": host})

    assert code == 403
    assert "is not a name of this API" in json.loads(body)["error"]
    assert b"shop-api-test" not in body


def test_a_rebound_name_writes_nothing(api_daemon: WatchdogDaemon) -> None:
    incident = open_incident_id(api_daemon)
    before = silences_active(api_daemon)
    evil = {"Host": f"evil.example:{api_daemon.port}"}

    assert api_daemon.request("POST", "/api/v1/silences", SILENCE, headers=evil)[0] == 403
    assert api_daemon.request("POST", f"/api/v1/incidents/{incident}/ack", {"by": "m"}, headers=evil)[0] == 403
    assert silences_active(api_daemon) == before
    assert api_daemon.incidents("db")[0]["state"] != "acknowledged"


@pytest.mark.parametrize(
    "host",
    [
        "127.0.0.1",
        "127.0.0.1:{port}",
        "127.1.2.3:{port}",
        "[::1]:{port}",
        "localhost:{port}",
        "LocalHost.:{port}",
        "admin.localhost:{port}",
        "10.1.2.3:{port}",
        "shop-api-test:{port}",
        f"{socket.gethostname()}:{{port}}",
        f"{API_HOST_NAME}:{{port}}",
        f"{API_HOST_NAME.upper()}",
    ],
)
def test_loopback_ip_and_configured_names_are_served(api_daemon: WatchdogDaemon, host: str) -> None:
    """IP literals cannot be rebound; `host`, the hostname and `api_hosts` are the admin's."""
    code, body = api_daemon.request("GET", "/metrics", headers={"Host": host.format(port=api_daemon.port)})

    assert code == 200, body
    assert b"shop_watchdog_" in body


@pytest.mark.parametrize(
    "content_type",
    ["application/x-www-form-urlencoded", "multipart/form-data; boundary=x", "text/plain", "application/jsonx"],
)
def test_a_form_post_from_any_page_changes_nothing(api_daemon: WatchdogDaemon, content_type: str) -> None:
    """What an HTML form can send, with or without the Origin a browser would add."""
    incident = open_incident_id(api_daemon)
    before = silences_active(api_daemon)
    for origin in ({"Origin": "http://evil.example"}, {}):
        headers = {"Content-Type": content_type, **origin}
        silence = api_daemon.request("POST", "/api/v1/silences", SILENCE, headers=headers)
        ack = api_daemon.request("POST", f"/api/v1/incidents/{incident}/ack", {"by": "m"}, headers=headers)
        expected = 403 if origin else 415
        assert (silence[0], ack[0]) == (expected, expected), (silence, ack)
        assert json.loads(silence[1])["error"]
    assert silences_active(api_daemon) == before
    assert api_daemon.incidents("db")[0]["state"] != "acknowledged"


def test_a_write_without_content_type_is_415(api_daemon: WatchdogDaemon) -> None:
    """`fetch(url, {method: "POST", mode: "no-cors"})` sends no body and no type."""
    incident = open_incident_id(api_daemon)
    code, body = api_daemon.request("POST", f"/api/v1/incidents/{incident}/ack", headers={"Content-Length": "0"})

    assert code == 415 and "application/json" in json.loads(body)["error"]


@pytest.mark.parametrize(
    "headers",
    [
        {"Origin": "http://evil.example"},
        {"Origin": "null"},
        {"Origin": "http://127.0.0.1:1"},
        {"Origin": "http://127.0.0.1:{port}, http://evil.example"},
        {"Sec-Fetch-Site": "cross-site"},
        {"Sec-Fetch-Site": "same-site"},
    ],
)
def test_a_cross_origin_json_write_is_403(api_daemon: WatchdogDaemon, headers: dict[str, str]) -> None:
    headers = {k: v.format(port=api_daemon.port) for k, v in headers.items()}
    before = silences_active(api_daemon)
    code, body = api_daemon.request("POST", "/api/v1/silences", SILENCE, headers=headers)

    assert code == 403 and "cross-site write refused" in json.loads(body)["error"]
    assert silences_active(api_daemon) == before


def test_the_apis_own_page_and_the_cli_may_write(api_daemon: WatchdogDaemon) -> None:
    """fetch() from a page the API serves sends its own Origin; the CLI sends none."""
    own = {"Origin": f"http://127.0.0.1:{api_daemon.port}", "Sec-Fetch-Site": "same-origin"}
    code, body = api_daemon.request("POST", "/api/v1/silences", SILENCE | {"by": "page"}, headers=own)
    assert code == 201, body

    cli = subprocess.run(
        [CLI, "silence", "root", "--for", "1m", "--reason", "cli", "-c", str(api_daemon.config_path)],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert cli.returncode == 0, cli.stderr
    assert silences_active(api_daemon) == 1, "both silenced the same check"


def test_writes_need_the_bearer_token_reads_do_not(tmp_path: Path) -> None:
    token = tmp_path / "api.token"
    token.write_text("tok-ABCDEFG-123\n")
    config = {
        "api_token_file": str(token),
        "checks": [{"name": "root", "type": "disk", "path": "/"}],
    }
    with WatchdogDaemon(tmp_path / "d", config) as daemon:
        for given in (None, "", "tok-ABCDEFG-12", "tok-ABCDEFG-1234", "TOK-ABCDEFG-123"):
            assert daemon.request("POST", "/api/v1/silences", SILENCE, token=given)[0] == 401, given
        basic = {"Authorization": "Basic dG9rLUFCQ0RFRkctMTIz"}
        assert daemon.request("POST", "/api/v1/silences", SILENCE, headers=basic)[0] == 401
        assert daemon.request("POST", "/api/v1/silences", SILENCE, token="tok-ABCDEFG-123")[0] == 201
        assert daemon.get("/metrics")[0] == 200
        assert "tok-ABCDEFG" not in daemon.log()


@pytest.mark.parametrize("where", ["file", "env"])
@pytest.mark.parametrize("blank", ["", "  \n\t\n"])
def test_a_blank_token_stops_the_daemon_at_start(tmp_path: Path, where: str, blank: str) -> None:
    token = tmp_path / "api.token"
    token.write_text(blank)
    key = {"file": {"api_token_file": str(token)}, "env": {"api_token_env": "SHOP_API_TOKEN"}}[where]
    config = {**key, "checks": [{"name": "root", "type": "disk", "path": "/"}]}
    daemon = WatchdogDaemon(tmp_path / "d", config, env={"SHOP_API_TOKEN": blank})

    run = subprocess.run(daemon.argv(), capture_output=True, text=True, timeout=30, env=dict(daemon.child_env()))

    assert run.returncode == 2
    assert f"api_token_{where}:" in run.stderr and "a blank secret protects nothing" in run.stderr
    assert "Traceback" not in run.stderr
