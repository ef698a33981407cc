"""The working-hours report for people: what `shop-watchdog report` prints and the weekly
digest's message says (the report as JSON, watchdog.incidents.report)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


def _human(seconds: float) -> str:
    """`58h 15m`, `1h`, `90s`... as people count reaction times: hours, minutes, seconds."""
    hours, rest = divmod(round(seconds), 3600)
    minutes, secs = divmod(rest, 60)
    parts = [f"{n}{unit}" for n, unit in ((hours, "h"), (minutes, "m"), (secs, "s")) if n]
    return " ".join(parts) or "0s"


def _figures(duration: Mapping[str, float]) -> str:
    return f"{_human(duration['clock_seconds'])} (working {_human(duration['working_seconds'])})"


def _took(duration: Mapping[str, float] | None, what: str) -> str:
    return f"not {what} yet" if duration is None else f"{what} after {_figures(duration)}"


def _mean(duration: Mapping[str, float] | None) -> str:
    return "none" if duration is None else _figures(duration)


def format_report(report: Mapping[str, Any]) -> str:
    lines = [
        f"report for {report['host']}: {report['since']} to {report['until']}",
        f"working hours: {report['business_hours']}",
        f"incidents opened: {report['incidents']}",
    ]
    repairs = report["auto_repairs"]
    lines.append("auto-repairs per service:" if repairs else "auto-repairs per service: none")
    for item in repairs:
        lines.append(f"  {item['check']}: {item['restarts']} restarts, {item['auto_repaired']} auto-repaired")
    pages = report["pages"]
    lines.append(f"pages: {len(pages)}")
    for page in pages:
        acked = _took(page["to_acknowledge"], "acknowledged")
        if page["acked_by"]:
            acked += f" by {page['acked_by']}"
        resolved = _took(page["to_resolve"], "resolved")
        lines.append(
            f"  {page['id']} {page['check']} ({page['severity']}) paged {page['paged_at']}: {acked}; {resolved}"
        )
    means = report["means"]
    if pages:
        lines.append(
            f"mean time to acknowledge: {_mean(means['to_acknowledge'])}; to resolve: {_mean(means['to_resolve'])}"
        )
    return "\n".join(lines)
