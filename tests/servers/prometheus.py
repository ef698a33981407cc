"""The real Prometheus server (Debian `prometheus`) on a private port, set up as the shipped example.

The config is `config/prometheus/example/prometheus.yml` with what a test must change: 1 s
scrape and evaluation intervals (`interval`), its own target file, the repository's rule files, and the
test's Alertmanager nodes. Targets come and go through `set_targets()` (file-based service
discovery, as in production); Prometheus applies target changes in batches every 5 s, so a
test starts Prometheus early and shares it (a module- or session-scoped fixture).
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import requests
import yaml

from tests.servers.ports import ServerStartError
from tests.servers.processes import ChildServer
from tests.waiting import wait_until

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "config" / "prometheus" / "example" / "prometheus.yml"
RULES = sorted(p for p in (ROOT / "config" / "prometheus").glob("*.yml") if not p.name.endswith("_test.yml"))
JOB = "shop-watchdog"


class PrometheusServer(ChildServer):
    name = "prometheus"
    start_timeout = 30.0

    def __init__(
        self,
        directory: Path,
        *,
        alertmanagers: Sequence[str] = (),
        rule_files: Sequence[Path] = tuple(RULES),
        interval: str = "1s",
    ) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        super().__init__(None, directory / "prometheus.log")
        self.dir = directory
        self.url = f"http://127.0.0.1:{self.port}"
        self.targets_file = directory / "targets.json"
        self.set_targets({})
        config: dict[str, Any] = yaml.safe_load(EXAMPLE.read_text())
        config["global"].update(scrape_interval=interval, scrape_timeout=interval, evaluation_interval=interval)
        config["rule_files"] = [str(p) for p in rule_files]
        nodes = [a.removeprefix("http://") for a in alertmanagers]
        config["alerting"]["alertmanagers"] = [{"static_configs": [{"targets": nodes}]}] if nodes else []
        [job] = [j for j in config["scrape_configs"] if j["job_name"] == JOB]
        job["file_sd_configs"] = [{"files": [str(self.targets_file)], "refresh_interval": "1s"}]
        self.config_path = directory / "prometheus.yml"
        self.config_path.write_text(yaml.safe_dump(config, sort_keys=False))

    def argv(self) -> list[str]:
        return [
            "prometheus",
            f"--config.file={self.config_path}",
            f"--storage.tsdb.path={self.dir / 'data'}",
            f"--web.listen-address=127.0.0.1:{self.port}",
            "--rules.alert.resend-delay=1s",
        ]

    def wait_ready(self) -> None:
        try:
            wait_until(self._ready, self.start_timeout, "prometheus /-/ready")
        except AssertionError as exc:
            raise ServerStartError(f"{exc}: {self.log()}") from None

    def _ready(self) -> bool:
        try:
            return requests.get(self.url + "/-/ready", timeout=1).status_code == 200
        except requests.RequestException:
            return False

    def set_targets(self, targets: Mapping[str, Mapping[str, str]]) -> None:
        """The scraped daemons: `{"127.0.0.1:PORT": {"host": "shop-web-1"}, ...}` (written atomically)."""
        groups = [{"targets": [address], "labels": dict(labels)} for address, labels in targets.items()]
        temporary = self.targets_file.with_suffix(".tmp")
        temporary.write_text(json.dumps(groups))
        os.replace(temporary, self.targets_file)

    def query(self, expr: str) -> list[dict[str, Any]]:
        """The instant vector `expr` returns now (each item: `metric` labels and `value`)."""
        response = requests.get(f"{self.url}/api/v1/query", params={"query": expr}, timeout=10)
        response.raise_for_status()
        data = response.json()["data"]
        assert data["resultType"] == "vector", data
        result: list[dict[str, Any]] = data["result"]
        return result

    def wait_for(self, expr: str, timeout: float = 30.0, what: str = "") -> list[dict[str, Any]]:
        """The first non-empty answer to `expr` (Prometheus scrapes and evaluates every second)."""
        return wait_until(lambda: self.query(expr), timeout, what or f"series for {expr}", interval=0.2)

    def targets_up(self) -> int:
        return len(self.query(f'up{{job="{JOB}"}} == 1'))
