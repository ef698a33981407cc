"""The status document (`GET /api/v1/status`), defined once for the daemon that writes it and
the programs that read it.

The daemon builds a `StatusDocument` (watchdog.service.daemon); deploy-guard's incident gate
and `shop-watchdog status` read one with `read_status`, which checks the answer against the
same TypedDicts. Required keys are the product contract:
`{"host", "checks": [{"name", "type", "status", "severity", "since", "message"}],
"incidents": [{"id", "check", "severity", "state", "opened_at"}]}`, with `state` one of
`open`, `repairing`, `paged`, `acknowledged`. The other keys are the daemon's extras: shown
to people, never relied on by a reader (`read_status` drops an extra it cannot read, so a
newer daemon's richer answer still passes an older gate).

An incident entry that breaks the contract is still an incident: `read_status` returns it
as `UnreadableIncident` (a release gate must fail closed on it), while an answer that is no
status document at all raises `NotAStatusDocument`.

No `from __future__ import annotations` here: `NotRequired` must be visible to TypedDict at
class creation, or every key would count as required.
"""

import enum
import json
import types
import typing
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, NotRequired, TypedDict, Union, cast, get_args, get_origin, get_type_hints

from watchdog.common.incident_terms import UNRESOLVED, IncidentState, Severity, Substate


class HistoryPoint(TypedDict):
    """One past result of a check (the status page draws them as a sparkline)."""

    at: str
    status: str
    duration: float | None


class CheckEntry(TypedDict):
    """One configured check and its latest status."""

    name: str
    type: str
    status: str
    """OK, WARNING, CRITICAL or UNKNOWN (UNKNOWN and `pending` before the first result)."""
    severity: Severity
    since: str
    """When the current status began (ISO-8601 UTC with `Z`)."""
    message: str
    interval: NotRequired[float]
    retries: NotRequired[int]
    pending: NotRequired[bool]
    hard: NotRequired[bool]
    last_run: NotRequired[str | None]
    failures: NotRequired[int]
    duration: NotRequired[float | None]
    measurements: NotRequired[dict[str, float]]
    history: NotRequired[list[HistoryPoint]]
    """The last results, oldest first (in memory: empty again after a restart)."""


class IncidentEntry(TypedDict):
    """One unresolved incident."""

    id: str
    check: str
    severity: Severity
    state: IncidentState
    opened_at: str
    substate: NotRequired[Substate | None]
    """What an `open` or `repairing` incident waits for; None for `paged` and `acknowledged`."""
    since: NotRequired[str]
    summary: NotRequired[str]
    tried: NotRequired[str]
    paged_channels: NotRequired[list[str]]
    acked_by: NotRequired[str | None]
    silenced_until: NotRequired[str | None]
    deferred_until: NotRequired[str | None]


class ChannelBacklog(TypedDict):
    pending: int
    attempts: int
    last_error: str | None


class OutboxSummary(TypedDict):
    """The delivery queue: messages by state; `channels` only while something is pending."""

    pending: int
    failed: int
    delivered: NotRequired[int]
    oldest_pending_at: NotRequired[str | None]
    channels: NotRequired[dict[str, ChannelBacklog]]


class SilenceEntry(TypedDict):
    """One active silence: planned work on `check` until `until`, set by `created_by`."""

    id: str
    check: str
    reason: str
    created_by: str
    created_at: str
    until: str


class RepairEntry(TypedDict):
    """An incident that closed as auto-repaired: a restart fixed it, nobody was paged."""

    id: str
    check: str
    opened_at: str
    closed_at: str
    summary: str


class CheckAvailability(TypedDict):
    """One critical check's share of the time watched in the window (`name` "" is the shop)."""

    name: str
    availability: float | None
    """good / total seconds, 0 to 1; None when nothing was watched in the window."""
    good_seconds: float
    total_seconds: float


class Availability(TypedDict):
    """The shop's availability over a window, from the daemon's own check history
    (`GET /api/v1/availability?window=28d`, or the status document with `?availability=28d`).

    Time counts as good while no critical check is confirmed CRITICAL, to the hour: the
    window starts at the beginning of the hour it reaches back to."""

    window: str
    since: str
    availability: float | None
    good_seconds: float
    total_seconds: float
    checks: list[CheckAvailability]


class StatusDocument(TypedDict):
    host: str
    checks: list[CheckEntry]
    incidents: list[IncidentEntry]
    version: NotRequired[str]
    config: NotRequired[str]
    started_at: NotRequired[str]
    healthy: NotRequired[bool]
    outbox: NotRequired[OutboxSummary]
    silences: NotRequired[list[SilenceEntry]]
    """The active silences, oldest first (`GET /api/v1/silences` lists the same)."""
    recent_repairs: NotRequired[list[RepairEntry]]
    """Auto-repairs of the last 24 hours, newest first."""
    availability: NotRequired[Availability]
    """Only when asked for with `?availability=WINDOW` (it reads the history)."""


