"""`public_url` and `ack_key_file`: both or neither; the key file private and long enough,
every problem naming the key's path; `check-config` exits 2 on them."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest
import yaml

from checks.registry import CHECKS
from tests.servers.watchdog_daemon import CLI
from watchdog.common.configtools import ConfigError
from watchdog.config.loader import parse_config
from watchdog.config.model import WatchdogConfig
from watchdog.delivery.channels.registry import CHANNELS


def parse(node: dict[str, object]) -> WatchdogConfig:
    return parse_config(node, "watchdog.yaml", checks=CHECKS, channels=CHANNELS)


def key_file(tmp_path: Path, content: bytes = b"x" * 44, mode: int = 0o600) -> Path:
    path = tmp_path / "ack.key"
    path.write_bytes(content)
    path.chmod(mode)
    return path


def problems(node: dict[str, object]) -> list[str]:
    with pytest.raises(ConfigError) as info:
        parse(node)
    return [str(p) for p in info.value.problems]


def test_a_private_long_key_with_a_public_url_is_taken(tmp_path: Path) -> None:
    path = key_file(tmp_path, b"A" * 40 + b"\n")
    config = parse({"public_url": "https://wd.example/watchdog/", "ack_key_file": str(path)})
    assert config.public_url == "https://wd.example/watchdog"
    assert config.ack_key is not None and config.ack_key.reveal() == "A" * 40
    assert config.ack_key in config.secrets()


def test_world_readable_key_is_refused_naming_the_path(tmp_path: Path) -> None:
    path = key_file(tmp_path, mode=0o644)
    [problem] = problems({"public_url": "https://wd.example", "ack_key_file": str(path)})
    assert problem.startswith("ack_key_file: ") and str(path) in problem and "readable by every user" in problem


def test_short_or_missing_key_is_refused_naming_the_path(tmp_path: Path) -> None:
    short = key_file(tmp_path, b"too-short")
    [problem] = problems({"public_url": "https://wd.example", "ack_key_file": str(short)})
    assert str(short) in problem and "at least 32" in problem
    missing = tmp_path / "nope.key"
    [problem] = problems({"public_url": "https://wd.example", "ack_key_file": str(missing)})
    assert str(missing) in problem and "cannot read" in problem


def test_public_url_and_key_go_together_and_the_url_is_checked(tmp_path: Path) -> None:
    assert problems({"public_url": "https://wd.example"})[0].startswith("ack_key_file: ")
    assert problems({"ack_key_file": str(key_file(tmp_path))})[0].startswith("public_url: ")
    bad = problems({"public_url": "wd.example/x", "ack_key_file": str(key_file(tmp_path))})
    assert bad[0].startswith("public_url: ")


def test_check_config_exits_2_with_the_key_path(tmp_path: Path) -> None:
    path = key_file(tmp_path, mode=0o604)
    config = tmp_path / "watchdog.yaml"
    config.write_text(yaml.safe_dump({"public_url": "https://wd.example", "ack_key_file": str(path), "checks": []}))
    env = {k: v for k, v in os.environ.items() if k != "SHOP_WATCHDOG_CONFIG"}
    proc = subprocess.run([CLI, "check-config", "-c", str(config)], capture_output=True, text=True, env=env, timeout=60)
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert str(path) in proc.stderr and "Traceback" not in proc.stderr
