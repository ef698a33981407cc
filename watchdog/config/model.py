"""The daemon's config as the rest of the daemon sees it: frozen dataclasses, parsed once.

Each class validates its own values in `__post_init__` (a ValueError becomes a problem at
its YAML path); the field names are the YAML keys (watchdog.config.loader reads them).
Every duration has a range (`Between`, checked while reading the YAML); none admits 0,
so nothing is switched off by a zero: reminders and escalation are off when their key is
left out.
A check's or channel's type-specific `options` are an instance of the `Config` dataclass of
the class registered for its `type:`, typed `object` here: this layer knows no check or
channel type; the check or channel narrows it once, when it is built (watchdog.common.plugin).
"""

from __future__ import annotations

import base64
import contextlib
import ipaddress
import re
import zoneinfo
from collections.abc import Mapping
from dataclasses import dataclass, field, fields, is_dataclass
from datetime import time
from typing import Annotated, Literal
from urllib.parse import unquote, urlsplit

from watchdog.common.configtools import Between, Duration, Problem, Secret
from watchdog.common.logs import is_one_line
from watchdog.common.systemd_units import unit_name_problem

Severity = Literal["critical", "warning"]
Weekday = Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
WEEKDAYS: tuple[str, ...] = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")

HOUR, DAY, WEEK = 3600.0, 86400.0, 604800.0

Interval = Annotated[Duration, Between(0.1, DAY)]
"""How often a check runs, or re-runs while a failure is soft (`retry_interval`)."""
Timeout = Annotated[Duration, Between(0.1, HOUR)]
MAX_RETRIES = 100
MAX_RESTARTS = 100


@dataclass(frozen=True)
class Defaults:
    interval: Interval = 30.0
    timeout: Timeout = 5.0
    retries: int = 3
    retry_interval: Interval = 5.0

    def __post_init__(self) -> None:
        validate_timing(self.interval, self.timeout, self.retries, self.retry_interval)


def validate_timing(interval: float, timeout: float, retries: int, retry_interval: float) -> None:
    """The timing rules shared by `defaults:` and each check (after defaults are applied)."""
    if interval <= 0:
        raise ValueError("interval must be greater than 0")
    if timeout <= 0:
        raise ValueError("timeout must be greater than 0")
    if retries < 1:
        raise ValueError("retries must be at least 1 (1 = the first failure is confirmed)")
    if retries > MAX_RETRIES:
        raise ValueError(f"retries must be at most {MAX_RETRIES}")
    if retry_interval <= 0:
        raise ValueError("retry_interval must be greater than 0")


@dataclass(frozen=True)
class Remediate:
    """How to repair a check: a unit to restart (systemd backend) or an argv (command backend)."""

    restart: str | None = None
    command: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if self.restart is None and not self.command:
            raise ValueError("give restart: UNIT (systemd backend) or command: [argv...] (command backend)")
        problem = None if self.restart is None else unit_name_problem(self.restart)
        if problem is not None:
            raise ValueError(f"restart: {problem}")


@dataclass(frozen=True)
class CheckSpec:
    """One configured check: common keys resolved against `defaults`, plus the type's options."""

    name: str
    type: str
    interval: float
    timeout: float
    retries: int
    retry_interval: float
    severity: Severity
    remediate: Remediate | None
    depends_on: tuple[str, ...]
    runbook_url: str | None
    options: object
    confirm_exits: bool = False
    """An exit the daemon sees (pidfd, a unit entering `failed`) is a failure hard at once,
    unless this is set: then it is confirmed by `retries` like any other failure (for a
    service that re-execs itself on purpose)."""
    rollback_hint: str | None = None
    """How to undo a change to what this check watches; every page of its incidents says it."""


@dataclass(frozen=True)
class RemediationConfig:
    backend: Literal["systemd", "command"] = "systemd"
    verify_after: Annotated[Duration, Between(0.1, HOUR)] = 10.0
    max_restarts: int = 3
    restart_window: Annotated[Duration, Between(1.0, WEEK)] = 3600.0
    restart_timeout: Annotated[Duration, Between(1.0, HOUR)] = 90.0
    systemctl: str = "systemctl"

    def __post_init__(self) -> None:
        if self.max_restarts < 0:
            raise ValueError("max_restarts must be 0 or more")
        if self.max_restarts > MAX_RESTARTS:
            raise ValueError(f"max_restarts must be at most {MAX_RESTARTS}")
        if self.restart_window <= 0:
            raise ValueError("restart_window must be greater than 0")


