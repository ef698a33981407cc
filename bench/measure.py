"""Shared measuring tools of the benchmarks: CPU and memory of a process over a window,
and quantiles from a Prometheus histogram. Benchmarks reuse the test suite's real-server
helpers (tests/servers/), so the repository root goes on sys.path."""

from __future__ import annotations

import math
import re
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import psutil

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))


@dataclass(frozen=True)
class Usage:
    cpu_percent: float
    """CPU time used / wall time, in percent of one core."""
    rss_max_mb: float
    rss_mean_mb: float
    seconds: float


class Sampler:
    """Samples one process's RSS every `period` seconds in a thread; CPU from cpu_times deltas."""

    def __init__(self, pid: int, period: float = 1.0) -> None:
        self._proc = psutil.Process(pid)
        self._period = period
        self._rss: list[int] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)
        self._cpu0 = 0.0
        self._t0 = 0.0

    def _cpu(self) -> float:
        times = self._proc.cpu_times()
        return float(times.user + times.system)

    def _loop(self) -> None:
        while not self._stop.is_set():
            self._rss.append(self._proc.memory_info().rss)
            self._stop.wait(self._period)

    def __enter__(self) -> Sampler:
        self._cpu0 = self._cpu()
        self._t0 = time.monotonic()
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self.usage = Usage(
            cpu_percent=100.0 * (self._cpu() - self._cpu0) / (time.monotonic() - self._t0),
            rss_max_mb=max(self._rss) / 2**20,
            rss_mean_mb=sum(self._rss) / len(self._rss) / 2**20,
            seconds=time.monotonic() - self._t0,
        )


def histogram(text: str, name: str) -> list[tuple[float, float]]:
    """Cumulative (upper bound, count) buckets of an unlabelled histogram in Prometheus text."""
    buckets = []
    for match in re.finditer(rf'^{name}_bucket{{le="([^"]+)"}} (\S+)$', text, re.M):
        buckets.append((math.inf if match.group(1) == "+Inf" else float(match.group(1)), float(match.group(2))))
    return sorted(buckets)


def subtract(after: list[tuple[float, float]], before: list[tuple[float, float]]) -> list[tuple[float, float]]:
    """The buckets of what happened between two scrapes."""
    counts = dict(before)
    return [(le, count - counts.get(le, 0.0)) for le, count in after]


def quantile(q: float, buckets: list[tuple[float, float]]) -> float:
    """Like PromQL histogram_quantile: linear interpolation inside the bucket holding rank q."""
    total = buckets[-1][1] if buckets else 0.0
    if total == 0:
        return math.nan
    rank = q * total
    lower, below = 0.0, 0.0
    for upper, count in buckets:
        if count >= rank:
            if math.isinf(upper):
                return lower
            return lower + (upper - lower) * (rank - below) / max(count - below, 1e-12)
        lower, below = upper, count
    return lower


def percentile(values: list[float], q: float) -> float:
    """The value at rank q (0..1) of the sorted values, nearest rank."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))]


def ratio(value: float, baseline: float) -> str:
    return f"{value / baseline:.2f}x" if baseline > 0 else "n/a"
