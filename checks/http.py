"""`http`: status, body, speed and certificate of a URL, the way a shopper's browser sees it.

* `expect_status`: codes (200) or classes ("2xx"); default any 2xx after redirects.
* `expect_body`: a substring, or a regex when written `/.../` (flags i, m, s may follow:
  `/^ok$/m`); the first 1 MiB is searched (after undoing gzip/deflate compression, which
  a server only uses when a configured `Accept-Encoding` header asks for it).
* `slow`: WARNING when the response (headers and body) took longer.
* Redirects (301, 302, 303, 307, 308) are followed, at most 10, unless `follow_redirects`
  is false; like a browser, 302 and 303 continue with GET (HEAD stays HEAD), so does a
  301 after POST; 307 and 308 keep the method. Credentials (Authorization and Cookie
  headers, the URL's user info) go on only to the same scheme, host and port, or from
  http to https on the same host: a redirect must not carry them to another server.
* https: the certificate's expiry is read from a real handshake with the URL's host (a
  separate connection, so it is the certificate served there, even when verification is
  off): WARNING under `cert_warn_days`, CRITICAL under `cert_crit_days` or expired.
  Verification is on by default, against the system trust store (also for the request
  and for redirect targets); `ca_file` trusts a private CA or self-signed certificate instead.
  The trust store is read again at most every CONTEXT_TTL (5 minutes), not on every run.

A password in the URL (https://user:PASSWORD@host/, sent as basic auth) shows as `***` in
messages: they reach logs, e-mails and pages.

Requests carry `User-Agent: shop-watchdog` and `Accept: */*` (unless `headers` names
them) and `Connection: close`: every run opens fresh connections, so a run sees what a
new visitor sees. No proxy variables or .netrc are consulted: the watchdog probes the server itself,
not whatever proxy the daemon's environment names. Every connect and read waits at most
the time left of `timeout`; the body is read in chunks against the same deadline.
Interim answers (100 Continue, 103 Early Hints: 1xx but 101) are skipped, as a browser does.

h11 (sans-IO HTTP/1.1) parses the response: status line, headers, Content-Length, chunked
bodies, a body that ends with the connection. The check owns the socket, the deadline and the
TLS wrapping. Not requests (a probe cost 3x the CPU and its import 8 MB, for features a probe
does not use), and not http.client: it imports `ssl` (OpenSSL, ~4 MB of RSS where hashlib
is loaded already) and the `email` package (~1 MB) unconditionally, which a daemon that
watches only plain http:// URLs would carry for nothing.
`ssl` and checks.tlscert are imported when a check first needs TLS (an https:// URL, or a
redirect to one).
"""

from __future__ import annotations

import ast
import base64
import re
import socket
import time
import types
import zlib
from collections.abc import Iterator, Mapping, MutableMapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Literal
from urllib.parse import SplitResult, quote, unquote, urljoin, urlsplit

import h11

from checks.base import Check, CheckResult, Status, timeout_result, worst
from checks.thresholds import seconds_text
from watchdog.common.configtools import Duration

if TYPE_CHECKING:
    import ssl

