"""Reading the daemon's config: YAML in, a `WatchdogConfig` out, every problem reported at once.

`load_config(path, checks=..., channels=...)` is the entry: it returns a `WatchdogConfig` or
raises `ConfigError` listing each problem as `FILE: checks[2].remediate.restart: ...` (the CLI
exits 2 on it). The type registries are passed in by the caller (checks.registry.CHECKS and
watchdog.delivery.channels.registry.CHANNELS in the daemon), as prometheus_client passes its
registry: the config layer knows no probe or channel, only that each registered class declares
its type-specific keys in a `Config` dataclass (watchdog.common.plugin). A type whose driver
is not installed is reported at its `type:` key with the pip extra that brings the driver.
"""

from __future__ import annotations

import os
import re
import socket
import stat
from collections.abc import Mapping
from dataclasses import dataclass, fields
from typing import Any, Literal
from urllib.parse import urlsplit

from watchdog.common.ack_links import MIN_KEY_BYTES
from watchdog.common.configtools import (
    MAX_SECRET_CHARS,
    ConfigError,
    Problem,
    Problems,
    Secret,
    build,
    format_seconds,
    join,
    load_yaml,
    yaml_key,
)
from watchdog.common.extras import MissingExtra
from watchdog.common.holiday_calendar import is_known_country
from watchdog.common.plugin import Configured
from watchdog.config.model import (
    STATE_STORE_CHECK,
    BusinessHours,
    ChannelSpec,
    CheckSpec,
    Defaults,
    HeartbeatConfig,
    Interval,
    Listen,
    NotifyConfig,
    PostDeployConfig,
    Remediate,
    RemediationConfig,
    ReportConfig,
    Routes,
    Severity,
    Timeout,
    WatchdogConfig,
    hint_problem,
    validate_timing,
)

DEFAULT_CONFIG_PATH = "/etc/shop-watchdog/watchdog.yaml"
EMBEDDED_SOURCE = "<embedded default>"


Registry = Mapping[str, type[Configured[object]]]
"""`type:` name -> class (checks.registry.CHECKS, watchdog.delivery.channels.registry.CHANNELS)."""


@dataclass(frozen=True)
class _CheckKeys:
    name: str
    type: str
    interval: Interval | None = None
    timeout: Timeout | None = None
    retries: int | None = None
    retry_interval: Interval | None = None
    severity: Severity = "critical"
    remediate: Remediate | None = None
    depends_on: tuple[str, ...] = ()
    runbook_url: str | None = None
    confirm_exits: bool = False
    rollback_hint: str | None = None


@dataclass(frozen=True)
class _ChannelKeys:
    name: str
    type: str


@dataclass(frozen=True)
class _TopKeys:
    host: str | None = None
    state_dir: str = "/var/lib/shop-watchdog"
    listen: str = "127.0.0.1:9841"
    api_token: Secret | None = None
    api_hosts: tuple[str, ...] = ()
    log_level: Literal["debug", "info", "warning", "error"] = "info"
    defaults: Defaults = Defaults()
    remediation: RemediationConfig = RemediationConfig()
    business_hours: BusinessHours = BusinessHours()
    heartbeat: HeartbeatConfig | None = None
    public_url: str | None = None
    ack_key_file: str | None = None
    report: ReportConfig = ReportConfig()
    post_deploy: PostDeployConfig | None = None


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
    common_cls: type[Any], registry: Registry, kind: str, node: object, path: str, problems: Problems
) -> tuple[Any, Any]:
    """Builds the common keys of a check/channel and the options of its registered type."""
    if not isinstance(node, dict):
        problems.add(path, f"expected a mapping, got {type(node).__name__}")
        return None, None
    common_keys = _key_names(common_cls)
    common = build(common_cls, node, path, problems, ignore=frozenset(k for k in node if k not in common_keys))
    type_name = node.get("type")
    try:
        impl = registry.get(type_name) if isinstance(type_name, str) else None
    except MissingExtra as exc:
        problems.add(join(path, "type"), f"{type_name} {exc}")
        return common, None
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


def _parse_checks(
    node: object, defaults: Defaults, registry: Registry, problems: Problems, warnings: Problems
) -> tuple[CheckSpec, ...]:
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
        if name == STATE_STORE_CHECK:
            problems.add(join(path, "name"), f"{name!r} is the name of the daemon's own state store check")
        if isinstance(name, str) and name in first:
            problems.add(join(path, "name"), f"duplicate check name {name!r} (also checks[{first[name]}])")
        elif isinstance(name, str):
            first[name] = i
        keys, options = _split_build(_CheckKeys, registry, "check", item, path, problems)
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
            confirm_exits=keys.confirm_exits,
            rollback_hint=keys.rollback_hint,
        )
        hint = None if spec.rollback_hint is None else hint_problem(spec.rollback_hint)
        if hint is not None:
            problems.add(join(path, "rollback_hint"), hint)
        try:
            validate_timing(spec.interval, spec.timeout, spec.retries, spec.retry_interval)
        except ValueError as exc:
            problems.add(path, str(exc))
            continue
        if spec.timeout > spec.interval:
            warnings.add(
                join(path, "timeout"),
                f"timeout {format_seconds(spec.timeout)} is longer than interval {format_seconds(spec.interval)}: "
                "runs never overlap, so a run that hangs until its timeout delays the next one",
            )
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


