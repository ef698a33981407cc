"""The release policy: reading, validating and resolving it into typed, timezone-aware values.

Fails closed: any problem (unreadable file, invalid YAML, unknown key, unknown timezone or
country, a malformed time or date) raises `ConfigError` naming the file, the key and the
problem, all problems at once. A policy file that leaves a section out gets the contract's
defaults for it, except the dated ones (`holidays.extra`, `freezes`), `incident_gate` and
`error_budget`, which are empty/absent unless written.

Where to read from: `$DEPLOY_GUARD_CONFIG`, else /etc/shop-watchdog/deploy-guard.yaml, else
the embedded default (exactly the contract's policy). A path that is named but missing is
an error, never a silent fallback.
"""

from __future__ import annotations

import dataclasses
import os
import typing
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo

from deploy_guard.alert_matchers import parse_matcher
from deploy_guard.default_policy import DEFAULT_POLICY_YAML
from deploy_guard.inputs import env_text
from watchdog.common.configtools import (
    Between,
    ConfigError,
    Duration,
    Percent,
    Problem,
    Problems,
    Secret,
    convert,
    join,
    load_yaml,
    parse_yaml,
)
from watchdog.common.holiday_calendar import is_known_country

ETC_POLICY_PATH = "/etc/shop-watchdog/deploy-guard.yaml"
ENV_POLICY_PATH = "DEPLOY_GUARD_CONFIG"
EMBEDDED_SOURCE = "<embedded default policy>"
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
FIRST_EDGE = date(1, 1, 2)
LAST_EDGE = date(9999, 12, 30)
MAX_BLOCK_DAYS_BEFORE = 31
MAX_GATE_TIMEOUT = 60.0
MINUTES_PER_DAY = 24 * 60
DAY = 86400.0
MAX_BUDGET_WINDOW = 90 * DAY
"""The watchdog keeps 90 days of availability history."""

Weekday = Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]


@dataclass(frozen=True)
class WindowConfig:
    days: tuple[Weekday, ...]
    start: Any
    end: Any


@dataclass(frozen=True)
class HolidaysConfig:
    country: str | None = "PL"
    extra: Mapping[Any, str] = field(default_factory=dict)
    block_days_before: int = 1


@dataclass(frozen=True)
class FreezeConfig:
    name: str
    start: Any
    end: Any
    reason: str = ""


@dataclass(frozen=True)
class HotfixConfig:
    branch_patterns: tuple[str, ...] = ("hotfix/*",)
    commit_tags: tuple[str, ...] = ("[hotfix]",)
    require_reason: bool = True


@dataclass(frozen=True)
class IncidentGateConfig:
    """The sources: each server's own `status_urls`, and for the fleet an Alertmanager
    cluster and/or a Prometheus query (deploy_guard.fleet_gate); at least one of them."""

    status_urls: tuple[str, ...] = ()
    alertmanager_urls: tuple[str, ...] = ()
    alertmanager_matchers: tuple[str, ...] = ('severity="critical"',)
    prometheus_url: str | None = None
    prometheus_query: str | None = None
    block_on: Literal["critical", "warning"] = "critical"
    on_unreachable: Literal["block", "allow"] = "block"
    timeout: Annotated[Duration, Between(0.001, MAX_GATE_TIMEOUT)] = 3.0
    """At most MAX_GATE_TIMEOUT: CI waits that long for the answer."""
    api_token: Secret | None = None
    """From `api_token_env` / `api_token_file`: the watchdogs' write token, which recording a
    release (`deploy-guard record`, `check --record`) sends to each status URL's daemon."""


@dataclass(frozen=True)
class ErrorBudgetConfig:
    """No normal release while the shop's availability over `window`, as the watchdogs at
    `status_urls` measured it from their own check history, is under `objective`
    (deploy_guard.error_budget)."""

    objective: Percent
    status_urls: tuple[str, ...]
    window: Annotated[Duration, Between(3600.0, MAX_BUDGET_WINDOW)] = 28 * DAY
    on_unreachable: Literal["block", "allow"] = "block"
    timeout: Annotated[Duration, Between(0.001, MAX_GATE_TIMEOUT)] = 3.0


