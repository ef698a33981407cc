"""Warn/crit thresholds shared by the probes, and the numbers they print for humans."""

from __future__ import annotations

from checks.base import Status


def level(value: float, warn: float | None, crit: float | None) -> Status:
    """CRITICAL at or above `crit`, WARNING at or above `warn`, else OK; None disables a level."""
    if crit is not None and value >= crit:
        return Status.CRITICAL
    if warn is not None and value >= warn:
        return Status.WARNING
    return Status.OK


def require_ordered(warn: float | None, crit: float | None, what: str) -> None:
    """ValueError for a config where the warning level lies above the critical one."""
    if warn is not None and crit is not None and warn > crit:
        raise ValueError(f"{what}: warn ({warn:g}) must not be above crit ({crit:g})")


def limit_text(status: Status, warn: float | None, crit: float | None, unit: str = "%") -> str:
    """ "crit 90%" / "warn 80%" for a message, naming the level that was crossed."""
    if status is Status.CRITICAL and crit is not None:
        return f"crit {crit:g}{unit}"
    if status is Status.WARNING and warn is not None:
        return f"warn {warn:g}{unit}"
    return ""


def human_bytes(value: float) -> str:
    """1536 -> "1.5 KiB"; binary units as df -h and free -h print them."""
    units = ("B", "KiB", "MiB", "GiB", "TiB")
    index = 0
    while abs(value) >= 1024 and index < len(units) - 1:
        value /= 1024
        index += 1
    return f"{value:.0f} B" if index == 0 else f"{value:.1f} {units[index]}"


def seconds_text(value: float) -> str:
    """0.0123 -> "12ms", 2.5 -> "2.50s"."""
    return f"{value * 1000:.0f}ms" if value < 1 else f"{value:.2f}s"


def saturation(
    what: str, used: float, limit: float, warn: float | None, crit: float | None, unit: str = ""
) -> tuple[Status, str]:
    """Status and text of `used` of `limit` against percent levels: "connections 95/100 (95%, crit 90%)"."""
    pct = 100.0 * used / limit if limit > 0 else 0.0
    status = level(pct, warn, crit)
    amounts = f"{human_bytes(used)} of {human_bytes(limit)}" if unit == "bytes" else f"{used:g}/{limit:g}"
    crossed = limit_text(status, warn, crit)
    return status, f"{what} {amounts} ({pct:.0f}%{', ' + crossed if crossed else ''})"
