"""An HTTP server that answers after a delay: slow responses without a slow machine.

nginx cannot sleep, so slowness comes from this threaded Python server in the test
process. Every request waits `delay` seconds, then gets `status` and `body`. Waiting is on
an Event, so `stop()` releases pending requests at once instead of leaving sleeping threads.
"""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler

from tests.servers.http_thread import HttpThread
from tests.servers.stop_on_exit import StopOnExit


class SlowHTTPServer(StopOnExit):
    """http://127.0.0.1:`port`/ answers any GET/HEAD/POST after `delay` seconds."""

    def __init__(self, delay: float, *, status: int = 200, body: str = "ok") -> None:
        self.delay = delay
        self.status = status
        self.body = body
        self.requests = 0
        self._stopping = threading.Event()
        self._lock = threading.Lock()
        self._http = HttpThread(self._handler_class(), name="slow-http").start()
        self.port = self._http.port

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/"

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def _answer(self, with_body: bool) -> None:
                with owner._lock:
                    owner.requests += 1
                if owner._stopping.wait(owner.delay):
                    return
                payload = owner.body.encode()
                self.send_response(owner.status)
                self.send_header("Content-Type", "text/plain")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                if with_body:
                    self.wfile.write(payload)

            def do_GET(self) -> None:
                self._answer(True)

            def do_POST(self) -> None:
                self._answer(True)

            def do_HEAD(self) -> None:
                self._answer(False)

            def log_message(self, format: str, *args: object) -> None:
                """Quiet: pytest output stays readable."""

        return Handler

    def stop(self) -> None:
        self._stopping.set()
        self._http.stop()