MAX_BODY_BYTES = 1024 * 1024
MAX_REDIRECTS = 10
CONTEXT_TTL = 300.0
"""Seconds one TLS context (trust store, `ca_file`) is reused before it is read again."""
USER_AGENT = "shop-watchdog"
_CHUNK_BYTES = 65536
_MAX_HEAD_BYTES = 1024 * 1024
"""Status line and headers together: far beyond any real server, so only garbage hits it."""
_QUOTED_CHARS = 100
"""How much of a garbage status line a message quotes."""
_QUOTED_BYTES = 1024
"""How much of the start of an answer is kept to quote its first line."""
_STATUS_LINE_ERRORS = ("illegal status line", "illegal request line", "no response line", "peer unexpectedly closed")
"""How h11 starts its reasons when the first line is no status line or the answer ended inside
the head: the message quotes the line, as http.client's did (a banner, a TLS record, HTML)."""
_STATUS_LINE_START = b"HTTP/"
"""What every answer starts with. h11 waits for the whole head before it judges the status
line, so a service that sends a banner and keeps the connection open (SSH, SMTP) would be a
timeout; its first bytes already tell it is no HTTP server."""
_BYTES_REPR = re.compile(r"""bytearray\((b'(?:[^'\\]|\\.)*'|b"(?:[^"\\]|\\.)*")\)|(b'(?:[^'\\]|\\.)*')""")
"""h11 puts the offending bytes in its reasons as Python reprs (`bytearray(b'...')`)."""
_METHODS_WITH_BODY = frozenset({"POST"})
"""Methods sent with `Content-Length: 0`: a server may wait for the body a POST announces."""
_STATUS_RE = re.compile(r"^[1-5](\d\d|xx)$")
_REGEX_RE = re.compile(r"^/(.+)/([ims]*)$", re.DOTALL)
_REDIRECT_CODES = frozenset({301, 302, 303, 307, 308})
_DEFAULT_PORTS = {"http": 80, "https": 443}
_CREDENTIAL_HEADERS = frozenset({"authorization", "cookie"})
# zlib window bits per Content-Encoding: 16 + MAX_WBITS reads the gzip format, MAX_WBITS
# the zlib format that HTTP's "deflate" names.
_DECODERS = {"gzip": 16 + zlib.MAX_WBITS, "x-gzip": 16 + zlib.MAX_WBITS, "deflate": zlib.MAX_WBITS}
# What requests' requote_uri leaves alone: reserved and unreserved characters and "%", so
# existing escapes stay as they are and only spaces, non-ASCII and the like are encoded.
_URL_SAFE = "!#$%&'()*+,/:;=?@[]~"


@dataclass(frozen=True)
class HttpOptions:
    url: str
    method: Literal["GET", "HEAD", "POST", "OPTIONS"] = "GET"
    expect_status: tuple[str, ...] = ("2xx",)
    expect_body: str | None = None
    slow: Duration | None = None
    cert_warn_days: int = 21
    cert_crit_days: int = 7
    follow_redirects: bool = True
    headers: Mapping[str, str] = field(default_factory=lambda: types.MappingProxyType({}))
    verify_tls: bool = True
    ca_file: str | None = None
    body_pattern: re.Pattern[str] | None = field(init=False, default=None, compare=False)

    def __post_init__(self) -> None:
        parts = urlsplit(self.url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"url: expected http://HOST/... or https://HOST/..., got {self.url!r}")
        bad = [s for s in self.expect_status if not _STATUS_RE.match(s.lower())]
        if bad or not self.expect_status:
            raise ValueError(
                f"expect_status: expected codes like 200 or classes like 2xx, got {list(self.expect_status)}"
            )
        if self.cert_crit_days < 0 or self.cert_warn_days < self.cert_crit_days:
            raise ValueError("cert_warn_days must be at least cert_crit_days, both 0 or more")
        if self.expect_body is not None and self.method == "HEAD":
            raise ValueError("expect_body needs a body: not possible with method HEAD")
        if self.ca_file is not None and not self.verify_tls:
            raise ValueError("ca_file is only used with verify_tls: true")
        regex = _REGEX_RE.match(self.expect_body or "")
        if regex:
            flags = 0
            for letter in regex.group(2):
                flags |= {"i": re.IGNORECASE, "m": re.MULTILINE, "s": re.DOTALL}[letter]
            try:
                object.__setattr__(self, "body_pattern", re.compile(regex.group(1), flags))
            except re.error as exc:
                raise ValueError(f"expect_body: invalid regular expression: {exc}") from exc


def status_matches(code: int, expected: tuple[str, ...]) -> bool:
    text = str(code)
    return any(text == e or (e.lower().endswith("xx") and text[0] == e[0]) for e in expected)


class _NoAnswer(Exception):
    """The server gave no usable answer; the text is the reason shown before the URL."""


def _without_password(text: str, url: str) -> str:
    """`text` with the password of `url`'s user info (`user:PASSWORD@host`) replaced by `***`."""
    password = urlsplit(url).password
    return text.replace(f":{password}@", ":***@") if password else text


def _failure_text(exc: Exception) -> str:
    """Why no response could be judged, short and lower-case: "connection refused"."""
    if isinstance(exc, OSError):
        return (exc.strerror or str(exc) or type(exc).__name__).lower()
    return str(exc)


def _quoted(text: str) -> str:
    """`text` with whitespace runs as one space, cut to _QUOTED_CHARS: fit for a one-line message."""
    return " ".join(text.split())[:_QUOTED_CHARS]


