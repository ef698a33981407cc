"""A fleet of shop servers on one machine, wired as README "Fleet" deploys it.

Each shop server is a real daemon with its own nginx; a real Prometheus scrapes every daemon
as the shipped example config does (config/prometheus/example/prometheus.yml, with the
shipped rules) and sends its alerts to a two-node Alertmanager cluster configured like the
shipped example (config/alertmanager/alertmanager.yml), whose notifications all go to one
webhook receiver. The daemons send their own alerts to both Alertmanager nodes.

All servers share 127.0.0.1, so each target is listed with its `host` label (the daemon's
`host:`), as the example's relabelling documents for targets whose address is no host name.
Used by the fleet tests (one fleet per session) and by bench/bench_fleet.py.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Self

from tests.servers.alertmanager import AlertmanagerCluster, example_config
from tests.servers.nginx import NginxServer
from tests.servers.ports import free_port
from tests.servers.prometheus import PrometheusServer
from tests.servers.stop_on_exit import StopOnExit
from tests.servers.watchdog_daemon import WatchdogDaemon
from tests.servers.webhook import WebhookServer
from tests.waiting import wait_until

ConfigFor = Callable[["ShopServer", Sequence[str]], dict[str, Any]]
"""(the server, the Alertmanager node URLs) -> its daemon's config."""


@dataclass
class ShopServer:
    host: str
    nginx: NginxServer
    daemon: WatchdogDaemon

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.daemon.port}"


class Fleet(StopOnExit):
    def __init__(
        self,
        directory: Path,
        hosts: Sequence[str],
        config_for: ConfigFor,
        *,
        workers: int = 8,
        scrape_interval: str = "1s",
    ) -> None:
        self.hook = WebhookServer()
        self.alertmanagers = AlertmanagerCluster(
            directory / "alertmanager", self.hook.url, config=example_config(self.hook.url)
        )
        self.prometheus = PrometheusServer(
            directory / "prometheus", alertmanagers=self.alertmanagers.urls, interval=scrape_interval
        )
        # free_port() may hand out a port twice once it was released: with hundreds of
        # servers that happens, so every port of the fleet is checked against the others.
        taken = {self.hook.port, self.prometheus.port}
        taken |= {port for n in self.alertmanagers.nodes for port in (n.port, n.cluster_port) if port is not None}
        self.servers = []
        for host in hosts:
            nginx = NginxServer(directory / host / "nginx", port=_unused_port(taken))
            daemon = WatchdogDaemon(directory / host, {})
            while daemon.port in taken:
                daemon = WatchdogDaemon(directory / host, {})
            taken.add(daemon.port)
            server = ShopServer(host, nginx, daemon)
            daemon.write_config(config_for(server, self.alertmanagers.urls))
            self.servers.append(server)
        self._workers = workers
        self._started: list[StopOnExit] = []

    def server(self, host: str) -> ShopServer:
        [found] = [s for s in self.servers if s.host == host]
        return found

    def start(self) -> Self:
        """Everything up, and every daemon scraped by Prometheus at least once."""
        try:
            self._start()
        except BaseException:
            self.stop()
            raise
        return self

    def _start(self) -> None:
        self.hook.start()
        self._started.append(_Closing(self.hook))
        self._started.append(self.alertmanagers.start())
        self.prometheus.set_targets({s.address: {"host": s.host} for s in self.servers})
        self._started.append(self.prometheus.start())
        self._start_all([s.nginx for s in self.servers])
        self._start_all([s.daemon for s in self.servers])
        wait_until(
            lambda: self.prometheus.targets_up() == len(self.servers), 60, "Prometheus to scrape every daemon", 0.2
        )

    def _start_all(self, children: Sequence[NginxServer | WatchdogDaemon]) -> None:
        """Starts them `workers` at a time; every one that came up is stopped with the fleet."""
        with ThreadPoolExecutor(self._workers) as pool:
            futures = [pool.submit(child.start) for child in children]
        errors: list[BaseException] = []
        for future in futures:
            error = future.exception()
            if error is None:
                self._started.append(future.result())
            else:
                errors.append(error)
        if errors:
            raise errors[0]

    def stop(self) -> None:
        while self._started:
            self._started.pop().stop()


def _unused_port(taken: set[int]) -> int:
    port = free_port()
    while port in taken:
        port = free_port()
    taken.add(port)
    return port


@dataclass
class _Closing(StopOnExit):
    """The webhook receiver under the `stop()` contract."""

    hook: WebhookServer

    def stop(self) -> None:
        self.hook.close()
