"""Noticing the moment a watched process exits, instead of at the next poll.

A `process` check that finds its service's pid (from the pid file) names it in its result
(`CheckResult.watch_pid`). The daemon hands that pid to an `ExitWatcher`, which holds a
pidfd for it (Linux >= 5.3) and waits on all of them in one thread with epoll. When the
process exits the watcher calls `on_exit(check)` once, and the daemon re-runs the check at
once: a crash is seen in milliseconds, as systemd sees its own children die, not up to one
`interval` later as a poller like Monit sees it. An exit is a fact, not a fluke: the failure
that run finds is hard at once (no `retries` confirmation; `confirm_exits: true` opts out),
so the restart starts right away (watchdog.monitor.scheduler, `Scheduler.witnessed`).

Only pids a check vouched for in its last result are watched; every new result replaces
the check's pid. Where pidfds are unavailable (old kernel, a seccomp filter) the watcher
logs it once and the checks simply keep their interval.
"""

from __future__ import annotations

import logging
import os
import select
import threading
from collections.abc import Callable

from watchdog.common.logs import event

log = logging.getLogger(__name__)


class ExitWatcher:
    """One epoll thread over the pidfds of the pids checks last vouched for.

    `watch()` and `close()` may be called from any thread; `on_exit` is called from the
    watcher's thread and must only hand work to the main loop (the daemon's `recheck`).
    """

    def __init__(self, on_exit: Callable[[str], None]) -> None:
        self._on_exit = on_exit
        self._lock = threading.Lock()
        self._by_check: dict[str, tuple[int, int]] = {}
        """check -> (pid, pidfd)"""
        self._by_fd: dict[int, str] = {}
        self._epoll = select.epoll()
        self._stop_fd = os.eventfd(0, os.EFD_NONBLOCK | os.EFD_CLOEXEC)
        self._epoll.register(self._stop_fd, select.EPOLLIN)
        self._available = True
        self._thread = threading.Thread(target=self._run, name="exit-watcher", daemon=True)
        self._thread.start()

    def watch(self, check: str, pid: int | None) -> None:
        """Watches `pid` for `check` from now on (None: nothing); an already dead pid fires at once."""
        with self._lock:
            current = self._by_check.get(check)
            if current is not None and current[0] == pid:
                return
            self._forget(check)
            if pid is None or not self._available:
                return
            try:
                fd = os.pidfd_open(pid)
            except ProcessLookupError:
                fire = True
            except OSError as exc:
                self._available = False
                event(log, "exit_watch_unavailable", logging.WARNING, error=type(exc).__name__, errno=exc.errno)
                return
            else:
                fire = False
                self._by_check[check] = (pid, fd)
                self._by_fd[fd] = check
                self._epoll.register(fd, select.EPOLLIN)
        if fire:
            self._on_exit(check)

    def watched(self) -> dict[str, int]:
        """check -> pid currently watched."""
        with self._lock:
            return {check: pid for check, (pid, _) in self._by_check.items()}

    def _forget(self, check: str) -> None:
        entry = self._by_check.pop(check, None)
        if entry is not None:
            _, fd = entry
            del self._by_fd[fd]
            self._epoll.unregister(fd)
            os.close(fd)

    def _run(self) -> None:
        while True:
            try:
                ready = self._epoll.poll()
            except InterruptedError:
                continue
            exited: list[tuple[str, int]] = []
            with self._lock:
                if any(fd == self._stop_fd for fd, _ in ready):
                    return
                for fd, _ in ready:
                    check = self._by_fd.get(fd)
                    # still readable now: not a number closed by watch() and reused meanwhile
                    if check is not None and _readable(fd):
                        exited.append((check, self._by_check[check][0]))
                        self._forget(check)
            for check, pid in exited:
                event(log, "watched_process_exited", logging.WARNING, check=check, pid=pid)
                self._on_exit(check)

    def close(self) -> None:
        os.eventfd_write(self._stop_fd, 1)
        self._thread.join(timeout=5)
        with self._lock:
            for check in list(self._by_check):
                self._forget(check)
            self._epoll.close()
            os.close(self._stop_fd)


def _readable(fd: int) -> bool:
    """Whether `fd` is readable right now. poll(), not select(): select() cannot take a
    descriptor past 1,023, and a daemon holding a thousand API connections hands those out."""
    poller = select.poll()
    poller.register(fd, select.POLLIN)
    return bool(poller.poll(0))
