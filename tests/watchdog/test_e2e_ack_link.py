"""End to end through the real daemon: a page carries a signed ack link; opening it changes
nothing, the page's form post acknowledges, and an altered, expired or replayed link (also
after a restart) is refused with a clear page."""

from __future__ import annotations

import html
import os
import re
import urllib.parse
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from selenium import webdriver
from selenium.webdriver.chrome.service import Service as ChromeService
from selenium.webdriver.common.by import By

from tests.servers.ports import free_port
from tests.servers.watchdog_daemon import WatchdogDaemon
from tests.servers.webhook import WebhookServer
from tests.servers.webhook_sink import WebhookSink
from tests.waiting import wait_until
from watchdog.common.ack_links import make_token

PUBLIC = "https://watchdog.shop.example"
KEY = b"k" * 16 + os.urandom(24).hex().encode()
FORM = {"Content-Type": "application/x-www-form-urlencoded"}


def ack_config(sink: WebhookSink, key_file: Path) -> dict[str, Any]:
    return {
        "host": "e2e-shop",
        "public_url": PUBLIC + "/",
        "ack_key_file": str(key_file),
        "defaults": {"interval": "200ms", "timeout": "1s", "retries": 1, "retry_interval": "100ms"},
        "checks": [{"name": "web", "type": "http", "url": f"http://127.0.0.1:{free_port()}/", "severity": "critical"}],
        "notify": {
            "channels": [{"name": "pager", "type": "webhook", "url": sink.url("pager")}],
            "routes": {"critical": {"channels": ["pager"], "repeat_every": "1h"}},
        },
    }


@pytest.fixture
def key_file(tmp_path: Path) -> Path:
    path = tmp_path / "ack.key"
    path.write_bytes(KEY + b"\n")
    path.chmod(0o600)
    return path


@pytest.fixture
def daemon(tmp_path: Path, sink: WebhookSink, key_file: Path) -> Iterator[WatchdogDaemon]:
    proc = WatchdogDaemon(tmp_path / "daemon", ack_config(sink, key_file))
    proc.start()
    yield proc
    if proc.proc is not None and proc.proc.poll() is None:
        assert proc.terminate() == 0


def page_link(sink: WebhookSink) -> tuple[str, str]:
    """The incident id and the path (`/ack/TOKEN`) of the first page's ack link."""
    [page] = sink.wait_count("pager", "trigger", 1)
    url = page["ack_url"]
    assert url.startswith(PUBLIC + "/ack/"), url
    return page["incident_id"], urllib.parse.urlsplit(url).path


def post_form(daemon: WatchdogDaemon, path: str, form: str = "", **headers: str) -> tuple[int, str]:
    status, body = daemon.request_raw("POST", path, form.encode(), {**FORM, **headers})
    return status, body.decode()


def test_page_link_opens_a_confirmation_and_its_form_post_acknowledges_once(
    daemon: WatchdogDaemon, sink: WebhookSink
) -> None:
    incident_id, path = page_link(sink)
    status, body = daemon.request("GET", path, headers={"Host": "watchdog.shop.example"})
    text = body.decode()
    assert status == 200 and '<form method="post">' in text and incident_id in text
    assert not re.search(r"""(src|href)=["']?https?://""", text)  # no external assets
    assert daemon.incidents("web")[0]["state"] == "paged"  # opening the link changed nothing
    # the browser posts the form back to the same URL, through the proxy: Host and Origin are the public ones
    status, text = post_form(daemon, path, "by=alice", Host="watchdog.shop.example", Origin=PUBLIC)
    assert status == 200 and "Acknowledged" in text and "alice" in text
    [incident] = daemon.incidents("web")
    assert (incident["id"], incident["state"]) == (incident_id, "acknowledged")
    status, text = post_form(daemon, path, "", Host="watchdog.shop.example", Origin=PUBLIC)
    assert status == 409 and "already used" in text


def test_a_used_link_stays_refused_after_a_restart(daemon: WatchdogDaemon, sink: WebhookSink) -> None:
    _, path = page_link(sink)
    assert post_form(daemon, path)[0] == 200  # ntfy's action button: an empty POST, no Origin
    assert daemon.terminate() == 0
    daemon.start()
    status, text = post_form(daemon, path)
    assert status == 409 and "already used" in text