@dataclass(frozen=True)
class PolicyConfig:
    timezone: str = "Europe/Warsaw"
    windows: tuple[WindowConfig, ...] = (WindowConfig(("mon", "tue", "wed", "thu"), "08:00", "12:00"),)
    holidays: HolidaysConfig = HolidaysConfig()
    freezes: tuple[FreezeConfig, ...] = ()
    hotfix: HotfixConfig = HotfixConfig()
    incident_gate: IncidentGateConfig | None = None
    error_budget: ErrorBudgetConfig | None = None
    audit_log: str = "/var/log/shop-watchdog/deploy-guard.jsonl"


@dataclass(frozen=True)
class Window:
    """A weekly opening: on `days` (0 = Monday), minutes `[start, end)` after local midnight."""

    days: frozenset[int]
    start: int
    end: int

    @property
    def hours(self) -> str:
        return f"{_clock(self.start)}-{_clock(self.end)}"


@dataclass(frozen=True)
class Freeze:
    """A closed period `[start, end)`; `whole_days` when given as dates (both inclusive).

    `key` is its place in the policy file (`freezes[2]`), for messages.
    """

    name: str
    start: datetime
    end: datetime
    reason: str
    whole_days: bool
    key: str


@dataclass(frozen=True)
class Policy:
    source: str
    timezone: ZoneInfo
    windows: tuple[Window, ...]
    country: str | None
    extra_days_off: Mapping[date, str]
    block_days_before: int
    freezes: tuple[Freeze, ...]
    hotfix: HotfixConfig
    incident_gate: IncidentGateConfig | None
    audit_log: str
    error_budget: ErrorBudgetConfig | None = None


def _clock(minutes: int) -> str:
    return f"{minutes // 60:02d}:{minutes % 60:02d}"


def _minutes(value: object, path: str, problems: Problems, *, allow_24: bool) -> int | None:
    """Minutes after midnight of "HH:MM"; "24:00" only as an end."""
    if isinstance(value, int) and not isinstance(value, bool):
        problems.add(path, f'write times as quoted "HH:MM" strings (YAML read this one as the number {value})')
        return None
    if isinstance(value, str):
        parts = value.strip().split(":")
        if len(parts) == 2 and all(len(p) == 2 and p.isdigit() for p in parts):
            hours, minutes = int(parts[0]), int(parts[1])
            if minutes < 60 and (hours < 24 or (allow_24 and hours == 24 and minutes == 0)):
                return hours * 60 + minutes
    limit = "00:00 to 24:00" if allow_24 else "00:00 to 23:59"
    problems.add(path, f'expected a time "HH:MM" from {limit}, got {value!r}')
    return None


def _window(cfg: WindowConfig, path: str, problems: Problems) -> Window | None:
    start = _minutes(cfg.start, join(path, "start"), problems, allow_24=False)
    end = _minutes(cfg.end, join(path, "end"), problems, allow_24=True)
    if not cfg.days:
        problems.add(join(path, "days"), "expected at least one day (mon..sun)")
        return None
    if start is None or end is None:
        return None
    if end <= start:
        problems.add(
            join(path, "end"), f"must be after start ({_clock(start)}); a window cannot cross midnight, split it in two"
        )
        return None
    return Window(frozenset(WEEKDAYS.index(d) for d in cfg.days), start, end)


def _date(value: object) -> date | None:
    if isinstance(value, datetime):
        return None
    if isinstance(value, date):
        return value
    if isinstance(value, str):
        try:
            return date.fromisoformat(value.strip())
        except ValueError:
            return None
    return None


def _moment(value: object, tz: ZoneInfo) -> datetime | None:
    """An aware date-time from a YAML timestamp or ISO-8601 string; naive ones are read in `tz`."""
    if isinstance(value, datetime):
        moment = value
    elif isinstance(value, str):
        try:
            moment = datetime.fromisoformat(value.strip())
        except ValueError:
            return None
    else:
        return None
    return moment.replace(tzinfo=tz) if moment.tzinfo is None else moment


