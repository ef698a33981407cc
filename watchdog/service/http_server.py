"""The API's HTTP/1.1 transport: a hostile local client can neither exhaust it nor confuse it.

One asyncio loop in one thread (`api`) owns every connection, so an idle or slow connection
costs a file descriptor and a small buffer, never a thread. A request is read whole — head
and body, within `Limits.read_timeout` of the connection becoming ready for it — before one
of a fixed pool of `Limits.workers` threads runs the application on it: the application never
sees a partial request, and a slow client never holds a worker. Every bound is answered at
once rather than queued:

* connections: at most `Limits.max_connections` (1,024: a thousand idle connections are
  held without dropping anyone), and always RESERVED_FILES file descriptors fewer than the
  process may open, so sockets cannot starve the checks and restarts of descriptors. To
  get there `start()` raises the soft RLIMIT_NOFILE as far as the hard limit allows
  (systemd starts services with 1,024 soft, 512Ki hard; idle connections cost ~7 KB each).
  A new connection past the bound takes the place of the connection that has waited
  longest (at least EVICT_AFTER) for its next request, as a server sheds idle keep-alive
  connections; when none has, the newcomer is answered 503.
* requests: a connection has at most one request in flight, so the connection bound bounds
  the requests waiting for a worker too; one not answered within `Limits.handler_timeout`
  is answered 503 (its worker finishes by itself), none waits forever.
* framing: the request line and headers within `Limits.max_head` bytes (else 431); a body
  only with a `Content-Length` of digits within `Limits.max_body` (else 400, 413), required
  for POST, PUT and PATCH (411); no `Transfer-Encoding` (411, 400 next to a `Content-Length`);
  exactly one `Host` on HTTP/1.1 (400). A framing error closes the connection after its
  answer: nothing that follows can be trusted.
* writes: a client must take its response within `Limits.write_timeout`.

The listen backlog (`Limits.backlog`, 1,024; the kernel caps it at net.core.somaxconn) holds
a burst of connections the loop has not accepted yet: a full backlog drops SYNs, which the
client retries only after a second.

Error answers are JSON `{"error": "..."}`; every response carries `Cache-Control: no-store`,
`X-Content-Type-Options: nosniff` and forbids framing. Who may ask what is not decided here
(watchdog.service.http_policy, watchdog.service.api).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import email.utils
import http
import json
import logging
import re
import resource
import socket
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from watchdog.common.logs import event, format_event

log = logging.getLogger(__name__)

EVICT_AFTER = 1.0
"""Seconds a connection must have waited for a request before a newcomer may take its place:
a client that has just connected is never dropped for one that connects after it."""

OVERLOAD_LOG_EVERY = 60.0
"""Refused and shed connections are counted and logged at most this often, not one line each."""

MAX_HEADERS = 100

RESERVED_FILES = 256
"""File descriptors kept free of API connections for everything else the daemon opens:
probes' sockets and database connections, pidfds, the state database, restart pipes."""

_TOKEN = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
_REQUEST_LINE = re.compile(r"([!#$%&'*+\-.^_`|~0-9A-Za-z]+) (/[\x21-\x7e]*) HTTP/(\d)\.(\d)")
_BAD_VALUE = re.compile(r"[\x00-\x08\x0a-\x1f\x7f]")
_END_OF_HEAD = re.compile(rb"\r?\n\r?\n")
_DIGITS = re.compile(r"[0-9]{1,18}")
_BODY_METHODS = frozenset({"POST", "PUT", "PATCH"})

SECURITY_HEADERS: Mapping[str, str] = {
    "Cache-Control": "no-store",
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Content-Security-Policy": "frame-ancestors 'none'",
}


@dataclass(frozen=True)
class Limits:
    max_connections: int = 1024
    workers: int = 4
    read_timeout: float = 10.0
    handler_timeout: float = 10.0
    write_timeout: float = 10.0
    max_head: int = 16 * 1024
    max_body: int = 64 * 1024
    backlog: int = 1024


@dataclass(frozen=True)
class Request:
    """A whole request. `path` is still percent-encoded; header names are lower case, and a
    repeated header's values are joined with ", " (so a repeated Origin matches nothing)."""

    method: str
    path: str
    query: str
    version: str
    headers: Mapping[str, str]
    body: bytes
    client: str

    def header(self, name: str) -> str | None:
        return self.headers.get(name.lower())


@dataclass(frozen=True)
class Response:
    status: int
    body: bytes = b""
    content_type: str = "application/json"
    headers: Mapping[str, str] = field(default_factory=dict)


App = Callable[[Request], Response]


