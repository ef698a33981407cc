"""Helpers for the deploy guard's tests: policy files in tmp_path and the real installed CLI.

Every policy written here points `audit_log` into the test's tmp_path: tests never write to
/var/log, and never read /etc/shop-watchdog (DEPLOY_GUARD_CONFIG is always set).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from deploy_guard.policy import Policy, parse_policy
from deploy_guard.release_windows import ReleaseWindows
from tests.servers.status_server import StatusServer
from watchdog.common.holiday_calendar import HolidayCalendar

REPO = Path(__file__).resolve().parents[2]
CLI = REPO / ".venv" / "bin" / "deploy-guard"
if not CLI.exists():  # a venv elsewhere: the console script next to the running interpreter
    CLI = Path(sys.executable).with_name("deploy-guard")

# The contract's policy without its dated specifics, so holiday tables see the plain calendar.
PLAIN: dict[str, Any] = {
    "timezone": "Europe/Warsaw",
    "windows": [{"days": ["mon", "tue", "wed", "thu"], "start": "08:00", "end": "12:00"}],
    "holidays": {"country": "PL", "block_days_before": 1},
}
ALWAYS_OPEN: dict[str, Any] = {
    "timezone": "Europe/Warsaw",
    "windows": [{"days": ["mon", "tue", "wed", "thu", "fri", "sat", "sun"], "start": "00:00", "end": "24:00"}],
    "holidays": {"country": None, "block_days_before": 0},
}


def windows_for(node: Mapping[str, Any]) -> ReleaseWindows:
    policy = parse_policy(dict(node), "<test>")
    return ReleaseWindows(policy, HolidayCalendar(policy.country, policy.extra_days_off, policy.block_days_before))


def policy_from(node: Mapping[str, Any]) -> Policy:
    return parse_policy(dict(node), "<test>")


# Runs a command and writes the peak RSS (KiB) of its process tree to argv[1]: a fresh
# interpreter, so RUSAGE_CHILDREN holds nothing but that one command.
_PEAK_RSS = (
    "import resource, subprocess, sys\n"
    "code = subprocess.call(sys.argv[2:])\n"
    "with open(sys.argv[1], 'w') as fh:\n"
    "    fh.write(str(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss))\n"
    "sys.exit(code)\n"
)
# A private mount and network namespace: /var/log (the embedded default's audit log) and
# /etc/shop-watchdog are empty tmpfs there, and no watchdog answers on its loopback.
_ISOLATED = (
    "mount -t tmpfs none /var/log && "
    "{ [ ! -d /etc/shop-watchdog ] || mount -t tmpfs none /etc/shop-watchdog; } && "
    'exec "$@"'
)


@dataclass
class Result:
    code: int
    out: str
    err: str
    seconds: float = 0.0
    peak_rss_mib: float = 0.0

    def json(self) -> Any:
        return json.loads(self.out)

    def assert_refused(self, *expected: str) -> None:
        """Exit 2 with one line on stderr holding every `expected` text; nothing on stdout."""
        assert self.code == 2, self
        assert self.out == "", self
        assert len(self.err.splitlines()) == 1, self.err
        assert "Traceback" not in self.err and "internal error" not in self.err, self.err
        for text in expected:
            assert text in self.err, self.err


class GuardRunner:
    """Runs the installed `deploy-guard` console script with a clean CI-free environment."""

    def __init__(self, tmp_path: Path) -> None:
        self.tmp_path = tmp_path
        self.audit_log = tmp_path / "audit" / "deploy-guard.jsonl"
        self._count = 0

    def policy(self, node: Mapping[str, Any] | str, name: str | None = None) -> Path:
        """Writes a policy (YAML text, or a mapping that gets our audit_log unless it has one)."""
        self._count += 1
        path = self.tmp_path / (name or f"policy-{self._count}.yaml")
        if isinstance(node, str):
            path.write_text(node)
        else:
            data = {"audit_log": str(self.audit_log), **node}
            path.write_text(yaml.safe_dump(data, sort_keys=False))
        return path

    def env(self, policy: Path | None, extra: Mapping[str, str] | None = None) -> dict[str, str]:
        keep = ("PATH", "HOME", "LANG", "LC_ALL", "TZ", "USER")
        env = {k: v for k, v in os.environ.items() if k in keep}
        if policy is not None:
            env["DEPLOY_GUARD_CONFIG"] = str(policy)
        env.update(extra or {})
        return env

    def run(
        self,
        *args: str,
        policy: Path | None = None,
        env: Mapping[str, str] | None = None,
        timeout: float = 30,
        prefix: Sequence[str] = (),
    ) -> Result:
        """`deploy-guard ARGS`, behind `prefix` (e.g. faketime) if given."""
        proc = subprocess.run(
            [*prefix, str(CLI), *args], env=self.env(policy, env), capture_output=True, text=True, timeout=timeout
        )
        return Result(proc.returncode, proc.stdout, proc.stderr)

    def run_measured(self, *args: str, policy: Path | None = None, timeout: float = 60) -> Result:
        """Like `run`, with its wall time and peak RSS."""
        rss_file = self.tmp_path / "peak-rss"
        started = time.monotonic()
        result = self.run(
            *args, policy=policy, timeout=timeout, prefix=[sys.executable, "-c", _PEAK_RSS, str(rss_file)]
        )
        result.seconds = time.monotonic() - started
        result.peak_rss_mib = int(rss_file.read_text()) / 1024
        return result

    def run_isolated(self, *args: str, timeout: float = 30) -> Result:
        """`run` without DEPLOY_GUARD_CONFIG in a private namespace (see _ISOLATED): the embedded default."""
        return self.run(
            *args,
            timeout=timeout,
            prefix=["unshare", "--mount", "--net", "--propagation", "private", "bash", "-c", _ISOLATED, "isolated"],
        )

    def audit_records(self) -> list[dict[str, Any]]:
        if not self.audit_log.exists():
            return []
        return [json.loads(line) for line in self.audit_log.read_text().splitlines()]


@pytest.fixture
def guard(tmp_path: Path) -> GuardRunner:
    return GuardRunner(tmp_path)


@pytest.fixture
def status_server() -> Iterator[StatusServer]:
    server = StatusServer()
    server.start()
    try:
        yield server
    finally:
        server.stop()
