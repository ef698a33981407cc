"""The life cycle every in-process test HTTP server shares: serve in a thread, stop for good.

The helper servers (slow answers, recording, webhook receivers, a fake status API) differ
only in their request handler; binding, serving in a daemon thread and shutting down
(socket closed, thread joined) are this one class.
"""

from __future__ import annotations

import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Self


class _IPv6HTTPServer(ThreadingHTTPServer):
    address_family = socket.AF_INET6


class HttpThread:
    """`handler` served on `host` (IPv4 or IPv6 loopback) and `port` (0: a free one).

    Bound at construction, so `port` is known before `start()`; request threads are
    daemon threads, so a request a test left hanging never blocks the interpreter's exit.
    """

    def __init__(
        self, handler: type[BaseHTTPRequestHandler], *, name: str, host: str = "127.0.0.1", port: int = 0
    ) -> None:
        server_class = _IPv6HTTPServer if ":" in host else ThreadingHTTPServer
        self.server = server_class((host, port), handler)
        self.server.daemon_threads = True
        self.port: int = self.server.server_address[1]
        self._thread = threading.Thread(target=self.server.serve_forever, args=(0.05,), name=name, daemon=True)

    def start(self) -> Self:
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stops serving and closes the socket; safe whether or not `start()` ran."""
        if self._thread.is_alive():  # shutdown() would wait forever for a loop never started
            self.server.shutdown()
            self._thread.join(5)
        self.server.server_close()
