"""`disk`: space and inodes used on the file system holding `path`, as df counts them.

Used space is `used / (used + available to unprivileged users)`, so the root reserve
counts as used, as in `df`: a disk "100% full" for the shop's processes is full.
File systems that report no inode table (f_files == 0, e.g. btrfs) skip the inode levels.

A dead network mount blocks statvfs() in the kernel; nothing here adds a wait of its own,
the runner's per-check thread and timeout report it as CRITICAL "timeout".
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from checks.base import Check, CheckResult, Status, worst
from checks.thresholds import human_bytes, level, limit_text, require_ordered
from watchdog.common.configtools import Percent


@dataclass(frozen=True)
class DiskOptions:
    path: str
    warn: Percent | None = 80.0
    crit: Percent | None = 90.0
    inodes_warn: Percent | None = 80.0
    inodes_crit: Percent | None = 90.0

    def __post_init__(self) -> None:
        if not os.path.isabs(self.path):
            raise ValueError(f"path: expected an absolute path, got {self.path!r}")
        require_ordered(self.warn, self.crit, "space")
        require_ordered(self.inodes_warn, self.inodes_crit, "inodes")


class DiskCheck(Check[DiskOptions]):
    Config = DiskOptions

    def run(self, timeout: float) -> CheckResult:
        cfg = self.config
        try:
            st = os.statvfs(cfg.path)
        except FileNotFoundError:
            return CheckResult(Status.CRITICAL, f"{cfg.path}: no such file or directory")
        used = (st.f_blocks - st.f_bfree) * st.f_frsize
        avail = st.f_bavail * st.f_frsize
        usable = used + avail
        space_pct = 100.0 * used / usable if usable else 0.0
        measurements = {
            "used_bytes": float(used),
            "available_bytes": float(avail),
            "size_bytes": float(st.f_blocks * st.f_frsize),
            "used_ratio": space_pct / 100,
        }
        space = level(space_pct, cfg.warn, cfg.crit)
        parts = [
            f"{cfg.path}: {space_pct:.1f}% used ({human_bytes(avail)} free)"
            + (f", {limit_text(space, cfg.warn, cfg.crit)}" if space is not Status.OK else "")
        ]
        inodes = Status.OK
        if st.f_files:
            inodes_pct = 100.0 * (st.f_files - st.f_ffree) / st.f_files
            measurements["inodes_used_ratio"] = inodes_pct / 100
            measurements["inodes_free"] = float(st.f_favail)
            inodes = level(inodes_pct, cfg.inodes_warn, cfg.inodes_crit)
            if inodes is not Status.OK:
                parts.append(
                    f"inodes {inodes_pct:.1f}% used ({st.f_favail} free), "
                    f"{limit_text(inodes, cfg.inodes_warn, cfg.inodes_crit)}"
                )
        return CheckResult(worst([space, inodes]), "; ".join(parts), measurements)
