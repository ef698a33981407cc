"""/metrics of a daemon that ran real checks against real servers, checked by `promtool`; the
gauges that mirror state, read at scrape time."""

from __future__ import annotations

import re
import subprocess
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import pytest

from checks.base import Status
from tests.servers.hanging import HangingTCPServer
from tests.servers.module_probe import MODULES_FILE, modules_at_exit, probe_cli
from tests.servers.nginx import NginxServer
from tests.servers.ports import free_port
from tests.servers.redis import RedisServer
from tests.servers.watchdog_daemon import WatchdogDaemon
from tests.servers.webhook_sink import WebhookSink
from tests.watchdog.incidents.engine_rig import Rig, check, config
from tests.watchdog.monitor.test_scheduler import tcp_spec
from watchdog.common.clock import ManualClock
from watchdog.monitor.checkstate import CheckState
from watchdog.service.metrics import Metrics, measurement_family


def sample(text: str, name: str, **labels: str) -> float | None:
    """The value of one series in Prometheus text, or None when absent."""
    for line in text.splitlines():
        if not line.startswith(name + "{") and not line.startswith(name + " "):
            continue
        head, _, value = line.rpartition(" ")
        found = dict(re.findall(r'(\w+)="([^"]*)"', head))
        if head.split("{")[0] == name and all(found.get(k) == v for k, v in labels.items()):
            return float(value)
    return None


def test_metrics_of_a_real_daemon_pass_promtool(
    tmp_path: Path, make_nginx: Callable[..., NginxServer], redis_server: RedisServer, hanging_tcp: HangingTCPServer
) -> None:
    nginx = make_nginx()
    config = {
        "checks": [
            {"name": "web", "type": "http", "url": nginx.healthz_url, "interval": "500ms"},
            {"name": "cache", "type": "redis", "host": "127.0.0.1", "port": redis_server.port, "interval": "500ms"},
            {"name": "root", "type": "disk", "path": "/", "warn": "99%", "crit": "100%"},
            {"name": "db", "type": "tcp", "host": "127.0.0.1", "port": free_port(), "retries": 1},
            {"name": "stuck", "type": "http", "url": hanging_tcp.url, "timeout": "300ms", "interval": "500ms"},
        ]
    }
    with WatchdogDaemon(tmp_path / "d", config) as daemon:
        daemon.wait_for("stuck", lambda c: c["status"] == "CRITICAL")
        daemon.wait_for("db", lambda c: c["status"] == "CRITICAL")
        daemon.wait_for("web", lambda c: c["status"] == "OK")
        daemon.wait_until(lambda: ran_enough(daemon.metrics()), "two runs of web and five scheduled runs")
        code, body = daemon.get("/metrics")
    assert code == 200
    text = body.decode()
    lint = subprocess.run(["promtool", "check", "metrics"], input=body, capture_output=True, timeout=60)
    assert lint.returncode == 0, lint.stdout.decode() + lint.stderr.decode()

    assert sample(text, "shop_watchdog_check_status", check="web") == 0
    assert sample(text, "shop_watchdog_check_status", check="db") == 3  # CRITICAL ranks highest
    assert sample(text, "shop_watchdog_check_status", check="stuck") == 3
    assert sample(text, "shop_watchdog_check_info", check="cache", type="redis", severity="critical") == 1
    assert (sample(text, "shop_watchdog_check_runs_total", check="web", status="ok") or 0) >= 2
    assert (sample(text, "shop_watchdog_check_runs_total", check="db", status="critical") or 0) >= 1
    assert sample(text, "shop_watchdog_check_measurement_ratio", check="root", measurement="used") is not None
    assert (sample(text, "shop_watchdog_check_measurement_bytes", check="root", measurement="available") or 0) > 0
    assert (sample(text, "shop_watchdog_check_measurement_seconds", check="web", measurement="response") or 0) > 0
    assert sample(text, "shop_watchdog_check_measurement", check="web", measurement="status_code") == 200
    assert "_created" not in text
    assert (sample(text, "shop_watchdog_scheduler_lag_seconds_count") or 0) >= 5
    assert (sample(text, "shop_watchdog_check_duration_seconds_count", type="http") or 0) >= 2
    assert sample(text, "shop_watchdog_checks") == 5
    assert sample(text, "shop_watchdog_build_info", version="0.1.0") == 1
    loop_ts = sample(text, "shop_watchdog_loop_last_iteration_timestamp_seconds")
    assert loop_ts is not None and abs(loop_ts - time.time()) < 30
    assert (sample(text, "shop_watchdog_check_runs_total", check="stuck", status="critical") or 0) >= 1


