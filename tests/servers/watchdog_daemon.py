"""The real daemon (`.venv/bin/shop-watchdog run -c FILE`) as a child process, and its API.

`WatchdogDaemon(directory, config)` writes `config` (a dict, dumped as YAML; `listen` is
set to a fresh loopback port and `state_dir` to the directory unless given) and starts the
daemon; `start()` returns once /healthz answers 200 (first round scheduled, API up).
Use it for end-to-end tests of the CLI, the API, signals (SIGHUP reload, SIGTERM stop) and
crashes (`kill()` then `start()` again: same port, same state). It runs from the repository
root, so restart commands like `python -m tests.servers.nginx_ctl` resolve.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

from tests.servers.ports import ServerStartError, free_port
from tests.servers.processes import ChildServer
from tests.waiting import wait_until

if TYPE_CHECKING:
    from tests.servers.nginx import NginxServer


def web_check_with_restart(nginx: NginxServer, **remediation: str) -> dict[str, Any]:
    """A config whose one check, `web`, probes `nginx` and is repaired by restarting it, on
    timings a test can wait for: every 200 ms, hard after 2 failures, verified 500 ms after
    the restart. `remediation` adds to or overrides the remediation section."""
    return {
        "defaults": {"interval": "200ms", "timeout": "1s", "retries": 2, "retry_interval": "100ms"},
        "checks": [
            {
                "name": "web",
                "type": "http",
                "url": nginx.healthz_url,
                "remediate": {"command": nginx.ctl_argv(sys.executable, "restart")},
            }
        ],
        "remediation": {"backend": "command", "verify_after": "500ms", **remediation},
    }


ROOT = Path(__file__).resolve().parents[2]
CLI = str(ROOT / ".venv" / "bin" / "shop-watchdog")
UNIT_FILE = ROOT / "systemd" / "shop-watchdog.service"


def unit_tasks_max() -> int:
    """The `TasksMax=` of the shipped systemd unit: the daemon's budget of threads and children."""
    match = re.search(r"^TasksMax=(\d+)$", UNIT_FILE.read_text(), re.M)
    assert match, f"no TasksMax= in {UNIT_FILE}"
    return int(match.group(1))