def _freeze_edge(
    value: object, tz: ZoneInfo, path: str, problems: Problems, *, is_end: bool
) -> tuple[datetime, bool] | None:
    """(instant, given as a date); a date end means the end of that day (inclusive).

    Edges beyond the dates Python can shift between timezones (a freeze "until 9999-12-31")
    are moved to the last (or first) such day: far outside any date the guard judges, so the
    freeze means the same, and no later computation overflows.
    """
    day = _date(value)
    if day is not None:
        day = min(max(day, FIRST_EDGE), LAST_EDGE)
        if is_end:
            day += timedelta(days=1)
        return datetime.combine(day, time(), tzinfo=tz), True
    moment = _moment(value, tz)
    if moment is not None:
        if not FIRST_EDGE <= moment.date() <= LAST_EDGE:
            moment = datetime.combine(min(max(moment.date(), FIRST_EDGE), LAST_EDGE), time(), tzinfo=moment.tzinfo)
        return moment, False
    problems.add(path, f"expected a date (2026-11-23) or a date-time (2026-11-23T14:00), got {value!r}")
    return None


def _freeze(cfg: FreezeConfig, tz: ZoneInfo, path: str, problems: Problems) -> Freeze | None:
    start = _freeze_edge(cfg.start, tz, join(path, "start"), problems, is_end=False)
    end = _freeze_edge(cfg.end, tz, join(path, "end"), problems, is_end=True)
    if start is None or end is None:
        return None
    if end[0] <= start[0]:
        problems.add(join(path, "end"), "must not be before start")
        return None
    return Freeze(cfg.name, start[0], end[0], cfg.reason, start[1] and end[1], path)


def _timezone(name: str, problems: Problems) -> ZoneInfo | None:
    try:
        return ZoneInfo(name)
    except (KeyError, ValueError, OSError):  # ZoneInfoNotFoundError is a KeyError
        problems.add("timezone", f"unknown IANA timezone {name!r} (e.g. Europe/Warsaw)")
        return None


def _extra_days(extra: Mapping[Any, str], problems: Problems) -> dict[date, str]:
    days: dict[date, str] = {}
    for key, name in extra.items():
        day = _date(key)
        if day is None:
            problems.add(join("holidays.extra", str(key)), f"expected a date like 2026-12-31 as key, got {key!r}")
        else:
            days[day] = name
    return days


def _check_gate(gate: IncidentGateConfig, problems: Problems) -> None:
    if not (gate.status_urls or gate.alertmanager_urls or gate.prometheus_url):
        problems.add(
            "incident_gate",
            "give at least one source: status_urls, alertmanager_urls or prometheus_url (or leave incident_gate out)",
        )
    _check_urls("incident_gate.status_urls", gate.status_urls, problems)
    _check_urls("incident_gate.alertmanager_urls", gate.alertmanager_urls, problems)
    _check_fleet_sources(gate, problems)


def _check_urls(key: str, urls: tuple[str, ...], problems: Problems) -> None:
    for i, url in enumerate(urls):
        if not url.startswith(("http://", "https://")):
            problems.add(join(key, i), f"expected an http:// or https:// URL, got {url!r}")


def _check_error_budget(budget: ErrorBudgetConfig, problems: Problems) -> None:
    if not 0 < budget.objective < 100:
        problems.add(
            "error_budget.objective", f"expected a percentage above 0% and below 100%, got {budget.objective:g}%"
        )
    if not budget.status_urls:
        problems.add("error_budget.status_urls", "give at least one watchdog status URL (its /api/v1/status)")
    _check_urls("error_budget.status_urls", budget.status_urls, problems)


def _check_fleet_sources(gate: IncidentGateConfig, problems: Problems) -> None:
    for i, text in enumerate(gate.alertmanager_matchers):
        try:
            parse_matcher(text)
        except ValueError as exc:
            problems.add(join("incident_gate.alertmanager_matchers", i), str(exc))
    url = gate.prometheus_url
    if url is not None and not url.startswith(("http://", "https://")):
        problems.add("incident_gate.prometheus_url", f"expected an http:// or https:// URL, got {url!r}")
    if (gate.prometheus_url is None) != (gate.prometheus_query is None):
        missing = "prometheus_query" if gate.prometheus_query is None else "prometheus_url"
        problems.add(f"incident_gate.{missing}", "prometheus_url and prometheus_query go together: give both")
    elif gate.prometheus_query is not None and not gate.prometheus_query.strip():
        problems.add("incident_gate.prometheus_query", "expected a PromQL expression, got an empty one")


def _check_hotfix(hotfix: HotfixConfig, problems: Problems) -> None:
    for key, values in (("branch_patterns", hotfix.branch_patterns), ("commit_tags", hotfix.commit_tags)):
        for i, value in enumerate(values):
            if not value.strip():
                problems.add(join(f"hotfix.{key}", i), "must not be empty (it would match everything)")


