"""`post_deploy:` and a check's `rollback_hint`: validated with their YAML path, exit 2 from check-config."""

from __future__ import annotations

from pathlib import Path

import yaml

from checks.registry import CHECKS
from tests.watchdog.config.test_loader import check_config, problems_of
from watchdog.config.loader import parse_config
from watchdog.delivery.channels.registry import CHANNELS

DISK = {"name": "root", "type": "disk", "path": "/"}


def test_post_deploy_and_rollback_hint_are_read() -> None:
    node = {
        "checks": [DISK | {"rollback_hint": "apt-get install nginx=1.24.0-1"}],
        "post_deploy": {"watch_for": "30m", "interval": "5s", "checks": ["root"]},
    }
    config = parse_config(node, "t.yaml", checks=CHECKS, channels=CHANNELS)
    assert config.post_deploy is not None
    assert (config.post_deploy.watch_for, config.post_deploy.interval, config.post_deploy.checks) == (
        1800.0,
        5.0,
        ("root",),
    )
    assert config.checks[0].rollback_hint == "apt-get install nginx=1.24.0-1"


def test_every_post_deploy_problem_is_named_with_its_path() -> None:
    problems = problems_of(
        {
            "checks": [DISK | {"rollback_hint": "line one\nline two"}, DISK | {"name": "b", "rollback_hint": ""}],
            "post_deploy": {"watch_for": "0s", "interval": "a while", "checks": ["root", "web"]},
        }
    )
    assert "checks[0].rollback_hint: must be one line of printable text (no control characters)" in problems
    assert "checks[1].rollback_hint: expected a non-empty text" in problems
    assert any(p.startswith("post_deploy.watch_for: ") for p in problems), problems
    assert any(p.startswith("post_deploy.interval: expected a duration") for p in problems), problems
    assert "post_deploy.checks[1]: no check named 'web' (checks: b, root)" in problems


def test_post_deploy_needs_checks_and_knows_only_its_keys() -> None:
    assert problems_of({"post_deploy": {}}) == ["post_deploy.checks: required key is missing"]
    assert problems_of({"post_deploy": {"checks": []}}) == [
        "post_deploy: checks: name at least one configured check to watch after a release"
    ]
    problems = problems_of({"checks": [DISK], "post_deploy": {"checks": ["root"], "watch": "30m"}})
    assert any(p.startswith("post_deploy.watch: unknown key") for p in problems), problems


def test_check_config_exits_2_naming_file_and_key(tmp_path: Path) -> None:
    path = tmp_path / "watchdog.yaml"
    path.write_text(yaml.safe_dump({"checks": [DISK], "post_deploy": {"checks": ["nope"]}}))
    result = check_config(path)
    assert result.returncode == 2
    assert f"{path}: post_deploy.checks[0]: no check named 'nope'" in result.stderr
    assert "Traceback" not in result.stderr
