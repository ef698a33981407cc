"""polkitd's real verdicts on the installed rule: the daemon's user restarts its units, nothing more."""

from __future__ import annotations

import pytest

from tests.systemd.container import Container
from tests.systemd.service import Service

pytestmark = pytest.mark.systemd


def test_daemon_user_may_restart_a_configured_unit(service: Service) -> None:
    before = service.box.show("nginx.service", "MainPID")

    rc, out = service.run_as_daemon_user("systemctl", "restart", "nginx.service")

    assert rc == 0, out
    assert service.box.show("nginx.service", "MainPID") not in ("0", before)


def test_the_daemons_argv_with_double_dash_is_the_same_request_to_polkit(service: Service) -> None:
    """The daemon runs `systemctl restart -- UNIT`; polkit sees the D-Bus call, not the argv."""
    before = service.box.show("nginx.service", "MainPID")

    rc, out = service.run_as_daemon_user("systemctl", "restart", "--", "nginx.service")

    assert rc == 0, out
    assert service.box.show("nginx.service", "MainPID") not in ("0", before)


def test_daemon_user_may_not_restart_a_unit_missing_from_the_config(service: Service, other_unit: str) -> None:
    before = service.box.show(other_unit, "MainPID")

    rc, out = service.run_as_daemon_user("systemctl", "restart", other_unit)

    assert rc != 0
    assert "Access denied" in out or "authentication required" in out
    assert service.box.show(other_unit, "MainPID") == before


@pytest.mark.parametrize("verb", ["stop", "start", "reload"])
def test_daemon_user_may_do_nothing_but_restart_even_to_its_units(service: Service, verb: str) -> None:
    rc, out = service.run_as_daemon_user("systemctl", verb, "nginx.service")

    assert rc != 0
    assert "Access denied" in out or "authentication required" in out
    assert service.box.show("nginx.service", "ActiveState") == "active"


def test_other_users_gain_nothing_from_the_rule(installed: Container) -> None:
    installed.run("useradd", "--system", "--no-create-home", "intruder")
    try:
        result = installed.run("runuser", "-u", "intruder", "--", "systemctl", "restart", "nginx.service", check=False)
    finally:
        installed.run("userdel", "intruder")

    assert result.returncode != 0
    assert "Access denied" in result.stderr or "authentication required" in result.stderr
