"""A real daemon shared by the API attack tests of one module (starting one takes ~1 s)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.servers.ports import free_port
from tests.servers.watchdog_daemon import WatchdogDaemon

API_HOST_NAME = "metrics-target.example"
"""A name in the daemon's `api_hosts`: a Prometheus scraping the host by name."""


def api_daemon_config() -> dict[str, Any]:
    """An OK disk check and a TCP check of a closed port (CRITICAL at once: an incident)."""
    return {
        "host": "shop-api-test",
        "api_hosts": [API_HOST_NAME],
        "checks": [
            {"name": "root", "type": "disk", "path": "/", "warn": "99%", "crit": "100%", "interval": "1s"},
            {"name": "db", "type": "tcp", "host": "127.0.0.1", "port": free_port(), "retries": 1, "interval": "1s"},
        ],
    }


@pytest.fixture(scope="module")
def api_daemon(tmp_path_factory: pytest.TempPathFactory) -> Iterator[WatchdogDaemon]:
    with WatchdogDaemon(tmp_path_factory.mktemp("api"), api_daemon_config()) as daemon:
        daemon.wait_for("db", lambda c: c["status"] == "CRITICAL")
        daemon.wait_until(lambda: daemon.incidents("db"), what="an incident for db")
        yield daemon
