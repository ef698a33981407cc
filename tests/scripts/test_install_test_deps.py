"""`make test` installs servers the tests run privately; the machine must not keep them as
system services (scripts/install-test-deps disables the ones it installed and records them in
RECORD; `make test` runs it first). A server the machine had before is not the script's."""

from __future__ import annotations

import glob
import os
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "scripts" / "install-test-deps"
RECORD = Path("/var/lib/shop-watchdog-test-deps/services")

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
    system service, not a test's private server. Processes of other PID namespaces (a
    systemd-nspawn container of the systemd tests has its own nginx service) are not this
    machine's services, and a server's workers are judged by their master."""
    own_namespace = os.readlink("/proc/self/ns/pid")
    found = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            exe = os.readlink(proc / "exe")
            if exe != executable or os.readlink(proc / "ns" / "pid") != own_namespace:
                continue
            parent = (proc / "stat").read_text().rsplit(")", 1)[1].split()[1]
            if _exe(parent) == executable:
                continue
            # nginx rewrites its argv into one string ("nginx: master process nginx -c ..."): split on spaces
            words = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace").split()
        except OSError:
            continue
        if not any(w == own_config or w.startswith(own_config + "=") for w in words):
            found.append(f"pid {proc.name}: {' '.join(words)}")
    return found


def _exe(pid: str) -> str | None:
    try:
        return os.readlink(f"/proc/{pid}/exe")
    except OSError:
        return None


def test_install_script_names_every_test_only_server() -> None:
    text = SCRIPT.read_text()
    assert "test_only_services=(" + " ".join(TEST_ONLY) + ")" in text


def _installed_by_the_script() -> list[str]:
    assert RECORD.exists(), f"{RECORD} is missing: run `make deps`"
    return [line for line in RECORD.read_text().split() if line]


def test_the_script_records_only_test_only_servers() -> None:
    assert set(_installed_by_the_script()) <= set(TEST_ONLY)


def _left_as_system_service(package: str) -> list[str]:
    """How `package` is still a system service: enabled, started at boot, or running."""
    problems = []
    if not _installed(package):
        problems.append(f"{package} is not installed: run `make deps`")
    enabled = subprocess.run(["systemctl", "is-enabled", package], capture_output=True, text=True)
    if enabled.stdout.strip() == "enabled":
        problems.append(f"{package} is enabled as a system service")
    start_links = glob.glob(f"/etc/rc[2-5].d/S[0-9][0-9]{package}")
    if start_links:
        problems.append(f"{package} starts at boot: {start_links}")
    executable, own_config = TEST_ONLY[package]
    problems += [f"{package} runs as a system service: {found}" for found in _system_instances(executable, own_config)]
    return problems


def test_test_servers_the_script_installed_are_not_left_enabled_or_running() -> None:
    """Only the script's own installs are judged: a server the machine had before is the
    admin's (the script leaves it alone), not a test server left behind."""
    problems = [problem for package in _installed_by_the_script() for problem in _left_as_system_service(package)]
    assert problems == []
