"""What the CLI prints: config summary, `once` results, daemon status and its silences.

Human output is one line per check, worst first; `--json` is for scripts."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from checks.base import Status
from watchdog.common.configtools import format_seconds
from watchdog.config.model import WatchdogConfig
from watchdog.monitor.runner import RunOutcome

_ORDER = {"CRITICAL": 0, "UNKNOWN": 1, "WARNING": 2, "OK": 3}


def format_config_summary(config: WatchdogConfig) -> str:
    lines = [
        f"{config.source}: valid",
        f"host {config.host}, state_dir {config.state_dir}, listen {config.listen}"
        + (", API token set" if config.api_token is not None else ""),
        f"{len(config.checks)} checks:",
    ]
    for spec in config.checks:
        repair = ""
        if spec.remediate is not None:
            repair = f", restart {spec.remediate.restart}" if spec.remediate.restart else ", repair command"
        lines.append(
            f"  {spec.name} ({spec.type}, {spec.severity}, every {format_seconds(spec.interval)}, "
            f"timeout {format_seconds(spec.timeout)}, hard after {spec.retries}{repair})"
        )
    channels = ", ".join(f"{c.name} ({c.type})" for c in config.notify.channels)
    lines.append(f"notify channels: {channels or 'none (nobody is paged)'}")
    if config.heartbeat is not None:
        lines.append(f"heartbeat every {format_seconds(config.heartbeat.interval)}")
    return "\n".join(lines)


def once_json(config: WatchdogConfig, outcomes: list[RunOutcome | None], overall: Status) -> dict[str, Any]:
    checks = []
    for spec, outcome in zip(config.checks, outcomes, strict=True):
        item: dict[str, Any] = {"name": spec.name, "type": spec.type, "severity": spec.severity}
        if outcome is None:
            item |= {"status": Status.UNKNOWN.name, "message": "did not run"}
        else:
            item |= {
                "status": Status(outcome.result.status).name,
                "message": outcome.result.message,
                "duration": round(outcome.duration, 6),
                "timed_out": outcome.timed_out,
                "measurements": dict(outcome.result.measurements),
            }
        checks.append(item)
    return {"host": config.host, "status": overall.name, "exit_code": int(overall), "checks": checks}


def format_once(config: WatchdogConfig, outcomes: list[RunOutcome | None], overall: Status) -> str:
    rows = once_json(config, outcomes, overall)["checks"]
    rows.sort(key=lambda r: (_ORDER.get(r["status"], 9), r["name"]))
    width = max((len(r["name"]) for r in rows), default=4)
    lines = [f"{r['status']:<8} {r['name']:<{width}}  {r['message']}" for r in rows]
    lines.append(f"{overall.name}: {len(rows)} checks on {config.host}")
    return "\n".join(lines)


def format_status(status: dict[str, Any]) -> str:
    checks = sorted(status.get("checks", []), key=lambda c: (_ORDER.get(c.get("status", ""), 9), c.get("name", "")))
    width = max((len(c.get("name", "")) for c in checks), default=4)
    lines = [
        f"{status.get('host')}: {len(checks)} checks "
        f"(daemon {status.get('version', '?')}, since {status.get('started_at')})"
    ]
    for c in checks:
        soft = (
            "" if c.get("hard", True) or c.get("status") == "OK" else f" [soft {c.get('failures')}/{c.get('retries')}]"
        )
        lines.append(
            f"  {c.get('status', '?'):<8} {c.get('name', ''):<{width}}  "
            f"{c.get('message', '')}{soft} (since {c.get('since')})"
        )
    incidents = status.get("incidents", [])
    lines.append(f"{len(incidents)} open incidents" + (":" if incidents else ""))
    for inc in incidents:
        waits = f" ({inc['substate']})" if inc.get("substate") else ""
        lines.append(
            f"  {inc.get('id')} {inc.get('check')} {inc.get('severity')} {inc.get('state')}{waits} "
            f"since {inc.get('opened_at')}"
        )
    outbox = status.get("outbox") or {}
    if outbox:
        lines.append("outbox: " + ", ".join(f"{k} {v}" for k, v in outbox.items()))
    lines.append(format_silences(status.get("silences", [])))
    return "\n".join(lines)


def format_silences(silences: list[dict[str, Any]]) -> str:
    """The silences in force, one line each: id, check, until when, who and why."""
    if not silences:
        return "no silences in force"
    lines = [f"{len(silences)} silence{'s' if len(silences) > 1 else ''} in force:"]
    for s in silences:
        lines.append(
            f"  {s.get('id')} {s.get('check')} until {when(s.get('until'), 'seconds')} "
            f"(by {s.get('created_by')} at {when(s.get('created_at'), 'seconds')}): {s.get('reason')}"
        )
    return "\n".join(lines)


def when(value: object, timespec: str = "milliseconds") -> str:
    """An ISO-8601 time from the API as people read it: UTC with `Z`, to `timespec`
    (anything that is no such time is shown as it came)."""
    try:
        moment = datetime.fromisoformat(str(value))
    except ValueError:
        return str(value)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).isoformat(timespec=timespec).replace("+00:00", "Z")
