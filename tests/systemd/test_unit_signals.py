"""systemd tells the daemon: a unit that fails is restarted and verified within half a second.

The check's interval is 5 minutes and its confirmation would take 10 s, so only systemd's
own `PropertiesChanged` signal on the system bus (watchdog.monitor.unitwatch) can explain a
repair this fast. Timings come from the container's journal: systemd's own "Main process
exited" line against the daemon's `incident_auto_repaired`, both on CLOCK_MONOTONIC.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.systemd.service import CONFIG, FLAKY, FLAKY_UNIT, Service, flaky_config, monotonic_of

pytestmark = pytest.mark.systemd

REPAIR_BUDGET = 0.5


@pytest.fixture
def flaky(service: Service) -> Iterator[Service]:
    """The daemon watching flaky.service (Restart=no: a crash leaves it `failed`), allowed
    by polkit to restart it; the rule and the unit are removed afterwards."""
    box = service.box
    box.write_file(f"/etc/systemd/system/{FLAKY}", FLAKY_UNIT)
    box.systemctl("daemon-reload")
    box.systemctl("start", FLAKY)
    service.write_config(flaky_config())
    box.run("/opt/shop-watchdog/bin/shop-watchdog", "install-polkit", "-c", CONFIG)
    try:
        yield service
    finally:
        service.restore()
        box.run("/opt/shop-watchdog/bin/shop-watchdog", "install-polkit", "-c", CONFIG)
        box.systemctl("stop", FLAKY, check=False)
        box.systemctl("reset-failed", FLAKY, check=False)
        box.run("rm", f"/etc/systemd/system/{FLAKY}")
        box.systemctl("daemon-reload")


def test_a_failed_unit_is_restarted_and_verified_within_half_a_second(flaky: Service) -> None:
    box = flaky.box
    flaky.start()
    flaky.wait_log("event=check_state check=flaky status=OK")
    before = box.show(FLAKY, "MainPID")

    box.systemctl("kill", "--signal=KILL", FLAKY)

    flaky.wait_log("event=incident_auto_repaired check=flaky", timeout=15)
    assert box.show(FLAKY, "ActiveState") == "active" and box.show(FLAKY, "MainPID") != before
    log = flaky.log_text()
    assert "event=watched_unit_changed check=flaky unit=flaky.service active_state=failed" in log
    assert "event=check_state check=flaky status=CRITICAL hard=True failures=1 " in log
    failed = monotonic_of(box, ["-u", FLAKY], "Main process exited")
    repaired = monotonic_of(box, ["-u", "shop-watchdog.service"], "event=incident_auto_repaired check=flaky")
    assert 0 < repaired - failed < REPAIR_BUDGET, f"failed -> restarted and verified took {repaired - failed:.3f}s"
