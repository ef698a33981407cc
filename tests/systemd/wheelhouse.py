"""Wheels for an offline install inside the container, whose private network has no PyPI.

The dependencies' wheels are downloaded once into the cache (named by the dependency list,
so a changed pyproject.toml downloads afresh); the project's own wheel is built from the
working tree for every session, from a copy so the build leaves nothing in the checkout.
Host and container both run CPython 3.11 on Debian 12, so the host's choice of binary
wheels fits the container; but pip evaluates environment markers for the host's Python
(3.11.7 here), and Debian's 3.11.2 needs more (redis wants async-timeout below 3.11.3). So
requirements whose markers hold for the container's Python are added as well.
"""

from __future__ import annotations

import fcntl
import hashlib
import re
import shutil
import subprocess
import sys
import tempfile
import tomllib
import zipfile
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

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


def python_version(root: Path) -> str:
    """The upstream version of the root's Debian python3.11 package, e.g. 3.11.2."""
    status = (root / "var/lib/dpkg/status").read_text()
    match = re.search(r"^Package: python3\.11\n(?:[^\n]+\n)*?Version: (\d+\.\d+\.\d+)", status, re.M)
    if not match:
        raise RuntimeError(f"no python3.11 package in {root}")
    return match.group(1)


def _missing_requirements(wheels: Path, python: str) -> list[str]:
    """Requirements of the wheels in `wheels` that hold for `python` but have no wheel there."""
    env = {"python_full_version": python, "python_version": ".".join(python.split(".")[:2]), "extra": ""}
    have = {canonicalize_name(w.name.split("-")[0]) for w in wheels.glob("*.whl")}
    missing = []
    for wheel in wheels.glob("*.whl"):
        with zipfile.ZipFile(wheel) as zf:
            meta = next(n for n in zf.namelist() if n.endswith(".dist-info/METADATA"))
            text = zf.read(meta).decode()
        for line in text.splitlines():
            if not line.startswith("Requires-Dist: "):
                continue
            req = Requirement(line.removeprefix("Requires-Dist: "))
            if canonicalize_name(req.name) in have or (req.marker and not req.marker.evaluate(env)):
                continue
            missing.append(str(req).split(";")[0].strip())
    return sorted(set(missing))


def dependency_wheels(repo: Path, python: str, cache_dir: Path = CACHE_DIR) -> Path:
    """The cached directory of wheels for the project's dependencies on `python` (x.y.z)."""
    deps = dependencies(repo)
    digest = hashlib.sha256("\n".join([python, *deps]).encode()).hexdigest()[:12]
    target = cache_dir / f"wheels-py{python}-{digest}"
    if target.is_dir():
        return target
    cache_dir.mkdir(parents=True, exist_ok=True)
    with open(cache_dir / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not target.is_dir():
            with tempfile.TemporaryDirectory(prefix=".wheels-", dir=cache_dir) as tmp:
                wanted = deps
                while wanted:
                    _pip("download", "--only-binary=:all:", "-d", tmp, *wanted)
                    wanted = _missing_requirements(Path(tmp), python)
                Path(tmp).rename(target)
                Path(tmp).mkdir()  # for TemporaryDirectory's cleanup
    return target


def build_wheelhouse(repo: Path, python: str, out: Path) -> Path:
    """`out` filled with the dependency wheels for `python` plus a fresh wheel of the working tree."""
    out.mkdir(parents=True, exist_ok=True)
    for wheel in dependency_wheels(repo, python).iterdir():
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
