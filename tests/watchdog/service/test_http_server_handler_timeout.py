"""A handler that does not answer in time: the client is answered 503, nothing waits forever.

The transport alone, on loopback, with an application that hangs until the test lets it go
(the daemon's handlers never hang on purpose).
"""

from __future__ import annotations

import threading

from tests.servers.raw_http import exchange, request_bytes
from watchdog.service.http_server import HttpServer, Limits, Request, Response


def test_a_hung_handler_is_answered_503_and_the_request_queued_behind_it_never_runs() -> None:
    release = threading.Event()
    started: list[str] = []

    def hang(request: Request) -> Response:
        started.append(request.path)
        release.wait(30)
        return Response(200, b"late", "text/plain")

    server = HttpServer("127.0.0.1", 0, hang, Limits(workers=1, handler_timeout=0.3))
    server.start()
    try:
        pipelined = request_bytes("GET", "/hung", close=False) + request_bytes("GET", "/queued")
        answer = exchange(server.port, pipelined, timeout=20)
    finally:
        release.set()
        server.stop()

    assert answer.statuses == [503, 503], answer.data
    assert answer.json()["error"] == "no answer within 0.3s"
    assert b"Retry-After: 1\r\n" in answer.data and answer.closed
    assert started == ["/hung"], "the second request waited for the only worker and was dropped at its timeout"