def test_altered_expired_and_cross_site_links_are_refused(daemon: WatchdogDaemon, sink: WebhookSink) -> None:
    incident_id, path = page_link(sink)
    token = path.removeprefix("/ack/")
    payload, signature = token.split(".")
    other = make_token(KEY, "inc-someone-else", "link1", datetime.now(UTC) + timedelta(hours=1))
    altered = [f"{payload[:-2]}AA.{signature}", f"{other.split('.')[0]}.{signature}", token[:-3], "nonsense"]
    for bad in altered:
        for method in ("GET", "POST"):
            status, body = daemon.request_raw(method, f"/ack/{bad}", b"", FORM)
            assert status == 403 and "Invalid link" in body.decode(), (bad, method)
    expired = make_token(KEY, incident_id, "old-link", datetime.now(UTC) - timedelta(seconds=1))
    status, body = daemon.request_raw("POST", f"/ack/{expired}", b"", FORM)
    assert status == 410 and "expired" in html.unescape(body.decode())
    status, _ = post_form(daemon, path, "", Origin="https://evil.example")
    assert status == 403
    assert daemon.incidents("web")[0]["state"] == "paged"


def test_ntfy_page_through_apprise_carries_an_ack_button_that_acknowledges(
    tmp_path: Path, sink: WebhookSink, key_file: Path, webhook_server: WebhookServer
) -> None:
    config = ack_config(sink, key_file)
    config["notify"] = {
        "channels": [{"name": "phones", "type": "apprise", "urls_env": "E2E_APPRISE_URLS"}],
        "routes": {"critical": {"channels": ["phones"]}},
    }
    ntfy_url = f"ntfy://127.0.0.1:{webhook_server.port}/shop-alerts-s3cr3t"
    proc = WatchdogDaemon(tmp_path / "daemon", config, env={"E2E_APPRISE_URLS": ntfy_url})
    proc.start()
    try:
        [request] = webhook_server.wait_for(1, timeout=15)
        headers = {k.lower(): v for k, v in request.headers.items()}
        assert (request.path, request.body["topic"], headers["x-priority"]) == ("/", "shop-alerts-s3cr3t", "max")
        assert request.body["title"].startswith("[CRITICAL] e2e-shop web")
        action, label, url, *options = [part.strip() for part in headers["x-actions"].split(",")]
        assert (action, label, options) == ("http", "Acknowledge", ["method=POST", "clear=true"])
        assert url.startswith(PUBLIC + "/ack/") and headers["x-click"] == url
        # what ntfy does when the button is tapped: an empty POST to the link (through the proxy)
        status, text = post_form(proc, urllib.parse.urlsplit(url).path, "")
        assert status == 200 and "Acknowledged" in text
        assert proc.incidents("web")[0]["state"] == "acknowledged"
        assert "shop-alerts-s3cr3t" not in proc.log()
    finally:
        assert proc.terminate() == 0


def test_a_real_browser_acknowledges_with_the_pages_button(daemon: WatchdogDaemon, sink: WebhookSink) -> None:
    """Headless Chromium opens the link as an admin's phone would, and presses the button:
    the same-origin form post gets past the API's cross-site guard and the page's CSP."""
    _, path = page_link(sink)
    options = webdriver.ChromeOptions()
    for argument in ("--headless=new", "--no-sandbox", "--disable-gpu", "--no-proxy-server"):
        options.add_argument(argument)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(options=options, service=ChromeService(executable_path="/usr/bin/chromedriver"))
    try:
        driver.get(daemon.base_url + path)
        assert driver.title == "Acknowledge this incident?"
        assert daemon.incidents("web")[0]["state"] == "paged"
        driver.find_element(By.ID, "by").send_keys("bob")
        driver.find_element(By.CSS_SELECTOR, "button[type=submit]").click()
        wait_until(lambda: driver.title == "Acknowledged", timeout=10, what="the acknowledged page")
        assert "bob (ack link)" in driver.find_element(By.TAG_NAME, "body").text
        logs = driver.get_log("browser")  # type: ignore[no-untyped-call]
        errors = [e for e in logs if e["level"] == "SEVERE" and "favicon" not in e["message"]]
        assert errors == []
    finally:
        driver.quit()
    assert daemon.incidents("web")[0]["state"] == "acknowledged"
