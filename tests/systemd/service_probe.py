"""Stands in for the daemon as the ExecStart of the real, installed unit (see test_sandbox.py).

Run by the product's own venv python inside shop-watchdog.service, it shows that the unit's
sandbox lets the daemon do its job (its dependencies load, it sees processes and disks,
writes its state, restarts units through polkit) and that watchdog.service.sdnotify and
watchdog.service.journal work with the real systemd and journald, independently of the daemon.

Environment: PROBE_RESTART, units to `systemctl restart` at startup (results logged).
Reacts to SIGHUP like the daemon (RELOADING=1 ... READY=1) and stops cleanly on SIGTERM.
"""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import time
from types import FrameType


def main() -> int:
    # loading is the test: MemoryDenyWriteExecute=, SystemCallFilter=
    import hiredis  # noqa: F401
    import prometheus_client  # noqa: F401
    import psutil
    import psycopg
    import pymysql  # noqa: F401
    import requests  # noqa: F401
    import yaml  # noqa: F401

    from watchdog.common.logs import event
    from watchdog.service.journal import setup_logging
    from watchdog.service.sdnotify import SystemdNotifier, format_status

    setup_logging("debug")
    log = logging.getLogger("probe")
    notifier = SystemdNotifier.from_environment()
    signals: list[int] = []

    def remember(signum: int, frame: FrameType | None) -> None:
        signals.append(signum)

    signal.signal(signal.SIGHUP, remember)
    signal.signal(signal.SIGTERM, remember)

    state_file = "/var/lib/shop-watchdog/probe-state"
    with open(state_file, "w") as fh:
        fh.write("ok")
    event(
        log,
        "probe_sandbox",
        pids=len(psutil.pids()),
        sees_pid1=psutil.pid_exists(1),
        disk_percent=psutil.disk_usage("/").percent,
        net_io=psutil.net_io_counters() is not None,
        state_written=os.path.exists(state_file),
        etc_writable=os.access("/etc", os.W_OK),
        psycopg=psycopg.pq.__impl__,
        user=os.getuid(),
    )
    for unit in os.environ.get("PROBE_RESTART", "").split():
        result = subprocess.run(["systemctl", "restart", unit], capture_output=True, text=True, timeout=60)
        event(log, "probe_restart", unit=unit, rc=result.returncode, error=result.stderr.strip() or None)

    notifier.ready(format_status(3, 0, 0))
    event(log, "probe_ready", logging.WARNING, watchdog_timeout=notifier.watchdog_timeout)
    reloads = 0
    while signal.SIGTERM not in signals:
        if signal.SIGHUP in signals:
            signals.remove(signal.SIGHUP)
            notifier.reloading()
            reloads += 1
            time.sleep(0.5)  # a reload that takes time: `systemctl reload` must wait for it
            notifier.ready(format_status(3, reloads, 0))
            event(log, "probe_reloaded", reloads=reloads)
        if notifier.ping_interval is not None:
            notifier.watchdog()
        time.sleep(0.1)
    notifier.stopping()
    event(log, "probe_stopping")
    return 0


if __name__ == "__main__":
    sys.exit(main())
