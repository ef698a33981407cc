"""systemd through a stand-in `systemctl` executable (a real subprocess; no systemd PID 1 here).

The real-systemd proof runs in the nspawn container tests (tests/systemd/).
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from checks.base import Status
from tests.checks.building import config_problems, make_check


def fake_systemctl(tmp_path: Path, body: str) -> str:
    """An executable that records its argv in tmp_path/argv and then runs `body` (sh)."""
    script = tmp_path / "systemctl"
    script.write_text(f'#!/bin/sh\necho "$@" > {tmp_path}/argv\n{body}\n')
    script.chmod(0o755)
    return str(script)


@pytest.mark.parametrize(
    ("answer", "code", "status"),
    [
        ("active", 0, Status.OK),
        ("reloading", 0, Status.OK),
        ("activating", 3, Status.WARNING),
        ("inactive", 3, Status.CRITICAL),
        ("failed", 3, Status.CRITICAL),
    ],
)
def test_unit_state_maps_to_status(tmp_path: Path, answer: str, code: int, status: Status) -> None:
    systemctl = fake_systemctl(tmp_path, f"echo {answer}; exit {code}")
    result = make_check("systemd", unit="nginx.service", systemctl=systemctl).run(timeout=2)
    assert result.status is status
    assert result.message == f"nginx.service is {answer}"
    assert (tmp_path / "argv").read_text() == "is-active -- nginx.service\n"


def test_unexpected_answer_is_unknown(tmp_path: Path) -> None:
    systemctl = fake_systemctl(tmp_path, "echo 'System has not been booted with systemd' >&2; exit 1")
    result = make_check("systemd", unit="nginx.service", systemctl=systemctl).run(timeout=2)
    assert result.status is Status.UNKNOWN
    assert "System has not been booted with systemd" in result.message


def test_hanging_systemctl_is_killed_at_timeout(tmp_path: Path) -> None:
    systemctl = fake_systemctl(tmp_path, "exec sleep 30")
    started = time.monotonic()
    result = make_check("systemd", unit="nginx.service", systemctl=systemctl).run(timeout=0.3)
    assert time.monotonic() - started < 1.5
    assert result.status is Status.CRITICAL
    assert "did not answer within 0.3s" in result.message


def test_missing_systemctl_is_unknown(tmp_path: Path) -> None:
    result = make_check("systemd", unit="nginx.service", systemctl=str(tmp_path / "nope")).run(timeout=2)
    assert result.status is Status.UNKNOWN
    assert "cannot run" in result.message


def test_config_rejects_non_unit_names() -> None:
    assert "is not a systemd unit name" in config_problems("systemd", unit="nginx; reboot")
    assert "is not a systemd unit name" in config_problems("systemd", unit="--all.service")
