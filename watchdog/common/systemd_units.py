"""systemd unit names as a config may give them, and how they reach systemctl.

A name is checked before it is ever run: the characters systemd allows, a known unit type,
and no leading `-` (systemctl would read `-H host.service` or `--all.service` as an option).
The argv puts `--` before the name anyway (`unit_argv`), so even a name that slipped past the
check is never an option. polkit is unaffected: it sees the D-Bus call systemctl makes (unit
and verb), not systemctl's argv.
"""

from __future__ import annotations

import re

UNIT_TYPES: tuple[str, ...] = ("service", "socket", "target", "timer", "mount", "path")
"""The types a config may name for a restart; status checks also accept `scope` and `slice`."""

_UNIT = re.compile(r"[A-Za-z0-9:_.\\@-]{1,250}\.([a-z]+)")


def unit_name_problem(name: str, types: tuple[str, ...] = UNIT_TYPES) -> str | None:
    """Why `name` is not a unit name to hand to systemctl, or None when it is one."""
    match = _UNIT.fullmatch(name)
    if match is None or match.group(1) not in types:
        return f"{name!r} is not a systemd unit name (expected e.g. nginx.service)"
    if name.startswith("-"):
        return f"{name!r} is not a systemd unit name systemctl can take: it starts with '-' (an option)"
    return None


def unit_argv(systemctl: str, verb: str, unit: str) -> tuple[str, ...]:
    """`systemctl VERB -- UNIT`: after `--`, the unit is never read as an option."""
    return (systemctl, verb, "--", unit)
