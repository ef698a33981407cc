"""system against this machine's real load, memory and swap, with levels placed around them."""

from __future__ import annotations

import os

import psutil

from checks.base import Status
from tests.checks.building import config_problems, make_check


def test_generous_levels_are_ok_and_measure_the_machine() -> None:
    result = make_check(
        "system", load_warn=1000, load_crit=2000, memory_warn="100%", memory_crit="100%", swap_warn="100%"
    ).run(timeout=2)
    assert result.status is Status.OK, result.message
    expected_load = os.getloadavg()[1] / (os.cpu_count() or 1)
    assert abs(result.measurements["load_per_core"] - expected_load) < 0.5
    memory = psutil.virtual_memory()
    assert abs(result.measurements["memory_used_ratio"] - (memory.total - memory.available) / memory.total) < 0.05
    assert "load" in result.message and "memory" in result.message


def test_memory_above_level_is_critical_naming_the_level() -> None:
    result = make_check("system", load_warn=None, load_crit=None, memory_warn="0%", memory_crit="1%").run(timeout=2)
    used_pct = 100 * result.measurements["memory_used_ratio"]
    assert used_pct >= 1
    assert result.status is Status.CRITICAL
    assert "crit 1%" in result.message and "load" not in result.message


def test_load_above_warn_only_warns() -> None:
    result = make_check("system", load_warn=0, load_crit=None, memory_warn=None, memory_crit=None, swap_warn=None).run(
        timeout=2
    )
    assert result.status is Status.WARNING
    assert result.message.startswith("load ") and "warn 0" in result.message


def test_config_rejects_inverted_levels() -> None:
    assert "load: warn (5) must not be above crit (2)" in config_problems("system", load_warn=5, load_crit=2)
    assert "must not be negative" in config_problems("system", load_warn=-1)