def _tls_failure_text(exc: ssl.SSLError, host: str, port: int) -> str:
    import ssl

    if isinstance(exc, ssl.SSLCertVerificationError):
        return f"TLS certificate of {host}:{port} rejected: {exc.verify_message}"
    return f"TLS handshake with {host}:{port} failed: {exc.reason or exc}"


def _time_left(deadline: float) -> float:
    """Seconds until `deadline`, as the next socket timeout; TimeoutError once it passed."""
    left = deadline - time.monotonic()
    if left <= 0:
        raise TimeoutError
    return left


def _origin(parts: SplitResult) -> tuple[str, str, int]:
    """(scheme, host, port); ValueError for a port that is not a number up to 65535."""
    return parts.scheme, parts.hostname or "", parts.port or _DEFAULT_PORTS[parts.scheme]


def _keeps_credentials(old: tuple[str, str, int], new: tuple[str, str, int]) -> bool:
    """Whether credentials may follow a redirect from origin `old` to `new` (requests' rule)."""
    return old == new or (old[1] == new[1] and (old[0], old[2], new[0], new[2]) == ("http", 80, "https", 443))


def _basic_authorization(parts: SplitResult) -> str | None:
    """The `Authorization: Basic` value for the URL's user info (percent-decoded, UTF-8)."""
    if not parts.username and not parts.password:
        return None
    pair = f"{unquote(parts.username or '')}:{unquote(parts.password or '')}"
    return "Basic " + base64.b64encode(pair.encode()).decode("ascii")


def _set_header(headers: MutableMapping[str, str], name: str, value: str | None) -> None:
    """Replace header `name` (any case) by `value`; None removes it."""
    for key in [k for k in headers if k.lower() == name.lower()]:
        del headers[key]
    if value is not None:
        headers[name] = value


def _redirected_method(method: str, code: int) -> str:
    """The method after a redirect, as browsers and requests do it: GET after 303, after 302
    (except HEAD) and after a 301 to a POST; 307/308 keep the method."""
    if (code in (302, 303) and method != "HEAD") or (code == 301 and method == "POST"):
        return "GET"
    return method


def _follow(url: str, location: str, headers: MutableMapping[str, str]) -> str:
    """The absolute URL a redirect from `url` to `location` leads to; `headers` lose the
    credentials when it leaves the origin, and take the new URL's user info.

    `location` is decoded already (_Exchange.header: UTF-8, which servers write non-ASCII URLs in).
    """
    target = urljoin(url, location)
    new = urlsplit(target)
    try:
        origin = _origin(new) if new.scheme in _DEFAULT_PORTS and new.hostname else None
    except ValueError:
        origin = None
    if origin is None:
        raise _NoAnswer(f"redirect to unusable URL {_without_password(target, target)!r}")
    if not _keeps_credentials(_origin(urlsplit(url)), origin):
        for name in _CREDENTIAL_HEADERS:
            _set_header(headers, name, None)
    authorization = _basic_authorization(new)
    if authorization is not None:
        _set_header(headers, "Authorization", authorization)
    return target


def _request_target(parts: SplitResult) -> str:
    target = f"{parts.path or '/'}?{parts.query}" if parts.query else parts.path or "/"
    return quote(target, safe=_URL_SAFE)


def _host_header(scheme: str, host: str, port: int) -> str:
    """`Host` for `host:port`: IDNA for a non-ASCII name, [brackets] around IPv6 (without a
    %zone), the port only when it is not the scheme's default."""
    if ":" in host:
        name = f"[{host.partition('%')[0]}]"
    else:
        name = host if host.isascii() else host.encode("idna").decode("ascii")
    return name if port == _DEFAULT_PORTS[scheme] else f"{name}:{port}"


def _request_headers(parts: SplitResult, method: str, headers: Mapping[str, str]) -> list[tuple[bytes, bytes]]:
    """What goes on the wire: `Host` and `Accept-Encoding: identity` unless `headers` name them
    (a server may compress only when asked), `headers` (names ASCII, values Latin-1, outer
    whitespace dropped), and `Content-Length: 0` for a POST that names no length or encoding."""
    named = {name.lower() for name in headers}
    wire: list[tuple[bytes, bytes]] = []
    if "host" not in named:
        wire.append((b"Host", _host_header(*_origin(parts)).encode("ascii")))
    if "accept-encoding" not in named:
        wire.append((b"Accept-Encoding", b"identity"))
    wire += [(name.encode("ascii"), value.encode("latin-1").strip(b" \t")) for name, value in headers.items()]
    if method in _METHODS_WITH_BODY and not named & {"content-length", "transfer-encoding"}:
        wire.append((b"Content-Length", b"0"))
    return wire