@dataclass(frozen=True)
class BusinessHours:
    timezone: str = "Europe/Warsaw"
    days: tuple[Weekday, ...] = ("mon", "tue", "wed", "thu", "fri")
    hours: str = "08:00-16:00"
    holidays: str | None = "PL"
    start: time = field(init=False, default=time(8))
    end: time = field(init=False, default=time(16))

    def __post_init__(self) -> None:
        try:
            zoneinfo.ZoneInfo(self.timezone)
        except (zoneinfo.ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"timezone: unknown IANA timezone {self.timezone!r}") from exc
        m = re.fullmatch(r"(\d\d):(\d\d)-(\d\d):(\d\d)", self.hours)
        if not m:
            raise ValueError(f"hours: expected HH:MM-HH:MM, got {self.hours!r}")
        h1, m1, h2, m2 = (int(g) for g in m.groups())
        if h1 > 23 or h2 > 24 or m1 > 59 or m2 > 59 or (h2, m2) <= (h1, m1) or (h2 == 24 and m2):
            raise ValueError(f"hours: {self.hours!r} is not a range within one day")
        object.__setattr__(self, "start", time(h1, m1))
        object.__setattr__(self, "end", time(23, 59, 59, 999999) if h2 == 24 else time(h2, m2))


@dataclass(frozen=True)
class ChannelSpec:
    name: str
    type: str
    options: object


_RepeatEvery = Annotated[Duration, Between(1.0, WEEK, "to send no reminders, leave repeat_every out")]
_EscalateAfter = Annotated[Duration, Between(1.0, WEEK, "to never escalate, leave escalate_after out")]


@dataclass(frozen=True)
class Route:
    """Where incidents of one severity go.

    `when: business_hours` defers messages to business hours (dropped if the problem
    cleared meanwhile); reminders every `repeat_every` and escalation to `escalate_to`
    after `escalate_after` run until the incident is acknowledged or resolved.
    """

    channels: tuple[str, ...] = ()
    when: Literal["always", "business_hours"] = "always"
    repeat_every: _RepeatEvery | None = None
    escalate_after: _EscalateAfter | None = None
    escalate_to: tuple[str, ...] = ()


@dataclass(frozen=True)
class Routes:
    critical: Route | None = None
    warning: Route | None = None


@dataclass(frozen=True)
class NotifyConfig:
    channels: tuple[ChannelSpec, ...] = ()
    routes: Routes = Routes()

    def channel(self, name: str) -> ChannelSpec:
        for ch in self.channels:
            if ch.name == name:
                return ch
        raise KeyError(name)

    def route(self, severity: Severity) -> Route:
        """The route of a severity; when not configured: every channel (critical always,
        warning in business hours)."""
        configured = getattr(self.routes, severity)
        if configured is not None:
            return configured  # type: ignore[no-any-return]
        names = tuple(ch.name for ch in self.channels)
        return Route(channels=names, when="always" if severity == "critical" else "business_hours")


@dataclass(frozen=True)
class ReportConfig:
    """The working-hours digest (watchdog.incidents.digest): the report of the last `every`,
    sent on the warning route once per period of `every` (periods start on Monday 00:00 UTC),
    at the first business hour of the period. On by default, weekly; `digest: false` switches
    it off."""

    every: Annotated[Duration, Between(DAY, 4 * WEEK)] = WEEK
    digest: bool = True


@dataclass(frozen=True)
class HeartbeatConfig:
    """Dead man's switch: `url` is pinged every `interval` while the daemon is healthy.

    The URL usually holds the receiver's secret check id: problems never quote it."""

    url: str
    interval: Annotated[Duration, Between(1.0, DAY)] = 60.0

    def __post_init__(self) -> None:
        parts = urlsplit(self.url)
        if parts.scheme not in ("http", "https") or not parts.hostname or any(c.isspace() for c in self.url):
            raise ValueError("url: expected an http:// or https:// URL with a host (no spaces)")


MAX_HINT = 500
"""Characters of a `rollback_hint`: a line for a page, not a runbook (that is `runbook_url`)."""


