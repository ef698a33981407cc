"""A real headless Chromium (Debian's `chromium` and `chromium-driver`) driven by Selenium.

`headless_chromium(width, height)` yields a WebDriver with the browser console's messages
readable (`console_errors(driver)`); it runs as root, hence `--no-sandbox`. Selenium is told
the Debian chromedriver's path, so it never tries to download a driver of its own.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.remote.command import Command

CHROMEDRIVER = "/usr/bin/chromedriver"
CHROMIUM = "/usr/bin/chromium"


@contextmanager
def headless_chromium(
    directory: Path, width: int = 1000, height: int = 1200, phone: bool = False
) -> Iterator[webdriver.Chrome]:
    """A fresh browser with its profile in `directory`; quits on exit. `phone`: a touch
    screen of `width` x `height` CSS pixels at pixel ratio 3, as a phone's browser lays out."""
    for program in (CHROMIUM, CHROMEDRIVER):
        if shutil.which(program) is None:
            raise FileNotFoundError(f"{program} is missing: `make deps` installs chromium and chromium-driver")
    directory.mkdir(parents=True, exist_ok=True)
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for argument in (
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        f"--user-data-dir={directory}",
        f"--window-size={width},{height}",
    ):
        options.add_argument(argument)
    if phone:
        metrics = {"width": width, "height": height, "pixelRatio": 3.0, "touch": True, "mobile": True}
        options.add_experimental_option("mobileEmulation", {"deviceMetrics": metrics})
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(options=options, service=Service(CHROMEDRIVER, log_output=str(directory / "driver.log")))
    try:
        yield driver
    finally:
        driver.quit()


def console_errors(driver: webdriver.Chrome) -> list[str]:
    """The browser console's errors since the last call (failed loads, CSP violations, exceptions)."""
    entries: list[dict[str, Any]] = driver.execute(Command.GET_LOG, {"type": "browser"})["value"]
    return [entry["message"] for entry in entries if entry["level"] == "SEVERE"]
