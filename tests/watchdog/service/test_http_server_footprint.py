"""What the API transport costs an idle daemon: no asyncio, no OpenSSL, no idle threads.

asyncio alone costs the daemon ~1.4 MB and imports ssl, which loads libcrypto (~6 MB with
hashlib): the transport must do without both, and without the stdlib modules that pull them
in. Threads: the `api` loop alone until a request comes, one worker for requests that come
one after another, none left after `stop()`. Each case runs in a fresh interpreter (the
transport alone, then the real daemon through tests/servers/module_probe.py): the test
process itself has all of these loaded. The daemon case is the shop of the idle benchmark
(bench/bench_idle_vs_monit.py): plain HTTP, Redis and disk checks, whose probes must not
load TLS either (checks/http.py imports ssl only for https).
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

from tests.servers.module_probe import MODULES_FILE, modules_at_exit, probe_cli
from tests.servers.nginx import NginxServer
from tests.servers.redis import RedisServer
from tests.servers.watchdog_daemon import WatchdogDaemon

ROOT = Path(__file__).resolve().parents[3]

HEAVY = ("asyncio", "ssl", "_ssl", "hashlib", "_hashlib", "hmac", "http.client", "http.server", "socketserver",
         "email", "urllib.request", "concurrent.futures")  # fmt: skip

SERVE = f"""
import json, socket, sys, threading
from watchdog.service.http_server import HttpServer, Response

def threads():
    return sorted(t.name for t in threading.enumerate())

def exchange(port, data):
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(data)
        received = b""
        while chunk := sock.recv(65536):
            received += chunk
    return [int(part.split(b" ", 1)[0]) for part in received.split(b"HTTP/1.1 ")[1:]]

server = HttpServer("127.0.0.1", 0, lambda request: Response(200, request.path.encode(), "text/plain"))
server.start()
idle = threads()
keep_alive = b"".join(
    f"GET /{{n}} HTTP/1.1\\r\\nHost: 127.0.0.1\\r\\n{{'Connection: close' if n == 3 else ''}}\\r\\n\\r\\n".encode()
    for n in (1, 2, 3)
)
statuses = exchange(server.port, keep_alive) + exchange(server.port, b"GET /4 HTTP/1.1\\r\\n\\r\\n")
served = threads()
server.stop()
loaded = sorted(m for m in {HEAVY!r} if m in sys.modules)
print(json.dumps({{"idle": idle, "served": served, "stopped": threads(), "statuses": statuses, "loaded": loaded}}))
"""


def test_serving_loads_neither_asyncio_nor_openssl_and_keeps_threads_to_the_work() -> None:
    out = subprocess.run([sys.executable, "-c", SERVE], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    result = json.loads(out.stdout)

    assert result["statuses"] == [200, 200, 200, 400], "three keep-alive requests answered, a Host-less one refused"
    assert result["loaded"] == [], f"the transport loaded {result['loaded']}"
    assert result["idle"] == ["MainThread", "api"], "no worker before the first request"
    assert result["served"] == ["MainThread", "api", "api-worker-1"], "one worker for one request at a time"
    assert result["stopped"] == ["MainThread"], "stop() ends every thread it started"


def test_an_idle_shop_daemon_serving_its_api_loads_neither_asyncio_nor_openssl(
    tmp_path: Path, make_nginx: Callable[..., NginxServer], redis_server: RedisServer
) -> None:
    """The daemon as a shop runs it between incidents: its web server, cache and disk probed,
    /healthz polled, the status page and the status API read. Not /metrics: prometheus_client
    (and with it ssl) is loaded at the first scrape; nor a page: the channels load theirs."""
    nginx = make_nginx()
    listed = tmp_path / "modules"
    config = {
        "defaults": {"interval": "200ms"},
        "checks": [
            {"name": "web", "type": "http", "url": nginx.healthz_url},
            {"name": "cache", "type": "redis", "host": "127.0.0.1", "port": redis_server.port},
            {"name": "root", "type": "disk", "path": "/"},
        ],
    }
    with WatchdogDaemon(tmp_path / "d", config, cli=probe_cli(tmp_path), env={MODULES_FILE: str(listed)}) as daemon:
        for name in ("web", "cache", "root"):
            daemon.wait_for(name, lambda c: c["status"] == "OK")
        answers = [daemon.get(path)[0] for path in ("/healthz", "/", "/status.js", "/api/v1/status")]
        assert daemon.terminate() == 0

    assert answers == [200, 200, 200, 200]
    loaded = modules_at_exit(listed)
    assert {"watchdog.service.http_server", "checks.http", "checks.redis", "checks.disk"} <= loaded
    assert sorted(loaded.intersection((*HEAVY, "prometheus_client", "checks.tlscert"))) == []
