"""A real HTTP receiver for webhook channels: records every JSON POST, by path.

One `WebhookSink` serves any number of channels, each configured with its own path
(`sink.url("pager")` -> http://127.0.0.1:PORT/pager), so a test can tell which channel
got what. Paths starting with `reject` answer 400 (a permanent rejection) and record nothing.
Runs in a thread of the test process; `stop()` closes the socket.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler
from typing import Any

from tests.servers.http_thread import HttpThread


class WebhookSink:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._received: list[tuple[str, dict[str, Any]]] = []
        sink = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", "0"))
                body = json.loads(self.rfile.read(length) or b"{}")
                path = self.path.strip("/")
                if path.startswith("reject"):
                    self.send_response(400)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                with sink._lock:
                    sink._received.append((path, body))
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self._http = HttpThread(Handler, name="webhook-sink").start()
        self.port = self._http.port

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}/{path}"

    def messages(self, path: str | None = None, kind: str | None = None) -> list[dict[str, Any]]:
        """Bodies received (on `path`, of notification `kind`), oldest first."""
        with self._lock:
            return [
                b for p, b in self._received if (path is None or p == path) and (kind is None or b.get("kind") == kind)
            ]

    def wait_for(self, predicate: Callable[[WebhookSink], bool], timeout: float = 10.0) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if predicate(self):
                return True
            time.sleep(0.02)
        return predicate(self)

    def wait_count(self, path: str | None, kind: str | None, count: int, timeout: float = 10.0) -> list[dict[str, Any]]:
        """Waits until at least `count` such messages arrived; returns them (may be fewer on timeout)."""
        self.wait_for(lambda s: len(s.messages(path, kind)) >= count, timeout)
        return self.messages(path, kind)

    def stop(self) -> None:
        self._http.stop()
