"""An idle shop: shop-watchdog next to Monit, watching the same 20 targets every 30 s.

Targets (all healthy, private servers): 10 HTTP GET /healthz on an nginx, 5 Redis PINGs,
5 disk-space checks of /. Both daemons run at the same time for the same window; Monit
(Debian package, `set daemon 30`, its own HTTP interface on 127.0.0.1) is the baseline.
Figures: CPU (% of one core) and RSS (MB) of each, and shop-watchdog / Monit ratios.
Targets: shop-watchdog's RSS (max) below 32 MB and its CPU at most 3x Monit's (exit 1 when
missed).

The daemon runs from this checkout's bytecode, compiled first as pip compiles an installed
package: under PYTHONDONTWRITEBYTECODE an editable checkout would compile every module at each
start, and the compiler's garbage (about 1.2 MB here) is not what an installed daemon carries.
`--scrape S` also GETs /metrics every S seconds, as Prometheus would: the first scrape loads
prometheus_client (and with it OpenSSL), so this is the figure of a scraped daemon.

    .venv/bin/python bench/bench_idle_vs_monit.py [--minutes 5] [--quick] [--scrape 15]
"""

from __future__ import annotations

import argparse
import compileall
import os
import shutil
import subprocess
import tempfile
import threading
import time
import urllib.request
from pathlib import Path
from xml.etree import ElementTree

from measure import ROOT, Sampler, ratio

from tests.servers.nginx import NginxServer
from tests.servers.ports import free_port, wait_until_accepting
from tests.servers.processes import terminate_group
from tests.servers.redis import RedisServer
from tests.servers.watchdog_daemon import WatchdogDaemon

HTTP, REDIS, DISK = 10, 5, 5
RSS_TARGET_MB = 32.0
CPU_TARGET_RATIO = 3.0


def monitrc(directory: Path, http_port: int, nginx_port: int, redis_port: int) -> str:
    lines = [
        "set daemon 30",
        f"set logfile {directory}/monit.log",
        f"set idfile {directory}/monit.id",
        f"set statefile {directory}/monit.state",
        f"set pidfile {directory}/monit.pid",
        f"set httpd port {http_port} and use address 127.0.0.1",
        "    allow localhost",
    ]
    for i in range(HTTP):
        lines += [
            f"check host web{i} with address 127.0.0.1",
            f'    if failed port {nginx_port} protocol http request "/healthz" timeout 5 seconds then alert',
        ]
    for i in range(REDIS):
        lines += [
            f"check host cache{i} with address 127.0.0.1",
            f"    if failed port {redis_port} protocol redis timeout 5 seconds then alert",
        ]
    for i in range(DISK):
        lines += [f"check filesystem disk{i} with path /", "    if space usage > 90% then alert"]
    return "\n".join(lines) + "\n"


def monit_services_ok(http_port: int) -> int:
    """How many of Monit's services it reports healthy (status 0), from its own HTTP interface."""
    with urllib.request.urlopen(f"http://127.0.0.1:{http_port}/_status?format=xml", timeout=10) as response:
        tree = ElementTree.fromstring(response.read())
    return sum(1 for service in tree.iter("service") if service.findtext("status") == "0")


def shop_config(nginx: NginxServer, redis: RedisServer) -> dict[str, object]:
    checks: list[dict[str, object]] = []
    checks += [{"name": f"web{i}", "type": "http", "url": nginx.healthz_url, "timeout": "5s"} for i in range(HTTP)]
    checks += [{"name": f"cache{i}", "type": "redis", "host": "127.0.0.1", "port": redis.port} for i in range(REDIS)]
    checks += [{"name": f"disk{i}", "type": "disk", "path": "/", "crit": "90%"} for i in range(DISK)]
    return {"log_level": "warning", "defaults": {"interval": "30s"}, "checks": checks}


