"""postgres against private PostgreSQL 15 servers with scram-sha-256 password logins."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import psycopg

from checks.base import Status
from tests.checks.building import make_check
from tests.checks.conftest import SetSecret
from tests.servers.hanging import HangingTCPServer
from tests.servers.postgres import PostgresServer


def test_scram_login_and_query_is_ok(postgres: PostgresServer, secret_env: SetSecret) -> None:
    env = secret_env("PG_PW", postgres.password)
    result = make_check("postgres", port=postgres.port, user="monitor", password_env=env).run(timeout=5)
    assert result.status is Status.OK, result.message
    assert result.message.startswith(f"postgres 127.0.0.1:{postgres.port}: query ok in ")
    method = postgres.sql("SELECT auth_method FROM pg_hba_file_rules WHERE type = 'host' LIMIT 1")
    assert method == [("scram-sha-256",)]


def test_wrong_or_missing_password_is_critical_without_leaking_it(
    postgres: PostgresServer, secret_env: SetSecret
) -> None:
    wrong = make_check(
        "postgres", port=postgres.port, user="monitor", password_env=secret_env("PG_BAD", "not-the-pw")
    ).run(timeout=5)
    assert wrong.status is Status.CRITICAL
    assert wrong.message == f'postgres 127.0.0.1:{postgres.port}: password authentication failed for user "monitor"'
    assert "not-the-pw" not in wrong.message
    missing = make_check("postgres", port=postgres.port, user="monitor").run(timeout=5)
    assert missing.status is Status.CRITICAL
    assert "no password supplied" in missing.message


def test_stopped_server_is_critical_connection_refused(postgres: PostgresServer, secret_env: SetSecret) -> None:
    postgres.kill()
    result = make_check("postgres", port=postgres.port, password_env=secret_env("PG_PW", postgres.password)).run(
        timeout=5
    )
    assert result.status is Status.CRITICAL
    assert result.message == f"postgres 127.0.0.1:{postgres.port}: connection refused"


def test_hanging_server_is_critical_within_the_timeout(hanging_tcp: HangingTCPServer) -> None:
    started = time.monotonic()
    result = make_check("postgres", port=hanging_tcp.port).run(timeout=0.5)
    assert time.monotonic() - started < 1.2
    assert result.status is Status.CRITICAL and result.timed_out
    assert result.message == f"postgres 127.0.0.1:{hanging_tcp.port}: timeout after 0.5s"


def test_query_blocked_by_a_lock_times_out(postgres: PostgresServer, secret_env: SetSecret) -> None:
    postgres.sql("CREATE TABLE orders (id int); GRANT SELECT ON orders TO monitor")
    with psycopg.connect(**postgres.connect_kwargs()) as locker:
        locker.execute("LOCK TABLE orders IN ACCESS EXCLUSIVE MODE")
        check = make_check(
            "postgres", port=postgres.port, user="monitor", password_env=secret_env("PG_PW", postgres.password),
            query="SELECT count(*) FROM orders",
        )  # fmt: skip
        started = time.monotonic()
        result = check.run(timeout=0.5)
        assert time.monotonic() - started < 1.2
    assert result.status is Status.CRITICAL and result.timed_out
    assert result.message.endswith("timeout after 0.5s")


def test_failing_query_is_critical(postgres: PostgresServer, secret_env: SetSecret) -> None:
    check = make_check(
        "postgres",
        port=postgres.port,
        password_env=secret_env("PG_PW", postgres.password),
        query="SELECT * FROM nowhere",
    )
    result = check.run(timeout=5)
    assert result.status is Status.CRITICAL
    assert 'query failed: relation "nowhere" does not exist' in result.message


def test_connections_near_max_connections(make_postgres: Callable[..., PostgresServer], secret_env: SetSecret) -> None:
    server = make_postgres(max_connections=10)
    env = secret_env("PG_PW", server.password)
    held: list[psycopg.Connection[Any]] = [server.connect("monitor") for _ in range(7)]
    try:
        result = make_check(
            "postgres",
            port=server.port,
            user="monitor",
            password_env=env,
            connections_warn="70%",
            connections_crit="90%",
        ).run(timeout=5)
    finally:
        for conn in held:
            conn.close()
    assert result.status is Status.WARNING, result.message
    assert result.message.endswith("connections 8/10 (80%, warn 70%)")
    assert result.measurements["connections_ratio"] == 0.8