def test_the_daemon_loads_prometheus_client_at_the_first_scrape_and_exports_what_it_recorded_before(
    tmp_path: Path,
) -> None:
    """Idle memory (issue 16): the library and the ssl and HTTP modules it imports cost ~7 MB,
    paid only by a daemon that Prometheus scrapes."""
    config = {"checks": [{"name": "root", "type": "disk", "path": "/", "interval": "200ms"}]}
    cli = probe_cli(tmp_path)

    def modules(name: str, scrape: bool) -> tuple[set[str], str]:
        listed = tmp_path / f"{name}.modules"
        with WatchdogDaemon(tmp_path / name, config, cli=cli, env={MODULES_FILE: str(listed)}) as daemon:
            daemon.wait_for("root", lambda c: not c.get("pending"))
            text = daemon.metrics() if scrape else ""
            assert daemon.terminate() == 0
        return {m.partition(".")[0] for m in modules_at_exit(listed)}, text

    idle, _ = modules("idle", scrape=False)
    assert "watchdog" in idle and "prometheus_client" not in idle
    scraped, text = modules("scraped", scrape=True)
    assert "prometheus_client" in scraped
    # recorded before the library was loaded, exported by the scrape that loaded it
    assert (sample(text, "shop_watchdog_check_runs_total", check="root", status="ok") or 0) >= 1
    assert (sample(text, "shop_watchdog_check_duration_seconds_count", type="disk") or 0) >= 1
    assert (sample(text, "shop_watchdog_scheduler_lag_seconds_count") or 0) >= 1
    assert sample(text, "shop_watchdog_check_measurement_ratio", check="root", measurement="used") is not None
    assert sample(text, "shop_watchdog_config_last_reload_successful") == 1
    assert sample(text, "shop_watchdog_state_store_writing") == 1
    assert "_created" not in text
    lint = subprocess.run(["promtool", "check", "metrics"], input=text.encode(), capture_output=True, timeout=60)
    assert lint.returncode == 0, lint.stdout.decode() + lint.stderr.decode()


def ran_enough(text: str) -> bool:
    """Whether the counters below have something to count: web ran twice, five runs were scheduled."""
    return (
        (sample(text, "shop_watchdog_check_runs_total", check="web", status="ok") or 0) >= 2
        and (sample(text, "shop_watchdog_check_duration_seconds_count", type="http") or 0) >= 2
        and (sample(text, "shop_watchdog_scheduler_lag_seconds_count") or 0) >= 5
    )


def test_removed_checks_lose_their_series() -> None:
    metrics = Metrics("1.2.3")
    a, b = tcp_spec("a", 1), tcp_spec("b", 2)
    metrics.configure([a, b], [])
    now = datetime.now(UTC)
    for spec in (a, b):
        metrics.observe(
            spec, CheckState(spec.name, Status.WARNING, False, "m", now, now, 1, 0.01, {"x-y": 1.5}), timed_out=True
        )
    text = metrics.render()[0].decode()
    assert sample(text, "shop_watchdog_check_measurement", check="b", measurement="x_y") == 1.5
    assert sample(text, "shop_watchdog_check_timeouts_total", check="b") == 1
    metrics.configure([a], ["b"])
    text = metrics.render()[0].decode()
    assert 'check="b"' not in text and 'check="a"' in text


