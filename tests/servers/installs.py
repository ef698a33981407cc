"""Fresh virtual environments holding one install shape of the project, for tests of what
each shape can do: the base install (the release gate alone, what a CI job installs) and
the base plus the daemon extra (no database driver).

Real installs, no import tricks: `pip install shop-watchdog[EXTRAS]` into an empty venv,
offline from the cached dependency wheels and a wheel of the working tree
(tests/systemd/wheelhouse.py). Built once per session and shared: ~2 s each, plus ~2 s for
the project wheel, once the first run on a machine has filled the wheel cache.
"""

from __future__ import annotations

import os
import platform
import subprocess
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.systemd.wheelhouse import dependency_wheels, project_wheel, requirements

REPO = Path(__file__).resolve().parents[2]


@dataclass(frozen=True)
class Install:
    """A venv at `root` with the project installed as `requirement`."""

    root: Path
    requirement: str

    def command(self, name: str) -> str:
        return str(self.root / "bin" / name)

    def run(self, name: str, *args: str, env: Mapping[str, str] | None = None) -> subprocess.CompletedProcess[str]:
        """Runs the venv's console script or interpreter `name` in a small environment plus
        `env`, from the venv's directory (not the checkout: nothing imports from the source
        tree); never raises on its exit code."""
        base = {"PATH": f"{self.root / 'bin'}:/usr/sbin:/usr/bin:/sbin:/bin", "LANG": "C.UTF-8", "HOME": str(self.root)}
        return subprocess.run(
            [self.command(name), *args],
            cwd=self.root,
            env={**base, **(env or {})},
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )

    def importable(self, module: str) -> bool:
        found = self.run(
            "python", "-c", f"import importlib.util, sys; sys.exit(not importlib.util.find_spec({module!r}))"
        )
        return found.returncode == 0


@dataclass(frozen=True)
class Wheels:
    """Where pip finds everything offline: the dependencies' wheels and the project's own."""

    dependencies: Path
    project: Path


def install(root: Path, wheels: Wheels, requirement: str) -> Install:
    """A new venv at `root` with `requirement` installed offline (no .pyc compiling: seconds saved)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTHON")}  # nothing from the checkout
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(root)], check=True, timeout=60)
    subprocess.run(
        [
            sys.executable, "-m", "pip", "--python", str(root / "bin" / "python"), "--disable-pip-version-check",
            "-q", "install", "--no-compile", "--no-index", "--find-links", str(wheels.dependencies),
            "--find-links", str(wheels.project.parent), requirement,
        ],
        cwd=root, env=env, check=True, capture_output=True, timeout=300,
    )  # fmt: skip
    return Install(root, requirement)


@pytest.fixture(scope="session")
def project_wheels(tmp_path_factory: pytest.TempPathFactory) -> Wheels:
    deps = dependency_wheels(requirements(REPO, ["daemon"]), platform.python_version())
    return Wheels(deps, project_wheel(REPO, tmp_path_factory.mktemp("project-wheel")))


@pytest.fixture(scope="session")
def base_install(project_wheels: Wheels, tmp_path_factory: pytest.TempPathFactory) -> Install:
    """`pip install shop-watchdog`: no extra."""
    return install(tmp_path_factory.mktemp("base-install") / "venv", project_wheels, "shop-watchdog")


@pytest.fixture(scope="session")
def daemon_install(project_wheels: Wheels, tmp_path_factory: pytest.TempPathFactory) -> Install:
    """`pip install shop-watchdog[daemon]`: the daemon without any database driver."""
    return install(tmp_path_factory.mktemp("daemon-install") / "venv", project_wheels, "shop-watchdog[daemon]")
