"""Least-privilege restarts: a polkit rule letting the daemon's user restart exactly its units.

The daemon runs as an unprivileged system user with `NoNewPrivileges=yes`, so neither sudo
nor setuid helpers can work. `systemctl restart UNIT` run by that user asks systemd over
D-Bus, and systemd asks polkit whether `org.freedesktop.systemd1.manage-units` is allowed
for `unit` and `verb`. The generated rule answers YES for the daemon's user, the listed
units and the listed verbs only, and says nothing otherwise, so every other request falls
through to polkit's default (admin authentication, which a daemon cannot give: denied).

`restart` is the only verb needed by default: `systemctl restart` also starts a unit that
is stopped or failed. Names are validated and embedded as JSON string literals, so no
config value can inject JavaScript into polkitd.

polkitd watches its rules directories and picks up a changed file by itself; the rule
must be regenerated (`shop-watchdog install-polkit`) whenever the restartable units in the
config change, because the daemon itself has no write access to /etc/polkit-1.
"""

from __future__ import annotations

import json
import os
import re
import tempfile
from collections.abc import Sequence

from watchdog.common.systemd_units import unit_name_problem

DEFAULT_RULE_PATH = "/etc/polkit-1/rules.d/50-shop-watchdog.rules"
DEFAULT_USER = "shop-watchdog"
MANAGE_UNITS = "org.freedesktop.systemd1.manage-units"

_USER_RE = re.compile(r"[a-z_][a-z0-9_-]{0,31}")
_VERBS = frozenset({"start", "stop", "reload", "restart", "try-restart", "reload-or-restart", "reset-failed"})


def render_polkit_rule(user: str, units: Sequence[str], verbs: Sequence[str] = ("restart",)) -> str:
    """The rule's JavaScript text; raises ValueError for an invalid user, unit or verb."""
    if not _USER_RE.fullmatch(user):
        raise ValueError(f"{user!r} is not a valid system user name")
    bad_units = [u for u in units if not isinstance(u, str) or unit_name_problem(u) is not None]
    if bad_units:
        raise ValueError(f"not systemd unit names: {', '.join(map(repr, bad_units))}")
    bad_verbs = [v for v in verbs if v not in _VERBS]
    if bad_verbs or not verbs:
        raise ValueError(f"verbs must be some of {', '.join(sorted(_VERBS))}, got {list(verbs)!r}")
    unit_list = json.dumps(sorted(set(units)))
    verb_list = json.dumps(sorted(set(verbs)))
    return f"""\
// Written by `shop-watchdog install-polkit`; regenerate it after changing the units to restart.
// Lets {user} {" / ".join(sorted(set(verbs)))} exactly these units through systemd, nothing else.
polkit.addRule(function(action, subject) {{
    if (action.id !== {json.dumps(MANAGE_UNITS)} || subject.user !== {json.dumps(user)}) {{
        return polkit.Result.NOT_HANDLED;
    }}
    var units = {unit_list};
    var verbs = {verb_list};
    if (units.indexOf(action.lookup("unit")) >= 0 && verbs.indexOf(action.lookup("verb")) >= 0) {{
        return polkit.Result.YES;
    }}
    return polkit.Result.NOT_HANDLED;
}});
"""


def install_polkit_rule(
    user: str,
    units: Sequence[str],
    path: str = DEFAULT_RULE_PATH,
    verbs: Sequence[str] = ("restart",),
) -> bool:
    """Writes the rule to `path` atomically (mode 0644); False when it was already up to date.

    Atomic so polkitd, which re-reads the directory on every change, never sees half a file.
    """
    text = render_polkit_rule(user, units, verbs)
    try:
        with open(path, encoding="utf-8") as fh:
            if fh.read() == text:
                return False
    except FileNotFoundError:
        pass
    directory = os.path.dirname(path) or "."
    fd, tmp = tempfile.mkstemp(dir=directory, prefix=".shop-watchdog-", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
            fh.flush()
            os.fchmod(fh.fileno(), 0o644)
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        os.unlink(tmp)
        raise
    return True
