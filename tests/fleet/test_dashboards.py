"""The shipped Grafana dashboards: every panel's query, run against a real Prometheus scraping
real daemons, returns data; and the rules and dashboards use only metrics a daemon exports."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
import requests
import yaml

from tests.fleet.conftest import DATA_HOST, HOSTS
from tests.servers.fleet import Fleet

ROOT = Path(__file__).resolve().parents[2]
DASHBOARDS = sorted((ROOT / "config" / "grafana").glob("*.json"))
RULES = sorted(p for p in (ROOT / "config" / "prometheus").glob("*.yml") if not p.name.endswith("_test.yml"))
# Grafana's built-in variables as a Grafana showing the last hour would fill them in.
BUILT_IN = {"__rate_interval": "1m", "__interval": "15s", "__range": "1h"}
_VARIABLE = re.compile(r"\$(?:\{(\w+)\}|(\w+))")
_OUR_METRIC = re.compile(r"(?<![\w:])(shop_watchdog_\w+)\b(?!:)")


def load(path: Path) -> dict[str, Any]:
    document: dict[str, Any] = json.loads(path.read_text())
    return document


def panels(dashboard: dict[str, Any]) -> list[dict[str, Any]]:
    """Every panel that shows data, also those inside collapsed rows."""
    found: list[dict[str, Any]] = []
    for panel in dashboard["panels"]:
        if panel["type"] == "row":
            found += panel.get("panels", [])
        else:
            found.append(panel)
    return found


def queries() -> list[tuple[str, str, str]]:
    """(dashboard file, panel title + refId, PromQL) of every panel target."""
    return [
        (path.name, f"{panel['title']}/{target['refId']}", target["expr"])
        for path in DASHBOARDS
        for panel in panels(load(path))
        for target in panel["targets"]
    ]


def filled_in(expr: str, variables: dict[str, str]) -> str:
    return _VARIABLE.sub(lambda m: variables[m.group(1) or m.group(2)], expr)


def test_there_are_a_fleet_and_a_server_dashboard() -> None:
    assert [p.name for p in DASHBOARDS] == ["shop-watchdog-fleet.json", "shop-watchdog-server.json"]


@pytest.mark.parametrize("path", DASHBOARDS, ids=lambda p: p.name)
def test_a_dashboard_is_complete_and_portable(path: Path) -> None:
    dashboard = load(path)
    variables = {v["name"]: v for v in dashboard["templating"]["list"]}
    assert variables["datasource"]["type"] == "datasource" and variables["datasource"]["query"] == "prometheus"
    ids = [p["id"] for p in dashboard["panels"]]
    assert len(ids) == len(set(ids)), "panel ids are unique"
    for panel in panels(dashboard):
        assert panel["datasource"] == {"type": "prometheus", "uid": "${datasource}"}, panel["title"]
        assert panel["targets"] and panel["description"], panel["title"]
        for target in panel["targets"]:
            used = {m.group(1) or m.group(2) for m in _VARIABLE.finditer(target["expr"])}
            assert used <= set(variables) | set(BUILT_IN), f"{panel['title']}: unknown variable in {target['expr']}"


@pytest.mark.parametrize("dashboard, panel, expr", queries(), ids=[f"{d}:{p}" for d, p, _ in queries()])
def test_every_panel_query_returns_data(fleet: Fleet, dashboard: str, panel: str, expr: str) -> None:
    series = fleet.prometheus.query(filled_in(expr, BUILT_IN | {"host": DATA_HOST, "datasource": "prometheus"}))
    assert series, f"{dashboard} {panel}: no data for {expr}"


def test_the_server_variable_lists_every_server(fleet: Fleet) -> None:
    [variable] = [v for v in load(DASHBOARDS[1])["templating"]["list"] if v["name"] == "host"]
    selector = re.fullmatch(r"label_values\((.+), host\)", variable["query"]["query"])
    assert selector is not None
    answer = requests.get(
        f"{fleet.prometheus.url}/api/v1/label/host/values", params={"match[]": selector.group(1)}, timeout=10
    )
    assert answer.json()["data"] == sorted(HOSTS)


def exported_families(metrics_text: str) -> set[str]:
    """Every sample name a daemon's /metrics can carry (histograms with their _bucket/_sum/_count)."""
    names: set[str] = set()
    for kind_line in re.findall(r"^# TYPE (\S+) (\S+)$", metrics_text, re.M):
        name, kind = kind_line
        names.add(name)
        if kind == "histogram":
            names |= {f"{name}_bucket", f"{name}_sum", f"{name}_count"}
    return names


def test_rules_and_dashboards_use_only_metrics_the_daemon_exports(fleet: Fleet) -> None:
    exported = exported_families(fleet.server(DATA_HOST).daemon.metrics())
    texts = [path.read_text() for path in DASHBOARDS]
    for path in RULES:
        texts += [rule["expr"] for group in yaml.safe_load(path.read_text())["groups"] for rule in group["rules"]]
    used = {name for text in texts for name in _OUR_METRIC.findall(text)}
    assert used, "the pattern finds the metric names"
    assert used - exported == set()
