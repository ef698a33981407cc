"""Time to page: from the failed verification of a repair to the e-mail accepted by the SMTP server.

The real daemon (`.venv/bin/shop-watchdog run -c CFG`) watches a private nginx over HTTP;
its repair is a command that "succeeds" without fixing anything (`/bin/true`), so every
outage ends in a failed verification and a page through the `email` channel to a real
SMTP server (aiosmtpd, in this process). Each incident: nginx is SIGKILLed, the page is
awaited, nginx is started again and the RESOLVED mail awaited.

t0 is the daemon's `event=outbox_enqueued ... kind=trigger` log line: the engine writes
the page into the outbox in the same step that handles the failed verification result, and
logs it once the row is committed. t1 is when the SMTP server accepted the message (same
machine clock). Baseline, measured in the same run: one direct smtplib send of a message
to the same server. Target: median under 1 s.

Run from the repository root: .venv/bin/python -m bench.bench_time_to_page [--incidents N]
Exits 1 if the target is missed.
"""

from __future__ import annotations

import argparse
import re
import smtplib
import statistics
import sys
import tempfile
import time
from datetime import datetime
from email.message import EmailMessage
from pathlib import Path
from typing import Any

from tests.servers.nginx import NginxServer
from tests.servers.smtp import Received, SmtpServer
from tests.servers.watchdog_daemon import WatchdogDaemon

TARGET = 1.0
_ENQUEUED = re.compile(r"^(\S+Z) .*event=outbox_enqueued .*incident=(\S+) kind=trigger")


def daemon_config(nginx: NginxServer, smtp: SmtpServer) -> dict[str, Any]:
    return {
        "host": "bench-shop",
        "defaults": {"interval": "200ms", "timeout": "1s", "retries": 1, "retry_interval": "100ms"},
        "checks": [
            {
                "name": "web",
                "type": "http",
                "url": nginx.healthz_url,
                "expect_body": "ok",
                "severity": "critical",
                "remediate": {"command": ["/bin/true"]},
            }
        ],
        "remediation": {"backend": "command", "verify_after": "300ms", "max_restarts": 100, "restart_window": "1h"},
        "notify": {
            "channels": [
                {
                    "name": "admins",
                    "type": "email",
                    "smtp_host": "127.0.0.1",
                    "smtp_port": smtp.port,
                    "starttls": False,
                    "from": "watchdog@shop.example",
                    "to": ["ops@shop.example"],
                    "timeout": "5s",
                }
            ],
            "routes": {"critical": {"channels": ["admins"]}},
        },
    }


def direct_send_seconds(smtp: SmtpServer, runs: int = 10) -> float:
    """Median time of one plain smtplib send to the same server (connect, EHLO, send, QUIT)."""
    times = []
    for i in range(runs):
        msg = EmailMessage()
        msg["Subject"], msg["From"], msg["To"] = f"baseline {i}", "bench@shop.example", "ops@shop.example"
        msg.set_content("baseline")
        started = time.time()
        with smtplib.SMTP("127.0.0.1", smtp.port, timeout=5) as client:
            client.send_message(msg)
        smtp.wait_for(i + 1)
        times.append(smtp.messages[i].at - started)
    return statistics.median(times)


def wait_for_mail(smtp: SmtpServer, subject_prefix: str, incident: str | None, after: int, timeout: float) -> Received:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for got in smtp.messages[after:]:
            if got.message["Subject"].startswith(subject_prefix) and (
                incident is None or got.message["X-Shop-Watchdog-Incident"] == incident
            ):
                return got
        time.sleep(0.01)
    raise SystemExit(f"no {subject_prefix} mail within {timeout}s")


def enqueue_times(log_text: str) -> dict[str, float]:
    """incident id -> wall-clock time of its trigger's outbox_enqueued log line."""
    times: dict[str, float] = {}
    for line in log_text.splitlines():
        m = _ENQUEUED.match(line)
        if m:
            stamp = datetime.fromisoformat(m.group(1).replace("Z", "+00:00")).timestamp()
            times.setdefault(m.group(2), stamp)
    return times


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--incidents", type=int, default=10)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-ttp-") as tmp:
        root = Path(tmp)
        smtp = SmtpServer().start()
        nginx = NginxServer(root / "nginx")
        daemon: WatchdogDaemon | None = None
        try:
            baseline = direct_send_seconds(smtp)
            nginx.start()
            daemon = WatchdogDaemon(root / "daemon", daemon_config(nginx, smtp)).start()
            pages: dict[str, float] = {}
            for _ in range(args.incidents):
                seen = len(smtp.messages)
                nginx.kill()
                page = wait_for_mail(smtp, "[CRITICAL]", None, seen, timeout=30)
                incident = str(page.message["X-Shop-Watchdog-Incident"])
                pages[incident] = page.at
                nginx.start()
                wait_for_mail(smtp, "[RESOLVED]", incident, seen, timeout=30)
            enqueued = enqueue_times(daemon.log_path.read_text())
        finally:
            if daemon is not None:
                daemon.stop()
            nginx.stop()
            smtp.stop()
    missing = [i for i in pages if i not in enqueued]
    if missing:
        print(f"no outbox_enqueued log line for incidents {missing}", file=sys.stderr)
        return 1
    latencies = [pages[i] - enqueued[i] for i in pages]
    median = statistics.median(latencies)
    print(f"time to page over {len(latencies)} incidents (failed verification -> SMTP server accepted):")
    print(
        f"  median {median * 1000:.1f} ms   p95 {percentile(latencies, 0.95) * 1000:.1f} ms   "
        f"max {max(latencies) * 1000:.1f} ms"
    )
    print(f"  baseline: direct smtplib send {baseline * 1000:.1f} ms -> ratio {median / baseline:.2f}x")
    print(f"  target {TARGET * 1000:.0f} ms -> median is {median / TARGET:.3f} of the target")
    return 0 if median < TARGET else 1


if __name__ == "__main__":
    sys.exit(main())
