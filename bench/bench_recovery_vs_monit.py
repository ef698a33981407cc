"""Recovery time after a crash: shop-watchdog against Monit, side by side in the same run.

A private nginx is SIGKILLed (master and worker, like the OOM killer) N times under each
supervisor; the time from the kill until nginx serves /healthz again is measured from the
outside. Both supervisors watch the same thing the same way: the process named by nginx's
pid file, every 1 s, a failure confirmed by a second consecutive failure, repaired by
starting nginx (`nginx -p D/ -c D/nginx.conf`):

* shop-watchdog: `shop-watchdog run -c CFG` with a `process` check (interval 1s,
  retries 2, retry_interval 1s) and the `command` remediation backend;
* Monit (Debian `monit`): `monit -c D/monitrc -I` (mode 0600), `set daemon 1`,
  `check process nginx with pidfile ...`, `if does not exist for 2 cycles then start`.

nginx daemonizes, so its killed processes are orphans; this script makes itself their
child subreaper and reaps them at once (as systemd would), so neither supervisor sees a
zombie that PID 1 here would leave for ~1.5 s (TESTING.md, "slow reaping of orphans").
Between kills each supervisor gets 1.5-2.5 s of quiet (random, to spread the phase
against its timer; the same sequence of pauses for both) after nginx serves again.

What differs by design: Monit notices the crash at its next poll (0-1 s later) and confirms
it with one more check 1 s later. shop-watchdog holds a pidfd on the pid its `process` check
found, checks again the moment the process exits (watchdog/monitor/exitwatch.py), and takes
the failure that check finds as a fact: hard at once, restarted at once, no confirmation
(a probe can be a fluke, a process exit cannot; `confirm_exits: true` would opt out).

Targets: shop-watchdog's median < 0.2 s and p95 < 0.3 s, and its median at most 0.15x Monit's
(exit 1 when missed). Run from the repository root:

    .venv/bin/python bench/bench_recovery_vs_monit.py [--kills N]
"""

from __future__ import annotations

import argparse
import ctypes
import os
import random
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import requests
from measure import percentile

from tests.servers.nginx import NGINX, NginxServer, base_argv, pidfile_pid, stop_detached
from tests.servers.processes import is_dead
from tests.servers.watchdog_daemon import WatchdogDaemon

INTERVAL = 1
CONFIRMATIONS = 2
_PR_SET_CHILD_SUBREAPER = 36


class OrphanReaper:
    """Child subreaper for the killed nginx processes: reaps every zombie child except ours."""

    def __init__(self) -> None:
        libc = ctypes.CDLL(None, use_errno=True)
        if libc.prctl(_PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) != 0:
            raise OSError(ctypes.get_errno(), "prctl(PR_SET_CHILD_SUBREAPER) failed")
        self.protected: set[int] = set()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="orphan-reaper", daemon=True)
        self._thread.start()

    def _children(self) -> set[int]:
        pids: set[int] = set()
        for task in Path("/proc/self/task").iterdir():
            try:
                pids.update(int(p) for p in (task / "children").read_text().split())
            except OSError:
                continue
        return pids

    def _run(self) -> None:
        while not self._stop.wait(0.002):
            for pid in self._children() - self.protected:
                try:
                    state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
                    if state == "Z":
                        os.waitpid(pid, 0)
                except (OSError, IndexError):
                    continue

    def close(self) -> None:
        self._stop.set()
        self._thread.join(2)


def serving(url: str) -> bool:
    try:
        return requests.get(url, timeout=0.2).status_code == 200
    except requests.RequestException:
        return False


