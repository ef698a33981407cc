"""`systemd`: a unit is active, as `systemctl is-active UNIT` reports it.

active/reloading -> OK; activating/deactivating (starting, stopping, or waiting to be
restarted after a crash) -> WARNING; inactive/failed -> CRITICAL; anything else (no
systemd, no D-Bus) -> UNKNOWN. `systemctl` is an argv, never a shell, with the timeout
enforced by killing it; the binary is configurable (tests substitute a stand-in).

A result with a known state names the unit (`watch_unit`): the daemon then hears from
systemd itself when the unit changes state and runs the check at once
(watchdog.monitor.unitwatch), so this check is the verification of a signal, and the
interval only the safety net.
"""

from __future__ import annotations

import subprocess
from dataclasses import dataclass

from checks.base import Check, CheckResult, Status
from watchdog.common.systemd_units import UNIT_TYPES, unit_argv, unit_name_problem

_STATES = {
    "active": Status.OK,
    "reloading": Status.OK,
    "activating": Status.WARNING,
    "deactivating": Status.WARNING,
    "inactive": Status.CRITICAL,
    "failed": Status.CRITICAL,
}


@dataclass(frozen=True)
class SystemdOptions:
    unit: str
    systemctl: str = "systemctl"

    def __post_init__(self) -> None:
        problem = unit_name_problem(self.unit, (*UNIT_TYPES, "scope", "slice"))
        if problem is not None:
            raise ValueError(f"unit: {problem}")


class SystemdCheck(Check[SystemdOptions]):
    Config = SystemdOptions

    def run(self, timeout: float) -> CheckResult:
        unit = self.config.unit
        try:
            done = subprocess.run(
                unit_argv(self.config.systemctl, "is-active", unit),
                stdin=subprocess.DEVNULL,
                capture_output=True,
                timeout=timeout,
                check=False,
            )
        except subprocess.TimeoutExpired:
            return CheckResult(Status.CRITICAL, f"{unit}: systemctl did not answer within {timeout:g}s")
        except OSError as exc:
            return CheckResult(Status.UNKNOWN, f"{unit}: cannot run {self.config.systemctl}: {exc.strerror or exc}")
        state = done.stdout.decode(errors="replace").strip().splitlines()
        text = state[0] if state else ""
        status = _STATES.get(text)
        if status is None:
            err = done.stderr.decode(errors="replace").strip()
            detail = text or (err.splitlines()[0] if err else f"exit code {done.returncode}")
            return CheckResult(Status.UNKNOWN, f"{unit}: unexpected answer from systemctl is-active: {detail!r}")
        return CheckResult(
            status, f"{unit} is {text}", {"active": 1.0 if status is Status.OK else 0.0}, watch_unit=unit
        )
