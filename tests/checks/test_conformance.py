"""Every registered check type keeps the check contract (checks.base), run over the registry.

A new type in checks.registry.CHECKS is held to all of it: the tables below must name it
(the first test fails until they do), everything else follows from the registry.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from checks.base import Check, CheckResult, Status
from checks.registry import CHECKS
from tests.servers.hanging import HangingTCPServer
from tests.servers.ports import free_port
from tests.watchdog.common.plugin_conformance import assert_config_contract, secret_keys
from watchdog.config.loader import parse_config
from watchdog.delivery.channels.registry import CHANNELS


@dataclass(frozen=True)
class Target:
    """Where a probe is aimed: `port` on 127.0.0.1 (closed, or accepting and never answering)."""

    port: int
    tmp: Path


Options = Callable[[Target], dict[str, object]]

DEAD: dict[str, Options] = {
    "disk": lambda t: {"path": str(t.tmp / "not-mounted")},
    "http": lambda t: {"url": f"http://127.0.0.1:{t.port}/healthz"},
    "tcp": lambda t: {"host": "127.0.0.1", "port": t.port},
    "postgres": lambda t: {"host": "127.0.0.1", "port": t.port},
    "mysql": lambda t: {"host": "127.0.0.1", "port": t.port},
    "redis": lambda t: {"host": "127.0.0.1", "port": t.port},
    "process": lambda t: {"pidfile": str(t.tmp / "gone.pid")},
    "systemd": lambda t: {"unit": "shop-watchdog-conformance.service"},
    "system": lambda t: {},
    "command": lambda t: {"argv": [str(t.tmp / "no-such-plugin")]},
}
"""A minimal valid config per type, aimed at something dead: a closed port, a missing file."""

HANGING: dict[str, Options] = {
    "http": lambda t: {"url": f"http://127.0.0.1:{t.port}/healthz"},
    "tcp": lambda t: {"host": "127.0.0.1", "port": t.port, "send": "PING\r\n", "expect": "PONG"},
    "postgres": lambda t: {"host": "127.0.0.1", "port": t.port},
    "mysql": lambda t: {"host": "127.0.0.1", "port": t.port},
    "redis": lambda t: {"host": "127.0.0.1", "port": t.port},
    "command": lambda t: {"argv": ["sleep", "60"]},
}
"""Aimed at a server that accepts and never answers (or a plugin that never ends)."""

NO_HANG_HERE = {
    "disk": "statvfs on a dead mount blocks in the kernel: the runner's thread timeout covers it",
    "process": "reads /proc, never waits",
    "system": "reads /proc, never waits",
    "systemd": "a hanging systemctl: tests/checks/test_systemd.py",
}

OK_WHEN_DEAD = {"system"}
"""Types without a target of their own: they measure this machine, which is alive."""

TIMEOUT = 0.5
SLACK = 2.0
"""A loaded machine may be late; a probe that ignores its timeout waits for the driver's
default (10 s and more) or forever."""


@pytest.fixture
def closed(tmp_path: Path) -> Target:
    return Target(free_port(), tmp_path)


@pytest.fixture
def hanging(hanging_tcp: HangingTCPServer, tmp_path: Path) -> Target:
    return Target(hanging_tcp.port, tmp_path)


def build(type_name: str, options: dict[str, object]) -> Check[object]:
    """The check as the daemon builds it: through the config loader and the registry."""
    config = parse_config(
        {"checks": [{"name": "probe", "type": type_name, **options}]},
        "conformance.yaml",
        checks=CHECKS,
        channels=CHANNELS,
    )
    (spec,) = config.checks
    return CHECKS[type_name](spec.options)


def run_bounded(check: Check[object]) -> tuple[CheckResult, float]:
    """`check.run(TIMEOUT)` in a thread; fails the test when it raises or outlives the slack."""
    outcome: list[CheckResult | BaseException] = []

    def target() -> None:
        try:
            outcome.append(check.run(TIMEOUT))
        except BaseException as exc:  # reported below, with its type
            outcome.append(exc)

    started = time.monotonic()
    worker = threading.Thread(target=target, daemon=True)
    worker.start()
    worker.join(TIMEOUT + SLACK)
    took = time.monotonic() - started
    assert outcome, f"{type(check).__name__}.run({TIMEOUT}) still running after {took:.1f}s"
    (result,) = outcome
    assert isinstance(result, CheckResult), f"{type(check).__name__}.run raised {result!r}"
    return result, took


def test_every_registered_type_is_in_the_tables() -> None:
    assert set(DEAD) == set(CHECKS), "give every check type a minimal config aimed at a dead target"
    assert set(HANGING) | set(NO_HANG_HERE) == set(CHECKS) and not set(HANGING) & set(NO_HANG_HERE)


@pytest.mark.parametrize("type_name", sorted(CHECKS))
def test_config_is_a_frozen_dataclass_the_parser_reads(type_name: str) -> None:
    assert_config_contract(CHECKS[type_name])


@pytest.mark.parametrize("type_name", sorted(CHECKS))
def test_builds_from_a_minimal_config_and_reports_a_dead_target(type_name: str, closed: Target) -> None:
    check = build(type_name, DEAD[type_name](closed))
    assert isinstance(check, CHECKS[type_name])
    result, _ = run_bounded(check)
    assert result.message
    assert all(isinstance(v, float) for v in result.measurements.values())
    if type_name not in OK_WHEN_DEAD:
        assert result.status is not Status.OK, result.message


@pytest.mark.parametrize("type_name", sorted(HANGING))
def test_a_target_that_never_answers_is_a_critical_timeout_within_the_timeout(type_name: str, hanging: Target) -> None:
    """The probe's own timeout (socket, query, plugin kill) counts as a timeout, like the runner's."""
    result, took = run_bounded(build(type_name, HANGING[type_name](hanging)))
    assert result.status is Status.CRITICAL, result.message
    assert result.timed_out and "timeout" in result.message, result
    assert TIMEOUT * 0.9 <= took <= TIMEOUT + SLACK


@pytest.mark.parametrize("type_name", sorted(t for t in CHECKS if secret_keys(CHECKS[t].Config)))
def test_secrets_reach_the_scrubber_and_never_the_result(
    type_name: str, closed: Target, monkeypatch: pytest.MonkeyPatch
) -> None:
    secrets = {key: f"conformance-{key}-S3cr3t" for key in secret_keys(CHECKS[type_name].Config)}
    for key, value in secrets.items():
        monkeypatch.setenv(f"CONFORMANCE_{key.upper()}", value)
    options = {**DEAD[type_name](closed), **{f"{key}_env": f"CONFORMANCE_{key.upper()}" for key in secrets}}
    config = parse_config(
        {"checks": [{"name": "probe", "type": type_name, **options}]},
        "conformance.yaml",
        checks=CHECKS,
        channels=CHANNELS,
    )
    assert {s.reveal() for s in config.secrets()} >= set(secrets.values())
    (spec,) = config.checks
    result, _ = run_bounded(CHECKS[type_name](spec.options))
    for value in secrets.values():
        assert value not in repr(spec.options) and value not in result.message


def test_a_config_of_another_type_is_refused_at_construction(closed: Target) -> None:
    config = parse_config(
        {"checks": [{"name": "probe", "type": "disk", **DEAD["disk"](closed)}]},
        "t.yaml",
        checks=CHECKS,
        channels=CHANNELS,
    )
    with pytest.raises(TypeError, match=r"TcpCheck is configured by TcpOptions, got DiskOptions"):
        CHECKS["tcp"](config.checks[0].options)
