"""An HTTP forwarder in front of one real server, which a test can cut off.

While `cut`, every request is answered 503 without reaching the server, like a node behind a
failing network path; otherwise requests (method, path, body, content type) go through and
the server's answer comes back. Lets a test make a live Alertmanager node miss one message
while it keeps running and keeps what it already has.
"""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler

import requests

from tests.servers.http_thread import HttpThread
from tests.servers.stop_on_exit import StopOnExit


class CutProxy(StopOnExit):
    def __init__(self, target: str) -> None:
        self.target = target.rstrip("/")
        self.cut = threading.Event()
        self._http = HttpThread(self._handler(), name="cut-proxy")
        self.url = f"http://127.0.0.1:{self._http.port}"

    def start(self) -> CutProxy:
        self._http.start()
        return self

    def stop(self) -> None:
        self._http.stop()

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def _forward(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                if owner.cut.is_set():
                    self.send_response(503)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                answer = requests.request(
                    self.command,
                    owner.target + self.path,
                    data=body,
                    headers={"Content-Type": self.headers.get("Content-Type", "application/json")},
                    timeout=10,
                )
                self.send_response(answer.status_code)
                self.send_header("Content-Length", str(len(answer.content)))
                self.end_headers()
                self.wfile.write(answer.content)

            do_GET = do_POST = _forward

            def log_message(self, format: str, *args: object) -> None:
                pass

        return Handler
