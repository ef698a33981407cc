"""The local API under heavy and hostile local load: this checkout against a baseline checkout.

Both daemons run the same config (a disk check every second, an incident from a closed
port) one after the other in the same run: this checkout's `.venv/bin/shop-watchdog` and the
baseline's (`--baseline DIR`, default /work/wt/base: a checkout of the old main with its own
`.venv`). For each:

1. **1 client**, then **200 concurrent clients**, each sending GET /api/v1/status on a new
   connection every time (the hardest case for accepting; the single client 10 x
   `--requests`, each of the 200 `--requests`): answers, connection resets and other
   failures, p50/p99 latency, requests per second.
2. **1,000 idle connections** (600 silent, 400 stopped half-way through a request line)
   held for `--hold` seconds: the daemon's tasks (threads plus children, as systemd counts
   them for TasksMax) at their peak against the unit's TasksMax, /healthz latency while
   they are held, and whether the disk check kept running.

Targets for this checkout: 0 connection resets, tasks under TasksMax, /healthz < 1 s.

    .venv/bin/python bench/bench_api_hostile.py [--baseline DIR] [--requests 25] [--hold 10] [--quick]
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import socket
import statistics
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from measure import ratio

from tests.servers.ports import free_port
from tests.servers.raw_http import close_all, open_idle, request_bytes
from tests.servers.watchdog_daemon import CLI, WatchdogDaemon, unit_tasks_max

CLIENTS = 200
CLIENT_PROCESSES = 4
IDLE_SILENT, IDLE_HALF = 600, 400


@dataclass(frozen=True)
class Load:
    answered: int
    resets: int
    failed: int
    p50: float
    p99: float
    per_second: float


@dataclass(frozen=True)
class Idle:
    tasks_before: int
    tasks_peak: int
    healthz_seconds: float
    healthz_status: int
    check_ran: bool


async def one_request(port: int, data: bytes) -> tuple[str, float]:
    started = time.monotonic()
    try:
        reader, writer = await asyncio.wait_for(asyncio.open_connection("127.0.0.1", port), 30)
        try:
            writer.write(data)
            answer = await asyncio.wait_for(reader.read(), 30)
        finally:
            writer.close()
    except ConnectionResetError:
        return "reset", time.monotonic() - started
    except (OSError, TimeoutError):
        return "failed", time.monotonic() - started
    ok = answer.startswith(b"HTTP/1.1 200 ") and answer.rstrip().endswith(b"}")
    return ("ok" if ok else "failed"), time.monotonic() - started


async def _clients(port: int, clients: int, requests: int) -> list[tuple[str, float]]:
    data = request_bytes("GET", "/api/v1/status")
    outcomes: list[tuple[str, float]] = []

    async def client() -> None:
        for _ in range(requests):
            outcomes.append(await one_request(port, data))

    await asyncio.gather(*(client() for _ in range(clients)))
    return outcomes


def _client_process(port: int, clients: int, requests: int) -> list[tuple[str, float]]:
    return asyncio.run(_clients(port, clients, requests))


def load(port: int, requests: int, clients: int = CLIENTS) -> Load:
    """`clients` clients spread over up to CLIENT_PROCESSES processes (one Python process
    cannot keep 200 clients busy: the client, not the server, would set the pace)."""
    processes = min(clients, CLIENT_PROCESSES)
    started = time.monotonic()
    with multiprocessing.get_context("fork").Pool(processes) as pool:
        shares = [(port, clients // processes, requests)] * processes
        outcomes = [outcome for part in pool.starmap(_client_process, shares) for outcome in part]
    elapsed = time.monotonic() - started
    latencies = sorted(seconds for outcome, seconds in outcomes if outcome == "ok")
    quantiles = statistics.quantiles(latencies, n=100) if len(latencies) > 1 else [float("nan")] * 99
    return Load(
        answered=len(latencies),
        resets=sum(1 for outcome, _ in outcomes if outcome == "reset"),
        failed=sum(1 for outcome, _ in outcomes if outcome == "failed"),
        p50=quantiles[49],
        p99=quantiles[98],
        per_second=len(latencies) / elapsed,
    )


def idle(daemon: WatchdogDaemon, hold: float) -> Idle:
    before = daemon.tasks()
    last_run = daemon.check("root")["last_run"]
    held: list[socket.socket] = []
    try:
        held += open_idle(daemon.port, IDLE_SILENT)
        held += open_idle(daemon.port, IDLE_HALF, send=b"GET /api/v1/status HTTP/1.1\r\n")
        peak = daemon.tasks()
        deadline = time.monotonic() + hold
        while time.monotonic() < deadline:
            peak = max(peak, daemon.tasks())
            time.sleep(0.25)
        started = time.monotonic()
        try:
            status = daemon.get("/healthz")[0]
        except OSError:
            status = 0
        healthz = time.monotonic() - started
        check_ran = daemon.check("root")["last_run"] != last_run
    finally:
        close_all(held)
    return Idle(before, peak, healthz, status, check_ran)


def config() -> dict[str, Any]:
    return {
        "log_level": "warning",
        "checks": [
            {"name": "root", "type": "disk", "path": "/", "warn": "99%", "crit": "100%", "interval": "1s"},
            {"name": "db", "type": "tcp", "host": "127.0.0.1", "port": free_port(), "retries": 1, "interval": "5s"},
        ],
    }


def measure(cli: str, directory: Path, requests: int, hold: float) -> tuple[Load, Load, Idle]:
    with WatchdogDaemon(directory, config(), cli=cli) as daemon:
        daemon.wait_for("root", lambda c: c["status"] == "OK")
        alone = load(daemon.port, 10 * requests, clients=1)
        result = load(daemon.port, requests)
        time.sleep(2)  # connections of the load phase closed on both sides
        return alone, result, idle(daemon, hold)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--baseline", default="/work/wt/base", help="checkout of the old main with its own .venv")
    parser.add_argument("--requests", type=int, default=25, help="requests per client (default 25)")
    parser.add_argument("--hold", type=float, default=10.0, help="seconds to hold the idle connections")
    parser.add_argument("--quick", action="store_true", help="5 requests per client, 3 s hold")
    args = parser.parse_args()
    requests, hold = (5, 3.0) if args.quick else (args.requests, args.hold)
    baseline_cli = Path(args.baseline) / ".venv" / "bin" / "shop-watchdog"
    runs = {"baseline": str(baseline_cli), "this checkout": CLI}
    if not baseline_cli.exists():
        print(f"no baseline: {baseline_cli} is missing")
        return 1
    results: dict[str, tuple[Load, Load, Idle]] = {}
    with tempfile.TemporaryDirectory(prefix="bench-api-") as tmp:
        for name, cli in runs.items():
            print(f"{name}: {cli}", flush=True)
            results[name] = measure(cli, Path(tmp) / name.replace(" ", "-"), requests, hold)
    limit = unit_tasks_max()
    total = CLIENTS * requests
    print(f"\n1 client x {10 * requests} GET /api/v1/status, then {CLIENTS} concurrent clients x {requests}, "
          "a new connection for each request:")  # fmt: skip
    print(f"{'':28} {'answered':>9} {'resets':>7} {'failed':>7} {'p50 ms':>8} {'p99 ms':>9} {'req/s':>7}")
    for name, (alone, loaded, _) in results.items():
        for label, run in (("1 client", alone), (f"{CLIENTS} clients", loaded)):
            print(
                f"{name + ', ' + label:28} {run.answered:>9} {run.resets:>7} {run.failed:>7} "
                f"{run.p50 * 1000:>8.1f} {run.p99 * 1000:>9.1f} {run.per_second:>7.0f}"
            )
    (base_alone, base, _), (new_alone, new, after) = results["baseline"], results["this checkout"]
    print(
        f"ratios (this / baseline): 1 client p50 {ratio(new_alone.p50, base_alone.p50)}; {CLIENTS} clients "
        f"p50 {ratio(new.p50, base.p50)}, p99 {ratio(new.p99, base.p99)}, "
        f"req/s {ratio(new.per_second, base.per_second)}"
    )
    print(f"\n{IDLE_SILENT + IDLE_HALF} idle connections held {hold:g} s (unit TasksMax={limit}):")
    print(f"{'':14} {'tasks before':>13} {'tasks peak':>11} {'healthz':>9} {'healthz s':>10} {'check ran':>10}")
    for name, (_, _, held) in results.items():
        print(
            f"{name:14} {held.tasks_before:>13} {held.tasks_peak:>11} {held.healthz_status:>9} "
            f"{held.healthz_seconds:>10.3f} {held.check_ran!s:>10}"
        )
    print(f"ratio of peak tasks (this / baseline): {ratio(after.tasks_peak, results['baseline'][2].tasks_peak)}")
    missed = []
    if new.resets or new.answered != total:
        missed.append(f"{new.resets} resets, {total - new.answered} of {total} unanswered")
    if not after.tasks_peak < limit:
        missed.append(f"{after.tasks_peak} tasks under idle connections, TasksMax {limit}")
    if after.healthz_status != 200 or after.healthz_seconds >= 1.0 or not after.check_ran:
        missed.append("/healthz or the check did not keep working under idle connections")
    print("targets:", "met" if not missed else "MISSED: " + "; ".join(missed))
    return 1 if missed else 0


if __name__ == "__main__":
    raise SystemExit(main())