def _sections(node: object, problems: Problems) -> dict[str, Any] | None:
    """The top-level sections, each converted on its own (None if `node` is not a mapping).

    Unlike one `build(PolicyConfig, ...)`, a broken section (or list item) does not hide
    the problems of the others: every section that converts is checked further, so the
    user sees every problem at once. A section that fails is left out (its default stands
    in, and adds no problems); a list keeps the items that converted.
    """
    if not isinstance(node, dict):
        problems.add("", f"expected a mapping of policy keys, got {type(node).__name__}")
        return None
    hints = typing.get_type_hints(PolicyConfig, include_extras=True)
    names = [f.name for f in dataclasses.fields(PolicyConfig)]
    for key in node:
        if key not in names:
            problems.add(str(key), f"unknown key (valid keys: {', '.join(sorted(names))})")
    sections: dict[str, Any] = {}
    for name in names:
        if name not in node:
            continue
        value = convert(hints[name], node[name], name, problems)
        if isinstance(value, tuple):
            sections[name] = tuple(item for item in value if item is not None)
        elif value is not None or node[name] is None:
            sections[name] = value
    return sections


def parse_policy(node: object, source: str) -> Policy:
    """A validated `Policy` from a parsed YAML node; raises ConfigError listing every problem."""
    problems = Problems()
    sections = _sections(node, problems)
    if sections is None:
        raise ConfigError(source, problems.items)
    cfg = PolicyConfig(**sections)
    tz = _timezone(cfg.timezone, problems)
    windows = [_window(w, join("windows", i), problems) for i, w in enumerate(cfg.windows)]
    country = cfg.holidays.country
    if country is not None and not is_known_country(country):
        problems.add("holidays.country", f"unknown country code {country!r} for the holidays library (e.g. PL)")
    if cfg.holidays.block_days_before < 0:
        problems.add("holidays.block_days_before", "must not be negative")
    elif cfg.holidays.block_days_before > MAX_BLOCK_DAYS_BEFORE:
        problems.add(
            "holidays.block_days_before", f"at most {MAX_BLOCK_DAYS_BEFORE} (a longer closed period is a freeze)"
        )
    extra = _extra_days(cfg.holidays.extra, problems)
    freeze_tz = tz or ZoneInfo("UTC")  # with a bad timezone, still report the freezes' own problems
    freezes = [_freeze(f, freeze_tz, join("freezes", i), problems) for i, f in enumerate(cfg.freezes)]
    _check_hotfix(cfg.hotfix, problems)
    if cfg.incident_gate is not None:
        _check_gate(cfg.incident_gate, problems)
    if cfg.error_budget is not None:
        _check_error_budget(cfg.error_budget, problems)
    if not cfg.audit_log.strip():
        problems.add("audit_log", "expected a file path")
    problems.raise_if_any(source)
    assert tz is not None
    return Policy(
        source=source,
        timezone=tz,
        windows=tuple(w for w in windows if w is not None),
        country=country.upper() if country else None,
        extra_days_off=extra,
        block_days_before=cfg.holidays.block_days_before,
        freezes=tuple(f for f in freezes if f is not None),
        hotfix=cfg.hotfix,
        incident_gate=cfg.incident_gate,
        audit_log=cfg.audit_log,
        error_budget=cfg.error_budget,
    )


def policy_path(explicit: str | None, environ: Mapping[str, str]) -> str | None:
    """The policy file to read, or None for the embedded default."""
    if explicit:
        return explicit
    from_env = env_text(environ, ENV_POLICY_PATH)
    if from_env:
        return from_env
    return ETC_POLICY_PATH if os.path.exists(ETC_POLICY_PATH) else None


def load_policy(explicit: str | None, environ: Mapping[str, str]) -> Policy:
    """The policy from `-c`, the environment, /etc, or the embedded default; ConfigError if bad."""
    path = policy_path(explicit, environ)
    if path is None:
        return parse_policy(parse_yaml(DEFAULT_POLICY_YAML, EMBEDDED_SOURCE), EMBEDDED_SOURCE)
    node = load_yaml(path)
    if node is None:
        raise ConfigError(path, [Problem("", "the file is empty; an empty policy is not accepted")])
    return parse_policy(node, path)
