"""Session fixtures: one booted container per test session, with the product installed in it.

Building the cached root (first run on a machine, ~90 s) and booting (~1 s) happen once;
the install through scripts/install (offline, from a wheelhouse built on the host) once
too. Tests that change the service's config or drop-ins restore them through the
`service` fixture, so test order does not matter.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.systemd.container import NSPAWN_RUNTIME, Container
from tests.systemd.rootfs import ensure_rootfs
from tests.systemd.service import CONFIG, Service, daemon_config
from tests.systemd.wheelhouse import build_wheelhouse, python_version

REPO = Path(__file__).resolve().parents[2]
# The first systemd test on a fresh machine also builds the root (~90 s) and downloads the
# wheels; every wait inside the tests has its own, much shorter, limit.
FIRST_RUN_TIMEOUT = 900


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if item.get_closest_marker("systemd"):
            item.add_marker(pytest.mark.timeout(FIRST_RUN_TIMEOUT))


def _host_state() -> set[str]:
    """The host's mounts and nspawn runtime files, which a test run must not add to.

    Only additions count: systemd-nspawn rightly unlinks a stale image lock that a killed
    earlier run left behind when it takes and releases that lock, so an entry may vanish.
    """
    with open("/proc/self/mountinfo") as fh:
        mounts = {"mount " + " ".join(line.split()[3:5]) for line in fh}
    runtime = {str(p) for p in NSPAWN_RUNTIME.rglob("*")} if NSPAWN_RUNTIME.exists() else set()
    return mounts | runtime


@pytest.fixture(scope="session")
def container() -> Iterator[Container]:
    if os.geteuid() != 0:
        pytest.fail("the systemd tests boot a container and must run as root")
    root = ensure_rootfs()
    before = _host_state()
    with tempfile.TemporaryDirectory(prefix="shop-watchdog-wheels-") as tmp:
        wheels = build_wheelhouse(REPO, python_version(root), Path(tmp))
        with Container(root, f"shop-wd-test-{os.getpid()}", {str(REPO): "/src", str(wheels): "/wheels"}) as box:
            yield box
    left_behind = sorted(_host_state() - before)
    assert not left_behind, f"the container left mounts or runtime files behind on the host: {left_behind}"


@pytest.fixture(scope="session")
def installed(container: Container) -> Container:
    """The container after the documented install path, service enabled but not started.

    The admin's config is in place before the install (as config management would put it),
    so the installer must keep it and derive the polkit rule from it.
    """
    container.write_file(CONFIG, daemon_config(), 0o644)
    container.run("/src/scripts/install", "--wheels", "/wheels", "--no-start", timeout=300)
    return container


@pytest.fixture
def service(installed: Container) -> Iterator[Service]:
    """shop-watchdog.service in the container; config and drop-ins restored afterwards."""
    svc = Service(installed)
    svc.save()
    yield svc
    svc.restore()


@pytest.fixture(scope="session")
def other_unit(installed: Container) -> Iterator[str]:
    """A running service the daemon's config does not name."""
    name = "other.service"
    installed.write_file(f"/etc/systemd/system/{name}", "[Service]\nExecStart=/bin/sleep infinity\n")
    installed.systemctl("daemon-reload")
    installed.systemctl("start", name)
    yield name
    installed.systemctl("stop", name)
    installed.run("rm", f"/etc/systemd/system/{name}")
    installed.systemctl("daemon-reload")
