"""The API's transport under attack: the real daemon, hostile bytes through real sockets.

Malformed framing is answered with a JSON error and the connection closed; slow clients are
cut off at the read timeout; idle connections cost no threads, and /healthz, the checks and
the restarts keep working under a thousand of them.
"""

from __future__ import annotations

import socket
import time
from pathlib import Path

import pytest

from tests.servers.nginx import NginxServer
from tests.servers.raw_http import close_all, exchange, open_idle, request_bytes
from tests.servers.watchdog_daemon import WatchdogDaemon, unit_tasks_max, web_check_with_restart
from watchdog.service.http_server import EVICT_AFTER, Limits

LIMITS = Limits()
JSON_HEADERS = {"Content-Type": "application/json"}


def post(headers: dict[str, str]) -> bytes:
    head = "".join(f"{name}: {value}\r\n" for name, value in headers.items())
    return f"POST /api/v1/silences HTTP/1.1\r\nHost: 127.0.0.1\r\n{head}\r\n".encode()


@pytest.mark.parametrize("length", ["-1", "-0", "+5", "0x10", "1e3", "5 5", " ", "١٢"])
def test_content_length_that_is_not_a_non_negative_integer_is_400(api_daemon: WatchdogDaemon, length: str) -> None:
    answer = exchange(api_daemon.port, post(JSON_HEADERS | {"Content-Length": length}) + b"{}")

    assert answer.status == 400, answer.data
    assert "Content-Length" in str(answer.json()["error"])
    assert answer.closed


def test_conflicting_content_lengths_are_400(api_daemon: WatchdogDaemon) -> None:
    data = post(JSON_HEADERS | {"Content-Length": "2"})[:-2] + b"Content-Length: 3\r\n\r\n{}"
    answer = exchange(api_daemon.port, data)

    assert answer.status == 400 and "conflicting" in str(answer.json()["error"])


@pytest.mark.parametrize("length", [str(LIMITS.max_body + 1), "99999999999999999999999999"])
def test_a_body_over_the_limit_is_413_before_it_is_sent(api_daemon: WatchdogDaemon, length: str) -> None:
    answer = exchange(api_daemon.port, post(JSON_HEADERS | {"Content-Length": length}))

    assert answer.status == 413 and answer.closed
    assert answer.seconds < 3, "answered at once, without waiting for the body"


@pytest.mark.parametrize(
    ("headers", "code"),
    [
        ({}, 411),
        ({"Transfer-Encoding": "chunked"}, 411),
        ({"Transfer-Encoding": "chunked", "Content-Length": "2"}, 400),
    ],
)
def test_a_post_needs_a_plain_content_length(api_daemon: WatchdogDaemon, headers: dict[str, str], code: int) -> None:
    answer = exchange(api_daemon.port, post(JSON_HEADERS | headers) + b"2\r\n{}\r\n0\r\n\r\n")

    assert answer.status == code, answer.data
    assert answer.json()["error"]
    assert answer.closed


