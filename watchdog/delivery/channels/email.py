"""E-mail over SMTP: STARTTLS (default, port 587) or implicit TLS (`tls: true`, port 465), AUTH.

One message per notification. Mail clients thread every message of one incident: each
carries `References`/`In-Reply-To` naming the incident, and its own `Message-ID` made from
the notification id, so a message sent twice after an unclear outcome is one message to the
receiving side. SMTP replies decide the outcome: 4xx is transient (greylisting, a full
queue), 5xx permanent (unknown recipient, refused login); a server that does not offer
STARTTLS when it is configured is a permanent error, never a plain-text fallback.
"""

from __future__ import annotations

import email.policy
import logging
import os
import re
import smtplib
import ssl
from dataclasses import dataclass, field
from email.message import EmailMessage
from email.utils import format_datetime

from watchdog.common.configtools import Duration, Secret
from watchdog.common.logs import event
from watchdog.delivery.channels.base import Channel, DeliveryError, PermanentError, TransientError
from watchdog.delivery.channels.transports import Transports
from watchdog.delivery.notification import Notification

log = logging.getLogger(__name__)

_ID_UNSAFE = re.compile(r"[^A-Za-z0-9._-]")
_POLICY = email.policy.default.clone(max_line_length=998)
"""RFC 5322's hard line limit: Python's folding at 78 sometimes breaks a Subject before its
first word, and readers then show `" [CRITICAL] ..."`, which mail filters do not match."""


@dataclass(frozen=True)
class EmailConfig:
    smtp_host: str
    sender: str = field(metadata={"key": "from"})
    to: tuple[str, ...] = ()
    smtp_port: int | None = None
    starttls: bool = True
    tls: bool = False
    username: str | None = None
    password: Secret | None = None
    timeout: Duration = 10.0
    ca_file: str | None = None

    def __post_init__(self) -> None:
        if not self.to:
            raise ValueError("to: give at least one recipient address")
        for address in (self.sender, *self.to):
            if "@" not in address or any(c in address for c in "\r\n"):
                raise ValueError(f"{address!r} is not an e-mail address")
        if self.smtp_port is not None and not 0 < self.smtp_port < 65536:
            raise ValueError(f"smtp_port {self.smtp_port} is out of range")
        if (self.username is None) != (self.password is None):
            raise ValueError("username and password_env/password_file go together")
        if self.timeout <= 0:
            raise ValueError("timeout must be greater than 0")
        if self.ca_file is not None and not os.path.isfile(self.ca_file):
            raise ValueError(f"ca_file {self.ca_file} is not a readable file")

    @property
    def port(self) -> int:
        """The configured port, else 465 for implicit TLS and 587 (submission) otherwise."""
        if self.smtp_port is not None:
            return self.smtp_port
        return 465 if self.tls else 587


def _id_part(text: str) -> str:
    return _ID_UNSAFE.sub("-", text) or "x"


def thread_id(n: Notification, domain: str) -> str:
    """The Message-ID-shaped identity of an incident's thread, shared by all its messages."""
    return f"<incident.{_id_part(n.incident_id)}@{domain}>"


def build_message(n: Notification, sender: str, to: tuple[str, ...]) -> EmailMessage:
    domain = _id_part(sender.rpartition("@")[2].strip(">").strip()) or _id_part(n.host)
    msg = EmailMessage(policy=_POLICY)
    msg["Subject"] = n.headline
    msg["From"] = sender
    msg["To"] = ", ".join(to)
    msg["Date"] = format_datetime(n.created_at)
    msg["Message-ID"] = f"<{_id_part(n.id)}@{domain}>"
    msg["In-Reply-To"] = thread_id(n, domain)
    msg["References"] = thread_id(n, domain)
    msg["Auto-Submitted"] = "auto-generated"
    msg["X-Shop-Watchdog-Incident"] = _id_part(n.incident_id)
    msg["X-Shop-Watchdog-Kind"] = n.kind
    if n.firing and n.severity == "critical":
        msg["Importance"] = "high"
    msg.set_content(_body(n))
    return msg


def _body(n: Notification) -> str:
    lines = [
        n.headline,
        "",
        f"Host:      {n.host}",
        f"Check:     {n.check} ({n.check_type})",
        f"Severity:  {n.severity}",
        f"Since:     {n.since.isoformat(timespec='seconds')}",
        f"Incident:  {n.incident_id}",
    ]
    if n.runbook_url:
        lines.append(f"Runbook:   {n.runbook_url}")
    lines += ["", n.details.rstrip(), ""]
    if n.ack_url:
        lines.append(f"Acknowledge (stops reminders): {n.ack_url}")
        lines.append(f"  or on the host: shop-watchdog ack {n.incident_id}")
    elif n.firing:
        lines.append(f"Acknowledge (stops reminders): shop-watchdog ack {n.incident_id}")
    lines.append(f"-- \nshop-watchdog on {n.host}")
    return "\n".join(lines) + "\n"


def classify(exc: Exception) -> DeliveryError:
    """The outbox's error class for an SMTP failure: 4xx and network trouble transient, 5xx not."""
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        codes = [code for code, _ in exc.recipients.values()]
        text = "all recipients refused: " + "; ".join(
            f"{rcpt} {code} {_decode(reply)}" for rcpt, (code, reply) in exc.recipients.items()
        )
        return TransientError(text) if any(400 <= c < 500 for c in codes) else PermanentError(text)
    if isinstance(exc, smtplib.SMTPResponseException):
        text = f"SMTP {exc.smtp_code} {_decode(exc.smtp_error)}"
        return PermanentError(text) if exc.smtp_code >= 500 else TransientError(text)
    if isinstance(exc, smtplib.SMTPNotSupportedError):
        return PermanentError(f"server does not support it: {exc}")
    if isinstance(exc, (smtplib.SMTPException, OSError)):
        return TransientError(f"{type(exc).__name__}: {exc}")
    raise exc


def _decode(reply: bytes | str) -> str:
    text = reply.decode("utf-8", "replace") if isinstance(reply, bytes) else reply
    return " ".join(text.split())


class EmailChannel(Channel[EmailConfig]):
    """Builds its TLS context once: loading the system CA store costs tens of milliseconds,
    which would otherwise be added to every page."""

    Config = EmailConfig

    def __init__(self, name: str, config: EmailConfig, transports: Transports) -> None:
        super().__init__(name, config, transports)
        self._tls_context = ssl.create_default_context(cafile=config.ca_file) if config.tls or config.starttls else None

    def secrets(self) -> tuple[str, ...]:
        password = self.config.password
        return (password.reveal(),) if password is not None else ()

    def send(self, n: Notification) -> None:
        config = self.config
        msg = build_message(n, config.sender, config.to)
        context = self._tls_context
        try:
            smtp = self.transports.smtp(
                config.smtp_host, config.port, timeout=config.timeout, implicit_tls=config.tls, tls_context=context
            )
            with smtp:
                smtp.ehlo()
                if config.starttls and not config.tls:
                    smtp.starttls(context=context)
                    smtp.ehlo()
                if config.username is not None and config.password is not None:
                    smtp.login(config.username, config.password.reveal())
                refused = smtp.send_message(msg, from_addr=config.sender, to_addrs=list(config.to))
        except (smtplib.SMTPException, OSError) as exc:
            raise classify(exc) from None
        if refused:
            event(
                log,
                "email_recipients_refused",
                logging.WARNING,
                channel=self.name,
                notification=n.id,
                refused=",".join(sorted(refused)),
            )
