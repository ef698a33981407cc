"""Probe objects for configured checks: the one place a check's constructor may fail.

A constructor that raises (a probe bug, a driver that cannot load) must not stop the daemon
from watching the other checks: the check is replaced by one that reports the error as
UNKNOWN on every run, so the failure is visible in status, metrics and incidents.
"""

from __future__ import annotations

from checks.base import Check, CheckResult, NoOptions, Status
from checks.registry import CHECKS
from watchdog.common.logs import SCRUBBER
from watchdog.config.model import CheckSpec


class _BrokenCheck(Check[NoOptions]):
    """Stands in for a check whose constructor failed: every run reports the error."""

    Config = NoOptions

    def __init__(self, error: str) -> None:
        super().__init__(NoOptions())
        self._error = error

    def run(self, timeout: float) -> CheckResult:
        return CheckResult(Status.UNKNOWN, f"check cannot be set up: {self._error}")


def build_check(spec: CheckSpec) -> Check[object]:
    """The probe object for a spec; a constructor error becomes a check that reports it."""
    try:
        return CHECKS[spec.type](spec.options)
    except Exception as exc:  # a probe bug must not stop the daemon from watching the others
        return _BrokenCheck(SCRUBBER.scrub(f"{type(exc).__name__}: {exc}"))
