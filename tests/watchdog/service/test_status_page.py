"""The status page at `GET /`, in a real headless Chromium against the real daemon."""

from __future__ import annotations

import json
import re
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from selenium.webdriver import Chrome as WebDriver
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions
from selenium.webdriver.support.ui import WebDriverWait

from tests.servers.browser import console_errors, headless_chromium
from tests.servers.nginx import NginxServer
from tests.servers.ports import free_port
from tests.servers.watchdog_daemon import WatchdogDaemon, web_check_with_restart
from tests.waiting import wait_until


@pytest.fixture(scope="module")
def shop(api_daemon: WatchdogDaemon) -> WatchdogDaemon:
    """A daemon with an OK disk check and a CRITICAL TCP check with its incident (conftest.py)."""
    return api_daemon


@pytest.fixture
def browser(tmp_path: Path) -> Iterator[WebDriver]:
    with headless_chromium(tmp_path / "chromium") as driver:
        yield driver


def incident_of(daemon: WatchdogDaemon, check: str) -> dict[str, Any]:
    return next(dict(i) for i in daemon.status()["incidents"] if i["check"] == check)


def test_page_and_its_files_are_served_with_a_strict_content_security_policy(shop: WatchdogDaemon) -> None:
    for path, media in (("/", "text/html"), ("/status.js", "text/javascript"), ("/status.css", "text/css")):
        with urllib.request.urlopen(shop.base_url + path, timeout=10) as answer:
            body = answer.read()
            assert answer.headers["Content-Type"].startswith(media)
            assert answer.headers["Content-Security-Policy"].startswith("default-src 'none'; script-src 'self';")
            assert answer.headers["X-Content-Type-Options"] == "nosniff"
        # no external asset: the only absolute URL is the SVG namespace
        assert re.findall(rb"https?://[^\s\"']+", body) in ([], [b"http://www.w3.org/2000/svg"]), path


def test_page_shows_a_broken_check_and_its_incident_and_acks_it_in_the_daemon(
    shop: WatchdogDaemon, browser: WebDriver, tmp_path: Path
) -> None:
    incident = incident_of(shop, "db")
    wait_until(lambda: len(shop.status()["checks"][0].get("history", [])) >= 2, 10, "two results of root")
    browser.get(shop.base_url + "/")
    wait = WebDriverWait(browser, 10)
    card = wait.until(lambda d: d.find_element(By.CSS_SELECTOR, f'li[data-incident="{incident["id"]}"]'))
    check = browser.find_element(By.CSS_SELECTOR, 'li[data-check="db"]')
    assert "CRITICAL" in check.text and "connection refused" in check.text
    assert browser.find_elements(By.CSS_SELECTOR, 'li[data-check="root"] svg.spark rect')
    assert "db" in card.text and incident["state"] in card.text
    assert browser.find_element(By.ID, "host").text == "shop-api-test"
    browser.save_screenshot(str(tmp_path / "status-page-incident.png"))
    assert console_errors(browser) == []

    browser.find_element(By.ID, "by").send_keys("anna")
    card.find_element(By.CSS_SELECTOR, "button.ack").click()
    wait_until(lambda: incident_of(shop, "db")["state"] == "acknowledged", 10, "the ack in the daemon")
    assert incident_of(shop, "db")["acked_by"] == "anna"
    wait.until(lambda d: "acknowledged by anna" in d.find_element(By.CSS_SELECTOR, "#incidents").text)
    assert not browser.find_elements(By.CSS_SELECTOR, f'li[data-incident="{incident["id"]}"] button.ack')
    browser.save_screenshot(str(tmp_path / "status-page-acknowledged.png"))
    assert console_errors(browser) == []


