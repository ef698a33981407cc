"""The polkit rule's text and its installation (polkitd's real verdict: tests/systemd/)."""

from __future__ import annotations

import json
import os
import re
import stat
from pathlib import Path

import pytest

from watchdog.service.polkit import install_polkit_rule, render_polkit_rule


def _js_list(rule: str, name: str) -> list[str]:
    match = re.search(rf"var {name} = (\[.*?\]);", rule)
    assert match, rule
    return list(json.loads(match.group(1)))


def test_rule_allows_only_the_named_units_and_restart_for_the_daemon_user() -> None:
    rule = render_polkit_rule("shop-watchdog", ["nginx.service", "mariadb.service", "nginx.service"])

    assert _js_list(rule, "units") == ["mariadb.service", "nginx.service"]
    assert _js_list(rule, "verbs") == ["restart"]
    assert 'action.id !== "org.freedesktop.systemd1.manage-units"' in rule
    assert 'subject.user !== "shop-watchdog"' in rule
    assert rule.count("polkit.Result.YES") == 1
    assert "AUTH" not in rule and "Result.NO;" not in rule  # other requests fall through to the defaults


def test_extra_verbs_can_be_granted_explicitly() -> None:
    rule = render_polkit_rule("shop-watchdog", ["nginx.service"], verbs=["start", "restart"])

    assert _js_list(rule, "verbs") == ["restart", "start"]


def test_no_units_renders_a_rule_that_grants_nothing() -> None:
    assert _js_list(render_polkit_rule("shop-watchdog", []), "units") == []


@pytest.mark.parametrize(
    "unit",
    ['nginx.service"]; polkit.Result.YES; //', "nginx", "../x.service", "nginx.service\n", "*.service", ""],
)
def test_names_that_could_inject_or_widen_the_rule_are_refused(unit: str) -> None:
    with pytest.raises(ValueError, match="not systemd unit names"):
        render_polkit_rule("shop-watchdog", ["redis-server.service", unit])


@pytest.mark.parametrize("user", ["root; x", "Shop", "", "a" * 33, '"'])
def test_invalid_user_names_are_refused(user: str) -> None:
    with pytest.raises(ValueError, match="not a valid system user name"):
        render_polkit_rule(user, ["nginx.service"])


@pytest.mark.parametrize("verbs", [[], ["restart", "kill"], ["*"]])
def test_unknown_or_missing_verbs_are_refused(verbs: list[str]) -> None:
    with pytest.raises(ValueError, match="verbs must be"):
        render_polkit_rule("shop-watchdog", ["nginx.service"], verbs=verbs)


def test_install_writes_a_world_readable_rule_and_leaves_no_temp_files(tmp_path: Path) -> None:
    path = tmp_path / "50-shop-watchdog.rules"
    old_umask = os.umask(0o077)
    try:
        assert install_polkit_rule("shop-watchdog", ["nginx.service"], str(path)) is True
    finally:
        os.umask(old_umask)

    assert path.read_text() == render_polkit_rule("shop-watchdog", ["nginx.service"])
    assert stat.S_IMODE(path.stat().st_mode) == 0o644  # polkitd reads it as its own user
    assert os.listdir(tmp_path) == ["50-shop-watchdog.rules"]


def test_install_is_idempotent_and_replaces_a_changed_rule(tmp_path: Path) -> None:
    path = str(tmp_path / "50-shop-watchdog.rules")
    install_polkit_rule("shop-watchdog", ["nginx.service"], path)
    inode = os.stat(path).st_ino

    assert install_polkit_rule("shop-watchdog", ["nginx.service"], path) is False
    assert os.stat(path).st_ino == inode

    assert install_polkit_rule("shop-watchdog", ["nginx.service", "redis-server.service"], path) is True
    assert _js_list(Path(path).read_text(), "units") == ["nginx.service", "redis-server.service"]


def test_a_refused_rule_leaves_the_installed_one_untouched(tmp_path: Path) -> None:
    path = tmp_path / "50-shop-watchdog.rules"
    install_polkit_rule("shop-watchdog", ["nginx.service"], str(path))
    before = path.read_text()

    with pytest.raises(ValueError):
        install_polkit_rule("shop-watchdog", ["bad name"], str(path))

    assert path.read_text() == before
    assert os.listdir(tmp_path) == ["50-shop-watchdog.rules"]