def hint_problem(text: str) -> str | None:
    """Why `text` cannot be a rollback hint (None: it can)."""
    if not text.strip():
        return "expected a non-empty text"
    if len(text) > MAX_HINT:
        return f"at most {MAX_HINT} characters (put longer instructions behind runbook_url)"
    if not is_one_line(text):
        return "must be one line of printable text (no control characters)"
    return None


@dataclass(frozen=True)
class PostDeployConfig:
    """After a release starts (POST /api/v1/releases), `checks` run every `interval` instead
    of their own interval for `watch_for`, and an incident opening then says so."""

    checks: tuple[str, ...]
    watch_for: Annotated[Duration, Between(1.0, DAY)] = 1800.0
    interval: Interval = 5.0

    def __post_init__(self) -> None:
        if not self.checks:
            raise ValueError("checks: name at least one configured check to watch after a release")


@dataclass(frozen=True)
class Listen:
    host: str
    port: int

    @property
    def loopback_only(self) -> bool:
        if self.host == "localhost":
            return True
        try:
            return ipaddress.ip_address(self.host).is_loopback
        except ValueError:
            return False

    def __str__(self) -> str:
        return f"[{self.host}]:{self.port}" if ":" in self.host else f"{self.host}:{self.port}"


@dataclass(frozen=True)
class WatchdogConfig:
    source: str
    host: str
    state_dir: str
    listen: Listen
    api_token: Secret | None
    log_level: str
    defaults: Defaults
    checks: tuple[CheckSpec, ...]
    remediation: RemediationConfig
    business_hours: BusinessHours
    notify: NotifyConfig
    heartbeat: HeartbeatConfig | None
    report: ReportConfig = ReportConfig()
    post_deploy: PostDeployConfig | None = None
    api_hosts: tuple[str, ...] = ()
    """Host names the API answers to besides IP literals, localhost, the listen host, `host`
    and the machine's hostname (watchdog.service.http_policy: DNS rebinding)."""
    public_url: str | None = None
    """The API as admins reach it through their reverse proxy: pages carry ack links under it."""
    ack_key: Secret | None = None
    """The HMAC key of ack links (from `ack_key_file`); set exactly when `public_url` is."""
    warnings: tuple[Problem, ...] = ()
    """What is valid but probably not meant (a timeout longer than its interval): check-config
    prints these, the daemon logs them at start and on reload."""

    def check(self, name: str) -> CheckSpec:
        for spec in self.checks:
            if spec.name == name:
                return spec
        raise KeyError(name)

    def secrets(self) -> list[Secret]:
        """Every secret in the config (API token, check and channel passwords and keys, the
        password of a URL's user info as written, decoded and as the basic-auth header that
        carries it), so they can be scrubbed from logs and messages."""
        found: list[Secret] = []
        _collect_secrets(self, found, set())
        return found

    def restartable_units(self) -> tuple[str, ...]:
        """The only units the daemon may restart: those named in `remediate.restart`."""
        return tuple(sorted({c.remediate.restart for c in self.checks if c.remediate and c.remediate.restart}))


def _collect_secrets(node: object, found: list[Secret], seen: set[int]) -> None:
    if id(node) in seen:
        return
    seen.add(id(node))
    if isinstance(node, Secret):
        found.append(node)
    elif is_dataclass(node) and not isinstance(node, type):
        for f in fields(node):
            _collect_secrets(getattr(node, f.name), found, seen)
    elif isinstance(node, (tuple, list)):
        for item in node:
            _collect_secrets(item, found, seen)
    elif isinstance(node, Mapping):
        for item in node.values():
            _collect_secrets(item, found, seen)
    elif isinstance(node, str) and "@" in node:
        found.extend(url_credentials(node))


def url_credentials(text: str) -> list[Secret]:
    """The password of `text` when it is a URL with user info (`https://user:PASSWORD@host/`):
    as written, percent-decoded, and as the `Authorization: Basic ...` value sent with it."""
    parts = None
    with contextlib.suppress(ValueError):
        parts = urlsplit(text)
    if parts is None or not parts.scheme or parts.password is None:
        return []
    password, user = unquote(parts.password), unquote(parts.username or "")
    basic = base64.b64encode(f"{user}:{password}".encode()).decode()
    origin = "a URL's user info"
    return [Secret(value, origin) for value in {parts.password, password, basic}]


STATE_STORE_CHECK = "state-store"
"""The daemon's own check of its state store (watchdog.service.storewatch): not configured,
and no configured check may take its name."""