class _Exchange:
    """One request and its response on a connected socket: h11 does the HTTP, this class the
    I/O, every send and receive waiting at most the time left before `deadline`.

    Errors come as _NoAnswer with the texts users know: a server that closed without a byte,
    garbage instead of a status line (quoted), a body cut short.
    """

    def __init__(self, sock: socket.socket, deadline: float) -> None:
        self._sock = sock
        self._deadline = deadline
        self._http = h11.Connection(h11.CLIENT, max_incomplete_event_size=_MAX_HEAD_BYTES)
        self._first_bytes = b""
        """The start of the answer, quoted when it is not a status line."""
        self.status = 0
        self._headers: list[tuple[bytes, bytes]] = []

    def send(self, method: str, target: str, headers: list[tuple[bytes, bytes]]) -> None:
        try:
            request = h11.Request(method=method, target=target, headers=headers)
        except h11.LocalProtocolError as exc:  # a configured header h11 cannot send; http.client raised ValueError
            raise ValueError(f"invalid request: {exc}") from exc
        data = self._http.send(request) + self._http.send(h11.EndOfMessage())
        self._sock.settimeout(_time_left(self._deadline))
        self._sock.sendall(data)

    def read_head(self) -> None:
        """Status and headers of the final response (1xx interim answers are skipped, as browsers do)."""
        try:
            event = self._next_event()
            while isinstance(event, h11.InformationalResponse) and event.status_code != 101:
                event = self._next_event()
        except h11.RemoteProtocolError as exc:
            raise _NoAnswer(self._head_failure(str(exc))) from exc
        # h11 yields nothing but 1xx before the final answer; 101 (switching protocols) ends HTTP
        # on this connection, so it is the answer judged, with no body (as http.client had it).
        assert isinstance(event, h11.Response | h11.InformationalResponse), event
        self.status = event.status_code
        self._headers = list(event.headers)

    def header(self, name: str) -> str | None:
        """The value of header `name`, repeated ones joined by ", " (as http.client did); UTF-8
        where it decodes, else Latin-1; None when absent."""
        wanted = name.lower().encode("ascii")
        values = [value for key, value in self._headers if key == wanted]
        if not values:
            return None
        raw = b", ".join(values)
        try:
            return raw.decode("utf-8")
        except UnicodeDecodeError:
            return raw.decode("latin-1")

    def read_body_chunk(self) -> bytes:
        """The next piece of the body with transfer encoding undone; b"" at its end."""
        try:
            event = self._next_event()
        except h11.RemoteProtocolError as exc:
            raise _NoAnswer("server closed the connection before the end of the body") from exc
        # EndOfMessage, or PAUSED after a 101: nothing more of the body
        return bytes(event.data) if isinstance(event, h11.Data) else b""

    def _next_event(self) -> h11.Event | type[h11.NEED_DATA] | type[h11.PAUSED]:
        """The next event of the answer, receiving until h11 has one (never NEED_DATA)."""
        while True:
            event = self._http.next_event()
            if event is not h11.NEED_DATA:
                return event
            self._sock.settimeout(_time_left(self._deadline))
            data = self._sock.recv(_CHUNK_BYTES)
            if len(self._first_bytes) < _QUOTED_BYTES:
                self._first_bytes += data[:_QUOTED_BYTES]
                if not _STATUS_LINE_START.startswith(self._first_bytes[: len(_STATUS_LINE_START)]):
                    raise h11.RemoteProtocolError("illegal status line")
            self._http.receive_data(data)

    def _head_failure(self, reason: str) -> str:
        if not self._first_bytes:
            return "server closed the connection without a response"
        if reason.startswith(_STATUS_LINE_ERRORS):
            first_line = _quoted(self._first_bytes.split(b"\n", 1)[0].decode("latin-1"))
            return f"invalid HTTP response: {first_line or 'an empty line instead of the status line'}"
        return f"invalid HTTP response: {_quoted(_BYTES_REPR.sub(_repr_text, reason))}"


