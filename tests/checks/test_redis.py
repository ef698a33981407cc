"""redis against private redis-server instances: passwords, ACL users, saturation, outages."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Callable

import redis

from checks.base import Status
from tests.checks.building import make_check
from tests.checks.conftest import SetSecret
from tests.servers.hanging import HangingTCPServer
from tests.servers.redis import RedisServer

MakeRedis = Callable[..., RedisServer]


def test_ping_without_password_is_ok(redis_server: RedisServer) -> None:
    result = make_check("redis", port=redis_server.port).run(timeout=2)
    assert result.status is Status.OK, result.message
    assert result.message.startswith(f"redis 127.0.0.1:{redis_server.port}: PONG in ")


def test_requirepass_right_wrong_and_missing_password(make_redis: MakeRedis, secret_env: SetSecret) -> None:
    server = make_redis(password="cache-pw-1")
    good = make_check("redis", port=server.port, password_env=secret_env("REDIS_PW", "cache-pw-1")).run(timeout=2)
    assert good.status is Status.OK, good.message
    wrong = make_check("redis", port=server.port, password_env=secret_env("REDIS_BAD", "nope")).run(timeout=2)
    assert wrong.status is Status.CRITICAL
    assert "login failed" in wrong.message and "nope" not in wrong.message
    missing = make_check("redis", port=server.port).run(timeout=2)
    assert missing.status is Status.CRITICAL
    assert "login failed" in missing.message


def test_acl_user_login(make_redis: MakeRedis, secret_env: SetSecret) -> None:
    server = make_redis(password="admin-pw")
    with redis.Redis(port=server.port, password="admin-pw") as admin:
        admin.execute_command("ACL", "SETUSER", "monitor", "on", ">mon-pw", "+ping", "+info")
    env = secret_env("REDIS_MON_PW", "mon-pw")
    ok = make_check("redis", port=server.port, user="monitor", password_env=env, connections_warn="80%").run(timeout=2)
    assert ok.status is Status.OK, ok.message
    wrong = make_check("redis", port=server.port, user="monitor", password_env=secret_env("X", "admin-pw")).run(
        timeout=2
    )
    assert wrong.status is Status.CRITICAL and "login failed as monitor" in wrong.message


def test_stopped_redis_is_critical_connection_refused(redis_server: RedisServer) -> None:
    redis_server.kill()
    result = make_check("redis", port=redis_server.port).run(timeout=2)
    assert result.status is Status.CRITICAL
    assert result.message == f"redis 127.0.0.1:{redis_server.port}: connection refused"


def test_hanging_redis_times_out_within_timeout(hanging_tcp: HangingTCPServer) -> None:
    started = time.monotonic()
    result = make_check("redis", port=hanging_tcp.port).run(timeout=0.3)
    assert time.monotonic() - started < 0.8
    assert result.status is Status.CRITICAL and result.timed_out
    assert result.message.endswith("timeout after 0.3s")


def test_memory_near_maxmemory_is_reported(make_redis: MakeRedis) -> None:
    server = make_redis(maxmemory=4 * 1024 * 1024, extra_args=["--maxmemory-policy", "noeviction"])
    with redis.Redis(port=server.port) as client:
        for key in range(1000):
            if int(client.info("memory")["used_memory"]) >= 0.85 * 4 * 1024 * 1024:
                break
            client.set(f"ballast{key}", b"x" * 32768)
    result = make_check("redis", port=server.port, memory_warn="80%", memory_crit="95%").run(timeout=2)
    assert result.status is Status.WARNING, result.message
    assert "memory" in result.message and "warn 80%" in result.message
    assert 0.8 <= result.measurements["memory_ratio"] < 0.95


def test_clients_near_maxclients_are_critical(make_redis: MakeRedis) -> None:
    server = make_redis(maxclients=10)
    clients = [redis.Redis(port=server.port, single_connection_client=True) for _ in range(9)]
    try:
        for client in clients:
            client.ping()
        result = make_check("redis", port=server.port, connections_warn="50%", connections_crit="90%").run(timeout=2)
    finally:
        for client in clients:
            client.close()
    assert result.status is Status.CRITICAL, result.message
    assert result.message.endswith("clients 10/10 (100%, crit 90%)")
    assert result.measurements["connections_ratio"] == 1.0


def test_acl_user_without_info_permission_is_unknown_for_saturation(
    make_redis: MakeRedis, secret_env: SetSecret
) -> None:
    server = make_redis(password="admin-pw")
    with redis.Redis(port=server.port, password="admin-pw") as admin:
        admin.execute_command("ACL", "SETUSER", "pinger", "on", ">ping-pw", "+ping")
    env = secret_env("REDIS_PING_PW", "ping-pw")
    assert make_check("redis", port=server.port, user="pinger", password_env=env).run(timeout=2).status is Status.OK
    result = make_check("redis", port=server.port, user="pinger", password_env=env, memory_warn="80%").run(timeout=2)
    assert result.status is Status.UNKNOWN
    assert "INFO for the saturation levels is not permitted as pinger" in result.message


def test_another_database_is_selected(redis_server: RedisServer) -> None:
    assert make_check("redis", port=redis_server.port, db=3).run(timeout=2).status is Status.OK
    result = make_check("redis", port=redis_server.port, db=99).run(timeout=2)
    assert result.status is Status.CRITICAL and "DB index is out of range" in result.message


def test_the_probe_loads_no_redis_client_library_and_no_asyncio() -> None:
    """redis-py's package imports its asyncio client: 6 MB of every daemon's memory."""
    code = "import sys, checks.redis; print(sorted(m for m in ('redis', 'asyncio') if m in sys.modules))"
    loaded = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert loaded.strip() == "[]"
