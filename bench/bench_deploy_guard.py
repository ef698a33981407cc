"""deploy-guard start-up speed: `check` and `calendar --days 365`, against `python -c pass`.

Targets (cold start, median over repeated runs, measured in this same run as the baseline):
`check` under 0.35 s, `calendar --days 365` under 0.5 s. Runs are interleaved so that all
cases share the machine's load; each median is printed as wall and CPU time (user+system,
less sensitive to other work on the machine) with its ratio to the interpreter's bare start.
Exits 1 if a wall-time target is missed.

Run: .venv/bin/python bench/bench_deploy_guard.py [--runs N]
"""

from __future__ import annotations

import argparse
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
CLI = REPO / ".venv" / "bin" / "deploy-guard"

POLICY = """\
timezone: Europe/Warsaw
windows:
  - {{days: [mon, tue, wed, thu, fri, sat, sun], start: "00:00", end: "24:00"}}
holidays: {{country: PL, extra: {{2026-12-31: "company day off"}}, block_days_before: 1}}
freezes:
  - {{name: black-week, start: 2026-11-23, end: 2026-11-30, reason: "peak traffic"}}
incident_gate: {{status_urls: ["http://127.0.0.1:{port}/api/v1/status"], on_unreachable: allow}}
audit_log: {audit}
"""


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def run_once(argv: list[str], env: dict[str, str]) -> tuple[float, float]:
    """(wall seconds, CPU seconds user+system) of one run of argv."""
    started = time.perf_counter()
    child = subprocess.Popen(argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    _, _, usage = os.wait4(child.pid, 0)
    wall = time.perf_counter() - started
    child.returncode = 0  # reaped by wait4 above
    return wall, usage.ru_utime + usage.ru_stime


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=21)
    runs = parser.parse_args().runs
    with tempfile.TemporaryDirectory(prefix="bench-deploy-guard-") as tmp:
        policy = Path(tmp) / "policy.yaml"
        policy.write_text(POLICY.format(port=closed_port(), audit=Path(tmp) / "audit.jsonl"))
        env = {**os.environ, "DEPLOY_GUARD_CONFIG": str(policy)}
        cases = [
            ("python -c pass (baseline)", [sys.executable, "-c", "pass"], None),
            ("check, blocked by the calendar", [str(CLI), "check", "--at", "2026-12-24T10:00"], 0.35),
            ("check, allowed, incident gate asked", [str(CLI), "check", "--at", "2026-12-01T10:00"], 0.35),
            ("calendar --days 365", [str(CLI), "calendar", "--from", "2026-01-01", "--days", "365"], 0.5),
        ]
        for _, argv, _ in cases:  # warm the page cache and bytecode once
            run_once(argv, env)
        walls: list[list[float]] = [[] for _ in cases]
        cpus: list[list[float]] = [[] for _ in cases]
        for _ in range(runs):  # interleaved, so every case sees the same machine load
            for i, (_, argv, _) in enumerate(cases):
                wall, cpu = run_once(argv, env)
                walls[i].append(wall)
                cpus[i].append(cpu)
        base_wall, base_cpu = statistics.median(walls[0]), statistics.median(cpus[0])
        print(f"median of {runs} interleaved runs each; load average {os.getloadavg()[0]:.2f} on {os.cpu_count()} CPUs")
        print(f"  {cases[0][0]:38s} wall {base_wall:.3f} s   cpu {base_cpu:.3f} s")
        failed = False
        for (name, _, target), wall_runs, cpu_runs in zip(cases[1:], walls[1:], cpus[1:], strict=True):
            wall, cpu = statistics.median(wall_runs), statistics.median(cpu_runs)
            ok = target is not None and wall < target
            failed |= not ok
            print(
                f"  {name:38s} wall {wall:.3f} s = {wall / base_wall:4.1f}x   "
                f"cpu {cpu:.3f} s = {cpu / base_cpu:4.1f}x   "
                f"target wall < {target:.2f} s: {'ok' if ok else 'MISSED'}"
            )
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
