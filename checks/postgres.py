"""`postgres`: a real login (scram-sha-256, md5 or trust, as the server asks) and a query.

`query` (default `SELECT 1`) must return a row. Saturation, when levels are set: client
connections (pg_stat_activity) vs `max_connections`; near the limit new connections fail.

Bounding: psycopg's connect timeout has a 2 s floor and its synchronous queries have no
client-side deadline (a stopped server would hang them for ever), so the whole probe runs
on psycopg's asyncio API under one `asyncio.timeout`: connect, login and queries together
end at `timeout`, and the connection is closed on expiry. `run()` therefore starts its
own event loop: call it from a worker thread (as the runner does), never from inside a
running asyncio loop.
"""

from __future__ import annotations

import asyncio
import re
import time
from dataclasses import dataclass
from typing import Any, Literal

import psycopg

from checks.base import Check, CheckResult, Status, timeout_result
from checks.database import connections_result, query_result
from checks.thresholds import require_ordered
from watchdog.common.configtools import Percent, Secret

_LIBPQ_PREFIX = re.compile(
    r'^(connection failed: )?(connection to server at "[^"]*"( \([^)]*\))?, port \d+ failed: )?(FATAL: +)?'
)
_SATURATION_SQL = (
    "SELECT (SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'client backend'),"
    " current_setting('max_connections')::int"
)


@dataclass(frozen=True)
class PostgresOptions:
    host: str = "127.0.0.1"
    port: int = 5432
    user: str = "postgres"
    password: Secret | None = None
    dbname: str = "postgres"
    query: str = "SELECT 1"
    sslmode: Literal["disable", "allow", "prefer", "require", "verify-ca", "verify-full"] = "prefer"
    connections_warn: Percent | None = None
    connections_crit: Percent | None = None

    def __post_init__(self) -> None:
        require_ordered(self.connections_warn, self.connections_crit, "connections")


class PostgresCheck(Check[PostgresOptions]):
    Config = PostgresOptions

    def run(self, timeout: float) -> CheckResult:
        cfg = self.config
        where = f"postgres {cfg.host}:{cfg.port}"
        try:
            return asyncio.run(self._probe(where, timeout))
        except TimeoutError:
            return timeout_result(f"{where}: timeout after {timeout:g}s")
        except psycopg.OperationalError as exc:
            return CheckResult(Status.CRITICAL, f"{where}: {_reason(exc)}")
        except psycopg.Error as exc:
            return CheckResult(Status.CRITICAL, f"{where}: query failed: {_reason(exc)}")

    async def _probe(self, where: str, timeout: float) -> CheckResult:
        cfg = self.config
        started = time.monotonic()
        params: dict[str, Any] = {
            "host": cfg.host,
            "port": cfg.port,
            "user": cfg.user,
            "dbname": cfg.dbname,
            "sslmode": cfg.sslmode,
            "application_name": "shop-watchdog",
            "connect_timeout": max(2, int(timeout) + 1),
        }
        if cfg.password is not None:
            params["password"] = cfg.password.reveal()
        async with asyncio.timeout(timeout):
            conn = await psycopg.AsyncConnection.connect(autocommit=True, **params)
            async with conn:
                row = await (await conn.execute(cfg.query)).fetchone()
                elapsed = time.monotonic() - started
                answered = query_result(where, row, elapsed, cfg)
                if answered is not None:
                    return answered
                used, limit = await (await conn.execute(_SATURATION_SQL)).fetchone() or (0, 0)
        return connections_result(where, elapsed, used, limit, cfg)


def _reason(exc: BaseException) -> str:
    """The server's or libpq's own reason, without libpq's "connection to server at ..." prefix.

    'connection to server at "127.0.0.1", port 5432 failed: FATAL:  password authentication
    failed for user "monitor"' -> 'password authentication failed for user "monitor"'.
    """
    lines = str(exc).strip().splitlines()
    text = _LIBPQ_PREFIX.sub("", lines[0]) if lines else type(exc).__name__
    return "connection refused" if text == "Connection refused" else text
