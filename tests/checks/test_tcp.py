"""tcp against a private Redis (a real line protocol), a hanging server and a closed port."""

from __future__ import annotations

import time

from checks.base import Status
from tests.checks.building import config_problems, make_check
from tests.servers.hanging import HangingTCPServer
from tests.servers.ports import free_port
from tests.servers.redis import RedisServer


def test_open_port_is_ok(redis_server: RedisServer) -> None:
    result = make_check("tcp", host="127.0.0.1", port=redis_server.port).run(timeout=2)
    assert result.status is Status.OK, result.message
    assert result.measurements["connect_seconds"] < 1


def test_send_and_expected_reply(redis_server: RedisServer) -> None:
    ok = make_check("tcp", host="127.0.0.1", port=redis_server.port, send="PING\r\n", expect="+PONG").run(timeout=2)
    assert ok.status is Status.OK, ok.message
    wrong = make_check("tcp", host="127.0.0.1", port=redis_server.port, send="PING\r\n", expect="+READY").run(
        timeout=0.5
    )
    assert wrong.status is Status.CRITICAL and wrong.timed_out, "it waited for '+READY' until the deadline"
    assert wrong.message == f"127.0.0.1:{redis_server.port}: timeout after 0.5s: expected '+READY', got '+PONG'"


def test_closed_port_is_critical_connection_refused() -> None:
    port = free_port()
    result = make_check("tcp", host="127.0.0.1", port=port).run(timeout=2)
    assert result.status is Status.CRITICAL
    assert result.message == f"127.0.0.1:{port}: connection refused"


def test_server_that_never_answers_is_critical_within_timeout(hanging_tcp: HangingTCPServer) -> None:
    started = time.monotonic()
    result = make_check("tcp", host="127.0.0.1", port=hanging_tcp.port, send="PING\r\n", expect="PONG").run(timeout=0.3)
    assert time.monotonic() - started < 0.8
    assert result.status is Status.CRITICAL and result.timed_out
    assert result.message == f"127.0.0.1:{hanging_tcp.port}: timeout after 0.3s: no reply"


def test_server_that_closes_without_reply_is_critical(redis_server: RedisServer) -> None:
    result = make_check("tcp", host="127.0.0.1", port=redis_server.port, send="QUIT\r\n", expect="PONG").run(timeout=2)
    assert result.status is Status.CRITICAL
    assert "expected 'PONG', got '+OK'" in result.message


def test_config_rejects_bad_port() -> None:
    assert "port: expected 1..65535" in config_problems("tcp", host="x", port=70000)
    assert "required key is missing" in config_problems("tcp", host="x")
