"""Starting a test server as our own child and making sure it is gone afterwards.

Servers run in their own session (process group) so `kill()` takes workers and backends
with the master, like a crash would, and a Ctrl-C in pytest does not reach them twice.
A process that exited but was not reaped yet (a zombie, see TESTING.md: PID 1 reaps
orphans slowly here) counts as dead.
"""

from __future__ import annotations

import contextlib
import os
import pwd
import signal
import subprocess
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Self

from tests.servers.ports import ServerStartError, free_port, tail, wait_until_accepting
from tests.servers.stop_on_exit import StopOnExit


def is_dead(pid: int) -> bool:
    """True when `pid` does not exist or is a zombie."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except (FileNotFoundError, ProcessLookupError):
        return True
    # The state follows the parenthesised command name, which may itself contain ") ".
    return stat[stat.rindex(")") + 2] in "ZX"


def wait_dead(pid: int, timeout: float) -> bool:
    """Wait until `pid` is dead (or a zombie); True if it died within `timeout`."""
    deadline = time.monotonic() + timeout
    while not is_dead(pid):
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.005)
    return True


def group_members(pgid: int) -> list[int]:
    """Live (non-zombie) processes of process group `pgid`."""
    members = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
        except OSError:
            continue
        fields = stat[stat.rindex(")") + 2 :].split()
        if int(fields[2]) == pgid and fields[0] not in "ZX":
            members.append(int(entry))
    return members


def signal_group(pid: int, sig: int) -> None:
    """Send `sig` to the process group led by `pid`, ignoring a group that is already gone."""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, sig)


def terminate_group(pid: int, sig: int = signal.SIGTERM, grace: float = 5.0) -> None:
    """Ask the group led by `pid` to stop with `sig`, SIGKILL it after `grace` seconds."""
    signal_group(pid, sig)
    if not wait_dead(pid, grace):
        signal_group(pid, signal.SIGKILL)
        wait_dead(pid, 5.0)


class ChildServer(StopOnExit):
    """A server process we started and own; subclasses give `argv()`.

    Optional hooks: `child_user()`, `child_env()`, `child_cwd()`, `wait_ready()`. `start()` waits until
    the port accepts, `stop()` asks politely (`stop_signal`), `kill()` SIGKILLs the whole
    process group (a crash), both wait until it is gone. The object can be started again
    after a stop or kill: same port, same directory.
    """

    stop_signal: int = signal.SIGTERM
    start_timeout: float = 15.0
    name: str = "server"

    def __init__(self, port: int | None, log_path: Path) -> None:
        """`port` None: a free one, chosen now, so a restart keeps it."""
        self.port = port if port is not None else free_port()
        self.log_path = log_path
        self.proc: subprocess.Popen[bytes] | None = None

    def argv(self) -> list[str]:
        raise NotImplementedError

    def child_env(self) -> Mapping[str, str] | None:
        """The server's environment; None = ours. (WatchdogDaemon drops NOTIFY_SOCKET and adds secrets.)"""
        return None

    def child_cwd(self) -> Path:
        """The server's working directory; by default the one its log is in."""
        return self.log_path.parent

    def child_user(self) -> str | None:
        """Run the server as this user (e.g. postgres refuses root); None = as we are."""
        return None

    def wait_ready(self) -> None:
        """After the port accepts: wait until the server serves (e.g. accepts logins)."""

    @property
    def pid(self) -> int:
        if self.proc is None:
            raise RuntimeError(f"{self.name} is not started")
        return self.proc.pid

    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def start(self) -> Self:
        if self.running:
            raise RuntimeError(f"{self.name} already running (pid {self.pid})")
        self.proc = self._spawn(self.argv())
        try:
            wait_until_accepting(
                self.port, timeout=self.start_timeout, proc=self.proc, log=str(self.log_path), what=self.name
            )
            self.wait_ready()
        except ServerStartError:
            self.kill()
            raise
        return self

    def _spawn(self, argv: Sequence[str]) -> subprocess.Popen[bytes]:
        user = self.child_user()
        with open(self.log_path, "ab") as log:
            return subprocess.Popen(
                list(argv),
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                env=self.child_env(),
                user=user,
                group=pwd.getpwnam(user).pw_gid if user else None,
                extra_groups=[] if user else None,
                cwd=self.child_cwd(),
            )

    def stop(self) -> None:
        """Graceful stop of the whole group; escalates to SIGKILL after 5 s."""
        if self._group_may_live():
            assert self.proc is not None
            terminate_group(self.proc.pid, self.stop_signal)
        self._reap()

    def kill(self) -> None:
        """SIGKILL the whole process group, like a crash or the OOM killer."""
        if self._group_may_live():
            assert self.proc is not None
            signal_group(self.proc.pid, signal.SIGKILL)
        self._reap()

    def _group_may_live(self) -> bool:
        """Whether signalling our group id is safe and useful.

        While the leader is unreaped its pid (our group id) cannot be reused; after
        reaping, only signal when members (e.g. workers) are still around.
        """
        if self.proc is None:
            return False
        return self.proc.returncode is None or bool(group_members(self.proc.pid))

    def _reap(self) -> None:
        """Reap our child and wait until its workers/backends (orphans now) are dead too."""
        if self.proc is None:
            return
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired as exc:
            raise RuntimeError(f"{self.name} pid {self.proc.pid} survived SIGKILL: {tail(str(self.log_path))}") from exc
        deadline = time.monotonic() + 5
        while group_members(self.proc.pid) and time.monotonic() < deadline:
            time.sleep(0.005)

    def log(self) -> str:
        return tail(str(self.log_path), 20000)

    def __enter__(self) -> Self:
        if not self.running:
            self.start()
        return self
