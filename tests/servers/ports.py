"""Loopback ports for private test servers, and waiting until one really accepts."""

from __future__ import annotations

import socket
import subprocess
import time


class ServerStartError(RuntimeError):
    """A test server did not come up; the message carries the tail of its log."""


def free_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago (the kernel's choice, so rarely reused)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def accepts(port: int, host: str = "127.0.0.1", timeout: float = 0.2) -> bool:
    """Whether a TCP connection to host:port succeeds right now."""
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def wait_until_accepting(
    port: int,
    *,
    timeout: float,
    proc: subprocess.Popen[bytes] | None = None,
    log: str = "",
    what: str = "server",
) -> None:
    """Block until 127.0.0.1:port accepts; fail fast when `proc` exits first.

    Polls every 5 ms: the servers here start in 15-200 ms and tests wait on this.
    """
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise ServerStartError(f"{what} exited with code {proc.returncode} before accepting: {tail(log)}")
        if accepts(port):
            return
        time.sleep(0.005)
    raise ServerStartError(f"{what} did not accept on 127.0.0.1:{port} within {timeout}s: {tail(log)}")


def tail(path: str, size: int = 2000) -> str:
    """The last `size` characters of a log file, or "" when there is none."""
    if not path:
        return ""
    try:
        with open(path, "rb") as fh:
            fh.seek(0, 2)
            fh.seek(max(0, fh.tell() - size))
            return fh.read().decode("utf-8", "replace")
    except OSError:
        return ""
