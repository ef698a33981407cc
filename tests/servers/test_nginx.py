"""The private nginx helper and its detached-restart CLI, as the end-to-end tests use them."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import requests

from tests.servers.nginx import NginxServer
from tests.servers.ports import ServerStartError, accepts
from tests.servers.processes import is_dead

REPO = Path(__file__).resolve().parents[2]


def ctl(server: NginxServer, action: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(server.ctl_argv(sys.executable, action), cwd=REPO, capture_output=True, text=True, timeout=30)


def test_kill_then_start_again_on_the_same_port(nginx: NginxServer) -> None:
    assert requests.get(nginx.healthz_url, timeout=2).text == "ok"
    old_pid = nginx.pid
    nginx.kill()
    assert is_dead(old_pid) and not accepts(nginx.port)
    nginx.start()
    assert nginx.pid != old_pid
    assert requests.get(nginx.healthz_url, timeout=2).text == "ok"


def test_ctl_restart_brings_a_killed_nginx_back_detached(nginx: NginxServer) -> None:
    nginx.kill()
    done = ctl(nginx, "restart")
    assert done.returncode == 0, done.stderr
    detached = nginx.master_pid()
    assert detached is not None and done.stdout == f"started, pid {detached}\n"
    assert requests.get(nginx.healthz_url, timeout=2).text == "ok"
    assert ctl(nginx, "status").returncode == 0
    nginx.stop()
    assert is_dead(detached) and not accepts(nginx.port)
    assert ctl(nginx, "status").returncode == 1


def test_ctl_restart_replaces_the_running_foreground_nginx(nginx: NginxServer) -> None:
    foreground = nginx.pid
    assert ctl(nginx, "restart").returncode == 0
    assert is_dead(foreground)
    assert nginx.master_pid() not in (None, foreground)
    assert requests.get(nginx.healthz_url, timeout=2).status_code == 200


def test_broken_config_makes_start_and_restart_fail(nginx: NginxServer) -> None:
    nginx.kill()
    nginx.broken_config()
    done = ctl(nginx, "restart")
    assert done.returncode == 1
    assert "unknown directive" in done.stderr
    with pytest.raises(ServerStartError, match="unknown directive"):
        nginx.start()
    assert not accepts(nginx.port)
    nginx.fix_config()
    assert ctl(nginx, "start").returncode == 0
    assert accepts(nginx.port)


def test_ctl_without_a_config_fails(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "tests.servers.nginx_ctl", "--dir", str(tmp_path), "start"],
        cwd=REPO, capture_output=True, text=True, timeout=30,
    )  # fmt: skip
    assert done.returncode == 1 and "no nginx.conf" in done.stderr
