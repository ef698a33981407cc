"""The fleet gate against a real two-node Alertmanager cluster and a real Prometheus on loopback."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import requests

from deploy_guard.alert_matchers import Matcher, parse_matcher
from deploy_guard.fleet_gate import check_fleet, check_gate
from deploy_guard.incident_gate import http_get
from deploy_guard.policy import IncidentGateConfig
from tests.deploy_guard.conftest import ALWAYS_OPEN, GuardRunner
from tests.servers.alertmanager import AlertmanagerCluster
from tests.servers.hanging import HangingTCPServer
from tests.servers.prometheus import PrometheusServer
from tests.servers.status_server import StatusServer, closed_port_url
from tests.servers.webhook import WebhookServer

CRITICAL = {"alertname": "ShopWatchdogCheckFailed", "severity": "critical", "host": "shop-web-2", "check": "web"}
WARNING = {"alertname": "ShopWatchdogCheckFailed", "severity": "warning", "host": "shop-web-3", "check": "disk"}


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[AlertmanagerCluster]:
    hook = WebhookServer().start()
    try:
        with AlertmanagerCluster(tmp_path / "am", hook.url) as am:
            yield am
    finally:
        hook.close()


@pytest.fixture(scope="module")
def prometheus(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PrometheusServer]:
    with PrometheusServer(tmp_path_factory.mktemp("prometheus"), rule_files=()) as server:
        yield server


def fire(node_url: str, labels: dict[str, str], summary: str = "web: connection refused") -> None:
    """Posts a firing alert to one Alertmanager node, as a sender would."""
    now = datetime.now(UTC)
    alert = {
        "labels": labels,
        "annotations": {"summary": summary},
        "startsAt": (now - timedelta(minutes=1)).isoformat(),
        "endsAt": (now + timedelta(minutes=5)).isoformat(),
    }
    requests.post(f"{node_url}/api/v2/alerts", json=[alert], timeout=5).raise_for_status()


def silence(node_url: str, **labels: str) -> None:
    now = datetime.now(UTC)
    body = {
        "matchers": [{"name": k, "value": v, "isRegex": False, "isEqual": True} for k, v in labels.items()],
        "startsAt": now.isoformat(),
        "endsAt": (now + timedelta(hours=1)).isoformat(),
        "createdBy": "test",
        "comment": "planned work",
    }
    requests.post(f"{node_url}/api/v2/silences", json=body, timeout=5).raise_for_status()


def fleet(**options: Any) -> IncidentGateConfig:
    return IncidentGateConfig(**{"timeout": 2.0, **options})


def codes(config: IncidentGateConfig) -> list[str]:
    return [r.code for r in check_fleet(config, http_get).reasons]


def test_a_critical_alert_on_any_node_blocks_and_a_warning_does_not(cluster: AlertmanagerCluster) -> None:
    config = fleet(alertmanager_urls=tuple(cluster.urls))
    assert codes(config) == []
    fire(cluster.urls[1], WARNING)
    assert codes(config) == []
    fire(cluster.urls[1], CRITICAL)  # only the second node has it: a sender missed the first
    result = check_fleet(config, http_get)
    [reason] = result.reasons
    assert reason.code == "incident_open"
    assert 'matching severity="critical"' in reason.message
    assert "host=shop-web-2" in reason.message and "web: connection refused" in reason.message
    assert "shop-web-3" not in reason.message
    [answer] = result.sources
    assert answer.as_json()["answered_by"] == cluster.urls


def test_matchers_choose_which_alerts_block(cluster: AlertmanagerCluster) -> None:
    fire(cluster.urls[0], WARNING)
    urls = tuple(cluster.urls)
    assert codes(fleet(alertmanager_urls=urls, alertmanager_matchers=('severity=~"warning|critical"',))) == [
        "incident_open"
    ]
    assert codes(fleet(alertmanager_urls=urls, alertmanager_matchers=("severity=warning", 'host!="shop-web-3"'))) == []
    assert codes(fleet(alertmanager_urls=urls, alertmanager_matchers=())) == ["incident_open"]


def test_a_silenced_alert_does_not_block(cluster: AlertmanagerCluster) -> None:
    fire(cluster.urls[0], CRITICAL)
    fire(cluster.urls[1], CRITICAL)
    config = fleet(alertmanager_urls=tuple(cluster.urls))
    assert codes(config) == ["incident_open"]
    silence(cluster.urls[0], host="shop-web-2")  # gossiped to the other node
    deadline = time.monotonic() + 10
    while codes(config) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert codes(config) == []


def test_one_node_down_still_answers_both_down_fails_closed(cluster: AlertmanagerCluster) -> None:
    fire(cluster.urls[0], CRITICAL)
    config = fleet(alertmanager_urls=tuple(cluster.urls))
    cluster.nodes[1].stop()
    result = check_fleet(config, http_get)
    assert [r.code for r in result.reasons] == ["incident_open"]
    [note] = result.notes
    assert cluster.urls[1] in note and "Connection refused" in note
    cluster.nodes[0].stop()
    [reason] = check_fleet(config, http_get).reasons
    assert reason.code == "incident_status_unreachable"
    assert cluster.urls[0] in reason.message and cluster.urls[1] in reason.message
    allowing = check_fleet(fleet(alertmanager_urls=tuple(cluster.urls), on_unreachable="allow"), http_get)
    assert allowing.reasons == () and "no fleet source answered" in allowing.notes[0]


def test_a_hung_node_costs_the_timeout_not_the_answer(
    cluster: AlertmanagerCluster, hanging_tcp: HangingTCPServer
) -> None:
    fire(cluster.urls[0], CRITICAL)
    started = time.monotonic()
    result = check_fleet(fleet(alertmanager_urls=(hanging_tcp.url, cluster.urls[0]), timeout=1.0), http_get)
    assert time.monotonic() - started < 2.5
    assert [r.code for r in result.reasons] == ["incident_open"]
    [note] = result.notes
    assert hanging_tcp.url in note and ("no answer within 1s" in note or "timed out" in note)


def test_prometheus_blocks_while_the_query_returns_series(prometheus: PrometheusServer) -> None:
    assert codes(fleet(prometheus_url=prometheus.url, prometheus_query="vector(1) == 0")) == []
    query = 'label_replace(vector(1), "host", "shop-web-9", "", "")'
    result = check_fleet(fleet(prometheus_url=prometheus.url, prometheus_query=query), http_get)
    [reason] = result.reasons
    assert reason.code == "incident_open" and "host=shop-web-9" in reason.message


@pytest.mark.parametrize(
    "query, error",
    [
        ("scalar(vector(1))", "returns a scalar, not series"),
        ("sum(", "Prometheus rejected incident_gate.prometheus_query"),
    ],
)
def test_a_query_that_cannot_say_counts_as_no_answer(prometheus: PrometheusServer, query: str, error: str) -> None:
    [reason] = check_fleet(fleet(prometheus_url=prometheus.url, prometheus_query=query), http_get).reasons
    assert reason.code == "incident_status_unreachable" and error in reason.message


def test_sources_combine_one_answering_is_enough_any_blocking_blocks(
    cluster: AlertmanagerCluster, prometheus: PrometheusServer
) -> None:
    down = closed_port_url("")
    quiet = "vector(1) == 0"
    both = fleet(alertmanager_urls=(down,), prometheus_url=prometheus.url, prometheus_query=quiet)
    result = check_fleet(both, http_get)
    assert result.reasons == () and down in result.notes[0]
    fire(cluster.urls[0], CRITICAL)
    burning = fleet(alertmanager_urls=tuple(cluster.urls), prometheus_url=down, prometheus_query=quiet)
    result = check_fleet(burning, http_get)
    assert [r.code for r in result.reasons] == ["incident_open"] and down in result.notes[0]
    nobody = fleet(alertmanager_urls=(down,), prometheus_url=closed_port_url(""), prometheus_query=quiet)
    assert codes(nobody) == ["incident_status_unreachable"]


def test_status_urls_keep_their_per_server_rule_beside_the_fleet(
    cluster: AlertmanagerCluster, status_server: StatusServer
) -> None:
    config = fleet(status_urls=(closed_port_url(),), alertmanager_urls=tuple(cluster.urls))
    assert [r.code for r in check_gate(config, http_get).reasons] == ["incident_status_unreachable"]
    config = fleet(status_urls=(status_server.incidents("/api/v1/status"),), alertmanager_urls=tuple(cluster.urls))
    assert check_gate(config, http_get).reasons == ()
    fire(cluster.urls[1], CRITICAL)
    assert [r.code for r in check_gate(config, http_get).reasons] == ["incident_open"]


def test_cli_blocks_for_the_fleet_and_logs_the_sources(guard: GuardRunner, cluster: AlertmanagerCluster) -> None:
    policy = guard.policy({**ALWAYS_OPEN, "incident_gate": {"alertmanager_urls": cluster.urls}})
    assert guard.run("check", policy=policy).code == 0
    fire(cluster.urls[0], CRITICAL)
    result = guard.run("check", "--json", policy=policy)
    assert result.code == 1
    assert [r["code"] for r in result.json()["reasons"]] == ["incident_open"]
    [source] = guard.audit_records()[-1]["incident_gate"]
    assert source["source"] == "alertmanager" and source["answered_by"] == cluster.urls
    assert source["alerts"][0]["host"] == "shop-web-2"
    for node in cluster.nodes:
        node.stop()
    result = guard.run("check", policy=policy)
    assert result.code == 1 and "no fleet source answered" in result.out


@pytest.mark.parametrize(
    "gate, problem",
    [
        ({"block_on": "critical"}, "incident_gate: give at least one source: status_urls, alertmanager_urls or"),
        ({"alertmanager_urls": ["am-1:9093"]}, "incident_gate.alertmanager_urls[0]: expected an http:// or https://"),
        (
            {"alertmanager_urls": ["http://127.0.0.1:9093"], "alertmanager_matchers": ['severity="critical', "sev"]},
            "incident_gate.alertmanager_matchers[0]: the value in 'severity=\"critical' opens a double quote",
        ),
        (
            {"alertmanager_urls": ["http://127.0.0.1:9093"], "alertmanager_matchers": ['{severity="critical"}']},
            "incident_gate.alertmanager_matchers[0]: one matcher per list entry",
        ),
        ({"prometheus_url": "http://127.0.0.1:9090"}, "incident_gate.prometheus_query: prometheus_url and prometheus"),
        ({"prometheus_query": "up == 0"}, "incident_gate.prometheus_url: prometheus_url and prometheus_query go"),
        (
            {"prometheus_url": "http://127.0.0.1:9090", "prometheus_query": " "},
            "incident_gate.prometheus_query: expected",
        ),
        ({"alertmanager_url": "http://127.0.0.1:9093"}, "incident_gate.alertmanager_url: unknown key"),
    ],
)
def test_bad_fleet_sources_are_exit_2_naming_the_key(guard: GuardRunner, gate: dict[str, Any], problem: str) -> None:
    result = guard.run("validate", policy=guard.policy({**ALWAYS_OPEN, "incident_gate": gate}))
    assert result.code == 2, result
    assert problem in result.err, result.err


def test_validate_summarises_the_fleet_sources(guard: GuardRunner) -> None:
    gate = {
        "alertmanager_urls": ["http://127.0.0.1:9093", "http://127.0.0.1:9095"],
        "prometheus_url": "http://127.0.0.1:9090",
        "prometheus_query": 'ALERTS{severity="critical"}',
    }
    result = guard.run("validate", policy=guard.policy({**ALWAYS_OPEN, "incident_gate": gate}))
    assert result.code == 0, result
    assert (
        'incident gate 0 URL(s), Alertmanager 2 node(s) matching severity="critical", '
        "Prometheus query 'ALERTS{severity=\"critical\"}', block_on critical" in result.out
    )


@pytest.mark.parametrize(
    "text, matcher",
    [
        ('severity="critical"', Matcher("severity", "=", "critical")),
        ("severity = critical", Matcher("severity", "=", "critical")),
        ('alertname=~"Shop.*"', Matcher("alertname", "=~", "Shop.*")),
        ('summary!="say \\"hi\\", please"', Matcher("summary", "!=", 'say "hi", please')),
        ('team!~""', Matcher("team", "!~", "")),
    ],
)
def test_matchers_read_as_alertmanager_reads_them(text: str, matcher: Matcher) -> None:
    assert parse_matcher(text) == matcher
