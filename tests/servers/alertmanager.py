"""The real Prometheus Alertmanager (Debian `prometheus-alertmanager`) on private ports: one node or a cluster.

Started as our own child with its own storage dir, routing every alert to a webhook receiver
URL with short group timers, so a test sees both sides: the alert list Alertmanager keeps
(`/api/v2/alerts`) and the notifications it sends out. A single node runs without gossip
(an empty `--cluster.listen-address=`, else it listens on 0.0.0.0:9094).

`AlertmanagerCluster` starts nodes that gossip on loopback ports (each node names every other
as `--cluster.peer`, and advertises its own loopback address, see TESTING.md). The nodes
share silences and their notification log, never the alerts: senders post to every node,
and the node later in the peer order waits `peer_timeout` before it notifies, so that it
sees what the first one sent and sends nothing twice.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any, Self

import requests
import yaml

from tests.servers.ports import ServerStartError, free_port
from tests.servers.processes import ChildServer
from tests.servers.stop_on_exit import StopOnExit
from tests.waiting import wait_until

BINARY = "prometheus-alertmanager"
EXAMPLE = Path(__file__).resolve().parents[2] / "config" / "alertmanager" / "alertmanager.yml"

_CONFIG = """\
route:
  receiver: hook
  group_by: [{group_by}]
  group_wait: 100ms
  group_interval: 1s
  repeat_interval: 1h
receivers:
  - name: hook
    webhook_configs:
      - url: {hook_url}
        send_resolved: true
"""


def example_config(hook_url: str) -> str:
    """The shipped example config (config/alertmanager/alertmanager.yml) with every receiver
    replaced by the test's webhook and group timers short enough for a test."""
    config = yaml.safe_load(EXAMPLE.read_text())
    config["receivers"] = [
        {"name": r["name"], "webhook_configs": [{"url": hook_url, "send_resolved": True}]} for r in config["receivers"]
    ]
    for route in [config["route"], *config["route"].get("routes", [])]:
        route.update({"group_wait": "100ms", "group_interval": "1s"})
    return yaml.safe_dump(config, sort_keys=False)


class Alertmanager(ChildServer):
    """One node. `cluster_port` None: no gossip; else it gossips there with `peers` (ports).
    `config` (YAML text) replaces the default: every alert to `hook_url`, grouped by `group_by`."""

    name = "alertmanager"

    def __init__(
        self,
        directory: Path,
        hook_url: str,
        *,
        cluster_port: int | None = None,
        peers: Sequence[int] = (),
        peer_timeout: str = "2s",
        group_by: Sequence[str] = ("incident",),
        config: str | None = None,
    ) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        super().__init__(None, directory / "alertmanager.log")
        self.dir = directory
        self.url = f"http://127.0.0.1:{self.port}"
        self.cluster_port = cluster_port
        self._peers = tuple(peers)
        self._peer_timeout = peer_timeout
        self._config = directory / "alertmanager.yml"
        self._config.write_text(config or _CONFIG.format(hook_url=hook_url, group_by=", ".join(group_by)))

    def argv(self) -> list[str]:
        argv = [
            BINARY,
            f"--config.file={self._config}",
            f"--storage.path={self.dir / 'data'}",
            f"--web.listen-address=127.0.0.1:{self.port}",
        ]
        if self.cluster_port is None:
            return [*argv, "--cluster.listen-address="]
        return [
            *argv,
            f"--cluster.listen-address=127.0.0.1:{self.cluster_port}",
            f"--cluster.advertise-address=127.0.0.1:{self.cluster_port}",
            f"--cluster.peer-timeout={self._peer_timeout}",
            "--cluster.gossip-interval=50ms",  # settles in ~2 s on loopback instead of ~8 s
            "--cluster.settle-timeout=3s",
            *(f"--cluster.peer=127.0.0.1:{port}" for port in self._peers),
        ]

    def wait_ready(self) -> None:
        try:
            wait_until(lambda: self._answers("/-/ready"), self.start_timeout, "alertmanager /-/ready")
        except AssertionError as exc:
            raise ServerStartError(f"{exc}: {self.log()}") from None

    def _answers(self, path: str) -> bool:
        try:
            return requests.get(self.url + path, timeout=1).status_code == 200
        except requests.RequestException:
            return False

    def alerts(self, **filters: str) -> list[dict[str, Any]]:
        """Alertmanager's current (not resolved) alerts; `filters` are label matchers."""
        params = [("filter", f'{k}="{v}"') for k, v in filters.items()]
        response = requests.get(f"{self.url}/api/v2/alerts", params=params, timeout=5)
        response.raise_for_status()
        alerts: list[dict[str, Any]] = response.json()
        return alerts

    def peers(self) -> int:
        """How many members (itself included) this node sees in its cluster."""
        response = requests.get(f"{self.url}/api/v2/status", timeout=5)
        response.raise_for_status()
        return len(response.json()["cluster"].get("peers") or [])


class AlertmanagerCluster(StopOnExit):
    """`size` nodes gossiping with each other, all notifying `hook_url`; a context manager."""

    def __init__(
        self,
        directory: Path,
        hook_url: str,
        size: int = 2,
        *,
        group_by: Sequence[str] = ("incident",),
        config: str | None = None,
    ) -> None:
        ports = [free_port() for _ in range(size)]
        self.nodes = [
            Alertmanager(
                directory / f"node{i}",
                hook_url,
                cluster_port=port,
                peers=[p for p in ports if p != port],
                group_by=group_by,
                config=config,
            )
            for i, port in enumerate(ports)
        ]

    @property
    def urls(self) -> list[str]:
        return [node.url for node in self.nodes]

    def start(self) -> Self:
        for node in self.nodes:
            node.start()
        wait_until(lambda: all(n.peers() == len(self.nodes) for n in self.nodes), 15, "every node to see the others")
        return self

    def stop(self) -> None:
        for node in self.nodes:
            node.stop()

    def __enter__(self) -> Self:
        return self.start()
