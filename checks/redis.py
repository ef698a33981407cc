"""`redis`: a real login (password, or ACL user and password) and PING; optional saturation.

Saturation, when levels are set: clients connected vs `maxclients` (new clients are
refused at the limit) and used memory vs `maxmemory` (with `noeviction`, writes fail at
the limit; a cache with an LRU policy lives at 100 %, so memory levels are opt-in).
Connect and every read are bounded by the timeout; redis-py's own retries are off so one
run is one attempt.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import redis
from redis.backoff import NoBackoff
from redis.exceptions import NoPermissionError
from redis.retry import Retry

from checks.base import Check, CheckResult, Status, worst
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


class RedisCheck(Check[RedisOptions]):
    Config = RedisOptions

    def run(self, timeout: float) -> CheckResult:
        cfg = self.config
        where = f"redis {cfg.host}:{cfg.port}"
        started = time.monotonic()
        try:
            client = redis.Redis(
                host=cfg.host,
                port=cfg.port,
                db=cfg.db,
                username=cfg.user,
                password=cfg.password.reveal() if cfg.password else None,
                socket_timeout=timeout,
                socket_connect_timeout=timeout,
                retry=Retry(NoBackoff(), 0),
                single_connection_client=True,
                driver_info=None,
            )
            with client:
                client.ping()
                elapsed = time.monotonic() - started
                measurements = {"response_seconds": elapsed}
                findings = self._saturation(client, measurements) if self._wants_info() else []
        except redis.AuthenticationError as exc:
            return CheckResult(Status.CRITICAL, f"{where}: login failed{_as_user(cfg.user)}: {exc}")
        except redis.TimeoutError:
            return CheckResult(Status.CRITICAL, f"{where}: timeout after {timeout:g}s")
        except redis.ConnectionError as exc:
            return CheckResult(Status.CRITICAL, f"{where}: {_connection_reason(exc)}")
        except NoPermissionError as exc:
            return CheckResult(
                Status.UNKNOWN,
                f"{where}: PONG, but INFO for the saturation levels is not permitted{_as_user(cfg.user)}: {exc}",
            )
        except redis.ResponseError as exc:
            return CheckResult(Status.CRITICAL, f"{where}: {exc}")
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

    def _saturation(self, client: redis.Redis, measurements: dict[str, float]) -> list[tuple[Status, str]]:
        cfg = self.config
        info = client.info()
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


def _connection_reason(exc: BaseException) -> str:
    """ "connection refused" from redis-py's "Error 111 connecting to HOST:PORT. Connection refused."."""
    text = str(exc).rstrip(".")
    return text.rsplit(". ", 1)[-1].lower() if ". " in text else text
