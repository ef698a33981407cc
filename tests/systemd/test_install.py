"""The documented install path (scripts/install) on a real Debian with systemd as PID 1."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import yaml

from tests.systemd.container import Container
from tests.systemd.service import CONFIG, UNIT, daemon_config

pytestmark = pytest.mark.systemd

RULE = "/etc/polkit-1/rules.d/50-shop-watchdog.rules"
ENV_FILE = "/etc/shop-watchdog/env"
REPO = Path(__file__).resolve().parents[2]


def _stat(box: Container, path: str) -> str:
    return box.run("stat", "-c", "%U:%G %a", path).stdout.strip()


def test_install_creates_user_venv_config_unit_and_polkit_rule(installed: Container) -> None:
    user = installed.run("getent", "passwd", "shop-watchdog").stdout.strip().split(":")
    assert int(user[2]) < 1000  # a system user
    assert user[5:] == ["/var/lib/shop-watchdog", "/usr/sbin/nologin"]

    version = installed.run("/opt/shop-watchdog/bin/shop-watchdog", "--version").stdout
    assert version.startswith("shop-watchdog ")

    assert _stat(installed, "/etc/shop-watchdog") == "root:shop-watchdog 750"
    assert _stat(installed, "/etc/shop-watchdog/deploy-guard.yaml") == "root:shop-watchdog 640"
    assert installed.read_file("/etc/shop-watchdog/deploy-guard.yaml") == installed.read_file(
        "/src/config/deploy-guard.yaml"
    )
    assert installed.read_file(CONFIG) == daemon_config()  # the admin's config, kept

    assert installed.read_file(f"/etc/systemd/system/{UNIT}") == installed.read_file(f"/src/systemd/{UNIT}")
    assert installed.systemctl("is-enabled", UNIT).stdout.strip() == "enabled"

    rule = installed.read_file(RULE)
    assert re.search(r'var units = \["nginx.service"\];', rule), rule


def test_unit_passes_systemd_analyze_verify_without_warnings(installed: Container) -> None:
    result = installed.run("systemd-analyze", "verify", f"/etc/systemd/system/{UNIT}", check=False)

    assert (result.returncode, result.stderr) == (0, "")


def test_sandbox_exposure_stays_low(installed: Container) -> None:
    out = installed.run("systemd-analyze", "security", "--no-pager", UNIT, check=False).stdout
    match = re.search(r"Overall exposure level for \S+: (\d+\.\d+) (\S+)", out)
    assert match, out

    assert float(match.group(1)) <= 2.0, out


def test_reinstall_changes_nothing_it_should_keep(installed: Container) -> None:
    guard = "/etc/shop-watchdog/deploy-guard.yaml"
    installed.run("sed", "-i", "1i # edited by the admin", guard)
    uid_before = installed.run("id", "-u", "shop-watchdog").stdout
    rule_before = installed.read_file(RULE)

    try:
        out = installed.run("/src/scripts/install", "--wheels", "/wheels", "--no-start", timeout=300).stdout

        assert f"keeping existing {guard}" in out
        assert installed.read_file(guard).startswith("# edited by the admin\n")
    finally:
        installed.run("sed", "-i", "1d", guard)
    assert installed.read_file(CONFIG) == daemon_config()
    assert installed.run("id", "-u", "shop-watchdog").stdout == uid_before
    assert installed.read_file(RULE) == rule_before
    assert installed.systemctl("is-active", UNIT, check=False).stdout.strip() == "inactive"  # --no-start


def _example_secrets() -> tuple[list[str], list[str], list[str]]:
    """Secret files, secret environment variables and restartable units of config/watchdog.yaml."""
    example = yaml.safe_load((REPO / "config" / "watchdog.yaml").read_text())
    files: list[str] = []
    env: list[str] = []
    for item in [*example.get("checks", []), *example.get("notify", {}).get("channels", [])]:
        files += [v for k, v in item.items() if k.endswith("_file") and k != "ca_file"]
        env += [v for k, v in item.items() if k.endswith("_env")]
    units = sorted({c["remediate"]["restart"] for c in example["checks"] if "restart" in c.get("remediate", {})})
    return sorted(set(files)), sorted(set(env)), units


def _secret_for(path: str) -> str:
    """What the admin puts in a secret file: a password, or for the apprise channel a URL."""
    return "ntfys://tk_s3cret@ntfy.example.com/shop-alerts\n" if path.endswith(".urls") else "s3cret\n"


def test_fresh_install_with_the_example_config_stops_until_its_secrets_are_usable(installed: Container) -> None:
    install = ("/src/scripts/install", "--wheels", "/wheels", "--no-start")
    secret_files, secret_env, units = _example_secrets()
    assert secret_files, "config/watchdog.yaml is expected to show a password_file"
    admin_config = installed.read_file(CONFIG)
    installed.run("rm", CONFIG)
    try:
        first = installed.run(*install, check=False, timeout=300)

        assert first.returncode == 1
        for path in secret_files:
            assert f"cannot read {path}: No such file or directory" in first.stderr
        assert "fix it and run scripts/install again" in first.stderr
        assert installed.read_file(CONFIG) == installed.read_file("/src/config/watchdog.yaml")

        # The admin adds the secrets, but the files only root can read at first.
        for path in secret_files:
            installed.write_file(path, _secret_for(path), 0o600)
        installed.write_file(ENV_FILE, "".join(f"{name}=x\n" for name in secret_env), 0o600)
        second = installed.run(*install, check=False, timeout=300)

        assert second.returncode == 1
        for path in secret_files:
            assert f"cannot read {path}: Permission denied" in second.stderr
        for name in secret_env:
            assert name not in second.stderr  # the unit's EnvironmentFile reached the check

        installed.run("chgrp", "shop-watchdog", *secret_files)
        installed.run("chmod", "640", *secret_files)
        installed.run(*install, timeout=300)

        granted = re.search(r"var units = (\[.*\]);", installed.read_file(RULE))
        assert granted and json.loads(granted.group(1)) == units
    finally:
        installed.run("rm", "-f", *secret_files, ENV_FILE)
        installed.write_file(CONFIG, admin_config, 0o644)
        installed.run("/opt/shop-watchdog/bin/shop-watchdog", "install-polkit", "-c", CONFIG)
