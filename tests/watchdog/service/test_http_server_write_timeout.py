"""A client that does not take its answer: the connection is closed at the write timeout,
and the transport goes on serving everyone else.

The transport alone, on loopback: an application answering 16 MiB (far more than the kernel
buffers of a loopback connection hold) to a client that shrinks its receive buffer and
never reads.
"""

from __future__ import annotations

import socket
import time

from tests.servers.raw_http import exchange, request_bytes
from watchdog.service.http_server import HttpServer, Limits, Request, Response

BIG = 16 * 1024 * 1024


def test_a_client_that_never_reads_its_answer_is_cut_off_and_others_are_served() -> None:
    def app(request: Request) -> Response:
        return Response(200, b"x" * BIG if request.path == "/big" else b"ok", "text/plain")

    server = HttpServer("127.0.0.1", 0, app, Limits(write_timeout=0.5))
    server.start()
    try:
        stuck = socket.socket()
        stuck.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        stuck.connect(("127.0.0.1", server.port))
        stuck.sendall(request_bytes("GET", "/big"))
        time.sleep(1.5)  # the client is away: well past the write timeout, it reads nothing
        meanwhile = exchange(server.port, request_bytes("GET", "/small"), timeout=10)
        stuck.settimeout(10)
        received = 0
        try:
            while chunk := stuck.recv(1 << 20):
                received += len(chunk)
        except ConnectionResetError:
            pass
        stuck.close()
    finally:
        server.stop()

    assert meanwhile.statuses == [200] and meanwhile.data.endswith(b"ok")
    assert 0 < received < BIG, "the answer was cut off, not delivered whole to a client that was away"
