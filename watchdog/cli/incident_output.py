"""What the CLI prints about incidents from the daemon's history: the list (`incidents`), one
incident (`incident ID`) and its post-mortem timeline (`timeline ID`, Markdown or JSON).

Every timeline kind is shown as it comes (the engine's own, `message`/`delivery` from the
outbox, `change` from releases and config reloads, and any added later)."""

from __future__ import annotations

import json
from typing import Any

from watchdog.cli.output import when


def format_incidents(incidents: list[dict[str, Any]], since: str) -> str:
    """One line per incident: id, check, severity, state or resolution, when."""
    head = f"{len(incidents)} incident{'' if len(incidents) == 1 else 's'} opened in the last {since}"
    lines = [head + (":" if incidents else "")]
    for inc in incidents:
        lines.append(f"  {inc.get('id')} {inc.get('check')} {inc.get('severity')} {_state(inc)}")
    return "\n".join(lines)


def _state(inc: dict[str, Any]) -> str:
    if inc.get("closed_at"):
        return (
            f"closed ({inc.get('resolution')}), opened {when(inc.get('opened_at'), 'seconds')}, "
            f"closed {when(inc.get('closed_at'), 'seconds')}"
        )
    return f"{inc.get('state')}, opened {when(inc.get('opened_at'), 'seconds')}, still open"


def format_incident(inc: dict[str, Any]) -> str:
    """The incident, its timeline (one entry per line, continuation lines indented) and restarts."""
    lines = [
        f"{inc.get('id')}: {inc.get('check')} ({inc.get('check_type')}), {inc.get('severity')}, {_state(inc)}",
        f"summary: {inc.get('summary')}",
    ]
    if inc.get("paged_channels"):
        lines.append(f"paged: {', '.join(inc['paged_channels'])}")
    if inc.get("acked_by"):
        lines.append(f"acknowledged by {inc['acked_by']} at {when(inc.get('acked_at'), 'seconds')}")
    timeline = inc.get("timeline", [])
    width = max((len(str(e.get("kind"))) for e in timeline), default=4)
    lines.append("timeline:")
    for entry in timeline:
        first, *rest = str(entry.get("text", "")).splitlines() or [""]
        lines.append(f"  {when(entry.get('at'))}  {entry.get('kind', ''):<{width}}  {first}")
        lines.extend(f"      {line}" for line in rest)
    restarts = inc.get("restarts", [])
    if restarts:
        lines.append("restarts:")
    for r in restarts:
        lines.append(f"  {when(r.get('at'))}  {r.get('result')} (exit {r.get('returncode')}, {r.get('duration')}s)")
        lines.extend(f"      {line}" for line in str(r.get("output", "")).splitlines())
    return "\n".join(lines)


def timeline_markdown(inc: dict[str, Any]) -> str:
    """A post-mortem timeline: a heading with the incident, then a `time | kind | text` table."""
    closed = (
        f"{when(inc.get('closed_at'), 'seconds')} ({inc.get('resolution')})"
        if inc.get("closed_at")
        else f"not yet ({inc.get('state')})"
    )
    lines = [
        f"# Incident {inc.get('id')}: {inc.get('check')} ({inc.get('severity')})",
        "",
        f"- Check: {inc.get('check')} ({inc.get('check_type')})",
        f"- Severity: {inc.get('severity')}",
        f"- Opened: {when(inc.get('opened_at'), 'seconds')}",
        f"- Closed: {closed}",
        f"- Summary: {_cell(str(inc.get('summary', '')))}",
        "",
        "| time | kind | text |",
        "|---|---|---|",
    ]
    lines.extend(
        f"| {when(e.get('at'))} | {_cell(str(e.get('kind')))} | {_cell(str(e.get('text')))} |"
        for e in inc.get("timeline", [])
    )
    return "\n".join(lines)


def _cell(text: str) -> str:
    """`text` fit for one Markdown table cell: pipes and markup escaped, line breaks as <br>."""
    escaped = text.replace("\\", "\\\\").replace("|", "\\|").replace("&", "&amp;").replace("<", "&lt;")
    return "<br>".join(escaped.splitlines())


def timeline_json(inc: dict[str, Any]) -> str:
    """The incident's fields and its `timeline: [{at, kind, text}]`, as one JSON object."""
    fields = {key: value for key, value in inc.items() if key not in ("restarts", "deliveries")}
    return json.dumps(fields, indent=2)
