"""disk against real size- and inode-limited tmpfs mounts."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from checks.base import Status
from tests.checks.building import config_problems, make_check
from tests.servers.tmpfs import exhaust_inodes, fill_to

MakeTmpfs = Callable[..., Path]


def test_nearly_empty_disk_is_ok(make_tmpfs: MakeTmpfs) -> None:
    mount = make_tmpfs("8m")
    fill_to(mount, 0.3)
    result = make_check("disk", path=str(mount)).run(timeout=5)
    assert result.status is Status.OK, result.message
    assert 0.25 < result.measurements["used_ratio"] < 0.35
    assert result.measurements["size_bytes"] == 8 * 1024 * 1024


def test_disk_over_warn_level_warns_with_measured_and_threshold(make_tmpfs: MakeTmpfs) -> None:
    mount = make_tmpfs("8m")
    fill_to(mount, 0.85)
    result = make_check("disk", path=str(mount), warn="80%", crit="90%").run(timeout=5)
    assert result.status is Status.WARNING, result.message
    assert "85" in result.message and "warn 80%" in result.message


def test_full_disk_is_critical(make_tmpfs: MakeTmpfs) -> None:
    mount = make_tmpfs("8m")
    fill_to(mount, 1.0)
    result = make_check("disk", path=str(mount)).run(timeout=5)
    assert result.status is Status.CRITICAL, result.message
    assert result.measurements["available_bytes"] == 0
    assert "100.0% used" in result.message and "crit 90%" in result.message


def test_inode_exhaustion_is_critical_while_space_is_free(make_tmpfs: MakeTmpfs) -> None:
    mount = make_tmpfs("8m", nr_inodes=64)
    exhaust_inodes(mount)
    result = make_check("disk", path=str(mount)).run(timeout=5)
    assert result.status is Status.CRITICAL, result.message
    assert result.measurements["used_ratio"] < 0.1
    assert result.measurements["inodes_used_ratio"] == 1.0
    assert "inodes 100.0% used" in result.message


def test_inode_warning_level_is_separate_from_space(make_tmpfs: MakeTmpfs) -> None:
    mount = make_tmpfs("8m", nr_inodes=100)
    for i in range(85):
        (mount / f"f{i}").touch()
    result = make_check("disk", path=str(mount), inodes_warn="80%", inodes_crit="95%").run(timeout=5)
    assert result.status is Status.WARNING, result.message
    assert "inodes" in result.message and "warn 80%" in result.message


def test_missing_path_is_critical(tmp_path: Path) -> None:
    result = make_check("disk", path=str(tmp_path / "gone")).run(timeout=5)
    assert result.status is Status.CRITICAL
    assert "no such file" in result.message


def test_config_rejects_warn_above_crit_and_relative_path() -> None:
    assert "warn (95) must not be above crit (90)" in config_problems("disk", path="/", warn="95%", crit="90%")
    assert "absolute path" in config_problems("disk", path="var")
    assert "expected a percentage" in config_problems("disk", path="/", warn="lots")
