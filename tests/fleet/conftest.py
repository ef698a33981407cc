"""One fleet for every test in this package: three shop servers, Prometheus, an Alertmanager pair.

Started once (package scope) because Prometheus applies new targets only every 5 s and the
daemons take a second each to start; the tests share it and put back what they break.

What the servers run, so that every rule and dashboard query has data:

* every server: `web` (HTTP to its nginx, critical, repaired by restarting nginx) and `root`
  (disk), alerts to both Alertmanager nodes, incidents linking back to the daemon;
* shop-web-1 also: `cache` (a file its nginx must serve; the repair recreates it) and `payments`,
  a warning-severity TCP check on a port nothing listens on, so it has an open, paged
  incident all along, which must not block releases (the gate blocks on critical); its
  warnings also go to `ops`, a webhook nobody listens on, so a notification waits in the
  outbox all along.

Before the tests start, `cache` is broken once and the fixture waits until its auto-repair
and `payments`' page have been scraped by Prometheus.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator, Sequence
from typing import Any

import pytest

from tests.servers.fleet import Fleet, ShopServer
from tests.servers.ports import free_port
from tests.servers.status_server import closed_port_url
from tests.waiting import wait_until

HOSTS = ("shop-web-1", "shop-web-2", "shop-web-3")
DATA_HOST = "shop-web-1"
CACHE_FILE = "cache.txt"


def daemon_config(server: ShopServer, alertmanagers: Sequence[str]) -> dict[str, Any]:
    checks: list[dict[str, Any]] = [
        {
            "name": "web",
            "type": "http",
            "url": server.nginx.healthz_url,
            "severity": "critical",
            "remediate": {"command": server.nginx.ctl_argv(sys.executable, "restart")},
        },
        {"name": "root", "type": "disk", "path": "/", "warn": "99.9%", "crit": "100%", "severity": "warning"},
    ]
    channels: list[dict[str, Any]] = [
        {
            "name": "am",
            "type": "alertmanager",
            "urls": list(alertmanagers),
            "resend_every": "2s",
            "timeout": "2s",
            "generator_url": server.daemon.base_url,
        }
    ]
    if server.host == DATA_HOST:
        channels.append({"name": "ops", "type": "webhook", "url": closed_port_url("/hook")})
        server.nginx.write_file(CACHE_FILE, "warm")
        cache = server.nginx.directory / "html" / CACHE_FILE
        checks += [
            {"name": "cache", "type": "http", "url": f"{server.nginx.url}/{CACHE_FILE}"}
            | {"remediate": {"command": ["touch", str(cache)]}},
            {"name": "payments", "type": "tcp", "host": "127.0.0.1", "port": free_port(), "severity": "warning"},
        ]
    return {
        "host": server.host,
        "defaults": {"interval": "500ms", "timeout": "1s", "retries": 2, "retry_interval": "200ms"},
        "checks": checks,
        "remediation": {"backend": "command", "verify_after": "500ms", "restart_timeout": "10s"},
        "notify": {
            "channels": channels,
            "routes": {
                "critical": {"channels": ["am"]},
                "warning": {"channels": [c["name"] for c in channels], "when": "always"},
            },
        },
    }


@pytest.fixture(scope="package")
def fleet(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Fleet]:
    with Fleet(tmp_path_factory.mktemp("fleet"), HOSTS, daemon_config).start() as started:
        data = started.server(DATA_HOST).daemon
        (started.server(DATA_HOST).nginx.directory / "html" / CACHE_FILE).unlink()
        data.wait_until(lambda: data.metric('shop_watchdog_auto_repairs_total{check="cache"}') == 1, "cache repaired")
        data.wait_until(lambda: data.incidents("payments"), "payments paged")
        scraped_twice = [  # increase() and rate() need two samples of a series
            'count_over_time(shop_watchdog_auto_repairs_total{check="cache"}[1m]) >= 2',
            'count_over_time(shop_watchdog_pages_total{check="payments"}[1m]) >= 2',
            'shop_watchdog_incidents_open{severity="warning"} > 0',
            "shop_watchdog_outbox_oldest_pending_timestamp_seconds",
        ]
        wait_until(
            lambda: all(started.prometheus.query(expr) for expr in scraped_twice),
            30,
            "Prometheus to scrape the repair, the page and the incident",
            0.2,
        )
        yield started