def wait_serving(url: str, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not serving(url):
        if time.monotonic() > deadline:
            raise SystemExit(f"nginx did not come back within {timeout}s")
        time.sleep(0.005)


def crash_and_time(nginx: NginxServer, rng: random.Random, settle: Callable[[], None]) -> float:
    """SIGKILLs nginx's whole process group; seconds until it serves /healthz again."""
    settle()
    time.sleep(1.5 + rng.random())
    pid = pidfile_pid(nginx.directory)
    if pid is None:
        raise SystemExit("nginx is not running before the kill")
    os.killpg(os.getpgid(pid), signal.SIGKILL)
    killed = time.monotonic()
    while not is_dead(pid):
        time.sleep(0.001)
    deadline = killed + 60
    while not serving(nginx.healthz_url):
        if time.monotonic() > deadline:
            raise SystemExit("nginx did not come back within 60 s")
        time.sleep(0.005)
    return time.monotonic() - killed


def start_argv(nginx: NginxServer) -> list[str]:
    """How both supervisors start nginx (absolute path: Monit runs programs with a bare PATH)."""
    binary = shutil.which(NGINX)
    if binary is None:
        raise SystemExit("nginx is not installed")
    return [binary, *base_argv(nginx.directory)[1:]]


def watchdog_config(nginx: NginxServer) -> dict[str, object]:
    return {
        "host": "bench-shop",
        "defaults": {"interval": f"{INTERVAL}s", "timeout": "1s", "retries": CONFIRMATIONS,
                     "retry_interval": f"{INTERVAL}s"},
        "checks": [
            {
                "name": "nginx",
                "type": "process",
                "pidfile": str(nginx.pid_path),
                "pattern": re.escape(str(nginx.conf_path)),
                "severity": "critical",
                "remediate": {"command": start_argv(nginx)},
            }
        ],
        "remediation": {"backend": "command", "verify_after": "1s", "max_restarts": 100, "restart_window": "1h"},
    }  # fmt: skip


@contextmanager
def shop_watchdog(root: Path, nginx: NginxServer, reaper: OrphanReaper) -> Iterator[Callable[[], None]]:
    daemon = WatchdogDaemon(root / "watchdog", watchdog_config(nginx)).start()
    assert daemon.proc is not None
    reaper.protected.add(daemon.proc.pid)

    def settle() -> None:
        wait_serving(nginx.healthz_url, 30)
        deadline = time.monotonic() + 30
        while daemon.status()["incidents"] and time.monotonic() < deadline:
            time.sleep(0.05)

    try:
        yield settle
    finally:
        daemon.stop()


@contextmanager
def monit(root: Path, nginx: NginxServer, reaper: OrphanReaper) -> Iterator[Callable[[], None]]:
    d = root / "monit"
    d.mkdir()
    rc = d / "monitrc"
    start = " ".join(start_argv(nginx))
    rc.write_text(
        f"set daemon {INTERVAL}\n"
        f"set logfile {d}/monit.log\nset idfile {d}/monit.id\n"
        f"set statefile {d}/monit.state\nset pidfile {d}/monit.pid\n"
        f"check process nginx with pidfile {nginx.pid_path}\n"
        f'    start program = "{start}" with timeout 10 seconds\n'
        f"    if does not exist for {CONFIRMATIONS} cycles then start\n"
    )
    rc.chmod(0o600)
    with open(d / "monit.out", "wb") as out:
        proc = subprocess.Popen(["monit", "-c", str(rc), "-I"], stdout=out, stderr=subprocess.STDOUT,
                                start_new_session=True)  # fmt: skip
    reaper.protected.add(proc.pid)
    try:
        yield lambda: wait_serving(nginx.healthz_url, 30)
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--kills", type=int, default=20)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--quick", action="store_true", help="5 kills each")
    args = parser.parse_args()
    if args.quick:
        args.kills = 5
    reaper = OrphanReaper()
    results: dict[str, list[float]] = {}
    try:
        with tempfile.TemporaryDirectory(prefix="bench-recovery-") as tmp:
            root = Path(tmp)
            for name, supervisor in (("shop-watchdog", shop_watchdog), ("monit", monit)):
                nginx = NginxServer(root / f"nginx-{name}")  # config only: the supervisor starts it
                try:
                    with supervisor(root, nginx, reaper) as settle:
                        wait_serving(nginx.healthz_url, 30)
                        rng = random.Random(args.seed)  # both supervisors get the same pauses
                        results[name] = [crash_and_time(nginx, rng, settle) for _ in range(args.kills)]
                finally:
                    stop_detached(nginx.directory, signal.SIGKILL)
    finally:
        reaper.close()
    print(f"recovery after kill -9 of nginx, {args.kills} kills each, check every {INTERVAL}s, "
          f"{CONFIRMATIONS} confirmations:")  # fmt: skip
    for name, times in results.items():
        print(
            f"  {name:<14} median {statistics.median(times):.3f} s   p95 {percentile(times, 0.95):.3f} s   "
            f"min {min(times):.3f} s   max {max(times):.3f} s"
        )
    ratio = statistics.median(results["shop-watchdog"]) / statistics.median(results["monit"])
    ratio95 = percentile(results["shop-watchdog"], 0.95) / percentile(results["monit"], 0.95)
    print(f"  shop-watchdog / monit: median {ratio:.2f}x, p95 {ratio95:.2f}x")
    ours = results["shop-watchdog"]
    met = statistics.median(ours) < 0.2 and percentile(ours, 0.95) < 0.3 and ratio <= 0.15
    print(f"  targets (median < 0.2 s, p95 < 0.3 s, median <= 0.15x Monit): {'met' if met else 'MISSED'}")
    return 0 if met else 1


if __name__ == "__main__":
    sys.exit(main())
