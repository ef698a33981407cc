"""The release gate installs alone: `pip install shop-watchdog` (no extra) is what a CI job
needs for deploy-guard, and it brings no daemon library and no database driver."""

from __future__ import annotations

import json
from pathlib import Path

import yaml

from tests.servers.installs import Install
from tests.servers.status_server import StatusServer
from watchdog.common.extras import OPTIONAL_MODULES

REPO = Path(__file__).resolve().parents[2]


def test_the_base_install_has_no_daemon_library_and_no_database_driver(base_install: Install) -> None:
    assert base_install.importable("deploy_guard") and base_install.importable("yaml")
    assert [m for m in OPTIONAL_MODULES if base_install.importable(m)] == []


def test_deploy_guard_decides_and_validates_in_the_base_install(
    base_install: Install, status_server: StatusServer, tmp_path: Path
) -> None:
    policy = yaml.safe_load((REPO / "config" / "deploy-guard.yaml").read_text())
    policy["audit_log"] = str(tmp_path / "audit.jsonl")
    policy["incident_gate"]["status_urls"] = [status_server.incidents("/api/v1/status")]
    path = tmp_path / "deploy-guard.yaml"
    path.write_text(yaml.safe_dump(policy))
    env = {"DEPLOY_GUARD_CONFIG": str(path)}

    validate = base_install.run("deploy-guard", "validate", env=env)
    assert validate.returncode == 0, validate.stderr

    tuesday = base_install.run("deploy-guard", "check", "--at", "2026-03-03T09:00", "--json", env=env)
    assert tuesday.returncode == 0, tuesday.stderr
    assert json.loads(tuesday.stdout)["allowed"] is True
    assert status_server.requests, "the incident gate asked the status URL"

    friday = base_install.run("deploy-guard", "check", "--at", "2026-03-06T09:00", "--json", env=env)
    assert friday.returncode == 1, friday.stderr
    assert json.loads(friday.stdout)["allowed"] is False


def test_shop_watchdog_without_the_daemon_extra_says_which_extra_in_one_line(
    base_install: Install, tmp_path: Path
) -> None:
    config = tmp_path / "watchdog.yaml"
    config.write_text(f"state_dir: {tmp_path / 'state'}\nchecks:\n  - {{name: root, type: disk, path: /}}\n")
    for argv in (["run", "-c", str(config)], ["check-config", "-c", str(config)], ["--version"]):
        result = base_install.run("shop-watchdog", *argv)
        assert result.returncode == 2, argv
        assert result.stdout == ""
        assert result.stderr.count("\n") == 1 and "Traceback" not in result.stderr
        assert "pip install 'shop-watchdog[daemon]'" in result.stderr
    assert not (tmp_path / "state").exists()
