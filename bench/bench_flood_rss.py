"""The daemon's peak RSS while a `command` plugin floods its output until its timeout.

The plugin writes FLOOD_MB of output, then keeps its pipe open until the daemon kills it at
the 5 s timeout (the worst case: a runaway plugin). The daemon of this checkout is measured
next to a baseline checkout's (default /work/wt/base, the old main with its own .venv),
with the same config, in the same run; the unit's MemoryMax (512M) is the limit that
matters. Figures: idle RSS, peak RSS and growth (MB) of each, and this / baseline ratios.

    .venv/bin/python bench/bench_flood_rss.py [--flood-mb 200] [--runs 2] [--baseline DIR]

Exit 1 when this checkout grows by more than TARGET_GROWTH_MB or peaks above MemoryMax.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from measure import ROOT, Sampler, ratio

from tests.servers.watchdog_daemon import WatchdogDaemon

MEMORY_MAX_MB = 512.0
TARGET_GROWTH_MB = 32.0
TIMEOUT_METRIC = 'shop_watchdog_check_timeouts_total{check="flood"}'


class CheckoutDaemon(WatchdogDaemon):
    """The daemon of another checkout: its own venv's console script, its own imports."""

    def __init__(self, checkout: Path, directory: Path, config: Mapping[str, Any]) -> None:
        self.checkout = checkout
        super().__init__(directory, config)

    def argv(self) -> list[str]:
        return [str(self.checkout / ".venv" / "bin" / "shop-watchdog"), "run", "-c", str(self.config_path)]

    def child_cwd(self) -> Path:
        return self.checkout

    def child_env(self) -> Mapping[str, str]:
        # run_all.py puts this checkout on PYTHONPATH; the baseline must import its own code
        return {k: v for k, v in super().child_env().items() if k != "PYTHONPATH"}


def flood_config(flood_mb: int) -> dict[str, Any]:
    plugin = f"head -c {flood_mb * 1_000_000} /dev/zero; exec sleep 60"
    return {
        "log_level": "warning",
        "checks": [
            {"name": "flood", "type": "command", "argv": ["sh", "-c", plugin], "interval": "8s", "timeout": "5s"}
        ],
    }


def measure(checkout: Path, directory: Path, flood_mb: int, runs: int) -> tuple[float, float]:
    """(idle RSS MB, peak RSS MB) of `checkout`'s daemon over `runs` flooding runs of the plugin."""
    with CheckoutDaemon(checkout, directory, {"log_level": "warning", "checks": []}) as daemon:
        assert daemon.proc is not None
        time.sleep(1.0)
        with Sampler(daemon.proc.pid, 0.5) as idle:
            time.sleep(2.0)
        daemon.write_config(flood_config(flood_mb))
        with Sampler(daemon.proc.pid, 0.02) as flooding:
            daemon.reload()
            deadline = time.monotonic() + 30 * runs
            while daemon.metric(TIMEOUT_METRIC) < runs:
                if time.monotonic() > deadline or not daemon.running:
                    raise SystemExit(f"{checkout}: the flooding plugin did not time out {runs}x: {daemon.log()}")
                time.sleep(0.2)
    return idle.usage.rss_max_mb, flooding.usage.rss_max_mb


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--flood-mb", type=int, default=200, help="output the plugin writes before hanging (MB)")
    parser.add_argument("--runs", type=int, default=2, help="flooding runs to measure (default 2)")
    parser.add_argument("--baseline", type=Path, default=Path("/work/wt/base"), help="checkout with its own .venv")
    parser.add_argument("--quick", action="store_true", help="one run of 100 MB")
    args = parser.parse_args()
    flood_mb, runs = (100, 1) if args.quick else (args.flood_mb, args.runs)
    checkouts = {"this checkout": ROOT}
    if (args.baseline / ".venv" / "bin" / "shop-watchdog").exists():
        checkouts["baseline"] = args.baseline.resolve()
    else:
        print(f"no baseline: {args.baseline}/.venv/bin/shop-watchdog does not exist (only this checkout measured)")
    figures: dict[str, tuple[float, float]] = {}
    with tempfile.TemporaryDirectory(prefix="bench-flood-") as tmp:
        for index, (label, checkout) in enumerate(checkouts.items()):
            print(f"measuring {label} ({checkout}): {runs} run(s) of a {flood_mb} MB flood ...", flush=True)
            figures[label] = measure(checkout, Path(tmp) / str(index), flood_mb, runs)
    print()
    print(f"{'':16}{'idle RSS MB':>13}{'peak RSS MB':>13}{'growth MB':>11}")
    for label, (idle, peak) in figures.items():
        print(f"{label:16}{idle:13.1f}{peak:13.1f}{peak - idle:11.1f}")
    idle, peak = figures["this checkout"]
    if "baseline" in figures:
        base_idle, base_peak = figures["baseline"]
        print(f"{'ratio':16}{'':13}{ratio(peak, base_peak):>13}{ratio(peak - idle, base_peak - base_idle):>11}")
    print(f"(MemoryMax of the unit: {MEMORY_MAX_MB:.0f} MB; target: growth under {TARGET_GROWTH_MB:.0f} MB)")
    missed = peak - idle > TARGET_GROWTH_MB or peak > MEMORY_MAX_MB
    if missed:
        print("TARGET MISSED")
    return 1 if missed else 0


if __name__ == "__main__":
    raise SystemExit(main())
