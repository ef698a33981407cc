"""The API's HTTP/1.1 transport: a hostile local client can neither exhaust it nor confuse it.

One selector loop in one thread (`api`) owns every connection, so an idle or slow connection
costs a file descriptor and a small buffer, never a thread. A request is read whole — head
and body, within `Limits.read_timeout` of the connection becoming ready for it — before one
of at most `Limits.workers` threads runs the application on it: the application never sees a
partial request, and a slow client never holds a worker. A worker thread is started only when
a request finds none free, so an idle daemon that was never asked anything holds none.
Every bound is answered at once rather than queued:

* connections: at most `Limits.max_connections` (1,024: a thousand idle connections are
  held without dropping anyone), and always RESERVED_FILES file descriptors fewer than the
  process may open, so sockets cannot starve the checks and restarts of descriptors. To
  get there `start()` raises the soft RLIMIT_NOFILE as far as the hard limit allows
  (systemd starts services with 1,024 soft, 512Ki hard; idle connections cost ~7 KB each).
  A new connection past the bound takes the place of the connection that has waited
  longest (at least EVICT_AFTER) for its next request, as a server sheds idle keep-alive
  connections; when none has, the newcomer is answered 503.
* requests: a connection has at most one request in flight (it is not read from meanwhile),
  so the connection bound bounds the requests waiting for a worker too; one not answered
  within `Limits.handler_timeout` is answered 503 (its worker finishes by itself, one not
  started yet never starts), none waits forever.
* framing: the request line and headers within `Limits.max_head` bytes (else 431); a body
  only with a `Content-Length` of digits within `Limits.max_body` (else 400, 413), required
  for POST, PUT and PATCH (411); no `Transfer-Encoding` (411, 400 next to a `Content-Length`);
  exactly one `Host` on HTTP/1.1 (400). A framing error closes the connection after its
  answer: nothing that follows can be trusted.
* writes: a client must take its response within `Limits.write_timeout`.

The listen backlog (`Limits.backlog`, 1,024; the kernel caps it at net.core.somaxconn) holds
a burst of connections the loop has not accepted yet: a full backlog drops SYNs, which the
client retries only after a second.

The module imports neither asyncio nor anything that loads OpenSSL (ssl, hashlib, and
email or http.client, which pull them in): asyncio costs the daemon ~1.4 MB and its ssl
import ~6 MB of libcrypto, the better part of the idle daemon's memory, for a transport that
needs a selector and a few threads.

Error answers are JSON `{"error": "..."}`; every response carries `Cache-Control: no-store`,
`X-Content-Type-Options: nosniff` and forbids framing. Who may ask what is not decided here
(watchdog.service.http_policy, watchdog.service.api).
"""

from __future__ import annotations

import contextlib
import enum
import errno
import heapq
import http
import itertools
import json
import logging
import queue
import re
import resource
import selectors
import socket
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from watchdog.common.logs import event, format_event
from watchdog.common.workers import WorkerPool

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

ACCEPT_BATCH = 64
"""Connections accepted per turn of the loop before the clients' requests get theirs."""

ACCEPT_PAUSE = 1.0
"""Seconds accepting rests after the process or the kernel ran out of descriptors or memory
(the pending connections wait in the backlog), instead of failing in a busy loop."""

WORKER_NAME = "api-worker"
"""The workers' thread names are `api-worker-N` (watchdog.common.workers)."""
WORKERS_STOP_WAIT = 1.0
"""Seconds `stop()` waits for the workers to end: idle ones end at once; one still inside a
handler ends when the handler returns (a daemon thread: it never holds the process up)."""

_TOKEN = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
_REQUEST_LINE = re.compile(r"([!#$%&'*+\-.^_`|~0-9A-Za-z]+) (/[\x21-\x7e]*) HTTP/(\d)\.(\d)")
_BAD_VALUE = re.compile(r"[\x00-\x08\x0a-\x1f\x7f]")
_END_OF_HEAD = re.compile(rb"\r?\n\r?\n")
_DIGITS = re.compile(r"[0-9]{1,18}")
_BODY_METHODS = frozenset({"POST", "PUT", "PATCH"})
_CONTINUE = b"HTTP/1.1 100 Continue\r\n\r\n"
_DAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
_OUT_OF_RESOURCES = frozenset({errno.EMFILE, errno.ENFILE, errno.ENOBUFS, errno.ENOMEM})

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


