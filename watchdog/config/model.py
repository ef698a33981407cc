"""The daemon's config: read once into frozen dataclasses, every problem reported at once.

`load_config(path)` is the only entry: it returns a `WatchdogConfig` or raises `ConfigError`
listing each problem as `FILE: checks[2].remediate.restart: ...` (the CLI exits 2 on it).
Type-specific keys of a check or channel are declared by the `Config` dataclass of the class
registered for its `type:` (checks.registry.CHECKS, watchdog.delivery.channels.registry.CHANNELS).
"""

from __future__ import annotations

import ipaddress
import re
import socket
import zoneinfo
from collections.abc import Mapping
from dataclasses import dataclass, field, fields, is_dataclass
from datetime import time
from typing import Any, Literal

from checks.registry import CHECKS
from watchdog.common.holiday_calendar import is_known_country
from watchdog.delivery.channels.registry import CHANNELS
from watchdog.common.configtools import (
    ConfigError,
    Duration,
    Problem,
    Problems,
    Secret,
    build,
    join,
    load_yaml,
    yaml_key,
)

Severity = Literal["critical", "warning"]
Weekday = Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
WEEKDAYS: tuple[str, ...] = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")

DEFAULT_CONFIG_PATH = "/etc/shop-watchdog/watchdog.yaml"
EMBEDDED_SOURCE = "<embedded default>"

_UNIT_RE = re.compile(r"^[A-Za-z0-9:_.\\@-]+\.(service|socket|target|timer|mount|path)$")


@dataclass(frozen=True)
class Defaults:
    interval: Duration = 30.0
    timeout: Duration = 5.0
    retries: int = 3
    retry_interval: Duration = 5.0

    def __post_init__(self) -> None:
        _validate_timing(self.interval, self.timeout, self.retries, self.retry_interval)


def _validate_timing(interval: float, timeout: float, retries: int, retry_interval: float) -> None:
    if interval <= 0:
        raise ValueError("interval must be greater than 0")
    if timeout <= 0:
        raise ValueError("timeout must be greater than 0")
    if retries < 1:
        raise ValueError("retries must be at least 1 (1 = the first failure is confirmed)")
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
        if self.restart is not None and not _UNIT_RE.fullmatch(self.restart):
            raise ValueError(
                f"restart: {self.restart!r} is not a systemd unit name (expected e.g. nginx.service)"
            )


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
    options: Any


@dataclass(frozen=True)
class _CheckKeys:
    name: str
    type: str
    interval: Duration | None = None
    timeout: Duration | None = None
    retries: int | None = None
    retry_interval: Duration | None = None
    severity: Severity = "critical"
    remediate: Remediate | None = None
    depends_on: tuple[str, ...] = ()
    runbook_url: str | None = None


@dataclass(frozen=True)
class RemediationConfig:
    backend: Literal["systemd", "command"] = "systemd"
    verify_after: Duration = 10.0
    max_restarts: int = 3
    restart_window: Duration = 3600.0
    restart_timeout: Duration = 90.0
    systemctl: str = "systemctl"

    def __post_init__(self) -> None:
        if self.max_restarts < 0:
            raise ValueError("max_restarts must be 0 or more")
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
    options: Any


@dataclass(frozen=True)
class _ChannelKeys:
    name: str
    type: str


@dataclass(frozen=True)
class Route:
    """Where incidents of one severity go.

    `when: business_hours` defers messages to business hours (dropped if the problem
    cleared meanwhile); reminders every `repeat_every` and escalation to `escalate_to`
    after `escalate_after` run until the incident is acknowledged or resolved.
    """

    channels: tuple[str, ...] = ()
    when: Literal["always", "business_hours"] = "always"
    repeat_every: Duration | None = None
    escalate_after: Duration | None = None
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
class HeartbeatConfig:
    """Dead man's switch: `url` is pinged every `interval` while the daemon is healthy."""

    url: str
    interval: Duration = 60.0


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
class _TopKeys:
    host: str | None = None
    state_dir: str = "/var/lib/shop-watchdog"
    listen: str = "127.0.0.1:9841"
    api_token: Secret | None = None
    log_level: Literal["debug", "info", "warning", "error"] = "info"
    defaults: Defaults = Defaults()
    remediation: RemediationConfig = RemediationConfig()
    business_hours: BusinessHours = BusinessHours()
    heartbeat: HeartbeatConfig | None = None


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

    def check(self, name: str) -> CheckSpec:
        for spec in self.checks:
            if spec.name == name:
                return spec
        raise KeyError(name)

    def secrets(self) -> list[Secret]:
        """Every secret in the config (API token, check and channel passwords and keys), so
        they can be scrubbed from logs and messages."""
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


