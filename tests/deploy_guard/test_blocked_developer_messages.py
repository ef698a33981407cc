"""What a blocked developer reads: the setting and file behind the block, and what may still ship.

Through the real installed CLI; the line stays one line and the JSON object keeps its keys.
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.deploy_guard.conftest import ALWAYS_OPEN, PLAIN, GuardRunner
from tests.servers.status_server import StatusServer, closed_port_url

HOTFIX_HINT = "a hotfix may ship at any time (--hotfix --reason TEXT)."
CRITICAL = {
    "id": "inc-9",
    "check": "web",
    "severity": "critical",
    "state": "paged",
    "opened_at": "2026-12-02T08:00:00Z",
}
NO_WATCHDOG_HERE = (
    "no watchdog answers on this machine (a CI runner usually runs none): point incident_gate.status_urls at "
    "your shop's watchdog (its /api/v1/status), or set incident_gate.on_unreachable: allow"
)


def blocked_line(guard: GuardRunner, node: dict[str, Any], at: str) -> tuple[str, str]:
    policy = guard.policy(node)
    result = guard.run("check", "--at", at, policy=policy)
    assert result.code == 1, result
    assert result.out.count("\n") == 1
    return result.out, str(policy)


@pytest.mark.parametrize(
    "node, at, setting",
    [
        (PLAIN, "2026-12-05T10:00", "windows: Mon-Thu 08:00-12:00"),
        (PLAIN, "2026-12-24T10:00", "holidays.country: PL"),
        (PLAIN, "2026-12-23T10:00", "holidays.block_days_before: 1"),
        (
            {**PLAIN, "holidays": {"country": "PL", "extra": {"2026-12-31": "inventory"}, "block_days_before": 0}},
            "2026-12-31T10:00",
            "holidays.extra: 2026-12-31",
        ),
        (
            {
                **PLAIN,
                "freezes": [
                    {"name": "black-week", "start": "2026-11-23", "end": "2026-11-30"},
                    {"name": "xmas", "start": "2026-12-14", "end": "2026-12-18", "reason": "peak"},
                ],
            },
            "2026-12-15T10:00",
            "freezes[1]: xmas",
        ),
    ],
)
def test_a_calendar_block_names_the_setting_and_the_file(
    guard: GuardRunner, node: dict[str, Any], at: str, setting: str
) -> None:
    line, policy = blocked_line(guard, node, at)
    assert f"Set by {setting} in {policy}; {HOTFIX_HINT} Next window opens " in line


def test_every_setting_behind_a_block_is_named_once(guard: GuardRunner) -> None:
    node = {**PLAIN, "freezes": [{"name": "xmas", "start": "2026-12-20", "end": "2026-12-27"}]}
    line, policy = blocked_line(guard, node, "2026-12-25T10:00")  # a Friday, a holiday, in the freeze
    assert f"Set by windows: Mon-Thu 08:00-12:00, holidays.country: PL, freezes[0]: xmas in {policy};" in line


def test_without_a_required_reason_the_hint_is_just_the_flag(guard: GuardRunner) -> None:
    line, _ = blocked_line(guard, {**PLAIN, "hotfix": {"require_reason": False}}, "2026-12-05T10:00")
    assert "a hotfix may ship at any time (--hotfix). Next window opens" in line


def test_an_unreachable_local_status_url_says_how_to_point_the_gate_elsewhere(guard: GuardRunner) -> None:
    url = closed_port_url()
    policy = guard.policy({**ALWAYS_OPEN, "incident_gate": {"status_urls": [url]}})
    result = guard.run("check", policy=policy)
    assert result.code == 1
    assert result.out.count("\n") == 1
    assert f"incident status {url} unreachable: " in result.out
    assert NO_WATCHDOG_HERE in result.out
    assert f"Set by incident_gate.on_unreachable: block in {policy}; {HOTFIX_HINT}" in result.out
    document = guard.run("check", "--json", policy=policy).json()
    assert set(document) == {"allowed", "hotfix", "at", "reasons", "next_window"}
    assert [set(r) for r in document["reasons"]] == [{"code", "message"}]
    assert NO_WATCHDOG_HERE in document["reasons"][0]["message"]


def test_a_gate_block_inside_an_open_window_does_not_call_the_window_open_now(
    guard: GuardRunner, status_server: StatusServer
) -> None:
    url = status_server.incidents("/api/v1/status", CRITICAL)
    policy = guard.policy({**PLAIN, "incident_gate": {"status_urls": [url]}})
    result = guard.run("check", "--at", "2026-12-02T10:00", policy=policy)
    assert result.code == 1
    assert result.out.startswith(f"BLOCKED at Wed 2026-12-02 10:00 CET (+01:00) - open incident(s) at {url}: inc-9")
    assert "window is open now" not in result.out
    assert result.out.endswith(
        f"Set by incident_gate.block_on: critical in {policy}; {HOTFIX_HINT} "
        "The release window itself is open until Wed 2026-12-02 12:00 CET (+01:00).\n"
    )


def test_no_blocked_line_says_the_window_is_open_now(guard: GuardRunner, status_server: StatusServer) -> None:
    url = status_server.incidents("/api/v1/status", CRITICAL)
    policy = guard.policy({**PLAIN, "incident_gate": {"status_urls": [url]}})
    for at in ("2026-12-02T08:00", "2026-12-02T11:59", "2026-12-02T12:00", "2026-12-03T09:00"):
        for duration in ("10m", "3h", "5h"):
            result = guard.run("check", "--at", at, "--duration", duration, policy=policy)
            assert result.code == 1
            assert "open now" not in result.out, result.out


def test_the_embedded_default_on_a_machine_without_a_watchdog_says_what_to_change(guard: GuardRunner) -> None:
    result = guard.run_isolated("check", "--at", "2026-12-02T10:00")
    assert result.code == 1, result
    assert result.out.count("\n") == 1
    assert "incident status http://127.0.0.1:9841/api/v1/status unreachable" in result.out
    assert NO_WATCHDOG_HERE in result.out
    assert (
        "Set by incident_gate.on_unreachable: block in <embedded default policy> "
        "(no policy file: write one and name it with -c FILE or $DEPLOY_GUARD_CONFIG); " + HOTFIX_HINT
    ) in result.out
    assert "The release window itself is open until Wed 2026-12-02 12:00 CET (+01:00)." in result.out