def http_date(seconds: float | None = None) -> str:
    """An IMF-fixdate (RFC 9110 5.6.7) of `seconds` since the epoch (default: now); English
    names whatever the locale, as email.utils writes it, without importing the email package."""
    t = time.gmtime(seconds)
    return (
        f"{_DAYS[t.tm_wday]}, {t.tm_mday:02d} {_MONTHS[t.tm_mon - 1]} {t.tm_year:04d} "
        f"{t.tm_hour:02d}:{t.tm_min:02d}:{t.tm_sec:02d} GMT"
    )


def render(response: Response, *, with_body: bool, close: bool) -> bytes:
    """The response's bytes; header names and values with CR or LF are refused (ValueError)."""
    headers = {
        "Server": "shop-watchdog",
        "Date": http_date(),
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


class _Phase(enum.Enum):
    READING = "reading"  # waiting for the next request, or for the rest of one
    WORKING = "working"  # the request is with a worker
    WRITING = "writing"  # the answer is being sent


class _Connection:
    """One client connection and where it stands. `waiting_since` is set while it waits for
    a request; `deadline` ends the phase it is in (read, handler or write timeout);
    `scheduled` is the earliest deadline the server's heap holds for it."""

    __slots__ = (
        "buffer",
        "client",
        "close_after",
        "closed",
        "deadline",
        "dispatched",
        "events",
        "head",
        "job",
        "keep_alive",
        "out",
        "phase",
        "scheduled",
        "sock",
        "waiting_since",
    )

    def __init__(self, sock: socket.socket, client: str) -> None:
        self.sock = sock
        self.client = client
        self.phase = _Phase.READING
        self.buffer = bytearray()
        self.out = bytearray()
        self.head: _Head | None = None
        self.keep_alive = False
        self.job: _Job | None = None
        self.dispatched = 0.0
        self.waiting_since: float | None = None
        self.deadline = 0.0
        self.scheduled: float | None = None
        self.events = 0
        self.close_after = False
        self.closed = False


class _Job:
    """A whole request handed to a worker; `answer` is the status and bytes it rendered.
    A job `cancelled` (its connection closed or its handler timed out) is never started."""

    __slots__ = ("answer", "cancelled", "close", "connection", "request")

    def __init__(self, connection: _Connection, request: Request, close: bool) -> None:
        self.connection = connection
        self.request = request
        self.close = close
        self.cancelled = False
        self.answer: tuple[int, bytes] = (0, b"")


class HttpServer:
    """Serves `app` on host:port from `start()` until `stop()`; see the module's bounds.

    Threads: `api` runs the selector loop (accepting, reading, parsing, timeouts, writing);
    `api-worker-N` run the application, at most `Limits.workers`, started on demand and kept.
    Workers hand answers back through a queue and a byte on a socket pair that wakes the loop."""

    def __init__(self, host: str, port: int, app: App, limits: Limits = Limits()) -> None:
        self._address = (host, port)
        self._app = app
        self.limits = limits
        self._port: int | None = None
        self._thread: threading.Thread | None = None
        self._stopping = False
        self.failed = False
        """Set when the loop itself broke (not a connection's fault, which is only that
        connection's): nothing is served any more, and the owner should restart the process."""
        self._selector: selectors.BaseSelector | None = None
        self._listener: socket.socket | None = None
        self._wake_reader: socket.socket | None = None
        self._wake_writer: socket.socket | None = None
        self._wake_lock = threading.Lock()
        self._accept_paused_until: float | None = None
        self._connections: set[_Connection] = set()
        self._deadlines: list[tuple[float, int, _Connection]] = []
        self._sequence = itertools.count()
        self._answers: queue.SimpleQueue[_Job] = queue.SimpleQueue()
        self._pool = WorkerPool(limits.workers, WORKER_NAME)
        self._max_connections = limits.max_connections
        self._refused = 0
        self._shed = 0
        self._overload_logged = 0.0

    @property
    def port(self) -> int:
        if self._port is None:
            raise RuntimeError("HTTP server not started")
        return self._port

    @property
    def max_connections(self) -> int:
        """The bound in force: `Limits.max_connections`, or less when descriptors are few."""
        return self._max_connections

    def start(self) -> None:
        """Binds and listens (raises OSError when it cannot), then serves in its own thread."""
        host, port = self._address
        opened: list[socket.socket | selectors.BaseSelector] = []
        try:
            sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM)
            opened.append(sock)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.bind((host, port))
            sock.listen(self.limits.backlog)
            sock.setblocking(False)
            wake_reader, wake_writer = socket.socketpair()
            opened += (wake_reader, wake_writer)
            wake_reader.setblocking(False)
            wake_writer.setblocking(False)
            selector = selectors.DefaultSelector()
            opened.append(selector)
            selector.register(sock, selectors.EVENT_READ)
            selector.register(wake_reader, selectors.EVENT_READ)
        except OSError:
            for opened_one in opened:
                opened_one.close()
            raise
        files = raise_file_limit(self.limits.max_connections + RESERVED_FILES)
        self._max_connections = max(1, min(self.limits.max_connections, files - RESERVED_FILES))
        self._listener, self._selector = sock, selector
        self._wake_reader, self._wake_writer = wake_reader, wake_writer
        self._port = int(sock.getsockname()[1])
        self._stopping = False
        self._pool = WorkerPool(self.limits.workers, WORKER_NAME)
        self._thread = threading.Thread(target=self._run, name="api", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Closes the listener and every connection, and ends the loop's thread and the workers."""
        if self._thread is None:
            return
        self._stopping = True
        self._wake()
        self._thread.join(timeout=5.0)
        self._thread = None
        self._pool.close(wait=WORKERS_STOP_WAIT)
        with self._wake_lock:
            for end in (self._wake_reader, self._wake_writer):
                if end is not None:
                    end.close()
            self._wake_reader = self._wake_writer = None

    def _wake(self) -> None:
        """Wakes the loop (from a worker or stop()); a full pipe means a wake-up is pending."""
        with self._wake_lock:
            if self._wake_writer is not None:
                with contextlib.suppress(BlockingIOError):
                    self._wake_writer.send(b"\0")

    # -- the loop thread ---------------------------------------------------------------------

    def _run(self) -> None:
        assert self._selector is not None and self._listener is not None and self._wake_reader is not None
        selector, listener, wake_reader = self._selector, self._listener, self._wake_reader
        try:
            while not self._stopping:
                for key, mask in selector.select(self._timeout()):
                    if key.fileobj is listener:
                        self._accept()
                    elif key.fileobj is wake_reader:
                        self._drain_wake_ups(wake_reader)
                    else:
                        self._guard(key.data, self._ready, mask)
                self._deliver_answers()
                now = time.monotonic()
                self._expire(now)
                self._resume_accepting(now)
        except Exception:  # a fault of the loop itself: the API is gone, say why
            self.failed = True
            log.exception("%s", format_event("api_loop_failed", {}))
        finally:
            for connection in list(self._connections):
                self._close(connection)
            selector.close()
            listener.close()

    @staticmethod
    def _drain_wake_ups(wake_reader: socket.socket) -> None:
        try:
            while wake_reader.recv(4096):
                pass
        except BlockingIOError:
            pass

    def _timeout(self) -> float | None:
        """Seconds until the earliest deadline (None: there is none, sleep until an event)."""
        times = [self._deadlines[0][0]] if self._deadlines else []
        if self._accept_paused_until is not None:
            times.append(self._accept_paused_until)
        return max(0.0, min(times) - time.monotonic()) if times else None

    def _guard(self, connection: _Connection, step: Callable[..., None], *args: object) -> None:
        """Runs one step of a connection; a failure closes that connection only, and what the
        connection now waits for (reading, writing, nothing) is passed to the selector."""
        if connection.closed:
            return
        try:
            step(connection, *args)
        except ConnectionError:
            self._close(connection)
        except Exception as exc:
            event(log, "api_connection_failed", logging.ERROR, error=f"{type(exc).__name__}: {exc}")
            self._close(connection)
        if not connection.closed:
            self._watch(connection)

    def _watch(self, connection: _Connection) -> None:
        assert self._selector is not None
        events = (selectors.EVENT_READ if connection.phase is _Phase.READING else 0) | (
            selectors.EVENT_WRITE if connection.out else 0
        )
        if events == connection.events:
            return
        if not connection.events:
            self._selector.register(connection.sock, events, connection)
        elif not events:
            self._selector.unregister(connection.sock)
        else:
            self._selector.modify(connection.sock, events, connection)
        connection.events = events

    def _close(self, connection: _Connection) -> None:
        if connection.closed:
            return
        connection.closed = True
        if connection.events and self._selector is not None:
            self._selector.unregister(connection.sock)
        connection.sock.close()
        connection.buffer.clear()  # its heap entry may hold it up to a timeout longer
        connection.out.clear()
        self._connections.discard(connection)
        if connection.job is not None:
            connection.job.cancelled = True
            connection.job = None

    def _set_deadline(self, connection: _Connection, when: float) -> None:
        """Ends the connection's current phase at `when`. The heap keeps one entry per
        connection where it can: a later deadline is put back only when the earlier one is due."""
        connection.deadline = when
        if connection.scheduled is None or when < connection.scheduled:
            connection.scheduled = when
            heapq.heappush(self._deadlines, (when, next(self._sequence), connection))

    def _expire(self, now: float) -> None:
        while self._deadlines and self._deadlines[0][0] <= now:
            when, _, connection = heapq.heappop(self._deadlines)
            if connection.closed or when != connection.scheduled:
                continue
            connection.scheduled = None
            if connection.deadline > now:
                self._set_deadline(connection, connection.deadline)
            else:
                self._guard(connection, self._expired, now)

    def _expired(self, connection: _Connection, now: float) -> None:
        if connection.phase is _Phase.READING:
            if connection.buffer or connection.head is not None:  # a request begun, not an idle keep-alive connection
                self._refuse(connection, error_response(408, "request not complete in time"), now)
            else:
                self._close(connection)
        elif connection.phase is _Phase.WORKING:
            assert connection.job is not None
            job, connection.job = connection.job, None
            job.cancelled = True
            late = error_response(503, f"no answer within {self.limits.handler_timeout:g}s", {"Retry-After": "1"})
            self._answered(connection, job.request, late.status, render(late, with_body=True, close=job.close), now)
        else:
            self._close(connection)  # a client that does not read its answer

    # -- accepting ---------------------------------------------------------------------------

    def _accept(self) -> None:
        assert self._listener is not None and self._selector is not None
        for _ in range(ACCEPT_BATCH):
            try:
                sock, address = self._listener.accept()
            except (BlockingIOError, InterruptedError):
                return
            except OSError as exc:
                if exc.errno not in _OUT_OF_RESOURCES:
                    continue  # that one connection failed (reset before it was accepted)
                event(
                    log, "api_accept_paused", logging.ERROR, error=f"{type(exc).__name__}: {exc}", seconds=ACCEPT_PAUSE
                )
                self._selector.unregister(self._listener)
                self._accept_paused_until = time.monotonic() + ACCEPT_PAUSE
                return
            try:
                sock.setblocking(False)
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            except OSError:
                sock.close()
                continue
            self._admit(sock, address)

    def _resume_accepting(self, now: float) -> None:
        if self._accept_paused_until is not None and now >= self._accept_paused_until:
            assert self._selector is not None and self._listener is not None
            self._accept_paused_until = None
            self._selector.register(self._listener, selectors.EVENT_READ)

    def _admit(self, sock: socket.socket, address: object) -> None:
        now = time.monotonic()
        if len(self._connections) >= self._max_connections and not self._shed_one(now):
            self._count_overload(refused=1)
            refusal = error_response(503, "too many connections", {"Retry-After": "1"})
            with contextlib.suppress(OSError):  # a new connection's send buffer takes these few hundred bytes
                sock.send(render(refusal, with_body=True, close=True))
            sock.close()
            return
        connection = _Connection(sock, str(address[0]) if isinstance(address, tuple) else "local")
        self._connections.add(connection)
        self._guard(connection, self._next_request, now)

    def _shed_one(self, now: float) -> bool:
        """Closes the connection that has waited longest for a request, if one waited EVICT_AFTER."""
        waiting = [c for c in self._connections if c.waiting_since is not None and now - c.waiting_since >= EVICT_AFTER]
        if not waiting:
            return False
        self._close(min(waiting, key=lambda c: c.waiting_since or 0.0))
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

    # -- one connection ----------------------------------------------------------------------

    def _ready(self, connection: _Connection, mask: int) -> None:
        if mask & selectors.EVENT_WRITE:
            self._flush(connection)
        if mask & selectors.EVENT_READ and not connection.closed and connection.phase is _Phase.READING:
            self._read(connection)

    def _next_request(self, connection: _Connection, now: float) -> None:
        """The connection is ready for its next request: the read timeout starts, and a
        request already buffered (pipelined) is taken at once."""
        connection.phase = _Phase.READING
        connection.waiting_since = now
        self._set_deadline(connection, now + self.limits.read_timeout)
        self._take_request(connection)

    def _read(self, connection: _Connection) -> None:
        head = connection.head
        wanted = (
            self.limits.max_head if head is None else max(head.length - len(connection.buffer), self.limits.max_head)
        )
        try:
            chunk = connection.sock.recv(wanted)
        except BlockingIOError:
            return
        if not chunk:  # closed by the client, between requests or half-way through one
            self._close(connection)
            return
        connection.buffer += chunk
        self._take_request(connection)

    def _take_request(self, connection: _Connection) -> None:
        """Parses what the buffer holds; a whole request goes to a worker, a framing error is
        answered and ends the connection, and a partial one waits for more bytes."""
        buffer, limits, head = connection.buffer, self.limits, connection.head
        if head is None:
            del buffer[: len(buffer) - len(buffer.lstrip(b"\r\n"))]  # blank lines before a request line
            end = _END_OF_HEAD.search(buffer, 0, limits.max_head + 4)
            try:
                if end is None:
                    if len(buffer) >= limits.max_head + 4:
                        raise HttpError(431, f"request line and headers larger than {limits.max_head} bytes")
                    return
                raw = bytes(buffer[: end.start()])
                del buffer[: end.end()]
                head = connection.head = parse_head(raw, limits.max_body)
            except HttpError as exc:
                self._refuse(connection, exc.response, time.monotonic())
                return
            if head.expect_continue:
                connection.out += _CONTINUE
                self._flush(connection)
        if len(buffer) < head.length:
            return
        body = bytes(buffer[: head.length])
        del buffer[: head.length]
        request = Request(head.method, head.path, head.query, head.version, head.headers, body, connection.client)
        self._dispatch(connection, request, keep_alive=head.keep_alive)

    def _dispatch(self, connection: _Connection, request: Request, keep_alive: bool) -> None:
        now = time.monotonic()
        job = _Job(connection, request, close=not keep_alive)
        connection.head = None
        connection.keep_alive = keep_alive
        connection.waiting_since = None
        connection.phase = _Phase.WORKING
        connection.job = job
        connection.dispatched = now
        self._set_deadline(connection, now + self.limits.handler_timeout)
        self._submit(job)

    def _deliver_answers(self) -> None:
        while True:
            try:
                job = self._answers.get_nowait()
            except queue.Empty:
                return
            connection = job.connection
            if connection.job is job:  # else: answered 503 already, or closed
                connection.job = None
                self._guard(connection, self._answered, job.request, *job.answer, time.monotonic())

    def _answered(self, connection: _Connection, request: Request, status: int, data: bytes, now: float) -> None:
        seconds = round(now - connection.dispatched, 4)
        fields = {"client": connection.client, "method": request.method, "path": request.path, "status": status}
        event(log, "api_request", logging.DEBUG, **fields, seconds=seconds)
        self._send(connection, data, close=not connection.keep_alive, now=now)

    def _refuse(self, connection: _Connection, response: Response, now: float) -> None:
        """Answers with a transport error and closes: what follows cannot be trusted."""
        self._send(connection, render(response, with_body=True, close=True), close=True, now=now)

    def _send(self, connection: _Connection, data: bytes, *, close: bool, now: float) -> None:
        connection.phase = _Phase.WRITING
        connection.waiting_since = None
        connection.out += data
        connection.close_after = close
        self._set_deadline(connection, now + self.limits.write_timeout)
        self._flush(connection)

    def _flush(self, connection: _Connection) -> None:
        """Sends what the socket takes now; an answer sent whole ends the connection or
        readies it for the next request."""
        out = connection.out
        while out:
            try:
                sent = connection.sock.send(out)
            except BlockingIOError:
                return
            del out[:sent]
        if connection.phase is not _Phase.WRITING:
            return
        if connection.close_after:
            self._close(connection)
        else:
            self._next_request(connection, time.monotonic())

    # -- the workers -------------------------------------------------------------------------

    def _submit(self, job: _Job) -> None:
        self._pool.submit(lambda: self._work(job))

    def _work(self, job: _Job) -> Callable[[], None] | None:
        """In a worker: renders the job's answer; the hand-back gives it to the loop once the
        worker counts itself free, so the next request on that connection finds it free."""
        if job.cancelled:
            return None
        job.answer = self._answer(job.request, job.close)
        return lambda: self._hand_back(job)

    def _hand_back(self, job: _Job) -> None:
        if not job.cancelled:
            self._answers.put(job)
            self._wake()

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
