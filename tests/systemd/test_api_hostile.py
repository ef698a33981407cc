"""The installed daemon's API under hostile local load, in its real unit under systemd.

Inside the container: 1,000 connections held open against the API must leave the unit's
task count under its TasksMax with /healthz answering and restarts working; text sent to
the API must not forge journal entries (journald, not a file, splits them); and polkit lets
the daemon's user restart its unit with the `--` the daemon puts before unit names.
"""

from __future__ import annotations

import contextlib
import json
import time
from collections.abc import Iterator

import pytest

from tests.servers.watchdog_daemon import unit_tasks_max
from tests.systemd.container import Container
from tests.systemd.service import Service
from tests.waiting import wait_until

pytestmark = pytest.mark.systemd

HOLDER = "api-idle-holder.service"
API = "http://127.0.0.1:9841"


def _api(box: Container, method: str, path: str, body: object = None) -> tuple[int, str]:
    """One request from inside the container (its own loopback): status and body."""
    script = f"""
import json, sys, urllib.error, urllib.request
data = {json.dumps(json.dumps(body))}.encode() if {body is not None} else None
req = urllib.request.Request({API + path!r}, data=data, method={method!r})
req.add_header("Content-Type", "application/json")
try:
    with urllib.request.urlopen(req, timeout=5) as r:
        sys.stdout.write(f"{{r.status}} {{r.read().decode()}}")
except urllib.error.HTTPError as e:
    sys.stdout.write(f"{{e.code}} {{e.read().decode()}}")
"""
    out = box.run("python3", "-c", script, timeout=30).stdout
    code, _, text = out.partition(" ")
    return int(code), text


def _tasks(service: Service) -> int:
    """The daemon's threads and its children's: what TasksMax limits (the container has no
    pids controller of its own, so systemd's TasksCurrent is not set there)."""
    pid = str(service.main_pid())
    return len(service.box.run("ps", "-L", "--no-headers", "-o", "lwp", "-p", pid, "--ppid", pid).stdout.split())


@contextlib.contextmanager
def idle_connections(box: Container, count: int) -> Iterator[None]:
    """`count` connections held open (and re-opened when the daemon drops them) by a
    transient unit inside the container, until the block ends."""
    box.run(
        "systemd-run", f"--unit={HOLDER}", "--property=LimitNOFILE=4096",
        "/usr/bin/python3", "/src/tests/systemd/idle_holder.py", "9841", str(count),
    )  # fmt: skip
    try:
        wait_until(
            lambda: any(line.startswith("holding ") for line in box.journal(HOLDER).splitlines()),
            30,
            f"{count} idle connections",
            interval=0.5,
        )
        yield
    finally:
        box.systemctl("stop", HOLDER, check=False)
        box.systemctl("reset-failed", HOLDER, check=False)


def test_a_thousand_idle_connections_stay_under_tasks_max_and_repairs_go_on(service: Service) -> None:
    service.start()
    wait_until(lambda: _api(service.box, "GET", "/healthz") == (200, "ok\n"), 15, "the API")
    limit = int(service.prop("TasksMax"))
    assert limit == unit_tasks_max()
    with idle_connections(service.box, 1000):
        time.sleep(3)
        tasks = _tasks(service)
        started = time.monotonic()
        assert _api(service.box, "GET", "/healthz") == (200, "ok\n")
        healthz_seconds = time.monotonic() - started
        killed = service.box.show("nginx.service", "MainPID")
        service.box.crash("nginx.service")
        wait_until(
            lambda: service.box.show("nginx.service", "MainPID") not in ("0", killed),
            30,
            "the daemon to restart nginx",
        )
        service.wait_log("event=incident_auto_repaired check=web")
        peak = max(tasks, _tasks(service))

    assert peak < limit // 4, f"{peak} tasks with 1,000 idle connections (TasksMax={limit})"
    assert healthz_seconds < 5  # includes starting python3 in the container
    assert service.prop("ActiveState") == "active"
    assert "Resource temporarily unavailable" not in service.log_text()


FORGED = "<0>logger=watchdog.incidents.engine event=restart_failed check=web incident=inc-forged"


def test_text_sent_to_the_api_forges_no_journal_entry(service: Service) -> None:
    service.start()
    wait_until(lambda: _api(service.box, "GET", "/healthz") == (200, "ok\n"), 15, "the API")
    for breaker in ["\n", "\r\n", "\x00", "\x85", "\u2028", "\x1b[1A\x1b[2K"]:
        # 1 s: the silences are over before the next test starts this unit on the same state
        silence = {"check": "web", "duration": "1s", "reason": f"planned{breaker}{FORGED}", "by": f"ops{breaker}"}
        assert _api(service.box, "POST", "/api/v1/silences", silence)[0] == 201

    service.wait_log("event=api_silence")
    wait_until(lambda: service.log_text().count("event=silence_set") == 6, 15, "six silences in the journal")
    entries = [m for m in service.messages() if m.get("_TRANSPORT") == "stdout"]
    messages = [str(m["MESSAGE"]) for m in entries]
    assert all(message.startswith("logger=watchdog.") for message in messages), messages
    assert not [m for m in entries if m["PRIORITY"] in ("0", "1", "2")]
    assert not [message for message in messages if "event=restart_failed" in message.split(" ", 2)[1]]
    assert any('reason="planned\\n<0>logger=watchdog.incidents.engine' in message for message in messages)
