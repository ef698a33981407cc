"""One JSON POST with the outbox's error classes: the HTTP part every HTTP channel shares.

Status classes follow what the receivers document: 2xx delivered; 408, 429 and 5xx are
the receiver's temporary trouble (retry, honouring Retry-After); every other status is a
rejection of this very request (bad payload, bad key, wrong URL) that a retry cannot fix.
Redirects are not followed: a POST silently turned into a GET would be counted as delivered.
Error texts name the status and the receiver's reason, never the URL (webhook URLs often
embed tokens) nor the request body.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

import requests

from watchdog.delivery.channels.base import PermanentError, TransientError
from watchdog.delivery.channels.transports import HttpSession

_RETRY_STATUSES = frozenset({408, 425, 429})
_ERRNO_RE = re.compile(r"\[Errno -?\d+\] ([^'\")\]]+)")


def check_http_url(url: str) -> None:
    """Raises ValueError (a config problem) unless `url` is an absolute http(s) URL."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"url must be an absolute http:// or https:// URL, got {parts.scheme or 'no'} scheme")


def post_json(
    http: HttpSession,
    url: str,
    body: Any,
    *,
    timeout: float,
    headers: Mapping[str, str] | None = None,
) -> requests.Response:
    """POSTs `body` as JSON; returns the 2xx response or raises TransientError/PermanentError."""
    all_headers = {"Content-Type": "application/json", **(headers or {})}
    try:
        response = http.get().post(
            url,
            data=json.dumps(body).encode("utf-8"),
            headers=all_headers,
            timeout=(timeout, timeout),
            allow_redirects=False,
        )
    except requests.Timeout as exc:
        raise TransientError(f"no answer within {timeout:g}s ({type(exc).__name__})") from None
    except requests.ConnectionError as exc:
        raise TransientError(f"connection failed: {_reason(exc)}") from None
    except requests.RequestException as exc:
        raise PermanentError(f"request not sendable: {type(exc).__name__}") from None
    status = response.status_code
    if 200 <= status < 300:
        return response
    detail = f"HTTP {status} {response.reason or ''}".rstrip() + _body_excerpt(response)
    if status in _RETRY_STATUSES or status >= 500:
        raise TransientError(detail, retry_after=_retry_after(response))
    raise PermanentError(detail)


def _reason(exc: Exception) -> str:
    m = _ERRNO_RE.search(str(exc))
    return m.group(1).strip() if m else type(exc).__name__


def _body_excerpt(response: requests.Response, limit: int = 300) -> str:
    text = " ".join(response.text.split())
    if not text:
        return ""
    return ": " + (text if len(text) <= limit else text[:limit] + "…")


def _retry_after(response: requests.Response) -> float | None:
    value = response.headers.get("Retry-After", "").strip()
    try:
        seconds = float(value)
    except ValueError:
        return None
    return seconds if seconds >= 0 else None
