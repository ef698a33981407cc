"""A TCP server that accepts connections and never answers: the classic hung service.

The listening socket lives in the test process; the kernel completes handshakes into the
backlog, so clients connect at once and then wait forever for a greeting or a reply,
exactly as with a deadlocked server. Nothing is ever read or written, so no thread is needed.
"""

from __future__ import annotations

import socket

from tests.servers.stop_on_exit import StopOnExit


class HangingTCPServer(StopOnExit):
    """`port` accepts (up to `backlog` pending connections) and never says a word."""

    def __init__(self, backlog: int = 128) -> None:
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._sock.bind(("127.0.0.1", 0))
        self._sock.listen(backlog)
        self.port: int = self._sock.getsockname()[1]

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def stop(self) -> None:
        self._sock.close()
