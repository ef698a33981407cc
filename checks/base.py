"""The check contract every probe follows.

A check is built once from its frozen, type-specific config (a dataclass named in the
class attribute `Config` and as the type argument: `class RedisCheck(Check[RedisOptions])`,
see watchdog.common.plugin) and `run(timeout)` returns a `CheckResult`. `run` must bound every
blocking call by `timeout` (socket timeouts, query timeouts), never sleep, and may raise:
the runner alone catches exceptions (-> UNKNOWN), enforces the timeout (-> CRITICAL
"timeout") and keeps one slow probe from delaying another. A probe that ends its own work
at the timeout (a plugin killed then) says so with `timed_out=True`: for the runner, the
metrics and `once --json` it is a timeout like one the runner enforced.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TypeVar

from watchdog.common.plugin import Configured

OptionsT_co = TypeVar("OptionsT_co", covariant=True)


class Status(enum.IntEnum):
    """Nagios-compatible status codes; the value is also the plugin exit code."""

    OK = 0
    WARNING = 1
    CRITICAL = 2
    UNKNOWN = 3

    @property
    def rank(self) -> int:
        """Order of badness for "worst of": OK < WARNING < UNKNOWN < CRITICAL.

        An UNKNOWN (we could not tell) is worse than a known warning, but a known
        CRITICAL (the shop cannot take orders) is the worst.
        """
        return {0: 0, 1: 1, 3: 2, 2: 3}[self.value]


def worst(statuses: list[Status] | tuple[Status, ...]) -> Status:
    return max(statuses, key=lambda s: s.rank, default=Status.OK)


@dataclass(frozen=True)
class CheckResult:
    """What one probe run found.

    `measurements` are numbers in base units (seconds, bytes, ratios 0..1) keyed by a
    snake_case name ending in its unit (`response_seconds`, `used_bytes`, `used_ratio`;
    counts have none); the unit picks the metric they become
    (`shop_watchdog_check_measurement_seconds{measurement="response"}`). `watch_pid` names
    the process this result vouches for: the daemon re-runs the check the moment that
    process exits (watchdog.monitor.exitwatch) instead of waiting for the next interval.
    `watch_unit` names the systemd unit it vouches for: the daemon re-runs the check the
    moment systemd signals that the unit changed state (watchdog.monitor.unitwatch).
    `timed_out`: the probe gave up at its timeout.
    """

    status: Status
    message: str
    measurements: Mapping[str, float] = field(default_factory=dict)
    watch_pid: int | None = None
    watch_unit: str | None = None
    timed_out: bool = False


def timeout_result(message: str, measurements: Mapping[str, float] | None = None) -> CheckResult:
    """CRITICAL, marked `timed_out`: the probe gave up at its timeout (a socket or query
    timeout of its own). `message` says "timeout", like the runner's own."""
    return CheckResult(Status.CRITICAL, message, measurements or {}, timed_out=True)


@dataclass(frozen=True)
class NoOptions:
    """Config of a check type without options of its own."""


class Check(Configured[OptionsT_co]):
    """Base class of all probes; subclasses set `Config` and implement `run`."""

    def run(self, timeout: float) -> CheckResult:
        raise NotImplementedError
