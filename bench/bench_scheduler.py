"""Scheduler under load: 1,000 HTTP checks on a 10 s interval, 100 of them hanging.

900 checks probe a private nginx, 100 a server that accepts and never answers (2 s timeout),
all in one real `shop-watchdog run` daemon (with the real incident engine). Measured over
the window after a warm-up: start delay vs due time (p50/p99 from the daemon's own
`shop_watchdog_scheduler_lag_seconds` histogram), daemon CPU (% of one core) and RSS.
Baseline, measured in the same run: the same daemon with no checks at all.

Targets: start delay p99 < 1 s, CPU < 25 % of one core, RSS < 80 MB.

    .venv/bin/python bench/bench_scheduler.py [--seconds 60] [--quick]
"""

from __future__ import annotations

import argparse
import re
import tempfile
import time
from pathlib import Path
from typing import Any

from measure import Sampler, Usage, histogram, quantile, ratio, subtract

from tests.servers.hanging import HangingTCPServer
from tests.servers.nginx import NginxServer
from tests.servers.watchdog_daemon import WatchdogDaemon

LAG = "shop_watchdog_scheduler_lag_seconds"


def counter_sum(text: str, name: str) -> float:
    return sum(float(m.group(1)) for m in re.finditer(rf"^{name}(?:{{[^}}]*}})? (\S+)$", text, re.M))


def measure(directory: Path, config: dict[str, Any], warmup: float, seconds: float) -> tuple[Usage, dict[str, float]]:
    with WatchdogDaemon(directory, config) as daemon:
        time.sleep(warmup)
        before = daemon.get("/metrics")[1].decode()
        assert daemon.proc is not None
        with Sampler(daemon.proc.pid) as sampler:
            time.sleep(seconds)
        after = daemon.get("/metrics")[1].decode()
    lag = subtract(histogram(after, LAG), histogram(before, LAG))
    runs = counter_sum(after, "shop_watchdog_check_runs_total") - counter_sum(before, "shop_watchdog_check_runs_total")
    skipped = counter_sum(after, "shop_watchdog_check_skipped_runs_total") - counter_sum(
        before, "shop_watchdog_check_skipped_runs_total"
    )
    figures = {
        "starts": lag[-1][1] if lag else 0.0,
        "lag_p50": quantile(0.50, lag),
        "lag_p99": quantile(0.99, lag),
        "runs": runs,
        "skipped": skipped,
    }
    return sampler.usage, figures


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=60.0, help="measuring window (default 60)")
    parser.add_argument("--checks", type=int, default=1000)
    parser.add_argument("--hanging", type=int, default=100)
    parser.add_argument(
        "--type",
        choices=("http", "tcp"),
        default="http",
        help="probe type (tcp: the same load with a cheap probe, to separate the daemon's own cost)",
    )
    parser.add_argument("--quick", action="store_true", help="20 s window, for a smoke run")
    args = parser.parse_args()
    seconds = 20.0 if args.quick else args.seconds
    interval = 10.0
    with tempfile.TemporaryDirectory(prefix="bench-scheduler-") as tmp, HangingTCPServer(backlog=4096) as hang:
        root = Path(tmp)
        with NginxServer(root / "nginx") as nginx:
            common = {"log_level": "warning", "defaults": {"interval": f"{interval:g}s", "timeout": "2s"}}
            print(f"baseline: idle daemon without checks, {seconds / 3:.0f} s ...", flush=True)
            base, _ = measure(root / "idle", common | {"checks": []}, 2.0, seconds / 3)

            def target(url: str, port: int) -> dict[str, Any]:
                if args.type == "http":
                    return {"type": "http", "url": url}
                return {
                    "type": "tcp",
                    "host": "127.0.0.1",
                    "port": port,
                    "send": "GET /healthz HTTP/1.0\r\n\r\n",
                    "expect": "ok",
                }

            checks = [
                {"name": f"web{i}"} | target(nginx.healthz_url, nginx.port) for i in range(args.checks - args.hanging)
            ]
            checks += [{"name": f"hung{i}"} | target(hang.url, hang.port) for i in range(args.hanging)]
            print(
                f"load: {args.checks} {args.type} checks every {interval:g}s ({args.hanging} hanging, 2 s timeout), "
                f"warm-up {interval + 2:g} s, window {seconds:g} s ...",
                flush=True,
            )
            load, figures = measure(root / "load", common | {"checks": checks}, interval + 2.0, seconds)
    expected = args.checks * seconds / interval
    print()
    print(
        f"check starts in window     {figures['starts']:.0f} "
        f"(expected ~{expected:.0f}: {ratio(figures['starts'], expected)})"
    )
    print(f"finished runs in window    {figures['runs']:.0f}, skipped (still in flight) {figures['skipped']:.0f}")
    print(f"start delay p50            {figures['lag_p50'] * 1000:.1f} ms")
    print(
        f"start delay p99            {figures['lag_p99'] * 1000:.1f} ms   target < 1000 ms: "
        f"{ratio(figures['lag_p99'], 1.0)} of target"
    )
    print(
        f"daemon CPU                 {load.cpu_percent:.1f} % of one core   target < 25 %: "
        f"{ratio(load.cpu_percent, 25.0)} of target; {ratio(load.cpu_percent, base.cpu_percent)} the idle daemon "
        f"({base.cpu_percent:.2f} %)"
    )
    print(
        f"daemon RSS max / mean      {load.rss_max_mb:.1f} / {load.rss_mean_mb:.1f} MB   target < 80 MB: "
        f"{ratio(load.rss_max_mb, 80.0)} of target; {ratio(load.rss_max_mb, base.rss_max_mb)} the idle daemon "
        f"({base.rss_max_mb:.1f} MB)"
    )
    ok = figures["lag_p99"] < 1.0 and load.cpu_percent < 25.0 and load.rss_max_mb < 80.0
    print("RESULT", "all targets met" if ok else "TARGET MISSED")
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