def _parse_notify(node: object, registry: Registry, problems: Problems) -> NotifyConfig:
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
        keys, options = _split_build(_ChannelKeys, registry, "channel", item, path, problems)
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


_LABEL = r"[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
_HOST_NAME = re.compile(rf"(?=.{{1,253}}\.?$){_LABEL}(\.{_LABEL})*\.?")


def _check_api_hosts(names: tuple[str, ...], problems: Problems) -> None:
    for i, name in enumerate(names):
        if not _HOST_NAME.fullmatch(name):
            problems.add(
                join("api_hosts", i),
                f"{name!r} is not a host name (a DNS name such as shop-web-1.example.com, no port, no scheme)",
            )


def _read_ack_key(top: _TopKeys, problems: Problems) -> Secret | None:
    """The ack-link key: `public_url` and `ack_key_file` go together; the file must be a
    private, long enough secret (a world-readable key lets any local user ack pages)."""
    if top.public_url is not None:
        parts = urlsplit(top.public_url)
        if parts.scheme not in ("http", "https") or not parts.hostname or parts.query or parts.fragment:
            problems.add("public_url", "expected an http:// or https:// URL with a host, no query (the API's address)")
    if (top.public_url is None) != (top.ack_key_file is None):
        missing = "ack_key_file" if top.ack_key_file is None else "public_url"
        problems.add(missing, "public_url and ack_key_file go together (ack links need both)")
        return None
    path = top.ack_key_file
    if path is None:
        return None
    try:
        info = os.stat(path)
        with open(path, "rb") as fh:
            key = fh.read(MAX_SECRET_CHARS + 1).strip()
    except OSError as exc:
        problems.add("ack_key_file", f"cannot read {path}: {exc.strerror or exc}")
        return None
    if not stat.S_ISREG(info.st_mode):
        problems.add("ack_key_file", f"{path} is not a regular file")
    elif info.st_mode & stat.S_IROTH:
        problems.add("ack_key_file", f"{path} is readable by every user (mode {info.st_mode & 0o777:o}): chmod o-r it")
    elif len(key) < MIN_KEY_BYTES:
        problems.add(
            "ack_key_file",
            f"{path} holds {len(key)} bytes: an ack key needs at least {MIN_KEY_BYTES} "
            "(e.g. head -c 32 /dev/urandom | base64 > FILE)",
        )
    else:
        return Secret(key.decode("latin-1"), path)
    return None


def _warn_if_nothing_to_do(specs: tuple[CheckSpec, ...], notify: NotifyConfig, warnings: Problems) -> None:
    """Valid but probably not meant: a config that watches nothing, or tells nobody."""
    if not specs:
        warnings.add("checks", "no checks configured: the daemon runs but watches nothing")
    if not notify.channels:
        warnings.add(
            "notify.channels", "no notification channel: a failure that a restart cannot fix is told to nobody"
        )


def _check_post_deploy(node: object, checks: object, problems: Problems) -> None:
    """Every check `post_deploy.checks` names must be configured (read from the YAML, so
    this is told even when another key of `post_deploy` has a problem)."""
    listed = node.get("checks") if isinstance(node, dict) else None
    if not isinstance(listed, list):
        return
    names = set(_index_by_name(checks))
    for j, name in enumerate(listed):
        if isinstance(name, str) and name not in names:
            problems.add(
                f"post_deploy.checks[{j}]", f"no check named {name!r} (checks: {', '.join(sorted(names)) or 'none'})"
            )


def parse_config(node: object, source: str, *, checks: Registry, channels: Registry) -> WatchdogConfig:
    """A `WatchdogConfig` from parsed YAML; raises ConfigError listing every problem.

    `checks` and `channels` map each valid `type:` to its class."""
    problems, warnings = Problems(), Problems()
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
    specs = _parse_checks(node.get("checks"), defaults, checks, problems, warnings)
    if top is not None:
        _check_remediation(specs, top.remediation.backend, node.get("checks"), problems)
    notify = _parse_notify(node.get("notify"), channels, problems)
    if top is not None:
        _check_holiday_country(top.business_hours.holidays, problems)
    if top is not None:
        _check_api_hosts(top.api_hosts, problems)
    ack_key = _read_ack_key(top, problems) if top is not None else None
    _warn_if_nothing_to_do(specs, notify, warnings)
    _check_post_deploy(node.get("post_deploy"), node.get("checks"), problems)
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
        checks=specs,
        remediation=top.remediation,
        business_hours=top.business_hours,
        notify=notify,
        heartbeat=top.heartbeat,
        report=top.report,
        post_deploy=top.post_deploy,
        api_hosts=tuple(name.lower().rstrip(".") for name in top.api_hosts),
        public_url=top.public_url.rstrip("/") if top.public_url else None,
        ack_key=ack_key,
        warnings=tuple(warnings.items),
    )


def load_config(path: str, *, checks: Registry, channels: Registry) -> WatchdogConfig:
    """The config in file `path`; raises ConfigError naming the file and every problem."""
    return parse_config(load_yaml(path), path, checks=checks, channels=channels)
