"""Wheels for offline installs: the systemd container's (its private network has no PyPI)
and the host's install tests (tests/servers/installs.py: a fresh venv in seconds).

The dependencies' wheels are downloaded once into the cache (named by the Python version and
the requirement list, so a changed pyproject.toml downloads afresh); the project's own wheel
is built from the working tree, from a copy so the build leaves nothing in the checkout, and
without an isolated build environment (the test venv's setuptools, no download per build).
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
from collections.abc import Iterable
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from tests.systemd.rootfs import CACHE_DIR

PROJECT_FILES = ("pyproject.toml", "README.md", "watchdog", "checks", "deploy_guard")


def requirements(repo: Path, extras: Iterable[str] = ()) -> list[str]:
    """The project's base dependencies plus those of `extras`, self-references
    (`shop-watchdog[daemon]` inside another extra) expanded."""
    with open(repo / "pyproject.toml", "rb") as fh:
        project = tomllib.load(fh)["project"]
    found = set(project["dependencies"])
    pending, seen = list(extras), set()
    while pending:
        extra = pending.pop()
        if extra in seen:
            continue
        seen.add(extra)
        for line in project["optional-dependencies"][extra]:
            req = Requirement(line)
            if canonicalize_name(req.name) == canonicalize_name(project["name"]):
                pending.extend(req.extras)
            else:
                found.add(line)
    return sorted(found)


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


def dependency_wheels(deps: list[str], python: str, cache_dir: Path = CACHE_DIR) -> Path:
    """The cached directory of wheels for requirements `deps` on `python` (x.y.z)."""
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


def project_wheel(repo: Path, out: Path) -> Path:
    """A fresh wheel of the working tree in `out` (its path)."""
    out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="shop-watchdog-src-") as src:
        for name in PROJECT_FILES:
            source = repo / name
            if source.is_dir():
                shutil.copytree(source, Path(src) / name, ignore=shutil.ignore_patterns("__pycache__"))
            else:
                shutil.copy2(source, Path(src) / name)
        _pip("wheel", "--no-deps", "--no-build-isolation", "-w", str(out), src)
    (wheel,) = out.glob("shop_watchdog-*.whl")
    return wheel


def build_wheelhouse(repo: Path, python: str, out: Path) -> Path:
    """`out` filled with the wheels of every extra's dependencies on `python` and a fresh project wheel."""
    out.mkdir(parents=True, exist_ok=True)
    for wheel in dependency_wheels(requirements(repo, ["all"]), python).iterdir():
        shutil.copy2(wheel, out / wheel.name)
    project_wheel(repo, out)
    return out
