"""A TCP server that answers every request with the same bytes, whatever they are.

For answers no real HTTP server gives: a status line that is not one (another protocol's
banner), a body shorter than its Content-Length, a chunked body cut off, interim 1xx answers,
raw UTF-8 in a header, a reset instead of an answer. Each connection is read up to the end of
the request head, answered with `answer`, and closed: with a FIN, or with a RST when `reset`.
With `hold`, the connection stays open after the answer until the client closes it (or 10 s
pass), as an SSH or SMTP server keeps it open after its banner.
"""

from __future__ import annotations

import contextlib
import socket
import struct
import threading

from tests.servers.stop_on_exit import StopOnExit

_HEAD_END = b"\r\n\r\n"


class CannedHTTPServer(StopOnExit):
    """http://127.0.0.1:`port`/: every connection gets `answer`, then the connection ends."""

    def __init__(self, answer: bytes, *, reset: bool = False, hold: bool = False) -> None:
        self.answer = answer
        self.reset = reset
        self.hold = hold
        self._sock = socket.create_server(("127.0.0.1", 0))
        self.port: int = self._sock.getsockname()[1]
        self._thread = threading.Thread(target=self._serve, name="canned-http", daemon=True)
        self._thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/"

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self._sock.accept()
            except OSError:  # stop() closed the listening socket
                return
            with conn:
                conn.settimeout(5)
                received = b""
                while _HEAD_END not in received:
                    data = conn.recv(65536)
                    if not data:
                        break
                    received += data
                conn.sendall(self.answer)
                if self.hold:
                    conn.settimeout(10)
                    with contextlib.suppress(OSError):
                        while conn.recv(65536):
                            pass
                if self.reset:
                    conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))

    def stop(self) -> None:
        self._sock.shutdown(socket.SHUT_RDWR)
        self._sock.close()
        self._thread.join(5)
