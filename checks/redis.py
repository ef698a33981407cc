"""`redis`: a real login (password, or ACL user and password) and PING; optional saturation.

Saturation, when levels are set: clients connected vs `maxclients` (new clients are
refused at the limit) and used memory vs `maxmemory` (with `noeviction`, writes fail at
the limit; a cache with an LRU policy lives at 100 %, so memory levels are opt-in).
Connect and every read are bounded by one deadline; one run is one attempt.

The wire protocol is hiredis (Redis's own C parser and command packer), not redis-py: a
probe sends at most AUTH, SELECT, PING and INFO on one fresh connection, while importing
redis-py costs 6 MB of every daemon's memory (its package `__init__` loads its asyncio
client, cluster and sentinel support) and about 1 ms of CPU per run for a handshake
(HELLO, CLIENT SETINFO) a probe does not need; with hiredis a run costs a fifth of that.
"""

from __future__ import annotations

import socket
import time
from dataclasses import dataclass
from typing import Any

import hiredis

from checks.base import Check, CheckResult, Status, timeout_result, worst
from checks.thresholds import require_ordered, saturation, seconds_text
from watchdog.common.configtools import Percent, Secret


@dataclass(frozen=True)
class RedisOptions:
    host: str = "127.0.0.1"
    port: int = 6379
    user: str | None = None
    password: Secret | None = None
    db: int = 0
    connections_warn: Percent | None = None
    connections_crit: Percent | None = None
    memory_warn: Percent | None = None
    memory_crit: Percent | None = None

    def __post_init__(self) -> None:
        require_ordered(self.connections_warn, self.connections_crit, "connections")
        require_ordered(self.memory_warn, self.memory_crit, "memory")
        if self.user is not None and self.password is None:
            raise ValueError("user needs password_env or password_file (Redis ACL login)")


class RedisRefused(Exception):
    """An error reply (`-ERR ...`, `-WRONGPASS ...`): the text is Redis's own message."""

    @property
    def code(self) -> str:
        return str(self).split(" ", 1)[0]


class RedisConnection:
    """One connection, one command at a time, every wait bounded by `deadline` (monotonic)."""

    def __init__(self, host: str, port: int, deadline: float) -> None:
        self._deadline = deadline
        self._reader = hiredis.Reader()
        self._sock = socket.create_connection((host, port), timeout=self._left())

    def _left(self) -> float:
        left = self._deadline - time.monotonic()
        if left <= 0:
            raise TimeoutError
        return left

    def command(self, *args: str) -> Any:
        """The reply of one command; an error reply raises RedisRefused."""
        self._sock.settimeout(self._left())
        self._sock.sendall(hiredis.pack_command(args))  # type: ignore[arg-type]  # its stub says a 1-tuple
        while (reply := self._reader.gets()) is False:
            self._sock.settimeout(self._left())
            data = self._sock.recv(65536)
            if not data:
                raise ConnectionResetError("connection closed by the server")
            self._reader.feed(data)
        if isinstance(reply, hiredis.ReplyError):
            raise RedisRefused(str(reply))
        return reply

    def close(self) -> None:
        self._sock.close()


def parse_info(text: str) -> dict[str, str]:
    """`field:value` lines of INFO (sections and comments skipped)."""
    return dict(line.split(":", 1) for line in text.splitlines() if ":" in line and not line.startswith("#"))


_LOGIN_REFUSED = ("WRONGPASS", "NOAUTH", "ERR invalid password", "ERR AUTH")
"""Replies that mean the login failed (no or wrong password, AUTH not configured)."""


class RedisCheck(Check[RedisOptions]):
    Config = RedisOptions

    def run(self, timeout: float) -> CheckResult:
        cfg = self.config
        where = f"redis {cfg.host}:{cfg.port}"
        started = time.monotonic()
        try:
            conn = RedisConnection(cfg.host, cfg.port, started + timeout)
        except TimeoutError:
            return timeout_result(f"{where}: timeout after {timeout:g}s")
        except OSError as exc:
            return CheckResult(Status.CRITICAL, f"{where}: {_os_reason(exc)}")
        try:
            return self._probe(conn, where, started)
        except TimeoutError:
            return timeout_result(f"{where}: timeout after {timeout:g}s")
        except OSError as exc:
            return CheckResult(Status.CRITICAL, f"{where}: {_os_reason(exc)}")
        except RedisRefused as exc:
            if str(exc).startswith(_LOGIN_REFUSED):
                return CheckResult(Status.CRITICAL, f"{where}: login failed{_as_user(cfg.user)}: {exc}")
            return CheckResult(Status.CRITICAL, f"{where}: {exc}")
        finally:
            conn.close()

    def _probe(self, conn: RedisConnection, where: str, started: float) -> CheckResult:
        cfg = self.config
        if cfg.password is not None:
            conn.command("AUTH", *([cfg.user] if cfg.user else []), cfg.password.reveal())
        if cfg.db:
            conn.command("SELECT", str(cfg.db))
        conn.command("PING")
        elapsed = time.monotonic() - started
        measurements = {"response_seconds": elapsed}
        findings: list[tuple[Status, str]] = []
        if self._wants_info():
            try:
                info = parse_info(conn.command("INFO").decode(errors="replace"))
            except RedisRefused as exc:
                if exc.code != "NOPERM":
                    raise
                return CheckResult(
                    Status.UNKNOWN,
                    f"{where}: PONG, but INFO for the saturation levels is not permitted{_as_user(cfg.user)}: {exc}",
                )
            findings = self._saturation(info, measurements)
        problems = [(s, t) for s, t in findings if s is not Status.OK]
        if problems:
            return CheckResult(
                worst([s for s, _ in problems]), f"{where}: " + "; ".join(t for _, t in problems), measurements
            )
        return CheckResult(
            Status.OK,
            f"{where}: PONG in {seconds_text(elapsed)}" + "".join(f"; {t}" for _, t in findings),
            measurements,
        )

    def _wants_info(self) -> bool:
        cfg = self.config
        return any(
            v is not None for v in (cfg.connections_warn, cfg.connections_crit, cfg.memory_warn, cfg.memory_crit)
        )

    def _saturation(self, info: dict[str, str], measurements: dict[str, float]) -> list[tuple[Status, str]]:
        cfg = self.config
        findings: list[tuple[Status, str]] = []
        clients = float(info["connected_clients"])
        measurements["connected_clients"] = clients
        maxclients = float(info.get("maxclients", 0))
        if maxclients and (cfg.connections_warn is not None or cfg.connections_crit is not None):
            measurements["connections_ratio"] = clients / maxclients
            findings.append(saturation("clients", clients, maxclients, cfg.connections_warn, cfg.connections_crit))
        used = float(info["used_memory"])
        measurements["used_memory_bytes"] = used
        maxmemory = float(info.get("maxmemory", 0))
        if maxmemory and (cfg.memory_warn is not None or cfg.memory_crit is not None):
            measurements["memory_ratio"] = used / maxmemory
            findings.append(saturation("memory", used, maxmemory, cfg.memory_warn, cfg.memory_crit, unit="bytes"))
        return findings


def _as_user(user: str | None) -> str:
    return f" as {user}" if user else ""


def _os_reason(exc: OSError) -> str:
    """ "connection refused" from ConnectionRefusedError(111, "Connection refused")."""
    return (exc.strerror or str(exc) or type(exc).__name__).lower()
