"""Probe and channel classes are imported only for the types a config uses.

Each case runs in a fresh interpreter: the test process itself has every driver loaded.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from checks.base import Check
from watchdog.common.lazy_registry import LazyRegistry

ROOT = Path(__file__).resolve().parents[3]
DRIVERS = ("psycopg", "pymysql", "hiredis", "requests", "urllib3")


def _loaded_after(config: Path) -> set[str]:
    """The modules a fresh interpreter holds after parsing `config` and building its checks."""
    script = (
        "import json, sys\n"
        "from checks.registry import CHECKS\n"
        "from watchdog.config.loader import load_config\n"
        "from watchdog.delivery.channels.registry import CHANNELS\n"
        "from watchdog.monitor.probes import build_check\n"
        "import watchdog.service.daemon\n"
        f"config = load_config({str(config)!r}, checks=CHECKS, channels=CHANNELS)\n"
        "[build_check(spec) for spec in config.checks]\n"
        "print(json.dumps(sorted(sys.modules)))\n"
    )
    out = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    return set(json.loads(out.stdout))


def _modules_after_loading(config: Path) -> dict[str, bool]:
    """Which driver packages a fresh interpreter holds after parsing `config` and building its checks."""
    loaded = _loaded_after(config)
    return {name: name in loaded for name in DRIVERS}


def test_config_without_database_checks_or_http_channels_loads_no_driver(tmp_path: Path) -> None:
    config = tmp_path / "watchdog.yaml"
    config.write_text(
        f"state_dir: {tmp_path / 'state'}\n"
        "checks:\n"
        "  - {name: root, type: disk, path: /}\n"
        "  - {name: web, type: http, url: 'http://127.0.0.1:8080/'}\n"
        "  - {name: ssh, type: tcp, host: 127.0.0.1, port: 22}\n"
        "notify:\n"
        "  channels:\n"
        "    - {name: admins, type: email, smtp_host: 127.0.0.1, smtp_port: 25, from: w@shop.test, to: [a@shop.test]}\n"
    )
    assert _modules_after_loading(config) == dict.fromkeys(DRIVERS, False)


def test_a_used_type_loads_its_driver_and_only_that(tmp_path: Path) -> None:
    config = tmp_path / "watchdog.yaml"
    config.write_text(f"state_dir: {tmp_path / 'state'}\nchecks:\n  - {{name: cache, type: redis, host: 127.0.0.1}}\n")
    loaded = _modules_after_loading(config)
    assert loaded["hiredis"] and not loaded["psycopg"] and not loaded["pymysql"]


def test_listing_types_imports_nothing_and_lookup_caches_the_class() -> None:
    registry: LazyRegistry[Check[object]] = LazyRegistry(
        Check, {"disk": "checks.disk:DiskCheck", "none": "no_such_module:X"}
    )
    assert sorted(registry) == ["disk", "none"] and "none" in registry and len(registry) == 2
    assert registry["disk"] is registry["disk"] and registry["disk"].__name__ == "DiskCheck"
    with pytest.raises(ModuleNotFoundError):
        registry["none"]
    with pytest.raises(KeyError):
        registry["nope"]


def test_a_target_that_is_not_of_the_registry_kind_is_refused() -> None:
    registry: LazyRegistry[Check[object]] = LazyRegistry(Check, {"wrong": "checks.base:CheckResult"})
    with pytest.raises(TypeError, match="is not a Check"):
        registry["wrong"]


def test_only_the_configured_check_types_modules_are_imported(tmp_path: Path) -> None:
    """disk, http and redis checks: their modules and what they share, no other type's module."""
    config = tmp_path / "watchdog.yaml"
    config.write_text(
        f"state_dir: {tmp_path / 'state'}\n"
        "checks:\n"
        "  - {name: root, type: disk, path: /}\n"
        "  - {name: web, type: http, url: 'http://127.0.0.1:8080/'}\n"
        "  - {name: cache, type: redis, host: 127.0.0.1}\n"
    )
    loaded = {m for m in _loaded_after(config) if m.split(".")[0] == "checks"}
    shared = {"checks", "checks.base", "checks.registry", "checks.thresholds"}
    assert loaded == shared | {"checks.disk", "checks.http", "checks.redis"}