@pytest.mark.parametrize(
    ("data", "code"),
    [
        (b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nX-A: 1\r\n folded\r\n\r\n", 400),
        (b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nBad Header: 1\r\n\r\n", 400),
        (b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nX-A: a\x00b\r\n\r\n", 400),
        (b"GET /healthz HTTP/1.1\r\n\r\n", 400),
        (b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nHost: evil.example\r\n\r\n", 400),
        (b"GET /healthz\r\n\r\n", 400),
        (b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03\r\n\r\n", 400),
        (b"GET http://evil.example/healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n", 400),
        (b"GET /healthz HTTP/2.0\r\nHost: 127.0.0.1\r\n\r\n", 505),
        (b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nExpect: 200-ok\r\n\r\n", 417),
        (b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n" + b"X-Pad: " + b"a" * LIMITS.max_head + b"\r\n\r\n", 431),
        (b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n" + b"X-A: 1\r\n" * 101 + b"\r\n", 431),
    ],
)
def test_malformed_requests_get_a_json_error_and_the_connection_closed(
    api_daemon: WatchdogDaemon, data: bytes, code: int
) -> None:
    answer = exchange(api_daemon.port, data)

    assert answer.status == code, answer.data
    assert answer.json()["error"]
    assert answer.closed


def test_keep_alive_answers_pipelined_requests_in_order(api_daemon: WatchdogDaemon) -> None:
    data = request_bytes("GET", "/healthz", close=False) + request_bytes("GET", "/nothing", close=False)
    data += request_bytes("HEAD", "/healthz")

    answer = exchange(api_daemon.port, data)

    assert answer.statuses == [200, 404, 200]
    assert answer.data.endswith(b"\r\n\r\n"), "a HEAD answer has no body"
    assert answer.closed


def test_expect_100_continue_is_honoured(api_daemon: WatchdogDaemon) -> None:
    body = b'{"by": "curl"}'
    headers = JSON_HEADERS | {"Content-Length": str(len(body)), "Expect": "100-continue"}
    answer = exchange(api_daemon.port, post(headers).replace(b"silences", b"incidents/inc-none/ack") + body)

    assert answer.data.startswith(b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 404 ")


def test_silent_trickling_and_bodiless_clients_are_cut_off_at_the_read_timeout(api_daemon: WatchdogDaemon) -> None:
    silent = open_idle(api_daemon.port, 1)
    trickling = open_idle(api_daemon.port, 1, send=b"G")
    bodiless = open_idle(api_daemon.port, 1, send=post(JSON_HEADERS | {"Content-Length": "20"}) + b"{")
    started = time.monotonic()
    try:
        for byte in b"ET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: " + b"y" * 40:
            try:
                trickling[0].send(bytes([byte]))
            except OSError:
                break
            assert api_daemon.get("/healthz")[0] == 200, "others are served meanwhile"
            time.sleep(0.5)
        answers = {name: _until_closed(sock[0], started) for name, sock in [("trickling", trickling),
                   ("bodiless", bodiless), ("silent", silent)]}  # fmt: skip
    finally:
        close_all(silent + trickling + bodiless)

    assert answers["trickling"][0].startswith(b"HTTP/1.1 408 "), answers
    assert answers["bodiless"][0].startswith(b"HTTP/1.1 408 "), answers
    assert answers["silent"][0] == b"", "an idle connection is closed without an answer"
    for name, (_, seconds) in answers.items():
        assert LIMITS.read_timeout - 1 <= seconds <= LIMITS.read_timeout + 5, (name, seconds)


def _until_closed(sock: socket.socket, started: float) -> tuple[bytes, float]:
    """What the server sent until it closed the connection, and when that was."""
    sock.settimeout(LIMITS.read_timeout + 10)
    data = b""
    while chunk := _recv(sock):
        data += chunk
    return data, time.monotonic() - started


def _recv(sock: socket.socket) -> bytes:
    try:
        return sock.recv(65536)
    except ConnectionResetError:
        return b""


def test_a_thousand_idle_connections_leave_the_daemon_working(tmp_path: Path, nginx: NginxServer) -> None:
    config = web_check_with_restart(nginx, restart_timeout="15s")
    with WatchdogDaemon(tmp_path / "d", config) as daemon:
        daemon.wait_for("web", lambda c: c["status"] == "OK")
        before = daemon.tasks()
        idle = open_idle(daemon.port, 600) + open_idle(daemon.port, 400, send=b"GET /healthz HTTP/1.1\r\n")
        try:
            started = time.monotonic()
            assert daemon.get("/healthz") == (200, b"ok\n"), "at once, nobody dropped for it"
            healthz_seconds = time.monotonic() - started
            time.sleep(1)
            during = daemon.tasks()
            runs = daemon.check("web")["last_run"]
            daemon.wait_until(lambda: daemon.check("web")["last_run"] != runs, what="the check to run again")
            nginx.kill()
            daemon.wait_until(
                lambda: daemon.metric('shop_watchdog_auto_repairs_total{check="web"}') == 1, what="a restart"
            )
            peak = max(during, daemon.tasks())
        finally:
            close_all(idle)
        assert daemon.get("/healthz")[0] == 200

    assert peak < unit_tasks_max(), f"{peak} tasks under 1,000 idle connections; the unit allows {unit_tasks_max()}"
    assert during - before <= LIMITS.workers + 1, f"{before} threads before, {during} with 1,000 idle connections"
    assert healthz_seconds < 2


def test_connections_past_the_bound_are_answered_at_once(api_daemon: WatchdogDaemon) -> None:
    started = time.monotonic()
    first = open_idle(api_daemon.port, LIMITS.max_connections)
    try:
        late = exchange(api_daemon.port, request_bytes("GET", "/healthz"), timeout=3)
        all_young = time.monotonic() - started < EVICT_AFTER
        time.sleep(EVICT_AFTER + 0.2)  # now the first ones have waited long enough to give way
        served = exchange(api_daemon.port, request_bytes("GET", "/healthz"), timeout=3)
    finally:
        close_all(first)

    assert late.seconds < 2 and late.closed, late
    if all_young:  # (on a slow machine, opening them took longer than EVICT_AFTER)
        assert late.status == 503 and late.json()["error"] == "too many connections", late
    assert served.status == 200, served
