"""The unit watcher without a system bus, and systemd's object-path escaping.

Signals from a real systemd are proven in the nspawn container (tests/systemd/test_unit_signals.py).
"""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from watchdog.monitor.unitwatch import UnitWatcher, unit_path


@pytest.mark.parametrize(
    ("unit", "path"),
    [
        ("nginx.service", "/org/freedesktop/systemd1/unit/nginx_2eservice"),
        ("getty@tty1.service", "/org/freedesktop/systemd1/unit/getty_40tty1_2eservice"),
        ("php8.2-fpm.service", "/org/freedesktop/systemd1/unit/php8_2e2_2dfpm_2eservice"),
        ("1st.service", "/org/freedesktop/systemd1/unit/_31st_2eservice"),
        ("a_b.service", "/org/freedesktop/systemd1/unit/a_5fb_2eservice"),
    ],
)
def test_unit_object_path_is_escaped_as_systemd_does(unit: str, path: str) -> None:
    assert unit_path(unit) == path


def test_without_a_system_bus_the_watcher_says_so_once_and_watches_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setenv("DBUS_SYSTEM_BUS_ADDRESS", f"unix:path={tmp_path}/no-bus")
    changes: list[tuple[str, bool]] = []
    with caplog.at_level(logging.WARNING):
        watcher = UnitWatcher(lambda check, ended: changes.append((check, ended)))
        watcher.watch("web", "nginx.service")
        watcher.watch("db", "postgresql.service")
    try:
        assert not watcher.available
        assert watcher.watched() == {}
        [line] = [r.getMessage() for r in caplog.records if "unit_watch_unavailable" in r.getMessage()]
        assert "error=FileNotFoundError" in line and "fallback=" in line
    finally:
        watcher.close()