def test_an_incidents_timeline_opens_in_the_page_and_stays_open_across_refreshes(
    shop: WatchdogDaemon, browser: WebDriver
) -> None:
    incident = incident_of(shop, "db")
    browser.get(shop.base_url + "/")
    wait = WebDriverWait(browser, 10)
    card = wait.until(lambda d: d.find_element(By.CSS_SELECTOR, f'li[data-incident="{incident["id"]}"]'))
    card.find_element(By.CSS_SELECTOR, "details.timeline summary").click()
    selector = f'li[data-incident="{incident["id"]}"] details.timeline ol.entries'
    wait.until(lambda d: "opened" in d.find_element(By.CSS_SELECTOR, selector).text)
    shown = browser.find_element(By.CSS_SELECTOR, selector).text
    code, body = shop.get(f"/api/v1/incidents/{incident['id']}")
    assert code == 200, body
    recorded = json.loads(body)["timeline"]
    assert recorded and all(entry["text"] in shown for entry in recorded)
    # the page re-renders every 5 s: the opened timeline is still open after the next refresh
    status_reads = (
        "return performance.getEntriesByType('resource').filter(e => e.name.endsWith('/api/v1/status')).length"
    )
    wait_until(lambda: browser.execute_script(status_reads) >= 2, 12, "a refresh of the page")
    assert (
        browser.find_element(By.CSS_SELECTOR, f'li[data-incident="{incident["id"]}"] details.timeline').get_attribute(
            "open"
        )
        is not None
    )
    assert console_errors(browser) == []


def test_page_is_readable_on_a_phone(shop: WatchdogDaemon, tmp_path: Path) -> None:
    with headless_chromium(tmp_path / "phone", width=390, height=844, phone=True) as phone:
        phone.get(shop.base_url + "/")
        WebDriverWait(phone, 10).until(lambda d: d.find_elements(By.CSS_SELECTOR, "li[data-incident]"))
        page_width = phone.execute_script("return document.documentElement.scrollWidth")
        viewport = phone.execute_script("return window.innerWidth")
        assert viewport == 390, "the page is laid out for the phone's width (meta viewport)"
        assert page_width <= viewport, "the page scrolls sideways on a phone"
        phone.save_screenshot(str(tmp_path / "status-page-phone.png"))
        assert console_errors(phone) == []


def test_page_asks_for_the_token_and_keeps_it_in_the_session_only(tmp_path: Path, browser: WebDriver) -> None:
    token_file = tmp_path / "token"
    token_file.write_text("s3cret-token-for-the-page\n")
    config = {
        "api_token_file": str(token_file),
        "checks": [{"name": "db", "type": "tcp", "host": "127.0.0.1", "port": free_port(), "retries": 1}],
    }
    with WatchdogDaemon(tmp_path / "d", config) as daemon:
        wait_until(lambda: bool(daemon.status()["incidents"]), 10, "an incident for db")
        incident_id = incident_of(daemon, "db")["id"]
        browser.get(daemon.base_url + "/")
        wait = WebDriverWait(browser, 10)
        button = wait.until(lambda d: d.find_element(By.CSS_SELECTOR, f'li[data-incident="{incident_id}"] button.ack'))
        button.click()
        token = wait.until(expected_conditions.visibility_of_element_located((By.ID, "token")))
        token.send_keys("s3cret-token-for-the-page")
        browser.find_element(By.CSS_SELECTOR, "#token-form button").click()
        wait_until(lambda: incident_of(daemon, "db")["state"] == "acknowledged", 10, "the ack in the daemon")
        assert (
            browser.execute_script("return sessionStorage.getItem('shop-watchdog-token')")
            == "s3cret-token-for-the-page"
        )
        assert browser.execute_script("return localStorage.length") == 0
        assert browser.get_cookies() == []


def test_page_lists_the_auto_repairs_of_the_last_day(tmp_path: Path, nginx: NginxServer, browser: WebDriver) -> None:
    config = web_check_with_restart(nginx)
    with WatchdogDaemon(tmp_path / "d", config) as daemon:
        daemon.wait_for("web", lambda c: c["status"] == "OK")
        nginx.kill()
        daemon.wait_until(lambda: daemon.status().get("recent_repairs"), what="the auto-repair")
        (repair,) = daemon.status()["recent_repairs"]
        browser.get(daemon.base_url + "/")
        repairs = browser.find_element(By.ID, "repairs")
        WebDriverWait(browser, 10).until(lambda d: "web" in repairs.text)
        assert "repaired" in repairs.text and repair["summary"] in repairs.text
        assert console_errors(browser) == []
