"""How the CLI reaches the running daemon: its HTTP API at `listen`, with the API token when set.

`status()` accepts only a status document (watchdog.common.status_document.read_status): an
answer from something else listening there (another service, a proxy's error page) is as
good as no daemon, never an empty status.

`urllib.request` is imported by the call that needs it: it pulls `http.client`, `ssl` and
`hashlib`, and this module is loaded with the CLI even when the command is `run`, where a
daemon that never asks itself anything would carry OpenSSL (about 6 MB resident) for nothing.
"""

from __future__ import annotations

import json
from typing import Any

from watchdog.common.status_document import NotAStatusDocument, read_status
from watchdog.config.model import WatchdogConfig


class ApiUnreachable(Exception):
    """The daemon's API did not answer (not running, wrong listen address, timeout), or not
    as the daemon does; `url` is what was asked."""

    def __init__(self, message: str, url: str) -> None:
        super().__init__(message)
        self.url = url


class ApiClient:
    """Talks to the daemon at `config.listen`, sending the API token when one is configured."""

    def __init__(self, config: WatchdogConfig, timeout: float = 5.0) -> None:
        host = config.listen.host
        host = {"0.0.0.0": "127.0.0.1", "::": "::1", "": "127.0.0.1"}.get(host, host)
        self.base = f"http://[{host}]:{config.listen.port}" if ":" in host else f"http://{host}:{config.listen.port}"
        self._token = config.api_token
        self._timeout = timeout

    def status(self) -> dict[str, Any]:
        """The daemon's status document as it sent it (extras included)."""
        url = f"{self.base}/api/v1/status"
        code, raw = self._exchange("GET", "/api/v1/status", None)
        if code != 200:
            raise ApiUnreachable(f"{url} answered HTTP {code}", url)
        try:
            read_status(raw)
        except NotAStatusDocument as exc:
            raise ApiUnreachable(f"{url} did not answer as shop-watchdog: {exc}", url) from exc
        body: dict[str, Any] = json.loads(raw)
        return body

    def post(self, path: str, payload: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        return self._request("POST", path, payload)

    def get(self, path: str) -> tuple[int, dict[str, Any]]:
        return self._request("GET", path, None)

    def delete(self, path: str, payload: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        return self._request("DELETE", path, payload)

    def _request(self, method: str, path: str, payload: dict[str, Any] | None) -> tuple[int, dict[str, Any]]:
        code, raw = self._exchange(method, path, payload)
        return code, _json(raw)

    def _exchange(self, method: str, path: str, payload: dict[str, Any] | None) -> tuple[int, bytes]:
        """(HTTP status, body); ApiUnreachable when nothing answered."""
        import urllib.error
        import urllib.request

        data = json.dumps(payload).encode() if payload is not None else None
        request = urllib.request.Request(self.base + path, data=data, method=method)
        request.add_header("Content-Type", "application/json")
        if self._token is not None:
            request.add_header("Authorization", f"Bearer {self._token.reveal()}")
        try:
            with urllib.request.urlopen(request, timeout=self._timeout) as response:
                return response.status, response.read()
        except urllib.error.HTTPError as exc:
            return exc.code, exc.read()
        except (urllib.error.URLError, OSError) as exc:
            reason = getattr(exc, "reason", exc)
            raise ApiUnreachable(f"daemon not reachable at {self.base}: {reason}", self.base + path) from exc


def _json(raw: bytes) -> dict[str, Any]:
    try:
        body = json.loads(raw)
    except ValueError:
        return {"error": raw.decode("utf-8", "replace").strip()[:200]}
    return body if isinstance(body, dict) else {"value": body}
