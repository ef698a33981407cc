"""Fleet at scale: as many daemons as this machine holds, under one Prometheus and an Alertmanager pair.

Each shop server is a real daemon (`shop-watchdog run`) with 20 checks against its own nginx
and the local disks (5 HTTP, 6 TCP, 5 disk, 2 process by pid file, 2 system), sending its
alerts to both nodes of a real Alertmanager cluster; a real Prometheus scrapes every daemon
every 15 s with the shipped rules (tests/servers/fleet.py builds it all). What is measured:

* footprint: each daemon's RSS and CPU over a steady window. Baseline, same run: one daemon
  with the same checks running alone before the fleet starts.
* failure -> Alertmanager's notification: the bench deletes the file a check fetches
  (`flag`, 1 s interval, confirmed after 2 failures) and times the webhook receiving
  Alertmanager's notification about it. Baseline, same run and same failure: the daemon's
  own direct page (a webhook channel on the same route); the difference is what the trip
  through the Alertmanager cluster (group_wait 100 ms here) adds.
* the release gate against the fleet: `deploy-guard check` asking both Alertmanager nodes and
  Prometheus, as CI runs it, and the fleet sources asked in-process. Baseline, same run: the
  single-server gate (one daemon's status URL) through the same CLI.

Run from the repository root: .venv/bin/python bench/bench_fleet.py [--daemons 50] [--quick]
Exits 1 when a daemon did not come up or a target is missed (notification p99 < 10 s, gate
p99 < 3 s: the gate's timeout).
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import psutil
from measure import ROOT, percentile

from deploy_guard.fleet_gate import check_fleet
from deploy_guard.incident_gate import http_get
from deploy_guard.policy import IncidentGateConfig
from tests.servers.fleet import Fleet, ShopServer
from tests.servers.nginx import NginxServer
from tests.servers.watchdog_daemon import WatchdogDaemon
from tests.servers.webhook import Request, WebhookServer

DEPLOY_GUARD = str(ROOT / ".venv" / "bin" / "deploy-guard")
FLAG = "flag.txt"
NOTIFY_TARGET = 10.0
GATE_TARGET = 3.0
DISKS = ("/", "/tmp", "/var", "/usr", "/etc")


def daemon_config(server: ShopServer, alertmanagers: Sequence[str], direct_url: str) -> dict[str, Any]:
    nginx = server.nginx
    nginx.write_file(FLAG, "up")
    checks: list[dict[str, Any]] = [
        {"name": "flag", "type": "http", "url": f"{nginx.url}/{FLAG}", "interval": "1s", "retry_interval": "250ms"},
        *({"name": f"web-{i}", "type": "http", "url": nginx.healthz_url} for i in range(4)),
        *({"name": f"tcp-{i}", "type": "tcp", "host": "127.0.0.1", "port": nginx.port} for i in range(6)),
        *(
            {"name": f"disk-{i}", "type": "disk", "path": path, "warn": "99.8%", "crit": "99.9%", "severity": "warning"}
            for i, path in enumerate(DISKS)
        ),
        *({"name": f"nginx-{i}", "type": "process", "pidfile": str(nginx.pid_path)} for i in range(2)),
        *(
            {"name": f"system-{i}", "type": "system", "load_warn": None, "load_crit": None, "severity": "warning"}
            for i in range(2)
        ),
    ]
    return {
        "host": server.host,
        "defaults": {"interval": "15s", "timeout": "2s", "retries": 2, "retry_interval": "1s"},
        "checks": checks,
        "notify": {
            "channels": [
                {"name": "am", "type": "alertmanager", "urls": list(alertmanagers), "timeout": "2s"},
                {"name": "direct", "type": "webhook", "url": direct_url},
            ],
            "routes": {"critical": {"channels": ["am", "direct"]}, "warning": {"channels": ["am"], "when": "always"}},
        },
    }


def spread(values: list[float], unit: str, scale: float) -> str:
    return (
        f"p50 {percentile(values, 0.5) * scale:.0f} {unit}  p99 {percentile(values, 0.99) * scale:.0f} {unit}  "
        f"max {max(values) * scale:.0f} {unit}  (n={len(values)})"
    )


def footprint(pids: Sequence[int], seconds: float) -> tuple[list[float], list[float]]:
    """(RSS in MiB at the end, CPU in % of one core over the window) of each process."""
    procs = [psutil.Process(pid) for pid in pids]
    before = [sum(p.cpu_times()[:2]) for p in procs]
    started = time.monotonic()
    time.sleep(seconds)
    elapsed = time.monotonic() - started
    cpu = [100.0 * (sum(p.cpu_times()[:2]) - b) / elapsed for p, b in zip(procs, before, strict=True)]
    rss = [p.memory_info().rss / 2**20 for p in procs]
    return rss, cpu


def baseline_daemon(root: Path, seconds: float, direct: WebhookServer) -> tuple[float, float]:
    """RSS (MiB) and CPU (%) of one daemon with the same 20 checks, alone."""
    nginx = NginxServer(root / "alone" / "nginx")
    daemon = WatchdogDaemon(root / "alone", {})
    server = ShopServer("shop-alone", nginx, daemon)
    daemon.write_config(daemon_config(server, ["http://127.0.0.1:9"], direct.url))
    with nginx, daemon:
        time.sleep(5)  # past start-up: every check ran once
        [rss], [cpu] = footprint([daemon.pid], seconds)
    return rss, cpu


def is_about(request: Request, host: str) -> bool:
    body: dict[str, Any] = request.body
    return body.get("status") == "firing" and any(
        a["labels"].get("host") == host and a["labels"].get("check") == "flag" for a in body.get("alerts", [])
    )


def direct_page_about(request: Request, host: str) -> bool:
    body: dict[str, Any] = request.body
    return isinstance(body, dict) and body.get("kind") == "trigger" and body.get("host") == host


def notification_trials(
    fleet: Fleet, direct: WebhookServer, rounds: int, batch: int
) -> tuple[list[float], list[float]]:
    """(failure -> Alertmanager notification, failure -> the daemon's direct page) in seconds."""
    via_am: list[float] = []
    via_daemon: list[float] = []
    servers = fleet.servers
    for r in range(rounds):
        chosen = [servers[(r * batch + i) % len(servers)] for i in range(batch)]
        broken: dict[str, float] = {}
        for server in chosen:
            (server.nginx.directory / "html" / FLAG).unlink()
            broken[server.host] = time.time()
        pending = set(broken)
        deadline = time.monotonic() + 60
        got_am: dict[str, float] = {}
        got_direct: dict[str, float] = {}
        while pending and time.monotonic() < deadline:
            for host in list(pending):
                am = [q.at for q in fleet.hook.requests if is_about(q, host) and q.at >= broken[host]]
                page = [q.at for q in direct.requests if direct_page_about(q, host) and q.at >= broken[host]]
                if am and page:
                    got_am[host], got_direct[host] = min(am), min(page)
                    pending.discard(host)
            time.sleep(0.02)
        if pending:
            raise SystemExit(f"no notification within 60 s for {sorted(pending)}")
        via_am += [got_am[h] - broken[h] for h in broken]
        via_daemon += [got_direct[h] - broken[h] for h in broken]
        for server in chosen:
            server.nginx.write_file(FLAG, "up")
        for server in chosen:
            wait_resolved(server.daemon)
    return via_am, via_daemon


def wait_resolved(daemon: WatchdogDaemon) -> None:
    daemon.wait_until(lambda: not daemon.incidents("flag"), "the flag incident to resolve", 60)


def gate_runs(policy: Path, runs: int) -> list[float]:
    times = []
    env = {"PATH": "/usr/bin:/bin", "DEPLOY_GUARD_CONFIG": str(policy)}
    for _ in range(runs):
        started = time.monotonic()
        result = subprocess.run([DEPLOY_GUARD, "check", "--json"], capture_output=True, text=True, env=env, timeout=30)
        times.append(time.monotonic() - started)
        if result.returncode not in (0, 1) or "incident_status_unreachable" in result.stdout:
            raise SystemExit(f"the gate could not answer: {result.stdout} {result.stderr}")
    return times


def write_policy(path: Path, audit: Path, gate: dict[str, Any]) -> Path:
    windows = [{"days": ["mon", "tue", "wed", "thu", "fri", "sat", "sun"], "start": "00:00", "end": "24:00"}]
    policy = {"windows": windows, "holidays": {"country": None}, "incident_gate": gate, "audit_log": str(audit)}
    path.write_text(json.dumps(policy))
    return path


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--daemons", type=int, default=50)
    parser.add_argument("--quick", action="store_true", help="10 daemons, shorter windows, fewer trials")
    args = parser.parse_args()
    count = 10 if args.quick else args.daemons
    window = 20.0 if args.quick else 60.0
    rounds, batch, gate_count = (3, 3, 10) if args.quick else (10, 5, 50)
    with tempfile.TemporaryDirectory(prefix="bench-fleet-") as tmp:
        root = Path(tmp)
        direct = WebhookServer().start()
        try:
            alone_rss, alone_cpu = baseline_daemon(root, window, direct)
            hosts = [f"shop-web-{i + 1}" for i in range(count)]
            started = time.monotonic()
            fleet = Fleet(root / "fleet", hosts, lambda s, am: daemon_config(s, am, direct.url), scrape_interval="15s")
            with fleet.start():
                up_after = time.monotonic() - started
                time.sleep(10)  # every check ran, Prometheus scraped everything at least once
                rss, cpu = footprint([s.daemon.pid for s in fleet.servers], window)
                helpers = {
                    "prometheus": fleet.prometheus.pid,
                    **{f"alertmanager-{i}": n.pid for i, n in enumerate(fleet.alertmanagers.nodes)},
                }
                helper_rss, helper_cpu = footprint(list(helpers.values()), 10.0)
                audit = root / "audit.jsonl"
                fleet_policy = write_policy(
                    root / "fleet-policy.json",
                    audit,
                    {
                        "alertmanager_urls": fleet.alertmanagers.urls,
                        "prometheus_url": fleet.prometheus.url,
                        "prometheus_query": 'ALERTS{alertstate="firing", severity="critical"}',
                    },
                )
                single_policy = write_policy(
                    root / "single-policy.json",
                    audit,
                    {"status_urls": [f"{fleet.servers[0].daemon.base_url}/api/v1/status"]},
                )
                gate_fleet = gate_runs(fleet_policy, gate_count)
                gate_single = gate_runs(single_policy, gate_count)
                config = IncidentGateConfig(
                    alertmanager_urls=tuple(fleet.alertmanagers.urls),
                    prometheus_url=fleet.prometheus.url,
                    prometheus_query='ALERTS{alertstate="firing", severity="critical"}',
                )
                in_process = []
                for _ in range(gate_count):
                    t0 = time.monotonic()
                    check_fleet(config, http_get)
                    in_process.append(time.monotonic() - t0)
                via_am, via_daemon = notification_trials(fleet, direct, rounds, batch)
        finally:
            direct.close()
    print(f"fleet of {count} daemons x 20 checks, up and scraped after {up_after:.1f} s")
    print(
        f"  per-daemon RSS: mean {statistics.mean(rss):.1f} MiB  max {max(rss):.1f} MiB   "
        f"alone {alone_rss:.1f} MiB -> ratio {statistics.mean(rss) / alone_rss:.2f}x"
    )
    print(
        f"  per-daemon CPU: mean {statistics.mean(cpu):.2f} %  max {max(cpu):.2f} % of a core   "
        f"alone {alone_cpu:.2f} % -> ratio {statistics.mean(cpu) / max(alone_cpu, 0.01):.2f}x   "
        f"all daemons {sum(cpu):.1f} % of a core"
    )
    for (name, _), r, c in zip(helpers.items(), helper_rss, helper_cpu, strict=True):
        print(f"  {name}: RSS {r:.1f} MiB  CPU {c:.2f} %")
    print(f"  failure -> Alertmanager notification: {spread(via_am, 'ms', 1000)}")
    print(f"  baseline, failure -> the daemon's direct page: {spread(via_daemon, 'ms', 1000)}")
    added = statistics.median(a - d for a, d in zip(via_am, via_daemon, strict=True))
    print(f"    -> the trip through Alertmanager adds {added * 1000:.0f} ms (median)")
    print(f"  gate, deploy-guard check against the fleet: {spread(gate_fleet, 'ms', 1000)}")
    print(f"  gate, fleet sources in-process: {spread(in_process, 'ms', 1000)}")
    print(
        f"  baseline, deploy-guard check against one status URL: {spread(gate_single, 'ms', 1000)}"
        f" -> fleet/single p50 ratio {percentile(gate_fleet, 0.5) / percentile(gate_single, 0.5):.2f}x"
    )
    missed = []
    if percentile(via_am, 0.99) >= NOTIFY_TARGET:
        missed.append(f"notification p99 >= {NOTIFY_TARGET} s")
    if percentile(gate_fleet, 0.99) >= GATE_TARGET:
        missed.append(f"gate p99 >= {GATE_TARGET} s")
    print("targets: " + ("missed: " + ", ".join(missed) if missed else "met"))
    return 1 if missed else 0


if __name__ == "__main__":
    sys.exit(main())
