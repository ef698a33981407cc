"""The real daemon as a subprocess (`shop-watchdog run -c CFG`), for end-to-end tests.

Started in its own session from the repository root (so restart commands like
`python -m tests.servers.nginx_ctl` resolve), talked to over its HTTP API, stopped with
SIGTERM or killed with SIGKILL like a crash. Its log goes to `DIR/daemon.log`.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import requests
import yaml

from tests.servers.ports import free_port
from tests.servers.processes import wait_dead

REPO = Path(__file__).resolve().parents[2]
EXE = str(Path(sys.executable).with_name("shop-watchdog"))


class DaemonProcess:
    def __init__(self, directory: Path, config: dict[str, Any], env: dict[str, str] | None = None) -> None:
        self.directory = directory
        self.env = {**os.environ, **(env or {})}
        self.port = free_port()
        self.config = {"listen": f"127.0.0.1:{self.port}", "state_dir": str(directory / "state"), **config}
        self.config_path = directory / "watchdog.yaml"
        self.config_path.write_text(yaml.safe_dump(self.config))
        self.log_path = directory / "daemon.log"
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 15.0) -> None:
        with open(self.log_path, "ab") as log:
            self.proc = subprocess.Popen(
                [EXE, "run", "-c", str(self.config_path)],
                cwd=REPO,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                env=self.env,
            )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"daemon exited with {self.proc.returncode}:\n{self.log()}")
            try:
                if requests.get(f"{self.url}/healthz", timeout=0.5).status_code in (200, 503):
                    return
            except requests.RequestException:
                pass
            time.sleep(0.05)
        raise RuntimeError(f"daemon did not answer within {timeout}s:\n{self.log()}")

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def status(self) -> dict[str, Any]:
        body: dict[str, Any] = requests.get(f"{self.url}/api/v1/status", timeout=5).json()
        return body

    def incidents(self, check: str | None = None) -> list[dict[str, Any]]:
        return [i for i in self.status()["incidents"] if check is None or i["check"] == check]

    def metrics(self) -> str:
        return requests.get(f"{self.url}/metrics", timeout=5).text

    def metric(self, line_start: str) -> float:
        """The value of the first sample whose line starts with `line_start`; 0 when absent."""
        for line in self.metrics().splitlines():
            if line.startswith(line_start):
                return float(line.rsplit(" ", 1)[1])
        return 0.0

    def ack(self, incident_id: str, by: str = "tester") -> int:
        return requests.post(f"{self.url}/api/v1/incidents/{incident_id}/ack", json={"by": by}, timeout=5).status_code

    def wait_for(self, predicate: Callable[[], bool], timeout: float = 15.0, what: str = "condition") -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                if predicate():
                    return
            except requests.RequestException:
                pass
            time.sleep(0.05)
        raise AssertionError(f"timed out waiting for {what}; daemon log:\n{self.log()[-4000:]}")

    def stop(self) -> int | None:
        if self.proc is None or self.proc.poll() is not None:
            return self.proc.returncode if self.proc else None
        self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(15)
        except subprocess.TimeoutExpired:
            self.kill()
            return None

    def kill(self) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        self.proc.wait(10)
        wait_dead(self.proc.pid, 5)
