"""The real Prometheus Alertmanager (Debian `prometheus-alertmanager`) on a private port.

Started as our own child with its own storage dir and no clustering (an empty
`--cluster.listen-address=`, else it listens on 0.0.0.0:9094), routing every alert to a
webhook receiver URL with short group timers, so a test sees both sides: the alert list
Alertmanager keeps (`/api/v2/alerts`) and the notifications it sends out.
"""

from __future__ import annotations

import subprocess
import time
from pathlib import Path
from typing import Any

import requests

from tests.servers.ports import free_port

BINARY = "prometheus-alertmanager"

_CONFIG = """\
route:
  receiver: hook
  group_by: [incident]
  group_wait: 100ms
  group_interval: 1s
  repeat_interval: 1h
receivers:
  - name: hook
    webhook_configs:
      - url: {hook_url}
        send_resolved: true
"""


class Alertmanager:
    def __init__(self, directory: Path, hook_url: str) -> None:
        self.dir = directory
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self._hook_url = hook_url
        self._proc: subprocess.Popen[bytes] | None = None

    def start(self, timeout: float = 10.0) -> Alertmanager:
        config = self.dir / "alertmanager.yml"
        config.write_text(_CONFIG.format(hook_url=self._hook_url))
        (self.dir / "data").mkdir(exist_ok=True)
        with open(self.dir / "alertmanager.log", "wb") as log:  # the child keeps its own descriptor
            self._proc = subprocess.Popen(
                [
                    BINARY,
                    f"--config.file={config}",
                    f"--storage.path={self.dir / 'data'}",
                    f"--web.listen-address=127.0.0.1:{self.port}",
                    "--cluster.listen-address=",
                ],
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        deadline = time.monotonic() + timeout
        while True:
            if self._proc.poll() is not None:
                raise RuntimeError(f"alertmanager exited: {(self.dir / 'alertmanager.log').read_text()[-2000:]}")
            try:
                if requests.get(f"{self.url}/-/ready", timeout=1).status_code == 200:
                    return self
            except requests.ConnectionError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError("alertmanager did not become ready")
            time.sleep(0.05)

    def stop(self) -> None:
        if self._proc is not None:
            self._proc.terminate()
            try:
                self._proc.wait(10)
            except subprocess.TimeoutExpired:
                self._proc.kill()
                self._proc.wait(5)
            self._proc = None

    def alerts(self, **filters: str) -> list[dict[str, Any]]:
        """Alertmanager's current (not resolved) alerts; `filters` are label matchers."""
        params = [("filter", f'{k}="{v}"') for k, v in filters.items()]
        response = requests.get(f"{self.url}/api/v2/alerts", params=params, timeout=5)
        response.raise_for_status()
        alerts: list[dict[str, Any]] = response.json()
        return alerts