class WatchdogDaemon(ChildServer):
    name = "shop-watchdog"
    start_timeout = 20.0

    def __init__(
        self, directory: Path, config: Mapping[str, Any], env: Mapping[str, str] | None = None, cli: str = CLI
    ) -> None:
        """`cli`: the `shop-watchdog` executable to run (another checkout's, for a baseline)."""
        directory.mkdir(parents=True, exist_ok=True)
        self.cli = cli
        port = free_port()
        super().__init__(port, directory / "daemon.log")
        self.directory = directory
        self.config_path = directory / "watchdog.yaml"
        self.extra_env = dict(env or {})
        self.write_config(config)

    def write_config(self, config: Mapping[str, Any]) -> None:
        """Writes the config file (the running daemon reads it on `reload()`)."""
        full = {"listen": f"127.0.0.1:{self.port}", "state_dir": str(self.directory / "state")} | dict(config)
        self.config_path.write_text(yaml.safe_dump(full, sort_keys=False))

    def write_text(self, text: str) -> None:
        self.config_path.write_text(text)

    def argv(self) -> list[str]:
        return [self.cli, "run", "-c", str(self.config_path)]

    def child_cwd(self) -> Path:
        return ROOT

    def child_env(self) -> Mapping[str, str]:
        """The test's environment without systemd's variables, the config path, and
        PYTHONPATH (the executable's own installation must supply every module)."""
        dropped = ("NOTIFY_SOCKET", "SHOP_WATCHDOG_CONFIG", "WATCHDOG_USEC", "PYTHONPATH")
        env = {k: v for k, v in os.environ.items() if k not in dropped}
        return env | self.extra_env

    def wait_ready(self) -> None:
        deadline = time.monotonic() + self.start_timeout
        while time.monotonic() < deadline:
            if self.proc is not None and self.proc.poll() is not None:
                raise ServerStartError(f"shop-watchdog exited with {self.proc.returncode}: {self.log()}")
            try:
                if self.get("/healthz")[0] == 200:
                    return
            except OSError:
                pass
            time.sleep(0.02)
        raise ServerStartError(f"shop-watchdog /healthz not 200 within {self.start_timeout}s: {self.log()}")

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def request(
        self,
        method: str,
        path: str,
        body: object = None,
        token: str | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> tuple[int, bytes]:
        """Status and body of one request; a JSON `body` is sent as application/json unless
        `headers` say otherwise (they may also set Host, Origin, ...)."""
        data = json.dumps(body).encode() if body is not None else None
        all_headers = {"Content-Type": "application/json"} if data is not None else {}
        if token is not None:
            all_headers["Authorization"] = f"Bearer {token}"
        return self.request_raw(method, path, data, {**all_headers, **(headers or {})})

    def request_raw(self, method: str, path: str, data: bytes | None, headers: Mapping[str, str]) -> tuple[int, bytes]:
        """Status and body of one request with a raw body (a form post) and `headers`."""
        req = urllib.request.Request(self.base_url + path, data=data, method=method)
        for name, value in headers.items():
            req.add_header(name, value)
        try:
            with urllib.request.urlopen(req, timeout=10) as response:
                return response.status, response.read()
        except urllib.error.HTTPError as exc:
            return exc.code, exc.read()

    def get(self, path: str) -> tuple[int, bytes]:
        return self.request("GET", path)

    def status(self) -> dict[str, Any]:
        code, body = self.get("/api/v1/status")
        assert code == 200, body
        result: dict[str, Any] = json.loads(body)
        return result

    def incidents(self, check: str | None = None) -> list[dict[str, Any]]:
        """Unresolved incidents (of `check`), as /api/v1/status lists them."""
        return [i for i in self.status()["incidents"] if check is None or i["check"] == check]

    def metrics(self) -> str:
        code, body = self.get("/metrics")
        assert code == 200, body
        return body.decode()

    def metric(self, line_start: str) -> float:
        """The value of the first sample whose line starts with `line_start`; 0 when absent."""
        for line in self.metrics().splitlines():
            if line.startswith(line_start):
                return float(line.rsplit(" ", 1)[1])
        return 0.0

    def ack(self, incident_id: str, by: str = "tester") -> int:
        """HTTP status of acknowledging `incident_id` through the API."""
        return self.request("POST", f"/api/v1/incidents/{incident_id}/ack", {"by": by})[0]

    def wait_until(self, predicate: Callable[[], Any], what: str, timeout: float = 15.0) -> None:
        """Polls `predicate` (an API call failing counts as not yet); fails with the daemon's log."""

        def attempt() -> Any:
            try:
                return predicate()
            except OSError:
                return False

        try:
            wait_until(attempt, timeout, what)
        except AssertionError as exc:
            raise AssertionError(f"{exc}; daemon log:\n{self.log()[-4000:]}") from None

    def check(self, name: str) -> dict[str, Any]:
        for item in self.status()["checks"]:
            if item["name"] == name:
                return dict(item)
        raise KeyError(name)

    def wait_for(self, name: str, predicate: Any, timeout: float = 15.0) -> dict[str, Any]:
        """Polls the status API until check `name` exists and satisfies `predicate(check_json)`."""
        deadline = time.monotonic() + timeout
        last: dict[str, Any] = {}
        while time.monotonic() < deadline:
            try:
                last = self.check(name)
            except KeyError:
                last = {}
            if last and predicate(last):
                return last
            time.sleep(0.05)
        raise AssertionError(f"check {name} never matched; last: {last}\n{self.log()}")

    def tasks(self) -> int:
        """The daemon's threads and its children's, as systemd counts tasks for TasksMax."""
        total = 0
        for status in Path("/proc").glob("[0-9]*/status"):
            try:
                fields = dict(line.split(":\t", 1) for line in status.read_text().splitlines() if ":\t" in line)
            except OSError:
                continue
            if status.parent.name == str(self.pid) or fields.get("PPid", "").strip() == str(self.pid):
                total += int(fields["Threads"])
        return total

    def reload(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGHUP)

    def terminate(self, timeout: float = 15.0) -> int:
        """SIGTERM the daemon itself (not its group) and return its exit code; a daemon
        that ignores it is killed (nothing is left running) and the call fails."""
        assert self.proc is not None
        self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            raise AssertionError(f"shop-watchdog still running {timeout}s after SIGTERM: {self.log()}") from None