def _repr_text(match: re.Match[str]) -> str:
    """The text of a bytes repr in an h11 reason, as the server sent it (Latin-1)."""
    literal = match.group(1) or match.group(2)
    value: bytes = ast.literal_eval(literal)
    return repr(value.decode("latin-1"))


def _tls_socket(raw: socket.socket, context: ssl.SSLContext, host: str, port: int) -> ssl.SSLSocket:
    """`raw` after a TLS handshake with `host` (bounded by `raw`'s timeout); _NoAnswer when it fails."""
    import ssl

    try:
        return context.wrap_socket(raw, server_hostname=host)
    except ssl.SSLError as exc:
        raise _NoAnswer(_tls_failure_text(exc, host, port)) from exc


@contextmanager
def _exchange(
    parts: SplitResult, method: str, headers: Mapping[str, str], deadline: float, context: ssl.SSLContext | None
) -> Iterator[_Exchange]:
    """One request on a fresh connection (TLS with `context` when given): the exchange, its response head read."""
    _, host, port = _origin(parts)
    with (
        socket.create_connection((host, port), timeout=_time_left(deadline)) as raw,
        _tls_socket(raw, context, host, port) if context is not None else raw as sock,
    ):
        exchange = _Exchange(sock, deadline)
        exchange.send(method, _request_target(parts), _request_headers(parts, method, headers))
        exchange.read_head()
        yield exchange


def _read_body(exchange: _Exchange) -> bytes:
    """The first MAX_BODY_BYTES of the body, decompressed, each read bounded by the time left."""
    encoding = (exchange.header("Content-Encoding") or "").strip().lower()
    decoder = zlib.decompressobj(_DECODERS[encoding]) if encoding in _DECODERS else None
    body = bytearray()
    while len(body) < MAX_BODY_BYTES:
        chunk = exchange.read_body_chunk()
        if not chunk:
            break
        if decoder is not None:
            try:
                chunk = decoder.decompress(chunk, MAX_BODY_BYTES - len(body))
            except zlib.error as exc:
                raise _NoAnswer(f"body is not valid {encoding} data") from exc
        body += chunk
    return bytes(body[:MAX_BODY_BYTES])


