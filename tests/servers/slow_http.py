"""An HTTP server that answers after a delay: slow responses without a slow machine.

nginx cannot sleep, so slowness comes from this threaded Python server in the test
process. Every request waits `delay` seconds, then gets `status` and `body`. Waiting is on
an Event, so `stop()` releases pending requests at once instead of leaving sleeping threads.
"""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

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
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler_class())
        self._server.daemon_threads = True
        self.port: int = self._server.server_address[1]
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self._thread.start()

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
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)
