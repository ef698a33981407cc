"""How the CLI reaches the running daemon: its HTTP API at `listen`, with the API token when set."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from typing import Any

from watchdog.config.model import WatchdogConfig


class ApiUnreachable(Exception):
    """The daemon's API did not answer (not running, wrong listen address, timeout)."""


class ApiClient:
    """Talks to the daemon at `config.listen`, sending the API token when one is configured."""

    def __init__(self, config: WatchdogConfig, timeout: float = 5.0) -> None:
        host = config.listen.host
        host = {"0.0.0.0": "127.0.0.1", "::": "::1", "": "127.0.0.1"}.get(host, host)
        self.base = f"http://[{host}]:{config.listen.port}" if ":" in host else f"http://{host}:{config.listen.port}"
        self._token = config.api_token
        self._timeout = timeout

    def status(self) -> dict[str, Any]:
        code, body = self._request("GET", "/api/v1/status", None)
        if code != 200:
            raise ApiUnreachable(f"{self.base}/api/v1/status answered HTTP {code}")
        return body

    def post(self, path: str, payload: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        return self._request("POST", path, payload)

    def _request(self, method: str, path: str, payload: dict[str, Any] | None) -> tuple[int, dict[str, Any]]:
        data = json.dumps(payload).encode() if payload is not None else None
        request = urllib.request.Request(self.base + path, data=data, method=method)
        request.add_header("Content-Type", "application/json")
        if self._token is not None:
            request.add_header("Authorization", f"Bearer {self._token.reveal()}")
        try:
            with urllib.request.urlopen(request, timeout=self._timeout) as response:
                return response.status, _json(response.read())
        except urllib.error.HTTPError as exc:
            return exc.code, _json(exc.read())
        except (urllib.error.URLError, OSError) as exc:
            reason = getattr(exc, "reason", exc)
            raise ApiUnreachable(f"daemon not reachable at {self.base}: {reason}") from exc


def _json(raw: bytes) -> dict[str, Any]:
    try:
        body = json.loads(raw)
    except ValueError:
        return {"error": raw.decode("utf-8", "replace").strip()[:200]}
    return body if isinstance(body, dict) else {"value": body}
