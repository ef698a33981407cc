"""Wheels for an offline install inside the container, whose private network has no PyPI.

The dependencies' wheels are downloaded once into the cache (named by the dependency list,
so a changed pyproject.toml downloads afresh); the project's own wheel is built from the
working tree for every session, from a copy so the build leaves nothing in the checkout.
Host and container both run CPython 3.11 on Debian 12, so the host's choice of binary
wheels fits the container.
"""

from __future__ import annotations

import fcntl
import hashlib
import shutil
import subprocess
import sys
import tempfile
import tomllib
from pathlib import Path

from tests.systemd.rootfs import CACHE_DIR

PROJECT_FILES = ("pyproject.toml", "README.md", "watchdog", "checks", "deploy_guard")


def dependencies(repo: Path) -> list[str]:
    with open(repo / "pyproject.toml", "rb") as fh:
        return sorted(tomllib.load(fh)["project"]["dependencies"])


def _pip(*args: str) -> None:
    subprocess.run(
        [sys.executable, "-m", "pip", "--disable-pip-version-check", "-q", *args],
        check=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        timeout=600,
    )


def dependency_wheels(repo: Path, cache_dir: Path = CACHE_DIR) -> Path:
    """The cached directory of wheels for the project's dependencies, downloading when missing."""
    deps = dependencies(repo)
    digest = hashlib.sha256("\n".join(deps).encode()).hexdigest()[:12]
    target = cache_dir / f"wheels-py{sys.version_info[0]}{sys.version_info[1]}-{digest}"
    if target.is_dir():
        return target
    cache_dir.mkdir(parents=True, exist_ok=True)
    with open(cache_dir / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not target.is_dir():
            with tempfile.TemporaryDirectory(prefix=".wheels-", dir=cache_dir) as tmp:
                _pip("download", "--only-binary=:all:", "-d", tmp, *deps)
                Path(tmp).rename(target)
                Path(tmp).mkdir()  # for TemporaryDirectory's cleanup
    return target


def build_wheelhouse(repo: Path, out: Path) -> Path:
    """`out` filled with the dependency wheels plus a fresh wheel of the working tree."""
    out.mkdir(parents=True, exist_ok=True)
    for wheel in dependency_wheels(repo).iterdir():
        shutil.copy2(wheel, out / wheel.name)
    with tempfile.TemporaryDirectory(prefix="shop-watchdog-src-") as src:
        for name in PROJECT_FILES:
            source = repo / name
            if source.is_dir():
                shutil.copytree(source, Path(src) / name, ignore=shutil.ignore_patterns("__pycache__"))
            else:
                shutil.copy2(source, Path(src) / name)
        _pip("wheel", "--no-deps", "-w", str(out), src)
    return out
