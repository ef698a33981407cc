"""A real HTTP server on 127.0.0.1 (random port) playing the watchdog's `/api/v1/status`.

Each path answers as told: a JSON document, an HTTP error, garbage, or never (a hang that
lasts until the server stops). Used by the deploy guard's incident-gate tests.
"""

from __future__ import annotations

import json
import socket
import threading
from http.server import BaseHTTPRequestHandler
from typing import Any

from tests.servers.http_thread import HttpThread


class StatusServer:
    """`start()`, configure paths with `answer()`/`hang()`, read `url(path)`, `stop()`."""

    def __init__(self) -> None:
        self._answers: dict[str, tuple[int, bytes]] = {}
        self._hanging: set[str] = set()
        self._stopping = threading.Event()
        self.requests: list[str] = []
        self._lock = threading.Lock()
        self._http: HttpThread | None = None

    def answer(self, path: str, document: Any = None, *, status: int = 200, raw: bytes | None = None) -> str:
        body = raw if raw is not None else json.dumps(document).encode()
        with self._lock:
            self._answers[path] = (status, body)
        return self.url(path)

    def incidents(self, path: str, *incidents: dict[str, Any]) -> str:
        """Answers like the watchdog: host, checks, and these unresolved incidents."""
        return self.answer(path, {"host": "shop-web-1", "checks": [], "incidents": list(incidents)})

    def hang(self, path: str) -> str:
        with self._lock:
            self._hanging.add(path)
        return self.url(path)

    def url(self, path: str) -> str:
        assert self._http is not None
        return f"http://127.0.0.1:{self._http.port}{path}"

    def start(self) -> None:
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                with owner._lock:
                    owner.requests.append(self.path)
                    hanging = self.path in owner._hanging
                    status, body = owner._answers.get(self.path, (404, b"not found"))
                if hanging:
                    owner._stopping.wait(60)
                    return
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: Any) -> None:
                return

        self._http = HttpThread(Handler, name="status-server").start()

    def stop(self) -> None:
        self._stopping.set()
        if self._http is not None:
            self._http.stop()


def closed_port_url(path: str = "/api/v1/status") -> str:
    """A loopback URL nobody listens on (the port was bound, then released)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}{path}"