def parse_listen(text: str) -> Listen:
    m = re.fullmatch(r"\[([0-9a-fA-F:]+)\]:(\d+)|([^:\[\]]+):(\d+)", text.strip())
    if not m:
        raise ValueError(f"expected HOST:PORT (e.g. 127.0.0.1:9841 or [::1]:9841), got {text!r}")
    host = m.group(1) or m.group(3)
    port = int(m.group(2) or m.group(4))
    if not 0 <= port <= 65535:
        raise ValueError(f"port {port} is out of range")
    return Listen(host, port)


def _key_names(cls: type[Any]) -> set[str]:
    names: set[str] = set()
    for f in fields(cls):
        key = yaml_key(f)
        names.update({key, f"{key}_env", f"{key}_file"} if key in ("password", "api_token") else {key})
    return names


def _split_build(
    common_cls: type[Any], registry: Mapping[str, Any], kind: str, node: object, path: str, problems: Problems
) -> tuple[Any, Any]:
    """Builds the common keys of a check/channel and the options of its registered type."""
    if not isinstance(node, dict):
        problems.add(path, f"expected a mapping, got {type(node).__name__}")
        return None, None
    common_keys = _key_names(common_cls)
    common = build(common_cls, node, path, problems, ignore=frozenset(k for k in node if k not in common_keys))
    type_name = node.get("type")
    impl = registry.get(type_name) if isinstance(type_name, str) else None
    if impl is None:
        if "type" in node:
            problems.add(
                join(path, "type"),
                f"unknown {kind} type {type_name!r} (valid types: {', '.join(sorted(registry))})",
            )
        return common, None
    rest = {k: v for k, v in node.items() if k not in common_keys}
    options = build(impl.Config, rest, path, problems, also_valid=frozenset(common_keys))
    return common, options


def _parse_checks(node: object, defaults: Defaults, problems: Problems) -> tuple[CheckSpec, ...]:
    if node is None:
        return ()
    if not isinstance(node, list):
        problems.add("checks", "expected a list of checks")
        return ()
    specs: list[CheckSpec] = []
    first: dict[str, int] = {}
    for i, item in enumerate(node):
        path = join("checks", i)
        name = item.get("name") if isinstance(item, dict) else None
        if isinstance(name, str) and name in first:
            problems.add(join(path, "name"), f"duplicate check name {name!r} (also checks[{first[name]}])")
        elif isinstance(name, str):
            first[name] = i
        keys, options = _split_build(_CheckKeys, CHECKS, "check", item, path, problems)
        if keys is None or options is None or first.get(keys.name) != i:
            continue
        spec = CheckSpec(
            name=keys.name,
            type=keys.type,
            interval=keys.interval if keys.interval is not None else defaults.interval,
            timeout=keys.timeout if keys.timeout is not None else defaults.timeout,
            retries=keys.retries if keys.retries is not None else defaults.retries,
            retry_interval=keys.retry_interval if keys.retry_interval is not None else defaults.retry_interval,
            severity=keys.severity,
            remediate=keys.remediate,
            depends_on=keys.depends_on,
            runbook_url=keys.runbook_url,
            options=options,
        )
        try:
            _validate_timing(spec.interval, spec.timeout, spec.retries, spec.retry_interval)
        except ValueError as exc:
            problems.add(path, str(exc))
            continue
        specs.append(spec)
    index = _index_by_name(node)
    names = set(index)  # a check with problems of its own still exists: no follow-up errors
    for spec in specs:
        for j, parent in enumerate(spec.depends_on):
            if parent not in names:
                problems.add(f"checks[{index.get(spec.name, '?')}].depends_on[{j}]", f"no check named {parent!r}")
    _report_cycles(specs, index, problems)
    return tuple(specs)


def _report_cycles(specs: list[CheckSpec], index: Mapping[str, int], problems: Problems) -> None:
    parents = {s.name: s.depends_on for s in specs}
    for start in parents:
        stack, seen = list(parents[start]), set()
        while stack:
            name = stack.pop()
            if name == start:
                problems.add(f"checks[{index.get(start, '?')}].depends_on", f"dependency cycle through {start!r}")
                break
            if name not in seen:
                seen.add(name)
                stack.extend(parents.get(name, ()))


def _index_by_name(node: object) -> dict[str, int]:
    """Position of each named check in the raw YAML list, for error paths."""
    raw = node if isinstance(node, list) else []
    index: dict[str, int] = {}
    for i, item in enumerate(raw):
        if isinstance(item, dict) and isinstance(item.get("name"), str):
            index.setdefault(item["name"], i)
    return index