class NotAStatusDocument(ValueError):
    """The answer is not a status document (not JSON, no `incidents` list, no `host`...)."""


@dataclass(frozen=True)
class UnreadableIncident:
    """An `incidents` entry that breaks the contract; `id` when it has a readable one."""

    id: str | None
    problem: str


@dataclass(frozen=True)
class StatusReading:
    """A status document as read: `document["incidents"]` holds the readable incidents."""

    document: StatusDocument
    unreadable: tuple[UnreadableIncident, ...] = ()


def read_status(body: bytes | str) -> StatusReading:
    """Parses and checks a status document; raises NotAStatusDocument when it is none."""
    try:
        raw = json.loads(body)
    except (ValueError, UnicodeDecodeError) as exc:
        raise NotAStatusDocument("answer is not JSON") from exc
    incidents = raw.get("incidents") if isinstance(raw, dict) else None
    if not isinstance(incidents, list) or not all(isinstance(i, dict) for i in incidents):
        raise NotAStatusDocument('answer has no "incidents" list')
    document, problems = _read({**raw, "incidents": []}, StatusDocument)
    if problems:
        raise NotAStatusDocument("answer is not a status document: " + "; ".join(problems))
    readable: list[IncidentEntry] = []
    unreadable: list[UnreadableIncident] = []
    for position, item in enumerate(incidents):
        entry, problems = _read(item, IncidentEntry)
        if not problems and entry["state"] not in UNRESOLVED:
            problems = [f"state: {entry['state'].value!r} is not an unresolved state"]
        if problems:
            given = item.get("id")
            where = f"incidents[{position}]"
            unreadable.append(UnreadableIncident(given if isinstance(given, str) else None, f"{where}: {problems[0]}"))
        else:
            readable.append(cast(IncidentEntry, entry))
    status = cast(StatusDocument, document)
    status["incidents"] = readable
    return StatusReading(status, tuple(unreadable))


# -- checking a JSON value against the TypedDicts above ---------------------------------------


def _read(raw: Mapping[str, Any], shape: Any) -> tuple[dict[str, Any], list[str]]:
    """`raw` with enum values converted, and what breaks `shape`. Required keys must be there
    and fit; an optional key that does not fit is dropped (extras are never relied on)."""
    hints = get_type_hints(shape)
    out: dict[str, Any] = {}
    problems: list[str] = []
    for key, hint in hints.items():
        if key not in raw:
            if key in shape.__required_keys__:
                problems.append(f"{key}: missing")
            continue
        value, problem = _fit(raw[key], hint, key)
        if problem is None:
            out[key] = value
        elif key in shape.__required_keys__:
            problems.append(problem)
    return out, problems


def _fit(value: Any, hint: Any, path: str) -> tuple[Any, str | None]:
    """`value` as `hint` (enums converted), or the problem at `path`."""
    origin = get_origin(hint)
    if origin in (Union, types.UnionType):
        for option in get_args(hint):
            fitted, problem = _fit(value, option, path)
            if problem is None:
                return fitted, None
        return None, f"{path}: {value!r} is not {_name(hint)}"
    if hint is type(None):
        return (None, None) if value is None else (None, f"{path}: expected null")
    if isinstance(hint, type) and issubclass(hint, enum.Enum):
        choices = [m.value for m in hint]
        if value in choices:
            return hint(value), None
        return None, f"{path}: expected one of {', '.join(choices)}, got {value!r}"
    if typing.is_typeddict(hint):
        if not isinstance(value, dict):
            return None, f"{path}: expected an object"
        fitted, problems = _read(value, hint)
        return (fitted, None) if not problems else (None, f"{path}.{problems[0]}")
    if origin is list:
        if not isinstance(value, list):
            return None, f"{path}: expected a list"
        (item_hint,) = get_args(hint)
        items = []
        for index, item in enumerate(value):
            fitted, problem = _fit(item, item_hint, f"{path}[{index}]")
            if problem is not None:
                return None, problem
            items.append(fitted)
        return items, None
    if origin is dict:
        if not isinstance(value, dict):
            return None, f"{path}: expected an object"
        _, value_hint = get_args(hint)
        mapping = {}
        for key, item in value.items():
            fitted, problem = _fit(item, value_hint, f"{path}.{key}")
            if problem is not None:
                return None, problem
            mapping[key] = fitted
        return mapping, None
    return _fit_scalar(value, hint, path)


def _fit_scalar(value: Any, hint: type, path: str) -> tuple[Any, str | None]:
    if isinstance(value, bool) and hint is not bool:
        return None, f"{path}: expected {hint.__name__}, got {value!r}"
    if hint is float and isinstance(value, int):
        return float(value), None
    if isinstance(value, hint):
        return value, None
    return None, f"{path}: expected {hint.__name__}, got {value!r}"


def _name(hint: Any) -> str:
    return " or ".join("null" if a is type(None) else getattr(a, "__name__", str(a)) for a in get_args(hint))
