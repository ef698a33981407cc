"""The side-effect edges channels talk through, chosen by `main()` (or a test) and passed in.

HTTP goes through one `requests.Session` (connection reuse, proxies from the environment),
created on first use so that a daemon without HTTP channels never imports `requests` (nor,
through it, `ssl` and OpenSSL: about 6 MB resident);
SMTP through a factory returning a connected `smtplib.SMTP`, so a test can hand in a factory
that points at its own server or records the dialogue; the clock stamps what receivers
compare with their own time (Alertmanager's `endsAt`, e-mail `Date`).
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

from watchdog.common.clock import Clock, SystemClock

if TYPE_CHECKING:
    import smtplib
    import ssl

    import requests

USER_AGENT = "shop-watchdog"


class SmtpFactory(Protocol):
    def __call__(
        self, host: str, port: int, *, timeout: float, implicit_tls: bool, tls_context: ssl.SSLContext | None
    ) -> smtplib.SMTP:
        """A connected SMTP client (greeting read), every socket operation bounded by `timeout`;
        with `implicit_tls` the connection is TLS from the start, verified by `tls_context`."""
        ...


def connect_smtp(
    host: str, port: int, *, timeout: float, implicit_tls: bool, tls_context: ssl.SSLContext | None
) -> smtplib.SMTP:
    import smtplib  # here, not at the top: only a daemon with an email channel pays for it

    if implicit_tls:
        if tls_context is None:
            raise ValueError("implicit TLS needs a TLS context")
        return smtplib.SMTP_SSL(host, port, timeout=timeout, context=tls_context)
    return smtplib.SMTP(host, port, timeout=timeout)


class HttpSession:
    """The shared `requests.Session`, made (and `requests` imported) by the first `get()`."""

    def __init__(self) -> None:
        self._session: requests.Session | None = None
        self._lock = threading.Lock()

    def get(self) -> requests.Session:
        with self._lock:
            if self._session is None:
                import requests

                self._session = requests.Session()
                self._session.headers["User-Agent"] = USER_AGENT
            return self._session

    def close(self) -> None:
        with self._lock:
            if self._session is not None:
                self._session.close()
                self._session = None


@dataclass(frozen=True)
class Transports:
    http: HttpSession
    smtp: SmtpFactory
    clock: Clock


def default_transports(clock: Clock | None = None) -> Transports:
    """Real HTTP and SMTP; the caller closes `http` when the daemon stops."""
    return Transports(http=HttpSession(), smtp=connect_smtp, clock=clock or SystemClock())
