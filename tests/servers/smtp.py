"""A real SMTP server (aiosmtpd) on 127.0.0.1 that records what it accepts.

It can be stopped and started again on the same port (a mail relay that was down), answer
with programmed SMTP replies (`fail_next("451 4.3.0 try again later")`), offer STARTTLS and
AUTH, and it stamps each accepted message with `time.time()` for time-to-page figures.
`HangingSmtpServer` accepts TCP connections but never greets: a relay that hangs.
TLS certificates come from tests.servers.certs.
"""

from __future__ import annotations

import email
import email.message
import email.policy
import socket
import ssl
import threading
import time
from dataclasses import dataclass
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

from tests.servers.ports import free_port


@dataclass(frozen=True)
class Received:
    mail_from: str
    rcpt_tos: tuple[str, ...]
    message: email.message.EmailMessage
    at: float
    auth_login: str | None
    tls: bool


class _Handler:
    def __init__(self, server: SmtpServer) -> None:
        self._server = server

    async def handle_RCPT(self, server: Any, session: Any, envelope: Any, address: str, rcpt_options: Any) -> str:
        refusal = self._server.rcpt_refusals.get(address)
        if refusal:
            return refusal
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        reply = self._server.take_reply()
        if reply is not None:
            return reply
        message = email.message_from_bytes(envelope.content, policy=email.policy.default)
        assert isinstance(message, email.message.EmailMessage)
        login = session.auth_data.login.decode() if isinstance(session.auth_data, LoginPassword) else None
        self._server.record(
            Received(
                mail_from=envelope.mail_from,
                rcpt_tos=tuple(envelope.rcpt_tos),
                message=message,
                at=time.time(),
                auth_login=login,
                tls=server.transport.get_extra_info("ssl_object") is not None,
            )
        )
        return "250 2.0.0 Message accepted for delivery"


class SmtpServer:
    """aiosmtpd in a background thread; `start()`/`stop()` may alternate on the same port."""

    def __init__(
        self,
        port: int | None = None,
        *,
        tls_context: ssl.SSLContext | None = None,
        implicit_tls: bool = False,
        credentials: tuple[str, str] | None = None,
    ) -> None:
        self.host = "127.0.0.1"
        self.port = port or free_port()
        self.messages: list[Received] = []
        self.rcpt_refusals: dict[str, str] = {}
        self._replies: list[str] = []
        self._cond = threading.Condition()
        self._tls_context = tls_context
        self._implicit_tls = implicit_tls
        self._credentials = credentials
        self._controller: Controller | None = None

    def _authenticate(self, server: Any, session: Any, envelope: Any, mechanism: str, auth_data: Any) -> AuthResult:
        ok = (
            self._credentials is not None
            and isinstance(auth_data, LoginPassword)
            and (auth_data.login.decode(), auth_data.password.decode()) == self._credentials
        )
        return AuthResult(success=ok, handled=False, auth_data=auth_data)

    def start(self) -> SmtpServer:
        kwargs: dict[str, Any] = {"ready_timeout": 10.0}
        if self._tls_context is not None and self._implicit_tls:
            kwargs["ssl_context"] = self._tls_context
        elif self._tls_context is not None:
            kwargs.update(tls_context=self._tls_context, require_starttls=True)
        if self._credentials is not None:
            kwargs.update(authenticator=self._authenticate, auth_required=True, auth_require_tls=True)
        controller = Controller(_Handler(self), hostname=self.host, port=self.port, **kwargs)
        controller.start()
        self._controller = controller
        return self

    def stop(self) -> None:
        if self._controller is not None:
            self._controller.stop()
            self._controller = None

    def fail_next(self, *replies: str) -> None:
        """The next DATA commands get these replies (e.g. "451 4.3.0 later", "554 5.7.1 no")."""
        with self._cond:
            self._replies.extend(replies)

    def take_reply(self) -> str | None:
        with self._cond:
            return self._replies.pop(0) if self._replies else None

    def record(self, received: Received) -> None:
        with self._cond:
            self.messages.append(received)
            self._cond.notify_all()

    def wait_for(self, count: int, timeout: float = 10.0) -> list[Received]:
        """The first `count` messages, waiting up to `timeout`; AssertionError when fewer came."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while len(self.messages) < count:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(f"expected {count} messages, got {len(self.messages)} within {timeout}s")
                self._cond.wait(left)
            return list(self.messages[:count])


class HangingSmtpServer:
    """Completes the TCP handshake (kernel backlog) but never sends a greeting."""

    def __init__(self) -> None:
        self._sock = socket.socket()
        self._sock.bind(("127.0.0.1", 0))
        self._sock.listen(16)
        self.host = "127.0.0.1"
        self.port = int(self._sock.getsockname()[1])

    def close(self) -> None:
        self._sock.close()
