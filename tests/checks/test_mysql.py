"""mysql against private MariaDB 10.11 servers with a password login user."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import pymysql

from checks.base import Status
from tests.checks.building import make_check
from tests.checks.conftest import SetSecret
from tests.servers.hanging import HangingTCPServer
from tests.servers.mariadb import MariaDBServer


def test_login_and_query_is_ok(mariadb: MariaDBServer, secret_env: SetSecret) -> None:
    result = make_check("mysql", port=mariadb.port, password_env=secret_env("MY_PW", mariadb.password)).run(timeout=5)
    assert result.status is Status.OK, result.message
    assert result.message.startswith(f"mysql 127.0.0.1:{mariadb.port}: query ok in ")


def test_wrong_password_is_critical_without_leaking_it(mariadb: MariaDBServer, secret_env: SetSecret) -> None:
    result = make_check("mysql", port=mariadb.port, password_env=secret_env("MY_BAD", "not-the-pw")).run(timeout=5)
    assert result.status is Status.CRITICAL
    assert "login failed: Access denied for user 'monitor'@'127.0.0.1'" in result.message
    assert "not-the-pw" not in result.message


def test_stopped_server_is_critical_connection_refused(mariadb: MariaDBServer, secret_env: SetSecret) -> None:
    mariadb.kill()
    result = make_check("mysql", port=mariadb.port, password_env=secret_env("MY_PW", mariadb.password)).run(timeout=5)
    assert result.status is Status.CRITICAL
    assert result.message == f"mysql 127.0.0.1:{mariadb.port}: connection refused"


def test_hanging_server_is_critical_within_the_timeout(hanging_tcp: HangingTCPServer) -> None:
    started = time.monotonic()
    result = make_check("mysql", port=hanging_tcp.port).run(timeout=0.5)
    assert time.monotonic() - started < 1.2
    assert result.status is Status.CRITICAL and result.timed_out
    assert result.message == f"mysql 127.0.0.1:{hanging_tcp.port}: timeout after 0.5s"


def test_connections_near_max_connections(make_mariadb: Callable[..., MariaDBServer], secret_env: SetSecret) -> None:
    server = make_mariadb(max_connections=10)
    held: list[pymysql.connections.Connection[Any]] = [server.connect_monitor() for _ in range(8)]
    try:
        result = make_check(
            "mysql", port=server.port, password_env=secret_env("MY_PW", server.password),
            connections_warn="70%", connections_crit="90%",
        ).run(timeout=5)  # fmt: skip
    finally:
        for conn in held:
            conn.close()
    assert result.status is Status.CRITICAL, result.message
    assert result.message.endswith("connections 9/10 (90%, crit 90%)")


def test_query_slower_than_the_timeout_is_critical(mariadb: MariaDBServer, secret_env: SetSecret) -> None:
    check = make_check(
        "mysql", port=mariadb.port, password_env=secret_env("MY_PW", mariadb.password), query="SELECT SLEEP(5)"
    )
    started = time.monotonic()
    result = check.run(timeout=0.5)
    assert time.monotonic() - started < 1.2
    assert result.status is Status.CRITICAL
    assert result.message == f"mysql 127.0.0.1:{mariadb.port}: timeout after 0.5s"
