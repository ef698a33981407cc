"""`http`: status, body, speed and certificate of a URL, the way a shopper's browser sees it.

* `expect_status`: codes (200) or classes ("2xx"); default any 2xx after redirects.
* `expect_body`: a substring, or a regex when written `/.../` (flags i, m, s may follow:
  `/^ok$/m`); the first 1 MiB is searched.
* `slow`: WARNING when the response (headers and body) took longer.
* https: the certificate's expiry is read from a real handshake with the URL's host (a
  separate connection, so it is the certificate served there, even when verification is
  off): WARNING under `cert_warn_days`, CRITICAL under `cert_crit_days` or expired.
  Verification is on by default, against the system trust store (also for the request,
  not certifi's bundle); `ca_file` trusts a private CA or self-signed certificate instead.

A password in the URL (https://user:PASSWORD@host/, sent as basic auth) shows as `***` in
messages: they reach logs, e-mails and pages.

Proxy variables and .netrc are ignored (`trust_env` off): the watchdog probes the server
itself, not whatever proxy the daemon's environment names. Every connect and read waits at
most the time left of `timeout`; the body is read in chunks against the same deadline.
"""

from __future__ import annotations

import os
import re
import ssl
import time
import types
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Literal
from urllib.parse import urlsplit

import requests

from checks.base import Check, CheckResult, Status, worst
from checks.thresholds import seconds_text
from checks.tlscert import CertificateFormatError, peer_certificate_expiry
from watchdog.configtools import Duration

MAX_BODY_BYTES = 1024 * 1024
MAX_REDIRECTS = 10
_STATUS_RE = re.compile(r"^[1-5](\d\d|xx)$")
_REGEX_RE = re.compile(r"^/(.+)/([ims]*)$", re.DOTALL)


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
            raise ValueError(f"expect_status: expected codes like 200 or classes like 2xx, got {list(self.expect_status)}")
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


def _errno_text(exc: BaseException) -> str:
    """The short reason ("Connection refused") buried in a requests/urllib3 exception."""
    match = re.search(r"\[Errno -?\d+\] ([^'\")\]]+)", str(exc))
    if match:
        return match.group(1).strip().lower()
    return str(exc).splitlines()[0][:200] if str(exc) else type(exc).__name__


def _without_password(text: str, url: str) -> str:
    """`text` with the password of `url`'s user info (`user:PASSWORD@host`) replaced by `***`."""
    password = urlsplit(url).password
    return text.replace(f":{password}@", ":***@") if password else text


def _system_ca_bundle() -> bool | str:
    """The system trust store (what update-ca-certificates maintains), as the handshake uses.

    requests would otherwise trust certifi's bundle, so a private CA installed on the
    machine would pass the certificate check and fail the request.
    """
    cafile = ssl.get_default_verify_paths().cafile
    return cafile if cafile and os.path.isfile(cafile) else True


class HttpCheck(Check):
    Config = HttpOptions
    config: HttpOptions

    def __init__(self, config: HttpOptions) -> None:
        super().__init__(config)
        self.shown_url = _without_password(config.url, config.url)

    def run(self, timeout: float) -> CheckResult:
        cfg = self.config
        deadline = time.monotonic() + timeout
        findings: list[tuple[Status, str]] = []
        measurements: dict[str, float] = {}
        parts = urlsplit(cfg.url)
        if parts.scheme == "https":
            failed = self._check_certificate(parts.hostname or "", parts.port or 443, timeout, findings, measurements)
            if failed:
                return CheckResult(Status.CRITICAL, failed, measurements)
        started = time.monotonic()
        try:
            code, body = self._fetch(max(deadline - started, 0.001), deadline)
        except requests.Timeout:
            return CheckResult(Status.CRITICAL, f"timeout after {timeout:g}s: {self.shown_url}", measurements)
        except requests.TooManyRedirects:
            return CheckResult(Status.CRITICAL, f"more than {MAX_REDIRECTS} redirects: {self.shown_url}", measurements)
        except requests.RequestException as exc:
            reason = _without_password(_errno_text(exc), cfg.url)
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
        if not self.config.verify_tls:
            context = ssl.create_default_context()
            context.check_hostname = False
            context.verify_mode = ssl.CERT_NONE
            return context
        return ssl.create_default_context(cafile=self.config.ca_file)

    def _check_certificate(
        self, host: str, port: int, timeout: float, findings: list[tuple[Status, str]], measurements: dict[str, float]
    ) -> str | None:
        """Records the certificate's finding; returns a CRITICAL message when no TLS session was possible."""
        cfg = self.config
        try:
            expiry = peer_certificate_expiry(host, port, self._ssl_context(), timeout)
        except ssl.SSLCertVerificationError as exc:
            return f"TLS certificate of {host}:{port} rejected: {exc.verify_message}"
        except ssl.SSLError as exc:
            return f"TLS handshake with {host}:{port} failed: {exc.reason or exc}"
        except TimeoutError:
            return f"timeout after {timeout:g}s: {self.shown_url}"
        except CertificateFormatError as exc:
            return f"{exc}: {self.shown_url}"
        except OSError as exc:
            return f"{(exc.strerror or str(exc)).lower()}: {self.shown_url}"
        left = (expiry - datetime.now(timezone.utc)).total_seconds()
        days = left / 86400
        measurements["cert_expiry_seconds"] = left
        when = f"{expiry:%Y-%m-%d}"
        if days < 0:
            findings.append((Status.CRITICAL, f"TLS certificate expired {-days:.0f} days ago ({when})"))
        elif days < cfg.cert_crit_days:
            findings.append((Status.CRITICAL, f"TLS certificate expires in {days:.1f} days ({when}, crit {cfg.cert_crit_days}d)"))
        elif days < cfg.cert_warn_days:
            findings.append((Status.WARNING, f"TLS certificate expires in {days:.1f} days ({when}, warn {cfg.cert_warn_days}d)"))
        else:
            findings.append((Status.OK, f"certificate valid {days:.0f} more days"))
        return None

    def _fetch(self, timeout: float, deadline: float) -> tuple[int, bytes]:
        """Status code and the first MAX_BODY_BYTES of the body, read before `deadline`."""
        cfg = self.config
        verify: bool | str = (cfg.ca_file or _system_ca_bundle()) if cfg.verify_tls else False
        with requests.Session() as session:
            session.trust_env = False
            session.max_redirects = MAX_REDIRECTS
            with session.request(
                cfg.method,
                cfg.url,
                headers=dict(cfg.headers),
                timeout=timeout,
                allow_redirects=cfg.follow_redirects,
                verify=verify,
                stream=True,
            ) as response:
                body = bytearray()
                if cfg.method != "HEAD":
                    for chunk in response.iter_content(65536):
                        body += chunk
                        if time.monotonic() > deadline:
                            raise requests.Timeout("body not read in time")
                        if len(body) >= MAX_BODY_BYTES:
                            break
                return response.status_code, bytes(body[:MAX_BODY_BYTES])

    def _body_matches(self, body: bytes) -> bool:
        text = body.decode("utf-8", "replace")
        pattern = self.config.body_pattern
        if pattern is not None:
            return pattern.search(text) is not None
        return (self.config.expect_body or "") in text
