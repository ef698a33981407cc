"""The embedded default config: what `shop-watchdog run` watches when no config file exists.

Built from what this machine has right now, as a plain config dict that goes through the
same `parse_config` as a file (source `<embedded default>`), so it is validated the same way:

* every local, writable, real filesystem (`psutil.disk_partitions(all=False)`): read-only
  mounts (snap squashfs images, ISO, a read-only /usr) cannot fill up; overlay and the
  mounts below /var/lib/docker, /var/lib/containers, /snap belong to containers and
  packages, not to the shop; a device mounted twice (bind mounts) is watched once.
  WARNING at 80 % used, CRITICAL at 90 %;
* whatever of the shop's services listens on its well-known port: web server (80, 443),
  PostgreSQL (5432), MySQL/MariaDB (3306), Redis (6379). The embedded default has no
  credentials, so database logins cannot be probed: these are `tcp` checks (does it
  accept connections in time), except Redis, which answers PING without auth in its
  default setup (a `tcp` check too when the Redis client, a pip extra, is not installed:
  the default must start on any install). A config file gives real login probes.

No notification channels and no restarts: the default only watches and exports metrics
and status; paging needs a config file (`config/watchdog.yaml` is the documented example).
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Collection, Iterable
from dataclasses import dataclass
from typing import Any

import psutil

from watchdog.common.extras import MissingExtra
from watchdog.config.loader import EMBEDDED_SOURCE, Registry, parse_config
from watchdog.config.model import WatchdogConfig

DEFAULT_STATE_DIR = "/var/lib/shop-watchdog"

_PSEUDO_FS = frozenset({"overlay", "squashfs", "iso9660", "udf", "tmpfs", "devtmpfs", "ramfs", "nsfs", "fuse.snapfuse"})
_FOREIGN_PREFIXES = ("/snap/", "/var/lib/docker/", "/var/lib/containers/", "/run/", "/proc/", "/sys/", "/dev/")


@dataclass(frozen=True)
class Service:
    port: int
    name: str
    check_type: str
    severity: str


SERVICES: tuple[Service, ...] = (
    Service(80, "web-http", "tcp", "critical"),
    Service(443, "web-https", "tcp", "critical"),
    Service(5432, "postgres", "tcp", "critical"),
    Service(3306, "mysql", "tcp", "critical"),
    Service(6379, "redis", "redis", "critical"),
)


def local_filesystems(partitions: Iterable[Any]) -> list[str]:
    """Mount points worth watching, from `psutil.disk_partitions(all=False)` entries."""
    seen_devices: set[str] = set()
    mounts: list[str] = []
    for part in partitions:
        options = set(str(part.opts).split(","))
        mount = str(part.mountpoint)
        if part.fstype in _PSEUDO_FS or "ro" in options:
            continue
        if mount.startswith(_FOREIGN_PREFIXES):
            continue
        if part.device in seen_devices:
            continue
        seen_devices.add(part.device)
        mounts.append(mount)
    return sorted(mounts)


def listening_ports(connections: Iterable[Any]) -> dict[int, str]:
    """Local TCP port -> the address to probe it on (loopback when bound to any/loopback)."""
    found: dict[int, str] = {}
    for conn in connections:
        if conn.status != psutil.CONN_LISTEN or not conn.laddr:
            continue
        ip, port = conn.laddr.ip, conn.laddr.port
        if ip in ("0.0.0.0", "127.0.0.1", "::", "::ffff:0.0.0.0"):
            probe = "127.0.0.1"
        elif ip == "::1":
            probe = found.get(port, "::1")
        else:
            probe = ip
        if found.get(port) != "127.0.0.1":
            found[port] = probe
    return found


def disk_name(mount: str) -> str:
    if mount == "/":
        return "disk-root"
    return "disk-" + (re.sub(r"[^A-Za-z0-9]+", "-", mount).strip("-") or "root")


def default_config_dict(
    mounts: list[str], ports: dict[int, str], state_dir: str, check_types: Collection[str]
) -> dict[str, Any]:
    """The embedded config for these mounts and listening ports, using only `check_types`
    (a service whose own type is not among them is watched by `tcp`)."""
    checks: list[dict[str, Any]] = []
    if "disk" in check_types:
        for mount in mounts:
            checks.append(
                {
                    "name": disk_name(mount),
                    "type": "disk",
                    "path": mount,
                    "warn": "80%",
                    "crit": "90%",
                    "severity": "critical",
                }
            )
    for service in SERVICES:
        host = ports.get(service.port)
        check_type = service.check_type if service.check_type in check_types else "tcp"
        if host is None or check_type not in check_types:
            continue
        checks.append(
            {
                "name": service.name,
                "type": check_type,
                "host": host,
                "port": service.port,
                "severity": service.severity,
            }
        )
    return {"state_dir": state_dir, "listen": "127.0.0.1:9841", "checks": checks}


def state_directory(environ: dict[str, str] | os._Environ[str]) -> str:
    """systemd's `StateDirectory=` (first entry of `$STATE_DIRECTORY`) or the FHS default."""
    given = environ.get("STATE_DIRECTORY", "")
    return given.split(":")[0] if given else DEFAULT_STATE_DIR


def embedded_default(
    *,
    checks: Registry,
    channels: Registry,
    partitions: Callable[[], Iterable[Any]] = lambda: psutil.disk_partitions(all=False),
    connections: Callable[[], Iterable[Any]] = lambda: psutil.net_connections(kind="tcp"),
    environ: dict[str, str] | os._Environ[str] = os.environ,
) -> WatchdogConfig:
    """The config for this machine as it is now (raises ConfigError if it were invalid).

    `checks` and `channels` are the type registries, as for `parse_config`."""
    try:
        ports = listening_ports(connections())
    except psutil.AccessDenied:
        ports = {}
    wanted = {"disk", "tcp", *(s.check_type for s in SERVICES if s.port in ports)}
    node = default_config_dict(
        local_filesystems(partitions()), ports, state_directory(environ), [t for t in wanted if _installed(checks, t)]
    )
    return parse_config(node, EMBEDDED_SOURCE, checks=checks, channels=channels)


def _installed(registry: Registry, type_name: str) -> bool:
    """Whether `type_name` is registered and its driver is installed (looking it up imports it)."""
    if type_name not in registry:
        return False
    try:
        registry[type_name]
    except MissingExtra:
        return False
    return True
