"""A password a server echoes in its error text never reaches a page: the real daemon probes
an old-Redis-like server that quotes `HELLO 3 AUTH user PASSWORD` back and a proxy that
quotes the basic-auth header, pages a real webhook receiver, and the secret is nowhere:
not in status, API, metrics, state store, notifications, logs, `once --json` or `test-notify`."""

from __future__ import annotations

import base64
import json
import os
import subprocess
from pathlib import Path
from typing import Any

import yaml

from tests.servers.hostile import EchoingRespServer, QuotingHttpServer
from tests.servers.watchdog_daemon import CLI, WatchdogDaemon
from tests.servers.webhook import WebhookServer

REDIS_PASSWORD = "Echoed-Redis-Secret-5150"
URL_PASSWORD = "Proxy-Pw-6060"
BASIC = base64.b64encode(f"ops:{URL_PASSWORD}".encode()).decode()
LEAKS = (REDIS_PASSWORD, URL_PASSWORD, BASIC)


def hostile_config(tmp_path: Path, resp: EchoingRespServer, proxy: QuotingHttpServer, hook: str) -> dict[str, Any]:
    password = tmp_path / "redis.pass"
    password.write_text(REDIS_PASSWORD + "\n")
    return {
        "defaults": {"interval": "1s", "timeout": "1s", "retries": 1},
        "checks": [
            {"name": "cache", "type": "redis", "port": resp.port, "user": "monitor", "password_file": str(password)},
            {"name": "admin", "type": "http", "url": proxy.url("/admin", f"ops:{URL_PASSWORD}")},
        ],
        "notify": {
            "channels": [{"name": "hook", "type": "webhook", "url": hook}],
            "routes": {"critical": {"channels": ["hook"]}},
        },
    }


def assert_no_leak(where: str, text: str) -> None:
    for secret in LEAKS:
        assert secret not in text, f"{secret} leaked into {where}"


def test_echoed_passwords_never_reach_status_store_pages_or_logs(tmp_path: Path, webhook_server: WebhookServer) -> None:
    with EchoingRespServer() as resp, QuotingHttpServer() as proxy:
        config = hostile_config(tmp_path, resp, proxy, webhook_server.url)
        with WatchdogDaemon(tmp_path / "d", config) as daemon:
            pages = webhook_server.wait_for(2, timeout=30)
            cache, admin = daemon.check("cache"), daemon.check("admin")
            assert "'monitor' '***'" in cache["message"], "the server did echo the password"
            assert "refused Basic ***" in admin["message"], "the proxy did quote the login"
            assert_no_leak("/api/v1/status", json.dumps(daemon.status()))
            assert_no_leak("/metrics", daemon.metrics())
            assert_no_leak("the pages", json.dumps([p.body for p in pages]))
            assert any("'***'" in json.dumps(p.body) for p in pages)
            daemon.terminate()
            assert_no_leak("the log", daemon.log())
            for stored in (daemon.directory / "state").iterdir():
                assert_no_leak(f"the state store ({stored.name})", stored.read_bytes().decode("latin-1"))

        path = tmp_path / "once.yaml"
        path.write_text(yaml.safe_dump(config))
        once = subprocess.run([CLI, "once", "--json", "-c", str(path)], capture_output=True, text=True, timeout=60)
        assert once.returncode == 2, once.stderr
        assert "'***'" in once.stdout
        assert_no_leak("once --json", once.stdout + once.stderr)


def test_test_notify_output_is_scrubbed_when_the_receiver_quotes_the_token(tmp_path: Path) -> None:
    token = tmp_path / "hook.token"
    token.write_text("Hook-Token-7070\n")
    with QuotingHttpServer() as receiver:
        path = tmp_path / "watchdog.yaml"
        channel = {"name": "hook", "type": "webhook", "url": receiver.url("/hook"), "token_file": str(token)}
        path.write_text(yaml.safe_dump({"notify": {"channels": [channel]}}))
        env = {k: v for k, v in os.environ.items() if k != "SHOP_WATCHDOG_CONFIG"}
        proc = subprocess.run(
            [CLI, "test-notify", "hook", "-c", str(path)], capture_output=True, text=True, env=env, timeout=60
        )
    assert proc.returncode == 1
    assert "HTTP 401" in proc.stderr and "refused credentials Bearer ***" in proc.stderr
    assert "Hook-Token-7070" not in proc.stdout + proc.stderr
