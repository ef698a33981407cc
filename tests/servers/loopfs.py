"""A real ext4 file system on a loop device whose disk can be made to fail.

The disk image is a sparse file on a small tmpfs of its own (tests.servers.tmpfs), so its
blocks are allocated as ext4 writes them. Filling that tmpfs (`break_disk()`) makes the
loop device fail the next write of a block the image does not hold yet with a real I/O
error: ext4 hands EIO to the writer (SQLite sees SQLITE_IOERR_FSYNC), aborts its journal
and turns itself read-only, and every later write fails with EROFS, as on a disk that
died under a mounted file system. `trigger_error()` gets there without an I/O error:
ext4's own error path (mounted `errors=remount-ro`) turns it read-only at once, with files
open for writing (which `mount -o remount,ro` would refuse).

`repair()` does what an admin does: free the space, unmount (which needs every file on it
closed), check the file system, mount it again at the same place. Device mapper's `error`
target would be the textbook tool but is not available in this kernel; this needs only
tmpfs, loop and ext4.

Needs root. Everything is unmounted and removed in teardown, also after a failure (lazy
unmount as a last resort; `mount -o loop` detaches the loop device with the last unmount).
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from tests.servers.tmpfs import fill_to, tmpfs_mount

FILLER = "filler"


def _run(*argv: str, ok: tuple[int, ...] = (0,)) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(list(argv), capture_output=True, text=True, timeout=60, check=False)
    if done.returncode not in ok:
        raise RuntimeError(f"{' '.join(argv)} exited with {done.returncode}: {done.stderr.strip()}")
    return done


def unmount(mountpoint: Path) -> None:
    """Unmounts; a busy file system is detached lazily (gone once its last file closes)."""
    if _run("umount", str(mountpoint), ok=(0, 32)).returncode != 0:
        _run("umount", "-l", str(mountpoint))


class FailingDisk:
    def __init__(self, backing: Path, mountpoint: Path) -> None:
        self.backing = backing
        self.image = backing / "disk.img"
        self.mountpoint = mountpoint
        self.mounted = False

    def mount(self) -> None:
        _run("mount", "-o", "loop,errors=remount-ro", str(self.image), str(self.mountpoint))
        self.mounted = True

    def break_disk(self) -> None:
        """Fills the tmpfs under the image: the next new block ext4 writes fails with EIO."""
        fill_to(self.backing, 1.0, FILLER)

    def trigger_error(self) -> None:
        """ext4's error path: the file system turns read-only at once, files stay open."""
        device = Path(_run("findmnt", "-n", "-o", "SOURCE", str(self.mountpoint)).stdout.strip()).name
        Path(f"/sys/fs/ext4/{device}/trigger_fs_error").write_text("test: fault injected by the test suite\n")

    def read_only(self) -> bool:
        options = _run("findmnt", "-n", "-o", "OPTIONS", str(self.mountpoint)).stdout
        return "emergency_ro" in options or options.split(",")[0] == "ro"

    def repair(self) -> None:
        """Frees the space, unmounts (fails while a file is open), checks and mounts again."""
        with contextlib.suppress(FileNotFoundError):
            (self.backing / FILLER).unlink()
        _run("umount", str(self.mountpoint))
        self.mounted = False
        _run("e2fsck", "-fy", str(self.image), ok=(0, 1))
        self.mount()


@contextmanager
def failing_disk(size: str = "32m", backing: str = "24m") -> Iterator[FailingDisk]:
    """ext4 of `size` on a sparse image that lives on a tmpfs of `backing` (less than
    `size`, so filling the tmpfs starves the image of blocks)."""
    with tmpfs_mount(backing) as tmp:
        mountpoint = Path(tempfile.mkdtemp(prefix="watchdog-ext4-"))
        disk = FailingDisk(tmp, mountpoint)
        try:
            with open(disk.image, "wb") as fh:
                fh.truncate(_bytes(size))
            _run("mkfs.ext4", "-q", "-F", "-E", "nodiscard", str(disk.image))
            disk.mount()
            os.chmod(mountpoint, 0o755)
            yield disk
        finally:
            if disk.mounted:
                unmount(mountpoint)
            mountpoint.rmdir()


def _bytes(size: str) -> int:
    units = {"k": 1024, "m": 1024**2, "g": 1024**3}
    return int(size[:-1]) * units[size[-1].lower()] if size[-1].lower() in units else int(size)
