"""The cached Debian root the systemd tests boot: built once with debootstrap, never modified.

The root lives under /var/cache/shop-watchdog-tests/ in a directory named for what it
contains (suite and package list), so changing the package list builds a new one instead
of reusing a stale root. It is built into a temporary directory next to it and renamed
into place, under a file lock, so an interrupted or concurrent build never leaves a
half-built root that a later run would boot. Containers boot it with `--volatile=overlay`:
their writes go to a tmpfs and the cached root stays pristine.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

CACHE_DIR = Path(os.environ.get("SHOP_WATCHDOG_TEST_CACHE", "/var/cache/shop-watchdog-tests"))
SUITE = "bookworm"
MIRROR = "http://deb.debian.org/debian"
# libpam-systemd provides the `logind` polkitd depends on (debootstrap does not pick alternatives).
PACKAGES = ("systemd", "dbus", "libpam-systemd", "python3", "python3-venv", "nginx", "polkitd", "procps")
_BUILD_PREFIX = ".build-"


def rootfs_path(cache_dir: Path = CACHE_DIR) -> Path:
    digest = hashlib.sha256(f"{SUITE} minbase {' '.join(sorted(PACKAGES))}".encode()).hexdigest()[:12]
    return cache_dir / f"rootfs-{SUITE}-{digest}"


def _complete(root: Path) -> bool:
    return (root / "usr/lib/systemd/systemd").exists() and (root / "usr/bin/python3").exists()


def ensure_rootfs(cache_dir: Path = CACHE_DIR) -> Path:
    """The path of the cached root, building it first when missing (~90 s, needs a mirror)."""
    root = rootfs_path(cache_dir)
    if _complete(root):
        return root
    cache_dir.mkdir(parents=True, exist_ok=True)
    with open(cache_dir / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if _complete(root):
            return root
        for stale in cache_dir.glob(_BUILD_PREFIX + "*"):  # left by an interrupted build
            shutil.rmtree(stale)
        build = Path(tempfile.mkdtemp(prefix=_BUILD_PREFIX, dir=cache_dir))
        try:
            subprocess.run(
                [
                    "debootstrap",
                    "--variant=minbase",
                    "--include=" + ",".join(PACKAGES),
                    SUITE,
                    str(build / "root"),
                    MIRROR,
                ],
                check=True,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.PIPE,
                timeout=900,
            )
            if root.exists():
                shutil.rmtree(root)
            os.rename(build / "root", root)
        finally:
            shutil.rmtree(build, ignore_errors=True)
    return root
