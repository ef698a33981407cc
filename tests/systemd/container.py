"""A real systemd to test the service under: a throw-away systemd-nspawn container.

The container boots the cached Debian root with `--volatile=overlay` (every write lands in
a tmpfs that vanishes at poweroff), its own network namespace with loopback only, and the
checkout bound read-only at /src. The host's systemd is not involved (there is none here,
hence `--register=no --keep-unit`); commands run inside through `nsenter` into the
container's namespaces, with a clean environment so nothing of the host's leaks in.

`stop()` halts the container and removes what systemd-nspawn leaves under
/run/systemd/nspawn/, so the host ends up exactly as it was found.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import tempfile
from collections.abc import Mapping
from pathlib import Path

from tests.waiting import wait_until

NSPAWN_RUNTIME = Path("/run/systemd/nspawn")
_ENV = ("PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "LANG=C.UTF-8", "SYSTEMD_COLORS=0")


class ContainerError(RuntimeError):
    pass


def _tree(path: Path) -> set[Path]:
    if not path.exists():
        return set()
    return {path, *path.rglob("*")}


def _namespace_pid1(parent: int) -> int | None:
    """The child of `parent` that is PID 1 of its own PID namespace (the container's init)."""
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            status = (entry / "status").read_text()
        except OSError:
            continue
        fields = dict(line.split(":\t", 1) for line in status.splitlines() if ":\t" in line)
        if fields.get("PPid") == str(parent) and fields.get("NSpid", "").split()[-1:] == ["1"]:
            return int(entry.name)
    return None


class Container:
    """One booted container; use as a context manager or call start()/stop()."""

    def __init__(self, root: Path, name: str, binds_ro: Mapping[str, str]) -> None:
        self.root = root
        self.name = name
        self.binds_ro = dict(binds_ro)
        self.leader = 0
        self._nspawn: subprocess.Popen[bytes] | None = None
        self._workdir = Path(tempfile.mkdtemp(prefix=f"{name}-"))
        self.console_log = self._workdir / "console.log"
        self._runtime_before: set[Path] = set()

    def __enter__(self) -> Container:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def start(self, timeout: float = 60) -> None:
        self._runtime_before = _tree(NSPAWN_RUNTIME)
        argv = [
            "systemd-nspawn",
            f"--directory={self.root}",
            "--volatile=overlay",
            "--boot",
            "--register=no",
            "--keep-unit",
            "--private-network",
            "--console=passive",
            f"--machine={self.name}",
            *(f"--bind-ro={host}:{inside}" for host, inside in self.binds_ro.items()),
        ]
        with open(self.console_log, "wb") as log:
            self._nspawn = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT)
        try:
            self.leader = wait_until(self._find_leader, timeout, "the container's init")
            state = wait_until(self._boot_state, timeout, "systemd to finish booting", interval=0.2)
            if state not in ("running", "degraded"):
                raise ContainerError(f"container booted into state {state!r}:\n{self.console()}")
        except BaseException:
            self.stop()
            raise

    def _find_leader(self) -> int | None:
        assert self._nspawn is not None
        if self._nspawn.poll() is not None:
            raise ContainerError(f"systemd-nspawn exited with {self._nspawn.returncode}:\n{self.console()}")
        return _namespace_pid1(self._nspawn.pid)

    def _boot_state(self) -> str | None:
        result = self.run("systemctl", "is-system-running", "--wait", check=False, timeout=60)
        state = result.stdout.strip()
        # "offline": systemd has not yet created /run/systemd/system; no bus yet: too early.
        return state if state not in ("", "offline") and "Failed to connect" not in result.stderr else None

    def console(self) -> str:
        return self.console_log.read_text(errors="replace")[-4000:]

    def stop(self, timeout: float = 30) -> None:
        """Halts the container (SIGTERM makes nspawn shut it down cleanly) and cleans up."""
        proc, self._nspawn = self._nspawn, None
        if proc is not None and proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout)
            except subprocess.TimeoutExpired:
                # Killing a PID namespace's init ends everything in it; done while nspawn
                # still runs, so the leader's PID cannot have been reused by anyone else.
                if self.leader:
                    with contextlib.suppress(ProcessLookupError):
                        os.kill(self.leader, signal.SIGKILL)
                proc.kill()
                proc.wait()
        self.leader = 0
        for path in sorted(_tree(NSPAWN_RUNTIME) - self._runtime_before, key=lambda p: len(p.parts), reverse=True):
            try:
                if path.is_dir() and not path.is_symlink():
                    path.rmdir()
                else:
                    path.unlink()
            except OSError:
                pass  # not empty: someone else's container is using it
        for leftover in sorted(self._workdir.rglob("*"), reverse=True):
            leftover.unlink()
        if self._workdir.exists():
            self._workdir.rmdir()

    def run(
        self, *argv: str, check: bool = True, timeout: float = 60, input: str | None = None
    ) -> subprocess.CompletedProcess[str]:
        """Runs argv inside the container (all its namespaces, clean environment), as root."""
        if not self.leader:
            raise ContainerError("container is not running")
        ns = ["nsenter", "-t", str(self.leader), "-m", "-u", "-i", "-n", "-p", "--", "env", "-i", *_ENV]
        result = subprocess.run(
            [*ns, *argv],
            input=input,
            capture_output=True,
            text=True,
            timeout=timeout,
            stdin=None if input is not None else subprocess.DEVNULL,
        )
        if check and result.returncode != 0:
            raise ContainerError(
                f"{' '.join(argv)} exited with {result.returncode}\nstdout: {result.stdout}\nstderr: {result.stderr}"
            )
        return result

    def systemctl(self, *args: str, check: bool = True, timeout: float = 60) -> subprocess.CompletedProcess[str]:
        return self.run("systemctl", "--no-pager", *args, check=check, timeout=timeout)

    def crash(self, unit: str) -> None:
        """SIGKILL to every process of the unit at once, as the OOM killer would.

        Killing pids one by one races: nginx's workers die with their master before the
        second kill reaches them, and `kill` then fails on a pid that is already gone.
        """
        self.systemctl("kill", "--signal=SIGKILL", unit)

    def show(self, unit: str, prop: str) -> str:
        return self.systemctl("show", "--value", "-p", prop, unit).stdout.strip()

    def write_file(self, path: str, text: str, mode: int = 0o644) -> None:
        self.run("mkdir", "-p", os.path.dirname(path))
        self.run("tee", path, input=text)
        self.run("chmod", f"{mode:o}", path)

    def read_file(self, path: str) -> str:
        return self.run("cat", path).stdout

    def journal(self, unit: str, *args: str) -> str:
        """The journal of `unit` (messages only), after syncing it to disk."""
        self.run("journalctl", "--sync", check=False)
        return self.run("journalctl", "--no-pager", "-o", "cat", "-u", unit, *args).stdout
