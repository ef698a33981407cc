"""The fleet for real: a server breaks, Alertmanager tells people once, the release gate closes for all.

Three daemons, a Prometheus scraping them and a two-node Alertmanager cluster (tests/fleet/conftest.py).
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from tests.deploy_guard.conftest import ALWAYS_OPEN, GuardRunner
from tests.servers.fleet import Fleet
from tests.servers.webhook import Request
from tests.waiting import wait_until

BROKEN = "shop-web-2"


def about(request: Request, status: str, **labels: str) -> bool:
    """Whether an Alertmanager notification is `status` and carries an alert with `labels`."""
    body: dict[str, Any] = request.body
    return body.get("status") == status and any(
        all(alert["labels"].get(k) == v for k, v in labels.items()) for alert in body.get("alerts", [])
    )


def gate_policies(guard: GuardRunner, fleet: Fleet) -> tuple[Path, Path]:
    """(Alertmanager only, Alertmanager and Prometheus) release policies for the fleet."""
    am = {"alertmanager_urls": fleet.alertmanagers.urls}
    prometheus = {
        "prometheus_url": fleet.prometheus.url,
        "prometheus_query": 'shop_watchdog_incidents_open{severity="critical"} > 0',
    }
    return (
        guard.policy({**ALWAYS_OPEN, "incident_gate": am}),
        guard.policy({**ALWAYS_OPEN, "incident_gate": am | prometheus}),
    )


def test_a_broken_server_pages_once_through_alertmanager_and_closes_the_gate_for_the_fleet(
    fleet: Fleet, tmp_path: Path
) -> None:
    guard = GuardRunner(tmp_path)
    am_only, both = gate_policies(guard, fleet)
    assert guard.run("check", policy=am_only).code == 0, "only a warning is open before the break"
    assert guard.run("check", policy=both).code == 0

    server = fleet.server(BROKEN)
    server.nginx.broken_config()
    server.nginx.kill()  # the daemon's restart of nginx fails now: it pages
    firing = {"alertname": "ShopWatchdogCheckFailed", "host": BROKEN, "check": "web", "severity": "critical"}
    try:
        [notice] = wait_until(
            lambda: [r for r in fleet.hook.requests if about(r, "firing", **firing)], 30, "Alertmanager's notification"
        )
        [incident] = server.daemon.incidents("web")
        [alert] = [a for a in notice.body["alerts"] if a["labels"]["host"] == BROKEN]
        assert alert["labels"]["incident"] == incident["id"]
        assert alert["generatorURL"] == f"{server.daemon.base_url}/api/v1/incidents/{incident['id']}"
        time.sleep(3.0)  # the second node's peer timeout (2 s) passes: it saw the first one notify
        assert len([r for r in fleet.hook.requests if about(r, "firing", **firing)]) == 1

        blocked = guard.run("check", "--json", policy=am_only)
        assert blocked.code == 1
        [reason] = blocked.json()["reasons"]
        assert reason["code"] == "incident_open" and f"host={BROKEN}" in reason["message"]
        wait_until(lambda: guard.run("check", policy=both).code == 1, 15, "the gate to block through both sources")
        sources = {s["source"]: s for s in guard.audit_records()[-1]["incident_gate"]}
        assert sources["prometheus"]["alerts"] and sources["alertmanager"]["alerts"]

        first, second = fleet.alertmanagers.nodes
        first.stop()
        one_left = guard.run("check", "--json", policy=am_only)
        assert one_left.code == 1 and [r["code"] for r in one_left.json()["reasons"]] == ["incident_open"]
        second.stop()
        none_left = guard.run("check", "--json", policy=am_only)
        assert none_left.code in (1, 2)
        assert [r["code"] for r in none_left.json()["reasons"]] == ["incident_status_unreachable"]
        assert guard.run("check", policy=both).code == 1, "Prometheus still answers for the fleet"
    finally:
        for node in fleet.alertmanagers.nodes:
            if not node.running:
                node.start()
        server.nginx.fix_config()
        server.nginx.start()
    wait_until(lambda: not server.daemon.incidents("web"), 30, "the incident to resolve")
    wait_until(
        lambda: [r for r in fleet.hook.requests if about(r, "resolved", **firing)], 30, "Alertmanager's resolved notice"
    )
    wait_until(lambda: guard.run("check", policy=am_only).code == 0, 30, "the gate to open again")
