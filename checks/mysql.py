"""`mysql`: a real login to MySQL or MariaDB and a query; optional connection saturation.

`query` (default `SELECT 1`) must return a row. Saturation, when levels are set:
`Threads_connected` vs `max_connections` (at the limit new logins get "Too many
connections"). PyMySQL's connect, read and write timeouts are the check's timeout, so
every network wait is bounded. MySQL 8's caching_sha2_password over plain TCP needs the
`cryptography` package for its first (full) authentication; MariaDB's default plugins do not.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import pymysql

from checks.base import Check, CheckResult, Status, timeout_result
from checks.database import connections_result, query_result
from checks.thresholds import require_ordered
from watchdog.common.configtools import Percent, Secret

_ACCESS_DENIED = 1045
_CANNOT_CONNECT = 2003
_LOST = 2013


@dataclass(frozen=True)
class MysqlOptions:
    host: str = "127.0.0.1"
    port: int = 3306
    user: str = "monitor"
    password: Secret | None = None
    database: str | None = None
    query: str = "SELECT 1"
    connections_warn: Percent | None = None
    connections_crit: Percent | None = None

    def __post_init__(self) -> None:
        require_ordered(self.connections_warn, self.connections_crit, "connections")


class MysqlCheck(Check[MysqlOptions]):
    Config = MysqlOptions

    def run(self, timeout: float) -> CheckResult:
        cfg = self.config
        where = f"mysql {cfg.host}:{cfg.port}"
        started = time.monotonic()
        try:
            conn = pymysql.connect(
                host=cfg.host,
                port=cfg.port,
                user=cfg.user,
                password=cfg.password.reveal() if cfg.password else "",
                database=cfg.database,
                connect_timeout=timeout,
                read_timeout=timeout,
                write_timeout=timeout,
                autocommit=True,
            )
        except pymysql.err.OperationalError as exc:
            return _failure(where, exc, timeout)
        try:
            with conn.cursor() as cur:
                cur.execute(cfg.query)
                row = cur.fetchone()
                elapsed = time.monotonic() - started
                answered = query_result(where, row, elapsed, cfg)
                if answered is not None:
                    return answered
                cur.execute("SELECT @@max_connections")
                (limit,) = cur.fetchone() or (0,)
                cur.execute("SHOW GLOBAL STATUS LIKE 'Threads_connected'")
                _, used = cur.fetchone() or ("", 0)
        except pymysql.err.OperationalError as exc:
            return _failure(where, exc, timeout)
        except pymysql.err.MySQLError as exc:
            return _failure(where, exc, timeout, "query failed: ")
        finally:
            conn.close()
        return connections_result(where, elapsed, float(used), float(limit), cfg)


def _failure(where: str, exc: pymysql.err.MySQLError, timeout: float, what: str = "") -> CheckResult:
    """CRITICAL with a short reason from PyMySQL's (code, message) error; a socket timeout
    (connect, read or write) is the probe's own timeout."""
    code = exc.args[0] if exc.args else None
    message = str(exc.args[1]) if len(exc.args) > 1 else str(exc)
    if code in (_CANNOT_CONNECT, _LOST) and (isinstance(exc.__context__, TimeoutError) or "timed out" in message):
        return timeout_result(f"{where}: timeout after {timeout:g}s")
    return CheckResult(Status.CRITICAL, f"{where}: {what}{_reason(code, message, exc)}")


def _reason(code: object, message: str, exc: pymysql.err.MySQLError) -> str:
    if code == _ACCESS_DENIED:
        return f"login failed: {message}"
    if code == _CANNOT_CONNECT and "Connection refused" in message:
        return "connection refused"
    return message.splitlines()[0] if message else type(exc).__name__
