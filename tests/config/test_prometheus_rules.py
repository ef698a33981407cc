"""The shipped Prometheus rules pass `promtool check rules`, and `promtool test rules` shows each one working."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

RULES_DIR = Path(__file__).resolve().parents[2] / "config" / "prometheus"
RULE_FILES = sorted(p for p in RULES_DIR.glob("*.yml") if not p.name.endswith("_test.yml"))


def promtool(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["promtool", *args], capture_output=True, text=True, timeout=120)


def test_there_are_rules_to_ship() -> None:
    assert [p.name for p in RULE_FILES] == ["shop_watchdog.yml"]


@pytest.mark.parametrize("rules", RULE_FILES, ids=lambda p: p.name)
def test_rules_pass_promtool_check(rules: Path) -> None:
    result = promtool("check", "rules", str(rules))
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize("rules", RULE_FILES, ids=lambda p: p.name)
def test_rules_pass_their_unit_tests(rules: Path) -> None:
    tests = rules.with_name(rules.stem + "_test.yml")
    assert tests.exists(), f"{rules.name} needs its unit tests in {tests.name}"
    result = promtool("test", "rules", str(tests))
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize("rules", RULE_FILES, ids=lambda p: p.name)
def test_every_rule_has_a_unit_test_that_shows_it_working(rules: Path) -> None:
    """Each alert fires in some test case and each recording rule is evaluated in one."""
    groups = yaml.safe_load(rules.read_text())["groups"]
    alerts = {r["alert"] for g in groups for r in g["rules"] if "alert" in r}
    records = {r["record"] for g in groups for r in g["rules"] if "record" in r}
    cases: list[dict[str, Any]] = yaml.safe_load(rules.with_name(rules.stem + "_test.yml").read_text())["tests"]
    fired = {t["alertname"] for c in cases for t in c.get("alert_rule_test", []) if t.get("exp_alerts")}
    quiet = {t["alertname"] for c in cases for t in c.get("alert_rule_test", []) if not t.get("exp_alerts")}
    evaluated = {t["expr"] for c in cases for t in c.get("promql_expr_test", [])}
    assert alerts - fired == set(), "alerts no test sees firing"
    assert alerts - quiet == set(), "alerts no test sees staying quiet"
    assert records - evaluated == set(), "recording rules no test evaluates"
