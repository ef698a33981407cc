"""A real HTTP receiver on 127.0.0.1 that records requests and answers as programmed.

`respond(Reply(500), Reply(200))` queues answers for the next requests (then the default);
`respond_to(predicate, Reply(500))` answers matching bodies until `clear_rules()`;
`Reply(hang=5)` holds the connection before answering. With `pagerduty=True` every body is
checked against the PagerDuty Events API v2 rules (the receiver answers 400 "invalid event"
with the errors, like PagerDuty, and 202 "Event processed" for a valid event) — so a test
proves the payload is one PagerDuty would take, not just that something arrived.
"""

from __future__ import annotations

import json
import ssl
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from typing import Any

from tests.servers.http_thread import HttpThread

PD_SEVERITIES = ("critical", "error", "warning", "info")
PD_ACTIONS = ("trigger", "acknowledge", "resolve")


@dataclass(frozen=True)
class Reply:
    status: int = 200
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)
    hang: float = 0.0


@dataclass(frozen=True)
class Request:
    method: str
    path: str
    headers: dict[str, str]
    body: Any
    status: int
    at: float


def validate_pagerduty_event(event: Any) -> list[str]:
    """The problems PagerDuty's Events API v2 would reject `event` for (empty: valid)."""
    if not isinstance(event, dict):
        return ["event must be a JSON object"]
    errors: list[str] = []
    key = event.get("routing_key")
    if not isinstance(key, str) or len(key) != 32:
        errors.append("'routing_key' must be a 32 character integration key")
    action = event.get("event_action")
    if action not in PD_ACTIONS:
        errors.append(f"'event_action' must be one of {', '.join(PD_ACTIONS)}")
    dedup = event.get("dedup_key")
    if dedup is not None and (not isinstance(dedup, str) or not dedup or len(dedup) > 255):
        errors.append("'dedup_key' must be a string of at most 255 characters")
    if action in ("acknowledge", "resolve") and dedup is None:
        errors.append(f"'dedup_key' is required for {action}")
    known = {"routing_key", "event_action", "dedup_key", "payload", "images", "links", "client", "client_url"}
    errors += [f"unknown field {k!r}" for k in event if k not in known]
    if action == "trigger":
        errors += _validate_payload(event.get("payload"))
    for link in event.get("links", []):
        if not isinstance(link, dict) or not isinstance(link.get("href"), str):
            errors.append("each link needs an 'href' string")
    return errors


def _validate_payload(payload: Any) -> list[str]:
    if not isinstance(payload, dict):
        return ["'payload' is required for trigger"]
    errors: list[str] = []
    summary = payload.get("summary")
    if not isinstance(summary, str) or not summary or len(summary) > 1024:
        errors.append("'payload.summary' must be a string of 1 to 1024 characters")
    if not isinstance(payload.get("source"), str) or not payload.get("source"):
        errors.append("'payload.source' is required")
    if payload.get("severity") not in PD_SEVERITIES:
        errors.append(f"'payload.severity' must be one of {', '.join(PD_SEVERITIES)}")
    known = {"summary", "source", "severity", "timestamp", "component", "group", "class", "custom_details"}
    errors += [f"unknown field 'payload.{k}'" for k in payload if k not in known]
    if "custom_details" in payload and not isinstance(payload["custom_details"], dict):
        errors.append("'payload.custom_details' must be an object")
    return errors


class WebhookServer:
    """ThreadingHTTPServer in a background thread; `url` ends in `/hook`, any path is accepted;
    with `tls_context` it speaks HTTPS."""

    def __init__(
        self,
        *,
        pagerduty: bool = False,
        default: Reply | None = None,
        port: int = 0,
        tls_context: ssl.SSLContext | None = None,
    ) -> None:
        self.pagerduty = pagerduty
        self.default = default or (Reply(202) if pagerduty else Reply(200))
        self.requests: list[Request] = []
        self._replies: list[Reply] = []
        self._rules: list[tuple[Callable[[Any], bool], Reply]] = []
        self._cond = threading.Condition()
        self._closing = threading.Event()
        self._http = HttpThread(self._handler_class(), name="webhook-receiver", port=port)
        self.port = self._http.port
        if tls_context is not None:  # HTTPS only (Teams Workflows URLs have no http:// form)
            server = self._http.server
            server.socket = tls_context.wrap_socket(server.socket, server_side=True)
        self.base_url = f"{'https' if tls_context is not None else 'http'}://127.0.0.1:{self.port}"
        self.url = f"{self.base_url}/hook"

    def start(self) -> WebhookServer:
        self._http.start()
        return self

    def close(self) -> None:
        self._closing.set()
        self._http.stop()

    def respond(self, *replies: Reply) -> None:
        with self._cond:
            self._replies.extend(replies)

    def respond_to(self, predicate: Callable[[Any], bool], reply: Reply) -> None:
        """Every request whose JSON body matches `predicate` gets `reply` (until `clear_rules`)."""
        with self._cond:
            self._rules.append((predicate, reply))

    def clear_rules(self) -> None:
        with self._cond:
            self._rules.clear()

    def wait_for(self, count: int, timeout: float = 10.0, status: int | None = None) -> list[Request]:
        """The first `count` requests (answered with `status`, if given), waiting up to `timeout`."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                matching = [r for r in self.requests if status is None or r.status == status]
                if len(matching) >= count:
                    return matching[:count]
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(f"expected {count} requests, got {len(matching)} within {timeout}s")
                self._cond.wait(left)

    def _answer(self, method: str, path: str, headers: dict[str, str], raw: bytes) -> Reply:
        try:
            body: Any = json.loads(raw) if raw else None
        except ValueError:
            body = raw.decode("utf-8", "replace")
        with self._cond:
            ruled = [r for match, r in self._rules if match(body)]
            reply = ruled[0] if ruled else self._replies.pop(0) if self._replies else self.default
        if self.pagerduty and 200 <= reply.status < 300:
            errors = validate_pagerduty_event(body)
            if errors:
                reply = Reply(400, {"status": "invalid event", "message": "Event object is invalid", "errors": errors})
            else:
                dedup = body.get("dedup_key") or "generated"
                reply = Reply(202, {"status": "success", "message": "Event processed", "dedup_key": dedup})
        with self._cond:
            self.requests.append(Request(method, path, headers, body, reply.status, time.time()))
            self._cond.notify_all()
        return reply

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length)
                reply = server._answer("POST", self.path, dict(self.headers.items()), raw)
                if reply.hang:
                    server._closing.wait(reply.hang)
                payload = b"" if reply.body is None else json.dumps(reply.body).encode()
                try:
                    self.send_response(reply.status)
                    for name, value in reply.headers.items():
                        self.send_header(name, value)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(payload)))
                    self.end_headers()
                    self.wfile.write(payload)
                except OSError:
                    pass  # the client gave up waiting (a hang test)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        return Handler
