"""The real `.venv/bin/shop-watchdog` command against real servers: exit codes are contract."""

from __future__ import annotations

import contextlib
import json
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import psutil
import pytest
import yaml

from tests.servers.hanging import HangingTCPServer
from tests.servers.nginx import NginxServer
from tests.servers.ports import free_port
from tests.servers.processes import wait_dead
from tests.servers.tmpfs import fill_to
from tests.servers.watchdog_daemon import CLI, WatchdogDaemon
from tests.servers.webhook import WebhookServer
from tests.servers.webhook_sink import WebhookSink
from tests.waiting import wait_until
from watchdog.cli.main import config_source


def write_config(path: Path, config: dict[str, Any]) -> Path:
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    return path


def cli(*args: str, env: dict[str, str] | None = None, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    full_env = {k: v for k, v in os.environ.items() if k != "SHOP_WATCHDOG_CONFIG"} | (env or {})
    return subprocess.run([CLI, *args], capture_output=True, text=True, env=full_env, timeout=timeout)


def once(tmp_path: Path, checks: list[dict[str, Any]], *extra: str) -> subprocess.CompletedProcess[str]:
    path = write_config(tmp_path / "once.yaml", {"checks": checks})
    return cli("once", "-c", str(path), *extra)


PLUGIN_UNKNOWN = [sys.executable, "-c", "print('UNKNOWN - cannot read queue'); raise SystemExit(3)"]


# -- once ---------------------------------------------------------------------------------------


def test_once_all_ok_exits_0(tmp_path: Path, nginx: NginxServer) -> None:
    proc = once(
        tmp_path,
        [
            {"name": "web", "type": "http", "url": nginx.healthz_url, "expect_body": "ok"},
            {"name": "port", "type": "tcp", "host": "127.0.0.1", "port": nginx.port},
        ],
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    lines = proc.stdout.splitlines()
    assert lines[0].startswith("OK       port ") and lines[1].startswith("OK       web ")
    assert lines[-1].startswith("OK: 2 checks on ")


def test_once_disk_over_its_warning_threshold_exits_1(
    tmp_path: Path, make_tmpfs: Callable[..., Path], nginx: NginxServer
) -> None:
    disk = make_tmpfs("8m")
    fill_to(disk, 0.5)
    proc = once(
        tmp_path,
        [
            {"name": "web", "type": "tcp", "host": "127.0.0.1", "port": nginx.port},
            {"name": "data", "type": "disk", "path": str(disk), "warn": "40%", "crit": "90%"},
        ],
    )
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert proc.stdout.splitlines()[0].startswith("WARNING  data ")


def test_once_closed_port_exits_2_even_next_to_unknown(tmp_path: Path, nginx: NginxServer) -> None:
    proc = once(
        tmp_path,
        [
            {"name": "web", "type": "tcp", "host": "127.0.0.1", "port": nginx.port},
            {"name": "db", "type": "tcp", "host": "127.0.0.1", "port": free_port()},
            {"name": "queue", "type": "command", "argv": PLUGIN_UNKNOWN},
        ],
    )
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert proc.stdout.splitlines()[0].startswith("CRITICAL db ")
    assert proc.stdout.splitlines()[1].startswith("UNKNOWN  queue ")


def test_once_plugin_unknown_exits_3(tmp_path: Path, nginx: NginxServer) -> None:
    proc = once(
        tmp_path,
        [
            {"name": "web", "type": "tcp", "host": "127.0.0.1", "port": nginx.port},
            {"name": "queue", "type": "command", "argv": PLUGIN_UNKNOWN},
        ],
    )
    assert proc.returncode == 3, proc.stdout + proc.stderr
    assert "cannot read queue" in proc.stdout


def test_once_json_and_timeouts_run_concurrently(
    tmp_path: Path, hanging_tcp: HangingTCPServer, nginx: NginxServer
) -> None:
    checks = [
        {
            "name": f"hang{i}",
            "type": "tcp",
            "host": "127.0.0.1",
            "port": hanging_tcp.port,
            "send": "PING\r\n",
            "expect": "PONG",
            "timeout": "1s",
        }
        for i in range(5)
    ]
    checks.append({"name": "web", "type": "http", "url": nginx.healthz_url})
    proc = once(tmp_path, checks, "--json")
    assert proc.returncode == 2, proc.stderr
    report = json.loads(proc.stdout)
    assert report["status"] == "CRITICAL" and report["exit_code"] == 2
    by_name = {c["name"]: c for c in report["checks"]}
    assert by_name["web"]["status"] == "OK"
    assert all(by_name[f"hang{i}"]["status"] == "CRITICAL" for i in range(5))
    assert all(by_name[f"hang{i}"]["duration"] < 2.0 for i in range(5)), "bounded by the 1s timeout"
    assert {"name", "type", "severity", "status", "message", "duration", "measurements"} <= set(by_name["web"])


def test_once_json_marks_a_plugin_killed_at_its_timeout_as_timed_out(tmp_path: Path) -> None:
    plugins = [
        {"name": "plugin", "type": "command", "argv": ["sleep", "30"], "timeout": "1s"},
        {"name": "quick", "type": "command", "argv": ["true"]},
    ]
    proc = once(tmp_path, plugins, "--json")
    assert proc.returncode == 2, proc.stderr
    by_name = {c["name"]: c for c in json.loads(proc.stdout)["checks"]}
    assert by_name["plugin"]["timed_out"] is True
    assert by_name["plugin"]["message"] == "timeout after 1s: sleep killed"
    assert by_name["quick"]["timed_out"] is False
    assert by_name["plugin"]["duration"] < 5


def test_ctrl_c_of_once_leaves_no_plugin_running(tmp_path: Path) -> None:
    plugin = {"name": "hangs", "type": "command", "argv": ["sleep", "303"], "timeout": "30m"}
    path = write_config(tmp_path / "once.yaml", {"checks": [plugin]})
    env = {k: v for k, v in os.environ.items() if k != "SHOP_WATCHDOG_CONFIG"}
    # a shell's background job inherits SIGINT ignored, and Python then leaves it so: undo that
    argv = ["env", "--default-signal=INT", CLI, "once", "-c", str(path)]
    proc = subprocess.Popen(argv, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)

    def running_plugin() -> psutil.Process | None:
        return next((c for c in psutil.Process(proc.pid).children() if c.cmdline()[:2] == ["sleep", "303"]), None)

    sleeper: psutil.Process | None = None
    try:
        sleeper = wait_until(running_plugin, 15, "the plugin to run")
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=15) == 130
        assert wait_dead(sleeper.pid, 5.0), "the plugin outlived `once`"
    finally:
        proc.kill()
        proc.wait()
        if sleeper is not None:
            with contextlib.suppress(psutil.NoSuchProcess):
                sleeper.kill()


def test_bad_config_exits_2_for_every_command(tmp_path: Path) -> None:
    path = write_config(tmp_path / "bad.yaml", {"checks": [{"name": "a", "type": "nope"}], "defaults": {"retries": 0}})
    for command in (["once"], ["check-config"], ["status"], ["run"], ["silence", "a", "--for", "1m", "--reason", "x"]):
        proc = cli(*command, "-c", str(path))
        assert proc.returncode == 2, (command, proc.stderr)
        assert f"{path}: defaults: retries must be at least 1" in proc.stderr
        assert f"{path}: checks[0].type: unknown check type 'nope' (valid types: command, disk, http" in proc.stderr


def test_config_path_resolution_order(tmp_path: Path) -> None:
    assert config_source("/x.yaml", {"SHOP_WATCHDOG_CONFIG": "/env.yaml"}) == "/x.yaml"
    assert config_source(None, {"SHOP_WATCHDOG_CONFIG": "/env.yaml"}) == "/env.yaml"
    assert config_source(None, {}, exists=lambda p: True) == "/etc/shop-watchdog/watchdog.yaml"
    assert config_source(None, {}, exists=lambda p: False) is None
    path = write_config(tmp_path / "env.yaml", {"host": "from-env", "checks": []})
    proc = cli("check-config", env={"SHOP_WATCHDOG_CONFIG": str(path)})
    assert proc.returncode == 0 and proc.stdout.startswith(f"{path}: valid\nhost from-env")


# -- talking to the daemon ----------------------------------------------------------------------


@pytest.fixture
def running(tmp_path: Path, nginx: NginxServer) -> Iterator[WatchdogDaemon]:
    config = {
        "host": "shop-cli-1",
        "checks": [
            {"name": "web", "type": "http", "url": nginx.healthz_url, "interval": "1s"},
            {"name": "db", "type": "tcp", "host": "127.0.0.1", "port": free_port(), "retries": 1, "interval": "1s"},
        ],
    }
    with WatchdogDaemon(tmp_path / "d", config) as daemon:
        daemon.wait_for("db", lambda c: c["status"] == "CRITICAL")
        daemon.wait_for("web", lambda c: c["status"] == "OK")
        yield daemon


def test_status_json_of_a_running_daemon(running: WatchdogDaemon) -> None:
    proc = cli("status", "--json", "-c", str(running.config_path))
    assert proc.returncode == 0, proc.stderr
    status = json.loads(proc.stdout)
    assert status["host"] == "shop-cli-1"
    assert [(c["name"], c["status"]) for c in status["checks"]] == [("web", "OK"), ("db", "CRITICAL")]
    for check in status["checks"]:
        assert {"name", "type", "status", "severity", "since", "message"} <= set(check)
    assert isinstance(status["incidents"], list) and isinstance(status["outbox"], dict)


def test_status_human_lists_failing_first(running: WatchdogDaemon) -> None:
    proc = cli("status", "-c", str(running.config_path))
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert lines[0].startswith("shop-cli-1: 2 checks")
    assert lines[1].lstrip().startswith("CRITICAL db") and lines[2].lstrip().startswith("OK       web")


def test_status_exits_3_when_the_daemon_is_unreachable(tmp_path: Path) -> None:
    path = write_config(tmp_path / "c.yaml", {"listen": f"127.0.0.1:{free_port()}", "checks": []})
    proc = cli("status", "-c", str(path))
    assert proc.returncode == 3
    assert "daemon not reachable at http://127.0.0.1:" in proc.stderr
    assert cli("ack", "inc-1", "-c", str(path)).returncode == 3
    assert cli("silence", "web", "--for", "5m", "--reason", "x", "-c", str(path)).returncode == 3


def test_status_json_of_an_unreachable_daemon_is_an_error_object_and_exits_3(tmp_path: Path) -> None:
    port = free_port()
    path = write_config(tmp_path / "c.yaml", {"listen": f"127.0.0.1:{port}", "checks": []})
    proc = cli("status", "--json", "-c", str(path))
    assert proc.returncode == 3, proc.stdout + proc.stderr
    answer = json.loads(proc.stdout)
    assert answer["url"] == f"http://127.0.0.1:{port}/api/v1/status"
    assert answer["error"].startswith(f"daemon not reachable at http://127.0.0.1:{port}: ")


def test_status_of_something_else_answering_at_listen_is_unreachable(
    tmp_path: Path, make_nginx: Callable[..., NginxServer]
) -> None:
    """A 200 that is no status document (a maintenance page where the daemon should be) is
    no daemon: exit 3, never an empty status with exit 0."""
    other = make_nginx(extra_server_config='location = /api/v1/status { return 200 "<html>maintenance</html>"; }')
    path = write_config(tmp_path / "c.yaml", {"listen": f"127.0.0.1:{other.port}", "checks": []})
    text = cli("status", "-c", str(path))
    assert text.returncode == 3 and text.stdout == "", text.stdout
    assert "did not answer as shop-watchdog: answer is not JSON" in text.stderr
    as_json = cli("status", "--json", "-c", str(path))
    assert as_json.returncode == 3
    answer = json.loads(as_json.stdout)
    assert answer["url"] == f"http://127.0.0.1:{other.port}/api/v1/status"
    assert "answer is not JSON" in answer["error"]


def test_ack_unknown_id_exits_1_and_known_exits_0(running: WatchdogDaemon) -> None:
    config = str(running.config_path)
    proc = cli("ack", "inc-nope", "--by", "anna", "-c", config)
    assert proc.returncode == 1 and "inc-nope" in proc.stderr
    incident_id = None
    for _ in range(100):
        incidents = running.status()["incidents"]
        if incidents:
            incident_id = incidents[0]["id"]
            break
        time.sleep(0.05)
    assert incident_id is not None
    proc = cli("ack", incident_id, "--by", "anna", "-c", config)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == f"acknowledged {incident_id} (by anna)"


def test_ack_of_an_incident_under_repair_exits_0_and_no_page_follows_a_failed_repair(
    tmp_path: Path, sink: WebhookSink
) -> None:
    repair = [sys.executable, "-c", "import time; time.sleep(6)"]  # "succeeds", but the port stays closed
    db = {"name": "db", "type": "tcp", "host": "127.0.0.1", "port": free_port(), "retries": 1, "interval": "1s"}
    config = {
        "checks": [db | {"remediate": {"command": repair}}],
        "remediation": {"backend": "command", "verify_after": "200ms", "restart_timeout": "10s"},
        "notify": {"channels": [{"name": "pager", "type": "webhook", "url": sink.url("pager")}]},
    }
    with WatchdogDaemon(tmp_path / "d", config) as daemon:
        daemon.wait_until(lambda: [i["substate"] for i in daemon.incidents("db")] == ["restart_running"], "repairing")
        [incident] = daemon.incidents("db")
        proc = cli("ack", incident["id"], "--by", "anna", "-c", str(daemon.config_path))
        assert proc.returncode == 0, proc.stderr
        assert proc.stdout.strip() == f"acknowledged {incident['id']} (by anna)"
        [acked] = daemon.incidents("db")
        assert (acked["state"], acked["acked_by"]) == ("repairing", "anna")
        shown = cli("status", "-c", str(daemon.config_path)).stdout
        assert re.search(rf"  {incident['id']} db critical repairing \((restart_running|verifying)\) since ", shown)
        daemon.wait_until(lambda: daemon.incidents("db")[0]["state"] == "acknowledged", "repair failed", timeout=20)
        assert "still CRITICAL after the restart" in daemon.incidents("db")[0]["tried"]
        assert sink.messages() == []


def test_silence_ok_unknown_check_and_bad_duration(running: WatchdogDaemon) -> None:
    config = str(running.config_path)
    proc = cli("silence", "web", "--for", "30m", "--reason", "nginx upgrade", "--by", "anna", "-c", config)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith("silenced web for 30m (until ")
    proc = cli("silence", "ghost", "--for", "30m", "--reason", "x", "-c", config)
    assert proc.returncode == 2 and "no check named 'ghost'" in proc.stderr
    proc = cli("silence", "web", "--for", "a while", "--reason", "x", "-c", config)
    assert proc.returncode == 2 and "--for: expected a duration" in proc.stderr


def test_test_notify_unknown_channel_exits_2(tmp_path: Path) -> None:
    path = write_config(tmp_path / "c.yaml", {"checks": []})
    proc = cli("test-notify", "pager", "-c", str(path))
    assert proc.returncode == 2
    assert "no channel named 'pager' (channels: none configured)" in proc.stderr


def test_install_polkit_writes_the_rule_for_the_configured_units(tmp_path: Path) -> None:
    path = write_config(
        tmp_path / "c.yaml",
        {
            "checks": [
                {
                    "name": "web",
                    "type": "tcp",
                    "host": "127.0.0.1",
                    "port": 80,
                    "remediate": {"restart": "nginx.service"},
                },
                {
                    "name": "db",
                    "type": "tcp",
                    "host": "127.0.0.1",
                    "port": 3306,
                    "remediate": {"restart": "mariadb.service"},
                },
            ]
        },
    )
    rule = tmp_path / "50-shop-watchdog.rules"
    proc = cli("install-polkit", "--output", str(rule), "-c", str(path))
    assert proc.returncode == 0, proc.stderr
    text = rule.read_text()
    assert '["mariadb.service", "nginx.service"]' in text and '"shop-watchdog"' in text
    assert "already up to date" in cli("install-polkit", "--output", str(rule), "-c", str(path)).stdout


def test_test_notify_delivered_exits_0_and_failed_exits_1(tmp_path: Path, webhook_server: WebhookServer) -> None:
    path = write_config(
        tmp_path / "c.yaml",
        {
            "checks": [],
            "notify": {
                "channels": [
                    {"name": "hook", "type": "webhook", "url": webhook_server.url},
                    {"name": "dead", "type": "webhook", "url": f"http://127.0.0.1:{free_port()}/hook", "timeout": "2s"},
                ]
            },
        },
    )
    delivered = cli("test-notify", "hook", "-c", str(path))
    assert delivered.returncode == 0, delivered.stdout + delivered.stderr
    assert len(webhook_server.requests) == 1
    failed = cli("test-notify", "dead", "-c", str(path))
    assert failed.returncode == 1, failed.stdout + failed.stderr
    assert failed.stderr.strip()