def json_response(status: int, payload: object, headers: Mapping[str, str] | None = None) -> Response:
    return Response(status, (json.dumps(payload, indent=1) + "\n").encode(), "application/json", headers or {})


def error_response(status: int, message: str, headers: Mapping[str, str] | None = None) -> Response:
    return json_response(status, {"error": message}, headers)


class HttpError(Exception):
    """A request answered with `status` and a JSON error, before or instead of the application."""

    def __init__(self, status: int, message: str, headers: Mapping[str, str] | None = None) -> None:
        super().__init__(message)
        self.response = error_response(status, message, headers)


@dataclass(frozen=True)
class _Head:
    method: str
    path: str
    query: str
    version: str
    headers: dict[str, str]
    length: int
    keep_alive: bool
    expect_continue: bool


def parse_head(raw: bytes, max_body: int) -> _Head:
    """The request line and headers (without the blank line); raises HttpError on anything a
    strict HTTP/1.1 reading would not accept unambiguously."""
    lines = re.split(r"\r?\n", raw.decode("latin-1"))
    match = _REQUEST_LINE.fullmatch(lines[0])
    if match is None:
        raise HttpError(400, "malformed request line")
    method, target, major, minor = match.groups()
    if (major, minor) not in (("1", "0"), ("1", "1")):
        raise HttpError(505, f"HTTP/{major}.{minor} is not supported")
    if len(lines) - 1 > MAX_HEADERS:
        raise HttpError(431, f"more than {MAX_HEADERS} header lines")
    fields: dict[str, list[str]] = {}
    for line in lines[1:]:
        if line[:1] in (" ", "\t"):
            raise HttpError(400, "obsolete line folding in the headers")
        name, colon, value = line.partition(":")
        if not colon or not _TOKEN.fullmatch(name):
            raise HttpError(400, "malformed header line")
        value = value.strip(" \t")
        if _BAD_VALUE.search(value):
            raise HttpError(400, f"control character in header {name}")
        fields.setdefault(name.lower(), []).append(value)
    version = f"HTTP/{major}.{minor}"
    hosts = fields.get("host", [])
    if len(hosts) > 1 or (version == "HTTP/1.1" and not hosts):
        raise HttpError(400, "exactly one Host header is required")
    length = _content_length(method, fields, max_body)
    expect = [v.lower() for v in fields.get("expect", [])]
    if expect and expect != ["100-continue"]:
        raise HttpError(417, "only Expect: 100-continue is understood")
    connection = {t.strip().lower() for v in fields.get("connection", []) for t in v.split(",")}
    path, _, query = target.partition("?")
    return _Head(
        method=method,
        path=path,
        query=query,
        version=version,
        headers={name: ", ".join(values) for name, values in fields.items()},
        length=length,
        keep_alive=version == "HTTP/1.1" and "close" not in connection,
        expect_continue=bool(expect) and length > 0,
    )


def _content_length(method: str, fields: Mapping[str, list[str]], max_body: int) -> int:
    if "transfer-encoding" in fields:
        if "content-length" in fields:
            raise HttpError(400, "Transfer-Encoding and Content-Length together")
        raise HttpError(411, "Transfer-Encoding is not accepted: send the body with a Content-Length")
    values = [part.strip() for value in fields.get("content-length", []) for part in value.split(",")]
    if not values:
        if method in _BODY_METHODS:
            raise HttpError(411, f"{method} needs a Content-Length")
        return 0
    if not all(v.isascii() and v.isdigit() for v in values):
        raise HttpError(400, "Content-Length must be a non-negative integer")
    if not all(_DIGITS.fullmatch(v) for v in values) or int(values[0]) > max_body:
        raise HttpError(413, f"the body is larger than {max_body} bytes")
    if len({int(v) for v in values}) > 1:
        raise HttpError(400, "conflicting Content-Length values")
    return int(values[0])


def render(response: Response, *, with_body: bool, close: bool) -> bytes:
    """The response's bytes; header names and values with CR or LF are refused (ValueError)."""
    headers = {
        "Server": "shop-watchdog",
        "Date": email.utils.formatdate(usegmt=True),
        "Content-Type": response.content_type,
        "Content-Length": str(len(response.body)),
        **SECURITY_HEADERS,
        **response.headers,
    }
    if close:
        headers["Connection"] = "close"
    lines = [f"HTTP/1.1 {response.status} {http.HTTPStatus(response.status).phrase}"]
    for name, value in headers.items():
        if not _TOKEN.fullmatch(name) or _BAD_VALUE.search(value):
            raise ValueError(f"invalid response header {name!r}")
        lines.append(f"{name}: {value}")
    head = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")
    return head + response.body if with_body else head


