"""An HTTP server that records every request and answers each path as told.

For what nginx cannot show a test: the headers a client really sent (basic auth, what
follows a redirect), answers in several chunks (chunked transfer encoding, optionally
with pauses between the chunks), pre-compressed bodies, a connection closed without an
answer, and listening on IPv6 loopback (`host="::1"`). Runs in threads of the test
process; unknown paths answer 404. Pauses wait on an Event, so `stop()` ends them at once.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from email.message import Message
from http.server import BaseHTTPRequestHandler

from tests.servers.http_thread import HttpThread
from tests.servers.stop_on_exit import StopOnExit


@dataclass(frozen=True)
class RecordedRequest:
    method: str
    path: str
    headers: Message


@dataclass(frozen=True)
class _Answer:
    status: int
    chunks: tuple[bytes, ...]
    headers: tuple[tuple[str, str], ...]
    chunked: bool
    pause: float
    close_silently: bool


class RecordingHTTPServer(StopOnExit):
    """http://`host`:`port`/ on a free port; `requests` lists what arrived, oldest first."""

    def __init__(self, host: str = "127.0.0.1") -> None:
        self.host = host
        self.requests: list[RecordedRequest] = []
        self._answers: dict[str, _Answer] = {}
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._http = HttpThread(self._handler_class(), name="recording-http", host=host).start()
        self.port = self._http.port

    def url(self, path: str) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}{path}"

    def answer(
        self, path: str, body: bytes = b"ok", *, status: int = 200, headers: dict[str, str] | None = None
    ) -> str:
        """`path` answers `status` with `body` (Content-Length) and `headers`; returns its URL."""
        return self._set(path, _Answer(status, (body,), tuple((headers or {}).items()), False, 0.0, False))

    def answer_chunked(self, path: str, *chunks: bytes, pause: float = 0.0) -> str:
        """`path` answers 200 with `chunks` in chunked transfer encoding, `pause` seconds apart."""
        return self._set(path, _Answer(200, chunks, (), True, pause, False))

    def redirect(self, path: str, location: str, *, status: int = 302) -> str:
        return self._set(path, _Answer(status, (b"",), (("Location", location),), False, 0.0, False))

    def close_without_answer(self, path: str) -> str:
        """`path` reads the request and closes the connection without a word."""
        return self._set(path, _Answer(0, (), (), False, 0.0, True))

    def received(self, path: str) -> list[RecordedRequest]:
        with self._lock:
            return [r for r in self.requests if r.path == path]

    def _set(self, path: str, answer: _Answer) -> str:
        with self._lock:
            self._answers[path] = answer
        return self.url(path)

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        owner = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def _handle(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                if length:
                    self.rfile.read(length)
                with owner._lock:
                    owner.requests.append(RecordedRequest(self.command, self.path, self.headers))
                    answer = owner._answers.get(self.path, _Answer(404, (b"not found",), (), False, 0.0, False))
                self.close_connection = True
                if answer.close_silently:
                    return
                self.send_response(answer.status)
                for name, value in answer.headers:
                    self.send_header(name, value)
                if answer.chunked:
                    self.send_header("Transfer-Encoding", "chunked")
                else:
                    self.send_header("Content-Length", str(sum(len(c) for c in answer.chunks)))
                self.end_headers()
                if self.command == "HEAD":
                    return
                for index, chunk in enumerate(answer.chunks):
                    if index and answer.pause and owner._stopping.wait(answer.pause):
                        return
                    self.wfile.write(b"%x\r\n%s\r\n" % (len(chunk), chunk) if answer.chunked else chunk)
                    self.wfile.flush()
                if answer.chunked:
                    self.wfile.write(b"0\r\n\r\n")

            do_GET = do_HEAD = do_POST = do_OPTIONS = _handle

            def log_message(self, format: str, *args: object) -> None:
                """Quiet: pytest output stays readable."""

        return Handler

    def stop(self) -> None:
        self._stopping.set()
        self._http.stop()
