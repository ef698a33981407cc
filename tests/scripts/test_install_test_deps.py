"""`make test` installs servers the tests run privately; the machine must not keep them as
system services (scripts/install-test-deps disables them, `make test` runs it first)."""

from __future__ import annotations

import glob
import os
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "scripts" / "install-test-deps"

TEST_ONLY = {
    # package: (executable, the option a private instance always names its own config with)
    "nginx": ("/usr/sbin/nginx", "-c"),
    "prometheus-alertmanager": ("/usr/bin/prometheus-alertmanager", "--config.file"),
    "prometheus": ("/usr/bin/prometheus", "--config.file"),
    "monit": ("/usr/bin/monit", "-c"),
}


def _installed(package: str) -> bool:
    found = subprocess.run(["dpkg-query", "-W", "-f=${Status}", package], capture_output=True, text=True)
    return "install ok installed" in found.stdout


def _system_instances(executable: str, own_config: str) -> list[str]:
    """Running processes of `executable` started without a config of their own: the package's
    system service, not a test's private server."""
    found = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            exe = os.readlink(proc / "exe")
            argv = (proc / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        args = [a.decode(errors="replace") for a in argv if a]
        if exe == executable and not any(a == own_config or a.startswith(own_config + "=") for a in args):
            found.append(f"pid {proc.name}: {' '.join(args)}")
    return found


def test_install_script_names_every_test_only_server() -> None:
    text = SCRIPT.read_text()
    assert "test_only_services=(" + " ".join(TEST_ONLY) + ")" in text


@pytest.mark.parametrize("package", sorted(TEST_ONLY))
def test_test_servers_are_not_left_enabled_or_running_as_system_services(package: str) -> None:
    assert _installed(package), f"{package} is not installed: run `make deps`"
    enabled = subprocess.run(["systemctl", "is-enabled", package], capture_output=True, text=True)
    assert enabled.stdout.strip() != "enabled", f"{package} is enabled as a system service"
    start_links = glob.glob(f"/etc/rc[2-5].d/S[0-9][0-9]{package}")
    assert not start_links, f"{package} starts at boot: {start_links}"
    executable, own_config = TEST_ONLY[package]
    assert not _system_instances(executable, own_config), f"{package} runs as a system service"
