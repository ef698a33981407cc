"""How times, durations and weekly windows read in messages: local time with its offset."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

DAY_NAMES = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")


def offset_text(moment: datetime) -> str:
    """ "+01:00" style offset of an aware time."""
    offset = moment.utcoffset() or timedelta()
    sign = "-" if offset < timedelta() else "+"
    minutes = abs(int(offset.total_seconds())) // 60
    return f"{sign}{minutes // 60:02d}:{minutes % 60:02d}"


def local_text(moment: datetime, tz: ZoneInfo, *, date: bool = True) -> str:
    """ "Thu 2026-12-24 10:00 CET (+01:00)"; seconds only when not zero."""
    local = moment.astimezone(tz)
    clock = local.strftime("%H:%M:%S" if local.second else "%H:%M")
    day = f"{DAY_NAMES[local.weekday()]} {local.date().isoformat()} " if date else ""  # %Y drops zeros of year 2
    return f"{day}{clock} {local.tzname()} ({offset_text(local)})"


def duration_text(delta: timedelta) -> str:
    """ "1h30m", "45m", "20s"."""
    seconds = int(delta.total_seconds())
    days, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    parts = [f"{v}{u}" for v, u in ((days, "d"), (hours, "h"), (minutes, "m"), (secs, "s")) if v]
    return "".join(parts) or "0s"


def days_text(days: Iterable[int]) -> str:
    """ "Mon-Thu", "Mon, Wed, Fri-Sun": weekday numbers (0 = Monday) as ranges."""
    ordered = sorted(set(days))
    runs: list[list[int]] = []
    for day in ordered:
        if runs and day == runs[-1][-1] + 1:
            runs[-1].append(day)
        else:
            runs.append([day])
    return ", ".join(
        DAY_NAMES[run[0]] if len(run) == 1 else f"{DAY_NAMES[run[0]]}-{DAY_NAMES[run[-1]]}" for run in runs
    )
