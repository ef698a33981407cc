"""Driving shop-watchdog.service inside the container: config, drop-ins, state, journal."""

from __future__ import annotations

import json
import shlex

from tests.systemd.container import Container
from tests.waiting import wait_until

UNIT = "shop-watchdog.service"
CONFIG = "/etc/shop-watchdog/watchdog.yaml"
DROPIN_DIR = f"/etc/systemd/system/{UNIT}.d"
VENV_PYTHON = "/opt/shop-watchdog/bin/python"


class Service:
    def __init__(self, box: Container) -> None:
        self.box = box
        self._saved_config: str | None = None
        self._cursor = ""

    def save(self) -> None:
        """Remembers the config and the journal position, to restore and to read from."""
        found = self.box.run("cat", CONFIG, check=False)
        self._saved_config = found.stdout if found.returncode == 0 else None
        self.box.run("journalctl", "--sync", check=False)
        self._cursor = self.box.run("journalctl", "-n", "0", "--show-cursor", "-q").stdout.split("cursor: ")[-1].strip()

    def restore(self) -> None:
        self.box.systemctl("stop", UNIT, check=False)
        self.box.run("rm", "-rf", DROPIN_DIR)
        if self._saved_config is None:
            self.box.run("rm", "-f", CONFIG)
        else:
            self.write_config(self._saved_config)
        self.box.systemctl("daemon-reload")
        self.box.systemctl("reset-failed", UNIT, check=False)

    def write_config(self, text: str) -> None:
        self.box.write_file(CONFIG, text, 0o640)
        self.box.run("chgrp", "shop-watchdog", CONFIG)

    def dropin(self, name: str, text: str) -> None:
        self.box.write_file(f"{DROPIN_DIR}/{name}.conf", text)
        self.box.systemctl("daemon-reload")

    def start(self) -> None:
        self.box.systemctl("start", UNIT, timeout=90)

    def prop(self, name: str) -> str:
        return self.box.show(UNIT, name)

    def main_pid(self) -> int:
        return int(self.prop("MainPID"))

    def wait_state(self, state: str, timeout: float = 30) -> None:
        wait_until(lambda: self.prop("ActiveState") == state, timeout, f"{UNIT} to be {state}")

    def messages(self) -> list[dict[str, str]]:
        """Journal entries of the unit since save(): MESSAGE, PRIORITY and the rest, as JSON."""
        self.box.run("journalctl", "--sync", check=False)
        out = self.box.run(
            "journalctl", "--no-pager", "-o", "json", "-u", UNIT, "--after-cursor", self._cursor, check=False
        ).stdout
        return [json.loads(line) for line in out.splitlines() if line.strip()]

    def log_text(self) -> str:
        return "\n".join(str(m.get("MESSAGE", "")) for m in self.messages())

    def wait_entry(self, needle: str, timeout: float = 30) -> dict[str, str]:
        """The first journal entry of the unit since save() whose message contains `needle`."""
        return wait_until(
            lambda: next((m for m in self.messages() if needle in str(m.get("MESSAGE", ""))), None),
            timeout,
            f"{needle!r} in the journal of {UNIT}",
            interval=0.3,
        )

    def wait_log(self, needle: str, timeout: float = 30) -> str:
        return str(self.wait_entry(needle, timeout)["MESSAGE"])

    def run_as_daemon_user(self, *argv: str) -> tuple[int, str]:
        """Runs argv as the daemon's user (outside its sandbox): exit code and output."""
        result = self.box.run("runuser", "-u", "shop-watchdog", "--", *argv, check=False)
        return result.returncode, (result.stdout + result.stderr).strip()

    @staticmethod
    def exec_start(*argv: str) -> str:
        """A drop-in replacing the unit's command (everything else of the unit stays)."""
        return f"[Service]\nExecStart=\nExecStart={shlex.join(argv)}\n"


HEARTBEAT_PORT = 8099


def daemon_config(*, interval: str = "1s", heartbeat: bool = True, extra_checks: str = "") -> str:
    """A config for the container: the local nginx (restartable) and the root disk."""
    beat = (
        f"heartbeat: {{url: 'http://127.0.0.1:{HEARTBEAT_PORT}/ping/test-check', interval: 1s}}\n" if heartbeat else ""
    )
    return f"""\
host: test-box
state_dir: /var/lib/shop-watchdog
listen: 127.0.0.1:9841
defaults: {{interval: {interval}, timeout: 2s, retries: 1, retry_interval: 1s}}
remediation: {{backend: systemd, verify_after: 1s, max_restarts: 5, restart_window: 1h}}
{beat}checks:
  - name: root-disk
    type: disk
    path: /
    warn: 99%
    crit: 100%
    inodes_warn: 99%
    inodes_crit: 100%
  - name: web
    type: http
    url: http://127.0.0.1/
    severity: critical
    remediate: {{restart: nginx.service}}
{extra_checks}"""


FLAKY = "flaky.service"
FLAKY_UNIT = "[Unit]\nStartLimitIntervalSec=0\n[Service]\nExecStart=/bin/sleep infinity\nRestart=no\n"
"""A unit that only sleeps, with Restart=no: killed, it stays `failed` until someone restarts
it (as often as a benchmark likes: no start rate limit)."""


def flaky_config(max_restarts: int = 5) -> str:
    """daemon_config() plus a `systemd` check on FLAKY that polling alone would notice after
    minutes (interval 5 min, 3 confirmations 5 s apart), restarted and verified 100 ms later."""
    return daemon_config(heartbeat=False).replace(
        "remediation: {backend: systemd, verify_after: 1s, max_restarts: 5,",
        f"remediation: {{backend: systemd, verify_after: 100ms, max_restarts: {max_restarts},",
    ) + (
        f"""\
  - name: flaky
    type: systemd
    unit: {FLAKY}
    interval: 5m
    retries: 3
    retry_interval: 5s
    severity: critical
    remediate: {{restart: {FLAKY}}}
"""
    )


def monotonic_of(box: Container, unit_args: list[str], needle: str) -> float:
    """CLOCK_MONOTONIC seconds of the newest journal entry matching `needle`."""
    box.run("journalctl", "--sync", check=False)
    out = box.run("journalctl", "--no-pager", "-o", "export", *unit_args, "--grep", needle, "-n", "1").stdout
    for line in out.splitlines():
        if line.startswith("__MONOTONIC_TIMESTAMP="):
            return int(line.split("=", 1)[1]) / 1e6
    raise AssertionError(f"no journal entry {needle!r}:\n{out}")
