"""Size- and inode-limited tmpfs mounts: a disk that really fills up, then disappears.

Needs root (the tests run as root here). The mount is removed in teardown even when the
test failed or left files open (lazy unmount as a last resort).
"""

from __future__ import annotations

import errno
import os
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


@contextmanager
def tmpfs_mount(size: str = "8m", *, nr_inodes: int | None = None) -> Iterator[Path]:
    """A fresh tmpfs of `size` (mount syntax: "8m") and at most `nr_inodes` inodes."""
    mountpoint = Path(tempfile.mkdtemp(prefix="watchdog-tmpfs-"))
    options = f"size={size}" + (f",nr_inodes={nr_inodes}" if nr_inodes is not None else "")
    try:
        subprocess.run(
            ["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(mountpoint)],
            check=True,
            capture_output=True,
            timeout=10,
        )
        try:
            yield mountpoint
        finally:
            if subprocess.run(["umount", str(mountpoint)], capture_output=True, timeout=10).returncode != 0:
                subprocess.run(["umount", "-l", str(mountpoint)], check=True, capture_output=True, timeout=10)
    finally:
        mountpoint.rmdir()


def fill_to(mountpoint: Path, used_ratio: float, name: str = "filler") -> None:
    """Write one file so that the file system is about `used_ratio` (0..1) full, as df counts it.

    `used_ratio=1.0` fills it completely (the write stops at ENOSPC).
    """
    st = os.statvfs(mountpoint)
    used = (st.f_blocks - st.f_bfree) * st.f_frsize
    target = int(st.f_blocks * st.f_frsize * used_ratio)
    try:
        with open(mountpoint / name, "ab") as fh:
            fh.write(b"\0" * max(0, target - used))
    except OSError as exc:
        if exc.errno != errno.ENOSPC:
            raise


def exhaust_inodes(mountpoint: Path) -> int:
    """Create empty files until the file system has no inode left; how many were made."""
    directory = mountpoint / "inodes"
    directory.mkdir(exist_ok=True)
    count = 0
    while True:
        try:
            (directory / str(count)).touch()
        except OSError:
            return count
        count += 1


def remount(mountpoint: Path, mode: str) -> None:
    """Remounts read-only (`ro`, refused while a file on it is open for writing) or `rw`."""
    subprocess.run(["mount", "-o", f"remount,{mode}", str(mountpoint)], check=True, capture_output=True, timeout=10)