def test_incident_silence_and_outbox_gauges_are_read_when_scraped(tmp_path: Path, sink: WebhookSink) -> None:
    rig = Rig(config(tmp_path, sink, [check("db"), check("web", command=["true"])]), sink, ManualClock())
    try:
        sink.stop()  # the receiver is down: the page stays pending
        rig.result("db", Status.CRITICAL)
        rig.result("web", Status.CRITICAL)
        # no tick ran since: nothing pushed these numbers, the scrape reads them
        critical = {"severity": "critical"}
        assert rig.metric("shop_watchdog_incidents_open", state="paged", **critical) == 1
        assert rig.metric("shop_watchdog_incidents_open", state="repairing", **critical) == 1
        assert rig.metric("shop_watchdog_incidents_open", state="open", **critical) == 0
        assert (
            rig.registry.get_sample_value("shop_watchdog_incidents_open", {"state": "paged", "severity": "warning"})
            == 0
        )
        assert rig.metric("shop_watchdog_outbox_pending") == 2  # the page, to pager and admins
        oldest = rig.registry.get_sample_value("shop_watchdog_outbox_oldest_pending_timestamp_seconds")
        assert oldest == rig.clock.now().timestamp()
        assert rig.engine.ack(rig.incident("db")["id"], "alice")
        assert rig.metric("shop_watchdog_incidents_open", state="paged", **critical) == 0
        assert rig.metric("shop_watchdog_incidents_open", state="acknowledged", **critical) == 1
        rig.engine.silence("db", 60, "replacing the disk", "carol")
        assert rig.metric("shop_watchdog_silences_active") == 1
        until = rig.metric("shop_watchdog_check_silenced_until_timestamp_seconds", check="db")
        assert until == rig.clock.now().timestamp() + 60
        rig.advance(60)
        assert rig.metric("shop_watchdog_silences_active") == 0
        assert (
            rig.registry.get_sample_value("shop_watchdog_check_silenced_until_timestamp_seconds", {"check": "db"})
            is None
        )
    finally:
        rig.close()


@pytest.mark.parametrize(
    "key, family",
    [
        ("response_seconds", ("seconds", "response")),
        ("cert_expiry_seconds", ("seconds", "cert_expiry")),
        ("used_bytes", ("bytes", "used")),
        ("inodes_used_ratio", ("ratio", "inodes_used")),
        ("inodes_free", ("", "inodes_free")),
        ("status_code", ("", "status_code")),
        ("disk used-bytes", ("bytes", "disk_used")),
        ("_seconds", ("", "_seconds")),
    ],
)
def test_each_measurement_goes_to_the_family_of_its_unit(key: str, family: tuple[str, str]) -> None:
    assert measurement_family(key) == family


def test_status_is_ranked_so_that_max_is_the_worst_and_nothing_has_created_series() -> None:
    metrics = Metrics("1.2.3")
    specs = [tcp_spec(s.name.lower(), i + 1) for i, s in enumerate(Status)]
    metrics.configure(specs, [])
    now = datetime.now(UTC)
    for spec, status in zip(specs, Status, strict=True):
        metrics.observe(spec, CheckState(spec.name, status, True, "m", now, now, 1, 0.01, {}), timed_out=False)
    text = metrics.render()[0].decode()
    ranks = {spec.name: sample(text, "shop_watchdog_check_status", check=spec.name) for spec in specs}
    assert ranks == {"ok": 0, "warning": 1, "unknown": 2, "critical": 3}
    assert "shop_watchdog_check_runs_total{" in text and "shop_watchdog_check_duration_seconds_bucket{" in text
    assert "_created" not in text
    lint = subprocess.run(["promtool", "check", "metrics"], input=text.encode(), capture_output=True, timeout=60)
    assert lint.returncode == 0, lint.stdout.decode() + lint.stderr.decode()
