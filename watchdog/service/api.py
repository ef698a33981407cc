"""The local HTTP API: metrics, health, status, and the two writing calls (ack, silence).

A `ThreadingHTTPServer` in its own threads, loopback by default, so a slow client never
touches the main loop; the handlers only read snapshots and call the thread-safe
`ack`/`silence` of the backend.

Writing calls need `Authorization: Bearer TOKEN` whenever a token is configured (the
config forces one — `api_token_file` — when the listener is not loopback-only); on a
loopback-only listener without a token, anyone on the machine may ack and silence, which is
what the `shop-watchdog ack/silence` commands rely on. Reading calls never need a token:
Prometheus must scrape /metrics.

    GET  /metrics                     Prometheus text format 0.0.4 (what every Prometheus 2.x scrapes)
    GET  /healthz                     200 "ok", 503 with the reason when the loop stalled
    GET  /api/v1/status               {"host", "checks": [...], "incidents": [...], "outbox": {...}}
    POST /api/v1/incidents/ID/ack     {"by": NAME} -> 200, 404 unknown or resolved incident
    POST /api/v1/silences             {"check", "duration": "30m", "reason", "by"} -> 201, 400, 404
"""

from __future__ import annotations

import hmac
import json
import logging
import re
import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Protocol

from prometheus_client.exposition import CONTENT_TYPE_PLAIN_0_0_4

from watchdog.common.configtools import Secret, parse_duration
from watchdog.common.logs import event
from watchdog.common.status_document import StatusDocument
from watchdog.config.model import Listen

log = logging.getLogger(__name__)

MAX_BODY = 64 * 1024
_ACK_RE = re.compile(r"^/api/v1/incidents/([^/]+)/ack$")


class ApiBackend(Protocol):
    """What the API reads and changes: the daemon (watchdog.service.daemon.Daemon)."""

    def healthy(self) -> tuple[bool, str]: ...

    def metrics_text(self) -> bytes: ...

    def status(self) -> StatusDocument: ...

    def ack(self, incident_id: str, by: str) -> bool: ...

    def silence(self, check: str, seconds: float, reason: str, by: str) -> dict[str, Any]: ...


class ListenError(Exception):
    """The API cannot listen on its address (in use, not local, no permission)."""


class _BadRequest(Exception):
    pass


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    backend: ApiBackend
    token: Secret | None


class _Server6(_Server):
    address_family = socket.AF_INET6


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    server_version = "shop-watchdog"
    sys_version = ""
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:
        event(log, "api_request", logging.DEBUG, client=self.client_address[0], request=self.requestline)

    # -- reading -----------------------------------------------------------------------------

    def do_GET(self) -> None:
        path = self.path.split("?", 1)[0]
        backend = self.server.backend
        if path == "/metrics":
            self._send(200, backend.metrics_text(), CONTENT_TYPE_PLAIN_0_0_4)
        elif path == "/healthz":
            healthy, reason = backend.healthy()
            self._send(200 if healthy else 503, (reason + "\n").encode(), "text/plain; charset=utf-8")
        elif path == "/api/v1/status":
            self._json(200, backend.status())
        else:
            self._json(404, {"error": f"no such resource: {path}"})

    # -- writing -----------------------------------------------------------------------------

    def do_POST(self) -> None:
        path = self.path.split("?", 1)[0]
        if not self._authorized():
            self._json(401, {"error": "missing or wrong bearer token"}, {"WWW-Authenticate": "Bearer"})
            return
        try:
            body = self._body()
            ack = _ACK_RE.match(path)
            if ack:
                self._ack(ack.group(1), body)
            elif path == "/api/v1/silences":
                self._silence(body)
            else:
                self._json(404, {"error": f"no such resource: {path}"})
        except _BadRequest as exc:
            self._json(400, {"error": str(exc)})

    def _ack(self, incident_id: str, body: dict[str, Any]) -> None:
        by = _text(body, "by", default="api")
        if self.server.backend.ack(incident_id, by):
            event(log, "api_ack", incident=incident_id, by=by)
            self._json(200, {"id": incident_id, "acknowledged": True, "by": by})
        else:
            self._json(404, {"error": f"no open incident {incident_id!r}"})

    def _silence(self, body: dict[str, Any]) -> None:
        check = _text(body, "check")
        reason = _text(body, "reason")
        by = _text(body, "by", default="api")
        try:
            seconds = parse_duration(body.get("duration"))
        except ValueError as exc:
            raise _BadRequest(f"duration: {exc}") from exc
        if seconds <= 0:
            raise _BadRequest("duration: must be greater than 0")
        try:
            silence = self.server.backend.silence(check, seconds, reason, by)
        except KeyError:
            self._json(404, {"error": f"no check named {check!r}"})
            return
        event(log, "api_silence", check=check, seconds=seconds, by=by)
        self._json(201, silence)

    def _authorized(self) -> bool:
        token = self.server.token
        if token is None:
            return True
        given = self.headers.get("Authorization", "")
        scheme, _, value = given.partition(" ")
        return scheme.lower() == "bearer" and hmac.compare_digest(value.strip().encode(), token.reveal().encode())

    def _body(self) -> dict[str, Any]:
        try:
            length = int(self.headers.get("Content-Length") or 0)
        except ValueError as exc:
            raise _BadRequest("bad Content-Length") from exc
        if length > MAX_BODY:
            raise _BadRequest(f"body larger than {MAX_BODY} bytes")
        raw = self.rfile.read(length) if length else b"{}"
        try:
            body = json.loads(raw)
        except ValueError as exc:
            raise _BadRequest(f"body is not JSON: {exc}") from exc
        if not isinstance(body, dict):
            raise _BadRequest("body must be a JSON object")
        return body

    # -- answering ---------------------------------------------------------------------------

    def _json(self, code: int, payload: object, headers: dict[str, str] | None = None) -> None:
        self._send(code, (json.dumps(payload, indent=1) + "\n").encode(), "application/json", headers)

    def _send(self, code: int, body: bytes, content_type: str, headers: dict[str, str] | None = None) -> None:
        self.send_response(code)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-store")
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)


def _text(body: dict[str, Any], key: str, default: str | None = None) -> str:
    value = body.get(key, default)
    if not isinstance(value, str) or not value.strip():
        raise _BadRequest(f"{key}: expected a non-empty string")
    return value.strip()


class ApiServer:
    """The listener; `start()` binds (port 0: any free port, see `port`) and serves in a thread."""

    def __init__(self, listen: Listen, backend: ApiBackend, token: Secret | None = None) -> None:
        self._listen = listen
        self._backend = backend
        self._token = token
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        server_cls = _Server6 if ":" in self._listen.host else _Server
        try:
            server = server_cls((self._listen.host, self._listen.port), _Handler)
        except OSError as exc:
            raise ListenError(f"cannot listen on {self._listen}: {exc.strerror or exc}") from exc
        server.backend = self._backend
        server.token = self._token
        self._server = server
        self._thread = threading.Thread(
            target=server.serve_forever, kwargs={"poll_interval": 0.5}, name="api", daemon=True
        )
        self._thread.start()

    @property
    def port(self) -> int:
        if self._server is None:
            raise RuntimeError("API server not started")
        return int(self._server.server_address[1])

    def set_token(self, token: Secret | None) -> None:
        self._token = token
        if self._server is not None:
            self._server.token = token

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
