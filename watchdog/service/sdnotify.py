"""Telling systemd how the daemon is doing: the sd_notify(3) datagram protocol, without libsystemd.

systemd starts the unit (`Type=notify`) with `$NOTIFY_SOCKET` pointing at a datagram socket
(a path, or `@name` for an abstract socket) and waits for `READY=1` before it counts the
service as started. With `WatchdogSec=` it also sets `$WATCHDOG_USEC` (and `$WATCHDOG_PID`)
and kills the service when no `WATCHDOG=1` arrives within that time: the daemon's main loop
must ping only while it really makes progress, so a hung loop gets restarted.

A reload (SIGHUP through `ExecReload=kill -HUP $MAINPID`) is bracketed by `RELOADING=1`
(with `MONOTONIC_USEC=`, which systemd >= 253 requires to match the reload to its request)
and `READY=1`, so systemd shows the unit as reloading meanwhile (systemd >= 253 also makes
`systemctl reload` wait for that READY=1; 252 returns as soon as the signal is sent).

Outside systemd (no `$NOTIFY_SOCKET`) every call is a no-op returning False, so the daemon
needs no "am I under systemd" branches. Sending never raises: a lost notification must
not take the daemon down, and systemd's own timeouts already cover a daemon that cannot
reach it.
"""

from __future__ import annotations

import logging
import os
import socket
import time
from collections.abc import Callable, Mapping, MutableMapping

from watchdog.common.logs import event

log = logging.getLogger(__name__)

CHILD_HIDDEN = ("NOTIFY_SOCKET", "WATCHDOG_USEC", "WATCHDOG_PID")


def format_status(checks: int, failing: int, incidents_open: int) -> str:
    """The one-line STATUS= summary, e.g. `12 checks, 1 failing, 0 incidents open`."""
    check_word = "check" if checks == 1 else "checks"
    incident_word = "incident" if incidents_open == 1 else "incidents"
    return f"{checks} {check_word}, {failing} failing, {incidents_open} {incident_word} open"


def socket_address(notify_socket: str) -> str:
    """The AF_UNIX address for a `$NOTIFY_SOCKET` value: `@name` is the abstract name `\\0name`."""
    if notify_socket.startswith("@"):
        return "\0" + notify_socket[1:]
    return notify_socket


def watchdog_timeout(environ: Mapping[str, str], pid: int) -> float | None:
    """Seconds of `WatchdogSec=` meant for process `pid`, or None when no watchdog is armed.

    `$WATCHDOG_PID`, when set, names the process the watchdog is meant for: a child that
    inherited the variables must not think it is watched.
    """
    usec = environ.get("WATCHDOG_USEC", "")
    if not usec.isdigit() or int(usec) == 0:
        return None
    owner = environ.get("WATCHDOG_PID", "")
    if owner and (not owner.isdigit() or int(owner) != pid):
        return None
    return int(usec) / 1_000_000


class SystemdNotifier:
    """Sends sd_notify messages to one socket (or nowhere when `notify_socket` is None).

    `watchdog_timeout` is systemd's deadline in seconds (None: no watchdog); ping at
    `ping_interval`, half of it, as sd_watchdog_enabled(3) recommends.
    `monotonic_ns` must read CLOCK_MONOTONIC, the clock systemd compares MONOTONIC_USEC with.
    """

    def __init__(
        self,
        notify_socket: str | None,
        watchdog_timeout: float | None = None,
        monotonic_ns: Callable[[], int] = time.monotonic_ns,
    ) -> None:
        self._address = socket_address(notify_socket) if notify_socket else None
        self.watchdog_timeout = watchdog_timeout
        self._monotonic_ns = monotonic_ns

    @classmethod
    def from_environment(
        cls, environ: MutableMapping[str, str] | None = None, pid: int | None = None, *, unset: bool = True
    ) -> SystemdNotifier:
        """A notifier for the socket and watchdog systemd handed this process.

        With `unset` (as sd_notify(3)'s unset_environment) the variables are removed from
        `environ` (os.environ by default) once read, so the checks and `systemctl restart`s
        the daemon runs do not inherit them: systemd logs every message such a child sends
        as refused (NotifyAccess=main), and a child must never pass for the daemon.
        """
        env = os.environ if environ is None else environ
        notifier = cls(env.get("NOTIFY_SOCKET") or None, watchdog_timeout(env, os.getpid() if pid is None else pid))
        if unset:
            for name in CHILD_HIDDEN:
                env.pop(name, None)
        return notifier

    @property
    def enabled(self) -> bool:
        return self._address is not None

    @property
    def ping_interval(self) -> float | None:
        return None if self.watchdog_timeout is None else self.watchdog_timeout / 2

    def ready(self, status: str | None = None) -> bool:
        return self.send("READY=1", *_status_field(status))

    def watchdog(self) -> bool:
        return self.send("WATCHDOG=1")

    def status(self, text: str) -> bool:
        return self.send(*_status_field(text))

    def reloading(self) -> bool:
        usec = self._monotonic_ns() // 1000
        return self.send("RELOADING=1", f"MONOTONIC_USEC={usec}")

    def stopping(self) -> bool:
        return self.send("STOPPING=1")

    def send(self, *fields: str) -> bool:
        """Sends `fields` as one datagram; True when it was handed to the socket."""
        if self._address is None or not fields:
            return False
        payload = "\n".join(fields).encode("utf-8")
        try:
            with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC) as sock:
                sock.sendto(payload, self._address)
        except OSError as exc:
            event(log, "sd_notify_failed", logging.WARNING, message=fields[0], error=exc.strerror or str(exc))
            return False
        return True


def _status_field(text: str | None) -> tuple[str, ...]:
    """`STATUS=` with the text on one line (a newline would start a new, bogus field)."""
    if text is None:
        return ()
    return ("STATUS=" + " ".join(text.splitlines()),)
