"""Ends the processes the daemon started when it stops: check plugins and restart commands.

Both run in a session (and process group) of their own, so that a timeout can kill
everything they started and a Ctrl-C in the terminal does not hit them half-way. The other
side of that: nothing ends them with the daemon. Under systemd the unit's control group is
cleaned up anyway, but a daemon started by hand (`make run`, then Ctrl-C) would leave a
hanging plugin or a half-done restart running. So on the way out every child's process
group gets SIGTERM and, after `grace` seconds, SIGKILL.

psutil is imported when the daemon stops, not when it starts: it costs ~1.3 MB of RSS for
the whole life of an idle daemon that needs it once.
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal

from watchdog.common.logs import event

log = logging.getLogger(__name__)

DEFAULT_GRACE = 2.0


def end_children(grace: float = DEFAULT_GRACE) -> None:
    """SIGTERM to the process group of every child of this process (to the child alone when it
    shares our group), SIGKILL to the groups still there after `grace` seconds."""
    import psutil

    children = psutil.Process().children()
    if not children:
        return
    own_group = os.getpgrp()
    groups: list[int] = []
    for child in children:
        with contextlib.suppress(ProcessLookupError):
            pgid = os.getpgid(child.pid)
            if pgid != own_group:
                groups.append(pgid)
            else:
                child.terminate()
    _signal_groups(groups, signal.SIGTERM)
    _, alive = psutil.wait_procs(children, timeout=grace)
    for child in alive:
        with contextlib.suppress(psutil.NoSuchProcess):
            child.kill()
    # members of a group may outlive its leader (a plugin's `sleep 300 &`)
    _signal_groups(groups, signal.SIGKILL)
    event(log, "children_ended", processes=len(children), killed=len(alive) or None)


def _signal_groups(groups: list[int], signum: signal.Signals) -> None:
    for pgid in groups:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(pgid, signum)
