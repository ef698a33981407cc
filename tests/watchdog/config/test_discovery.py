"""The embedded default: what this machine really has, and the rules that pick it."""

from __future__ import annotations

import os
import socket
import subprocess
from collections import namedtuple
from collections.abc import Callable
from pathlib import Path

import psutil

from checks.disk import DiskOptions
from checks.registry import CHECKS
from tests.servers.watchdog_daemon import CLI
from watchdog.config.discovery import (
    SERVICES,
    default_config_dict,
    disk_name,
    embedded_default,
    listening_ports,
    local_filesystems,
    state_directory,
)
from watchdog.config.loader import EMBEDDED_SOURCE
from watchdog.delivery.channels.registry import CHANNELS

# psutil's result shapes (its own namedtuple module is private and moves between versions)
sdiskpart = namedtuple("sdiskpart", "device mountpoint fstype opts")
addr = namedtuple("addr", "ip port")
sconn = namedtuple("sconn", "fd family type laddr raddr status pid")


def part(device: str, mountpoint: str, fstype: str = "ext4", opts: str = "rw,relatime") -> sdiskpart:
    return sdiskpart(device, mountpoint, fstype, opts)


def listen(ip: str, port: int) -> sconn:
    return sconn(
        3,
        socket.AF_INET6 if ":" in ip else socket.AF_INET,
        socket.SOCK_STREAM,
        addr(ip, port),
        (),
        psutil.CONN_LISTEN,
        None,
    )


def test_only_writable_real_filesystems_once_per_device() -> None:
    mounts = local_filesystems(
        [
            part("/dev/sda1", "/"),
            part("/dev/sda2", "/var/lib/mysql", "xfs"),
            part("/dev/sda2", "/srv/bind-of-mysql", "xfs"),
            part("/dev/loop3", "/snap/core22/1234", "squashfs", "ro,nodev"),
            part("/dev/sdb1", "/mnt/backup-ro", "ext4", "ro,relatime"),
            part("overlay", "/var/lib/docker/overlay2/abc/merged", "overlay"),
            part("/dev/sdc1", "/var/lib/docker", "ext4"),
            part("/dev/sr0", "/media/cdrom", "iso9660", "ro"),
        ]
    )
    assert mounts == ["/", "/var/lib/docker", "/var/lib/mysql"]


def test_listening_ports_are_probed_on_loopback_when_bound_widely() -> None:
    ports = listening_ports(
        [
            listen("0.0.0.0", 80),
            listen("::1", 6379),
            listen("127.0.0.1", 6379),
            listen("10.1.2.3", 5432),
            listen("::", 443),
            sconn(4, socket.AF_INET, socket.SOCK_STREAM, addr("0.0.0.0", 9), addr("1.2.3.4", 5), "ESTABLISHED", None),
        ]
    )
    assert ports == {80: "127.0.0.1", 6379: "127.0.0.1", 5432: "10.1.2.3", 443: "127.0.0.1"}


def test_default_config_has_disks_and_services_without_credentials() -> None:
    node = default_config_dict(
        ["/", "/var/lib/mysql"],
        {80: "127.0.0.1", 3306: "127.0.0.1", 6379: "127.0.0.1", 8080: "127.0.0.1"},
        "/st",
        CHECKS,
    )
    assert node["state_dir"] == "/st" and node["listen"] == "127.0.0.1:9841"
    kinds = [(c["name"], c["type"]) for c in node["checks"]]
    assert kinds == [
        ("disk-root", "disk"),
        ("disk-var-lib-mysql", "disk"),
        ("web-http", "tcp"),
        ("mysql", "tcp"),
        ("redis", "redis"),
    ]
    assert not any(k.endswith(("_env", "_file")) or k == "password" for c in node["checks"] for k in c)


def test_state_directory_prefers_systemd() -> None:
    assert state_directory({"STATE_DIRECTORY": "/var/lib/shop-watchdog:/var/lib/other"}) == "/var/lib/shop-watchdog"
    assert state_directory({}) == "/var/lib/shop-watchdog"
    assert disk_name("/") == "disk-root" and disk_name("/var/lib/mysql") == "disk-var-lib-mysql"


def test_embedded_default_watches_what_listens_on_this_machine_now() -> None:
    """Compared with an independent look: which well-known ports accept on loopback."""
    config = embedded_default(checks=CHECKS, channels=CHANNELS)
    assert config.source == EMBEDDED_SOURCE
    names = {c.name for c in config.checks}
    assert "disk-root" in names
    for service in SERVICES:
        try:
            socket.create_connection(("127.0.0.1", service.port), timeout=0.5).close()
            accepting = True
        except OSError:
            accepting = False
        assert (service.name in names) == accepting, service


def test_embedded_default_with_a_private_listener_and_tmpfs(make_tmpfs: Callable[..., Path]) -> None:
    mount = make_tmpfs("8m")
    real = psutil.disk_partitions(all=False)
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        port = sock.getsockname()[1]
        config = embedded_default(
            partitions=lambda: [*real, part("/dev/vdz9", str(mount), "ext4")],
            connections=lambda: [c for c in psutil.net_connections("tcp") if c.laddr and c.laddr.port == port],
            environ={"STATE_DIRECTORY": "/run/x"},
            checks=CHECKS,
            channels=CHANNELS,
        )
    assert config.state_dir == "/run/x"
    assert any(
        c.type == "disk" and isinstance(c.options, DiskOptions) and c.options.path == str(mount) for c in config.checks
    )
    assert not any(c.type in ("tcp", "redis") for c in config.checks), "an unknown port is not a shop service"


def test_check_config_without_a_file_prints_what_it_found() -> None:
    env = {k: v for k, v in os.environ.items() if k != "SHOP_WATCHDOG_CONFIG"}
    assert not os.path.exists("/etc/shop-watchdog/watchdog.yaml"), "this test describes a machine without a config file"
    proc = subprocess.run([CLI, "check-config"], capture_output=True, text=True, env=env, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith("<embedded default>: valid\n")
    assert "  disk-root (disk, critical, every 30s" in proc.stdout
    assert "notify channels: none (nobody is paged)" in proc.stdout
