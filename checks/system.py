"""`system`: load per CPU core, memory and swap in use, from psutil.

Load is the 5-minute average divided by the number of cores (1.0 = every core busy; the
1-minute figure swings too much to page on). Memory "used" is what is not available to
new programs (`total - available`, as `free` shows), so page cache does not count. A
machine without swap skips the swap levels. Any level may be null to switch it off.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import psutil

from checks.base import Check, CheckResult, Status, worst
from checks.thresholds import level, limit_text, require_ordered
from watchdog.common.configtools import Percent


@dataclass(frozen=True)
class SystemOptions:
    load_warn: float | None = 2.0
    load_crit: float | None = 4.0
    memory_warn: Percent | None = 90.0
    memory_crit: Percent | None = 95.0
    swap_warn: Percent | None = 80.0
    swap_crit: Percent | None = None

    def __post_init__(self) -> None:
        require_ordered(self.load_warn, self.load_crit, "load")
        require_ordered(self.memory_warn, self.memory_crit, "memory")
        require_ordered(self.swap_warn, self.swap_crit, "swap")
        if any(v is not None and v < 0 for v in (self.load_warn, self.load_crit)):
            raise ValueError("load levels must not be negative")


class SystemCheck(Check[SystemOptions]):
    Config = SystemOptions

    def run(self, timeout: float) -> CheckResult:
        cfg = self.config
        cores = os.cpu_count() or 1
        load = os.getloadavg()[1] / cores
        memory = psutil.virtual_memory()
        mem_pct = 100.0 * (memory.total - memory.available) / memory.total
        swap = psutil.swap_memory()
        findings = [
            _finding(f"load {load:.2f}/core", load, cfg.load_warn, cfg.load_crit, ""),
            _finding(f"memory {mem_pct:.0f}% used", mem_pct, cfg.memory_warn, cfg.memory_crit, "%"),
        ]
        measurements = {
            "load_per_core": load,
            "memory_used_ratio": mem_pct / 100,
            "memory_available_bytes": float(memory.available),
        }
        if swap.total:
            swap_pct = 100.0 * swap.used / swap.total
            measurements["swap_used_ratio"] = swap_pct / 100
            findings.append(_finding(f"swap {swap_pct:.0f}% used", swap_pct, cfg.swap_warn, cfg.swap_crit, "%"))
        status = worst([s for s, _ in findings])
        shown = [t for s, t in findings if s is not Status.OK] or [t for _, t in findings]
        return CheckResult(status, ", ".join(shown), measurements)


def _finding(text: str, value: float, warn: float | None, crit: float | None, unit: str) -> tuple[Status, str]:
    status = level(value, warn, crit)
    crossed = limit_text(status, warn, crit, unit)
    return status, f"{text} ({crossed})" if crossed else text