def _check_remediation(specs: tuple[CheckSpec, ...], backend: str, node: object, problems: Problems) -> None:
    index = _index_by_name(node)
    for spec in specs:
        if spec.remediate is None:
            continue
        path = f"checks[{index.get(spec.name, '?')}].remediate"
        if backend == "systemd" and spec.remediate.restart is None:
            problems.add(path, "remediation.backend is systemd: give restart: UNIT")
        if backend == "command" and not spec.remediate.command:
            problems.add(path, "remediation.backend is command: give command: [argv...]")


def _parse_notify(node: object, problems: Problems) -> NotifyConfig:
    if node is None:
        return NotifyConfig()
    if not isinstance(node, dict):
        problems.add("notify", "expected a mapping with channels and routes")
        return NotifyConfig()
    for key in node:
        if key not in ("channels", "routes"):
            problems.add(join("notify", str(key)), "unknown key (valid keys: channels, routes)")
    channels: list[ChannelSpec] = []
    raw_channels = node.get("channels") or []
    if not isinstance(raw_channels, list):
        problems.add("notify.channels", "expected a list of channels")
        raw_channels = []
    for i, item in enumerate(raw_channels):
        path = join("notify.channels", i)
        keys, options = _split_build(_ChannelKeys, CHANNELS, "channel", item, path, problems)
        if keys is None or options is None:
            continue
        if any(c.name == keys.name for c in channels):
            problems.add(join(path, "name"), f"duplicate channel name {keys.name!r}")
            continue
        channels.append(ChannelSpec(keys.name, keys.type, options))
    routes = build(Routes, node.get("routes"), "notify.routes", problems) or Routes()
    # channels with problems of their own still exist: no follow-up errors for their routes
    known = {c.name for c in channels} | {
        item["name"] for item in raw_channels if isinstance(item, dict) and isinstance(item.get("name"), str)
    }
    for severity in ("critical", "warning"):
        route = getattr(routes, severity)
        if route is None:
            continue
        for key in ("channels", "escalate_to"):
            for j, name in enumerate(getattr(route, key)):
                if name not in known:
                    problems.add(
                        f"notify.routes.{severity}.{key}[{j}]",
                        f"no channel named {name!r} (channels: {', '.join(sorted(known)) or 'none'})",
                    )
    return NotifyConfig(tuple(channels), routes)


def _check_holiday_country(country: str | None, problems: Problems) -> None:
    """Here, not in BusinessHours: its default instance is built at import, and asking the
    holidays library loads all of its calendars."""
    if country is not None and not is_known_country(country):
        problems.add(
            "business_hours.holidays",
            f"unknown country code {country!r} (a code the holidays library knows, like PL or DE; null for none)",
        )


def parse_config(node: object, source: str) -> WatchdogConfig:
    """A `WatchdogConfig` from parsed YAML; raises ConfigError listing every problem."""
    problems = Problems()
    if node is None:
        node = {}
    if not isinstance(node, dict):
        raise ConfigError(source, [Problem("", f"expected a mapping at the top level, got {type(node).__name__}")])
    sections = {"checks", "notify"}
    top = build(_TopKeys, node, "", problems, also_valid=frozenset(sections))
    listen: Listen | None = None
    if top is not None:
        try:
            listen = parse_listen(top.listen)
        except ValueError as exc:
            problems.add("listen", str(exc))
    defaults = top.defaults if top is not None else Defaults()
    checks = _parse_checks(node.get("checks"), defaults, problems)
    if top is not None:
        _check_remediation(checks, top.remediation.backend, node.get("checks"), problems)
    notify = _parse_notify(node.get("notify"), problems)
    if top is not None:
        _check_holiday_country(top.business_hours.holidays, problems)
    if listen is not None and top is not None and not listen.loopback_only and top.api_token is None:
        problems.add("api_token_file", f"listen {top.listen} is not loopback-only: an api_token_file is required")
    problems.raise_if_any(source)
    assert top is not None and listen is not None
    return WatchdogConfig(
        source=source,
        host=top.host or socket.gethostname(),
        state_dir=top.state_dir,
        listen=listen,
        api_token=top.api_token,
        log_level=top.log_level,
        defaults=top.defaults,
        checks=checks,
        remediation=top.remediation,
        business_hours=top.business_hours,
        notify=notify,
        heartbeat=top.heartbeat,
    )


def load_config(path: str) -> WatchdogConfig:
    """The config in file `path`; raises ConfigError naming the file and every problem."""
    return parse_config(load_yaml(path), path)
