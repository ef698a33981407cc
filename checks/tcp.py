"""`tcp`: a port accepts connections and, optionally, answers `send` with `expect`.

`send` is written as UTF-8 (YAML escapes like "PING\\r\\n" work); `expect` is a substring
looked for in what the server sends back, read until it appears, the server closes, or the
deadline passes. A server that accepts but never answers is the hung-service case.
"""

from __future__ import annotations

import socket
import time
from dataclasses import dataclass

from checks.base import Check, CheckResult, Status, timeout_result
from checks.thresholds import seconds_text
from watchdog.common.configtools import Duration

MAX_REPLY_BYTES = 64 * 1024


@dataclass(frozen=True)
class TcpOptions:
    host: str
    port: int
    send: str | None = None
    expect: str | None = None
    slow: Duration | None = None

    def __post_init__(self) -> None:
        if not 0 < self.port < 65536:
            raise ValueError(f"port: expected 1..65535, got {self.port}")
        if self.expect == "":
            raise ValueError("expect: must not be empty (leave it out to only connect)")


class TcpCheck(Check[TcpOptions]):
    Config = TcpOptions

    def run(self, timeout: float) -> CheckResult:
        cfg = self.config
        where = f"{cfg.host}:{cfg.port}"
        started = time.monotonic()
        deadline = started + timeout
        try:
            sock = socket.create_connection((cfg.host, cfg.port), timeout=timeout)
        except TimeoutError:
            return timeout_result(f"{where}: connect timeout after {timeout:g}s")
        except OSError as exc:
            return CheckResult(Status.CRITICAL, f"{where}: {_os_reason(exc)}")
        with sock:
            measurements = {"connect_seconds": time.monotonic() - started}
            try:
                failed = self._exchange(sock, where, timeout, deadline, started, measurements)
            except TimeoutError:
                return timeout_result(f"{where}: timeout after {timeout:g}s while sending", measurements)
            except OSError as exc:
                return CheckResult(Status.CRITICAL, f"{where}: {_os_reason(exc)}", measurements)
            if failed is not None:
                return failed
        elapsed = time.monotonic() - started
        if cfg.slow is not None and elapsed > cfg.slow:
            return CheckResult(
                Status.WARNING, f"{where}: slow: {seconds_text(elapsed)} (limit {seconds_text(cfg.slow)})", measurements
            )
        return CheckResult(Status.OK, f"{where}: answered in {seconds_text(elapsed)}", measurements)

    def _exchange(
        self,
        sock: socket.socket,
        where: str,
        timeout: float,
        deadline: float,
        started: float,
        measurements: dict[str, float],
    ) -> CheckResult | None:
        """Sends `send` and reads until `expect`; the CRITICAL result when the answer is missing
        or wrong (marked `timed_out` when the deadline ended the wait), None when it came."""
        cfg = self.config
        if cfg.send is not None:
            sock.settimeout(max(deadline - time.monotonic(), 0.001))
            sock.sendall(cfg.send.encode())
        if cfg.expect is None:
            return None
        expected = cfg.expect.encode()
        reply, closed = _read_until(sock, expected, deadline)
        measurements["response_seconds"] = time.monotonic() - started
        if expected in reply:
            return None
        got = reply[:80].decode("utf-8", "replace").strip()
        silence = "closed without a reply" if closed else "no reply"
        problem = f"expected {cfg.expect!r}, got {got!r}" if got else silence
        if not closed and len(reply) < MAX_REPLY_BYTES:
            return timeout_result(f"{where}: timeout after {timeout:g}s: {problem}", measurements)
        return CheckResult(Status.CRITICAL, f"{where}: {problem}", measurements)


def _read_until(sock: socket.socket, expected: bytes, deadline: float) -> tuple[bytes, bool]:
    """(what was read, whether the server closed) reading until `expected` shows up, EOF or the deadline."""
    reply = b""
    while expected not in reply and len(reply) < MAX_REPLY_BYTES:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            break
        sock.settimeout(remaining)
        try:
            chunk = sock.recv(4096)
        except TimeoutError:
            break
        if not chunk:
            return reply, True
        reply += chunk
    return reply, False


def _os_reason(exc: OSError) -> str:
    return (exc.strerror or str(exc)).lower()