class HttpCheck(Check[HttpOptions]):
    Config = HttpOptions

    def __init__(self, config: HttpOptions) -> None:
        super().__init__(config)
        self.shown_url = _without_password(config.url, config.url)
        headers = {"User-Agent": USER_AGENT, "Accept": "*/*"}
        for name, value in config.headers.items():
            _set_header(headers, name, value)
        _set_header(headers, "Connection", "close")
        authorization = _basic_authorization(urlsplit(config.url))
        if authorization is not None:
            _set_header(headers, "Authorization", authorization)
        self._headers: Mapping[str, str] = types.MappingProxyType(headers)
        self._context: tuple[float, ssl.SSLContext] | None = None
        """(monotonic time built, context) of the last TLS context."""

    def run(self, timeout: float) -> CheckResult:
        cfg = self.config
        deadline = time.monotonic() + timeout
        findings: list[tuple[Status, str]] = []
        measurements: dict[str, float] = {}
        parts = urlsplit(cfg.url)
        if parts.scheme == "https":
            failed = self._check_certificate(parts.hostname or "", parts.port or 443, timeout, findings, measurements)
            if failed is not None:
                return failed
        started = time.monotonic()
        try:
            code, body = self._fetch(deadline)
        except TimeoutError:
            return timeout_result(f"timeout after {timeout:g}s: {self.shown_url}", measurements)
        except (_NoAnswer, OSError) as exc:
            reason = _without_password(_failure_text(exc), cfg.url)
            return CheckResult(Status.CRITICAL, f"{reason}: {self.shown_url}", measurements)
        elapsed = time.monotonic() - started
        measurements["response_seconds"] = elapsed
        measurements["status_code"] = float(code)
        if not status_matches(code, cfg.expect_status):
            findings.insert(0, (Status.CRITICAL, f"HTTP {code} (expected {', '.join(cfg.expect_status)})"))
        elif cfg.expect_body is not None and not self._body_matches(body):
            verb = "match" if cfg.body_pattern is not None else "contain"
            findings.insert(0, (Status.CRITICAL, f"HTTP {code} but body does not {verb} {cfg.expect_body!r}"))
        if cfg.slow is not None and elapsed > cfg.slow:
            findings.append((Status.WARNING, f"slow: {seconds_text(elapsed)} (limit {seconds_text(cfg.slow)})"))
        problems = [(s, text) for s, text in findings if s is not Status.OK]
        if not problems:
            cert = [text for _, text in findings]
            return CheckResult(Status.OK, "; ".join([f"HTTP {code} in {seconds_text(elapsed)}", *cert]), measurements)
        return CheckResult(worst([s for s, _ in problems]), "; ".join(t for _, t in problems), measurements)

    def _ssl_context(self) -> ssl.SSLContext:
        """Shared by the expiry handshake and the requests, and kept for CONTEXT_TTL: reading
        the system trust store costs more CPU (~30 ms) than the whole HTTP exchange, while a
        changed trust store or `ca_file` is rare and may take a few minutes to count."""
        import ssl

        now = time.monotonic()
        if self._context is not None and now - self._context[0] < CONTEXT_TTL:
            return self._context[1]
        if not self.config.verify_tls:
            context = ssl.create_default_context()
            context.check_hostname = False
            context.verify_mode = ssl.CERT_NONE
        else:
            context = ssl.create_default_context(cafile=self.config.ca_file)
        self._context = (now, context)
        return context

    def _check_certificate(
        self,
        host: str,
        port: int,
        timeout: float,
        findings: list[tuple[Status, str]],
        measurements: dict[str, float],
    ) -> CheckResult | None:
        """Records the certificate's finding; returns the CRITICAL result when no TLS session was possible."""
        import ssl

        from checks.tlscert import CertificateFormatError, peer_certificate_expiry

        cfg = self.config
        try:
            expiry = peer_certificate_expiry(host, port, self._ssl_context(), timeout)
        except ssl.SSLError as exc:
            return CheckResult(Status.CRITICAL, _tls_failure_text(exc, host, port), measurements)
        except TimeoutError:
            return timeout_result(f"timeout after {timeout:g}s: {self.shown_url}", measurements)
        except CertificateFormatError as exc:
            return CheckResult(Status.CRITICAL, f"{exc}: {self.shown_url}", measurements)
        except OSError as exc:
            return CheckResult(Status.CRITICAL, f"{(exc.strerror or str(exc)).lower()}: {self.shown_url}", measurements)
        left = (expiry - datetime.now(UTC)).total_seconds()
        days = left / 86400
        measurements["cert_expiry_seconds"] = left
        when = f"{expiry:%Y-%m-%d}"
        if days < 0:
            findings.append((Status.CRITICAL, f"TLS certificate expired {-days:.0f} days ago ({when})"))
        elif days < cfg.cert_crit_days:
            findings.append(
                (Status.CRITICAL, f"TLS certificate expires in {days:.1f} days ({when}, crit {cfg.cert_crit_days}d)")
            )
        elif days < cfg.cert_warn_days:
            findings.append(
                (Status.WARNING, f"TLS certificate expires in {days:.1f} days ({when}, warn {cfg.cert_warn_days}d)")
            )
        else:
            findings.append((Status.OK, f"certificate valid {days:.0f} more days"))
        return None

    def _fetch(self, deadline: float) -> tuple[int, bytes]:
        """Status code and the first MAX_BODY_BYTES of the body after redirects, read before `deadline`."""
        cfg = self.config
        url, method, headers = cfg.url, str(cfg.method), dict(self._headers)
        for _ in range(MAX_REDIRECTS + 1):
            parts = urlsplit(url)
            context = self._ssl_context() if parts.scheme == "https" else None
            with _exchange(parts, method, headers, deadline, context) as exchange:
                location = exchange.header("Location")
                if not (cfg.follow_redirects and location and exchange.status in _REDIRECT_CODES):
                    return exchange.status, b"" if method == "HEAD" else _read_body(exchange)
            url = _follow(url, location, headers)
            method = _redirected_method(method, exchange.status)
        raise _NoAnswer(f"more than {MAX_REDIRECTS} redirects")

    def _body_matches(self, body: bytes) -> bool:
        text = body.decode("utf-8", "replace")
        pattern = self.config.body_pattern
        if pattern is not None:
            return pattern.search(text) is not None
        return (self.config.expect_body or "") in text