def raise_file_limit(wanted: int) -> int:
    """Raises the soft RLIMIT_NOFILE to `wanted` when the hard limit allows (never lowers
    it); returns the soft limit now in force."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft == resource.RLIM_INFINITY or soft >= wanted:
        return wanted if soft == resource.RLIM_INFINITY else soft
    target = wanted if hard == resource.RLIM_INFINITY else min(wanted, hard)
    if target > soft:
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
        return target
    return soft


class _Connection:
    """One client connection; `waiting_since` is set while it waits for a request."""

    __slots__ = ("waiting_since", "writer")

    def __init__(self, writer: asyncio.StreamWriter, now: float) -> None:
        self.writer = writer
        self.waiting_since: float | None = now


class _PeerGone(Exception):
    """The client closed its side before a whole request arrived."""


class HttpServer:
    """Serves `app` on host:port from `start()` until `stop()`; see the module's bounds."""

    def __init__(self, host: str, port: int, app: App, limits: Limits = Limits()) -> None:
        self._address = (host, port)
        self._app = app
        self.limits = limits
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._pool: concurrent.futures.ThreadPoolExecutor | None = None
        self._socket: socket.socket | None = None
        self._connections: set[_Connection] = set()
        self._max_connections = limits.max_connections
        self._refused = 0
        self._shed = 0
        self._overload_logged = 0.0

    @property
    def port(self) -> int:
        if self._socket is None:
            raise RuntimeError("HTTP server not started")
        return int(self._socket.getsockname()[1])

    @property
    def max_connections(self) -> int:
        """The bound in force: `Limits.max_connections`, or less when descriptors are few."""
        return self._max_connections

    def start(self) -> None:
        """Binds and listens (raises OSError when it cannot), then serves in its own thread."""
        host, port = self._address
        sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM)
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.bind((host, port))
            sock.listen(self.limits.backlog)
            sock.setblocking(False)
        except OSError:
            sock.close()
            raise
        files = raise_file_limit(self.limits.max_connections + RESERVED_FILES)
        self._max_connections = max(1, min(self.limits.max_connections, files - RESERVED_FILES))
        self._socket = sock
        self._pool = concurrent.futures.ThreadPoolExecutor(self.limits.workers, thread_name_prefix="api-worker")
        loop = asyncio.new_event_loop()
        limits = self.limits
        try:
            server = loop.run_until_complete(
                asyncio.start_server(self._connected, sock=sock, backlog=limits.backlog, limit=limits.max_head)
            )
        except BaseException:
            loop.close()
            sock.close()
            raise
        self._loop = loop
        self._thread = threading.Thread(target=self._run, args=(loop, server), name="api", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        if self._loop is None or self._thread is None:
            return
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=5.0)
        if self._pool is not None:
            self._pool.shutdown(wait=False, cancel_futures=True)
        self._loop = None
        self._thread = None

    # -- the loop thread ---------------------------------------------------------------------

    def _run(self, loop: asyncio.AbstractEventLoop, server: asyncio.Server) -> None:
        asyncio.set_event_loop(loop)
        try:
            loop.run_forever()
        finally:
            server.close()
            for connection in list(self._connections):
                connection.writer.transport.abort()
            tasks = asyncio.all_tasks(loop)
            for task in tasks:
                task.cancel()
            loop.run_until_complete(asyncio.gather(*tasks, return_exceptions=True))
            loop.close()

    async def _connected(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        loop = asyncio.get_running_loop()
        writer.transport.set_write_buffer_limits(high=0)
        connection = _Connection(writer, loop.time())
        try:
            if len(self._connections) >= self._max_connections and not self._shed_one(loop.time()):
                self._count_overload(refused=1)
                await self._refuse(writer, error_response(503, "too many connections", {"Retry-After": "1"}))
                return
            self._connections.add(connection)
            await self._serve(connection, reader, writer)
        except (_PeerGone, ConnectionError, TimeoutError):
            pass
        except Exception as exc:
            event(log, "api_connection_failed", logging.ERROR, error=f"{type(exc).__name__}: {exc}")
        finally:
            self._connections.discard(connection)
            if writer.transport.get_write_buffer_size():
                writer.transport.abort()  # a client that does not read its answer
            else:
                writer.close()

    def _shed_one(self, now: float) -> bool:
        """Closes the connection that has waited longest for a request, if one waited EVICT_AFTER."""
        waiting = [c for c in self._connections if c.waiting_since is not None and now - c.waiting_since >= EVICT_AFTER]
        if not waiting:
            return False
        oldest = min(waiting, key=lambda c: c.waiting_since or 0.0)
        self._connections.discard(oldest)
        oldest.writer.close()
        self._count_overload(shed=1)
        return True

    def _count_overload(self, refused: int = 0, shed: int = 0) -> None:
        self._refused += refused
        self._shed += shed
        now = time.monotonic()
        if now - self._overload_logged >= OVERLOAD_LOG_EVERY:
            self._overload_logged = now
            event(
                log,
                "api_overloaded",
                logging.WARNING,
                refused=self._refused,
                shed=self._shed,
                max_connections=self._max_connections,
            )
            self._refused = self._shed = 0

    async def _serve(self, connection: _Connection, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        peer = writer.get_extra_info("peername")
        client = str(peer[0]) if isinstance(peer, tuple) else "local"
        buffer = bytearray()
        loop = asyncio.get_running_loop()
        while True:
            connection.waiting_since = loop.time()
            raw: bytes | None = None
            try:
                async with asyncio.timeout(self.limits.read_timeout):
                    raw = await self._read_head(reader, buffer)
                    if raw is None:
                        return
                    head = parse_head(raw, self.limits.max_body)
                    if head.expect_continue:
                        writer.write(b"HTTP/1.1 100 Continue\r\n\r\n")
                    body = await self._read_exactly(reader, buffer, head.length)
            except TimeoutError:
                if buffer or raw is not None:  # a request begun, not an idle keep-alive connection
                    await self._refuse(writer, error_response(408, "request not complete in time"))
                return
            except HttpError as exc:
                await self._refuse(writer, exc.response)
                return
            connection.waiting_since = None
            request = Request(head.method, head.path, head.query, head.version, head.headers, body, client)
            started = loop.time()
            status, answer = await self._dispatch(request, close=not head.keep_alive)
            seconds = round(loop.time() - started, 4)
            fields = {"client": client, "method": request.method, "path": request.path, "status": status}
            event(log, "api_request", logging.DEBUG, **fields, seconds=seconds)
            await self._send(writer, answer)
            if not head.keep_alive:
                return

    async def _read_head(self, reader: asyncio.StreamReader, buffer: bytearray) -> bytes | None:
        """The next request's head, consumed from `buffer` (filled from `reader` as needed);
        None when the client closed the connection between requests."""
        while True:
            while buffer.startswith((b"\r", b"\n")):  # blank lines before a request line are ignored
                del buffer[:1]
            end = _END_OF_HEAD.search(buffer, 0, self.limits.max_head + 4)
            if end is not None:
                head = bytes(buffer[: end.start()])
                del buffer[: end.end()]
                return head
            if len(buffer) >= self.limits.max_head + 4:
                raise HttpError(431, f"request line and headers larger than {self.limits.max_head} bytes")
            chunk = await reader.read(self.limits.max_head)
            if not chunk:
                if buffer:
                    raise _PeerGone
                return None
            buffer += chunk

    async def _read_exactly(self, reader: asyncio.StreamReader, buffer: bytearray, length: int) -> bytes:
        while len(buffer) < length:
            chunk = await reader.read(max(length - len(buffer), self.limits.max_head))
            if not chunk:
                raise _PeerGone
            buffer += chunk
        body = bytes(buffer[:length])
        del buffer[:length]
        return body

    async def _dispatch(self, request: Request, close: bool) -> tuple[int, bytes]:
        assert self._pool is not None
        job = self._pool.submit(self._answer, request, close)
        try:
            return await asyncio.wait_for(asyncio.wrap_future(job), self.limits.handler_timeout)
        except TimeoutError:
            late = error_response(503, f"no answer within {self.limits.handler_timeout:g}s", {"Retry-After": "1"})
            return late.status, render(late, with_body=True, close=close)

    def _answer(self, request: Request, close: bool) -> tuple[int, bytes]:
        """Runs in a worker: the status and bytes of the application's answer, or of a 500
        naming what went wrong (a handler's exception, a header with CR or LF)."""
        try:
            response = self._app(request)
            return response.status, render(response, with_body=request.method != "HEAD", close=close)
        except Exception as exc:
            fields: dict[str, object] = {"method": request.method, "path": request.path, "error": type(exc).__name__}
            log.exception("%s", format_event("api_handler_failed", fields))
            failed = error_response(500, f"the request failed: {type(exc).__name__}")
            return failed.status, render(failed, with_body=True, close=close)

    async def _send(self, writer: asyncio.StreamWriter, data: bytes) -> None:
        writer.write(data)
        async with asyncio.timeout(self.limits.write_timeout):
            await writer.drain()

    async def _refuse(self, writer: asyncio.StreamWriter, response: Response) -> None:
        """Answers with a transport error and closes: what follows cannot be trusted."""
        await self._send(writer, render(response, with_body=True, close=True))