def scrape_every(shop: WatchdogDaemon, seconds: float, stop: threading.Event) -> None:
    """GET /metrics every `seconds` until `stop`, as a Prometheus server scraping the daemon."""
    while not stop.wait(seconds):
        shop.metrics()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--minutes", type=float, default=5.0, help="measuring window (default 5)")
    parser.add_argument("--quick", action="store_true", help="1-minute window, for a smoke run")
    parser.add_argument("--scrape", type=float, metavar="S", help="also GET /metrics every S seconds")
    args = parser.parse_args()
    for package in ("watchdog", "checks"):
        compileall.compile_dir(ROOT / package, quiet=1)
    seconds = 60.0 if args.quick else args.minutes * 60
    monit = shutil.which("monit")
    if monit is None:
        raise SystemExit("monit is not installed (apt-get install monit; see scripts/install-test-deps)")
    with tempfile.TemporaryDirectory(prefix="bench-idle-") as tmp:
        root = Path(tmp)
        with NginxServer(root / "nginx") as nginx, RedisServer(root / "redis") as redis:
            mdir = root / "monit"
            mdir.mkdir()
            rc = mdir / "monitrc"
            http_port = free_port()
            rc.write_text(monitrc(mdir, http_port, nginx.port, redis.port))
            os.chmod(rc, 0o600)
            proc = subprocess.Popen(
                [monit, "-I", "-c", str(rc)],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
            try:
                wait_until_accepting(http_port, timeout=10, proc=None, what="monit")
                with WatchdogDaemon(root / "shop", shop_config(nginx, redis)) as shop:
                    assert shop.proc is not None
                    time.sleep(5)
                    failing = [c["name"] for c in shop.status()["checks"] if c["status"] != "OK"]
                    if failing:
                        raise SystemExit(f"targets not healthy for shop-watchdog: {failing}")
                    print(f"measuring shop-watchdog and Monit side by side for {seconds / 60:g} min ...", flush=True)
                    stop = threading.Event()
                    scraper = threading.Thread(target=scrape_every, args=(shop, args.scrape, stop), daemon=True)
                    if args.scrape:
                        shop.metrics()
                        scraper.start()
                    with Sampler(shop.proc.pid, 2.0) as s_shop, Sampler(proc.pid, 2.0) as s_monit:
                        time.sleep(seconds)
                    stop.set()
                    checks = len(shop.status()["checks"])
                    monit_ok = monit_services_ok(http_port)
            finally:
                terminate_group(proc.pid)
                proc.wait(timeout=10)
    shop_u, monit_u = s_shop.usage, s_monit.usage
    print()
    print(f"{'':22}{'shop-watchdog':>15}{'Monit':>12}{'ratio':>10}")
    print(
        f"{'CPU % of one core':22}{shop_u.cpu_percent:15.3f}{monit_u.cpu_percent:12.3f}"
        f"{ratio(shop_u.cpu_percent, monit_u.cpu_percent):>10}"
    )
    print(
        f"{'RSS max MB':22}{shop_u.rss_max_mb:15.1f}{monit_u.rss_max_mb:12.1f}"
        f"{ratio(shop_u.rss_max_mb, monit_u.rss_max_mb):>10}"
    )
    print(
        f"{'RSS mean MB':22}{shop_u.rss_mean_mb:15.1f}{monit_u.rss_mean_mb:12.1f}"
        f"{ratio(shop_u.rss_mean_mb, monit_u.rss_mean_mb):>10}"
    )
    scraped = f"; /metrics scraped every {args.scrape:g} s" if args.scrape else ""
    window = f"window {shop_u.seconds:.0f} s"
    print(f"({checks} checks each, every 30 s, {window}; Monit reports {monit_ok} services OK{scraped})")
    met = shop_u.rss_max_mb < RSS_TARGET_MB and shop_u.cpu_percent <= CPU_TARGET_RATIO * monit_u.cpu_percent
    print(f"targets (RSS < {RSS_TARGET_MB} MB, CPU <= {CPU_TARGET_RATIO:g}x Monit): {'met' if met else 'MISSED'}")
    return 0 if met else 1


if __name__ == "__main__":
    raise SystemExit(main())
