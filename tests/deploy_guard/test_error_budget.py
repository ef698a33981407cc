"""The error budget against a real HTTP server on 127.0.0.1 playing the watchdog (figures,
errors, hangs), and the policy keys that configure it."""

from __future__ import annotations

from typing import Any

import pytest

from deploy_guard.error_budget import availability_url, check_error_budget
from deploy_guard.policy import ErrorBudgetConfig
from tests.deploy_guard.conftest import ALWAYS_OPEN, PLAIN, GuardRunner, policy_from
from tests.servers.status_server import StatusServer, closed_port_url
from watchdog.common.configtools import ConfigError

WEEK = 7 * 86400.0


def document(good: float, total: float, window: str = "7d") -> dict[str, Any]:
    """A watchdog's status document with its availability over `window`."""
    share = good / total if total else None
    return {
        "host": "shop-web-1",
        "checks": [],
        "incidents": [],
        "availability": {
            "window": window,
            "since": "2026-11-16T12:00:00Z",
            "availability": share,
            "good_seconds": good,
            "total_seconds": total,
            "checks": [],
        },
    }


def budget(*urls: str, **options: Any) -> ErrorBudgetConfig:
    config: dict[str, Any] = {"objective": 99.9, "status_urls": tuple(urls), "window": WEEK} | options
    return ErrorBudgetConfig(**config)


@pytest.mark.parametrize(
    ("bad_seconds", "codes"),
    [
        (0.0, []),
        (604.8, []),  # exactly 99.9 % of a week: the objective is met
        (605.0, ["error_budget_exhausted"]),
        (3600.0, ["error_budget_exhausted"]),
    ],
)
def test_availability_under_the_objective_blocks(
    status_server: StatusServer, bad_seconds: float, codes: list[str]
) -> None:
    url = status_server.answer("/api/v1/status?availability=7d", document(WEEK - bad_seconds, WEEK))
    result = check_error_budget(budget(status_server.url("/api/v1/status")))
    assert [r.code for r in result.reasons] == codes
    assert url.endswith("?availability=7d")
    if codes:
        message = result.reasons[0].message
        assert "under the objective 99.9%" in message and status_server.url("/api/v1/status") in message
        assert result.reasons[0].setting == "error_budget.objective: 99.9%"


def test_the_message_gives_the_share_the_failure_and_the_budget(status_server: StatusServer) -> None:
    status_server.answer("/s?availability=7d", document(WEEK - 3600, WEEK))
    [reason] = check_error_budget(budget(status_server.url("/s"))).reasons
    assert "availability 99.405% over the last 7d" in reason.message
    assert "1h of failure against a budget of 605s" in reason.message


def test_any_watchdog_under_the_objective_blocks(status_server: StatusServer) -> None:
    status_server.answer("/a?availability=7d", document(WEEK, WEEK))
    status_server.answer("/b?availability=7d", document(WEEK - 7200, WEEK))
    result = check_error_budget(budget(status_server.url("/a"), status_server.url("/b")))
    assert [r.code for r in result.reasons] == ["error_budget_exhausted"]
    assert status_server.url("/b") in result.reasons[0].message
    assert [s.as_json()["error_budget"]["availability"] for s in result.sources] == [1.0, (WEEK - 7200) / WEEK]


def test_a_watchdog_without_history_yet_is_told_not_blocked(status_server: StatusServer) -> None:
    status_server.answer("/s?availability=7d", document(0.0, 0.0))
    result = check_error_budget(budget(status_server.url("/s")))
    assert result.reasons == () and "has no check history in the last 7d yet" in result.notes[0]


@pytest.mark.parametrize(
    ("answer", "error"),
    [
        ({"host": "h", "checks": [], "incidents": []}, "no readable availability"),
        ({"oops": 1}, 'answer has no "incidents" list'),
        (document(10, 5), "is not a share from 0 to 1"),
    ],
)
@pytest.mark.parametrize("on_unreachable", ["block", "allow"])
def test_an_answer_without_a_usable_availability_follows_on_unreachable(
    status_server: StatusServer, answer: dict[str, Any], error: str, on_unreachable: str
) -> None:
    status_server.answer("/s?availability=7d", answer)
    result = check_error_budget(budget(status_server.url("/s"), on_unreachable=on_unreachable))
    if on_unreachable == "block":
        assert [r.code for r in result.reasons] == ["error_budget_unreachable"]
        assert error in result.reasons[0].message and "error_budget.on_unreachable: allow" in result.reasons[0].message
    else:
        assert result.reasons == () and error in result.notes[0]


def test_a_closed_port_and_a_hang_cost_at_most_the_timeout(status_server: StatusServer) -> None:
    hung = status_server.hang("/hang?availability=7d").split("?")[0]
    result = check_error_budget(budget(closed_port_url(), hung, timeout=0.5))
    assert [r.code for r in result.reasons] == ["error_budget_unreachable"] * 2
    assert "Connection refused" in result.reasons[0].message and "no answer within 0.5s" in result.reasons[1].message


def test_the_availability_window_is_added_to_the_status_url() -> None:
    assert availability_url("http://127.0.0.1:9841/api/v1/status", 28 * 86400) == (
        "http://127.0.0.1:9841/api/v1/status?availability=28d"
    )
    assert availability_url("http://h/api/v1/status?x=1&availability=1h", 3600) == (
        "http://h/api/v1/status?x=1&availability=1h"
    )


def test_policy_error_budget_defaults_and_percent() -> None:
    policy = policy_from({**ALWAYS_OPEN, "error_budget": {"objective": "99.5%", "status_urls": ["http://h/s"]}})
    assert policy.error_budget == ErrorBudgetConfig(objective=99.5, status_urls=("http://h/s",), window=28 * 86400.0)


def test_policy_error_budget_problems_are_all_named() -> None:
    node = {
        **ALWAYS_OPEN,
        "error_budget": {"objective": "100%", "window": "91d", "status_urls": ["ftp://h/s"], "on_unreachable": "x"},
    }
    with pytest.raises(ConfigError) as caught:
        policy_from(node)
    text = str(caught.value)
    assert "error_budget.window: must be from 1h to 90d, got 91d" in text
    assert "error_budget.on_unreachable" in text
    with pytest.raises(ConfigError) as caught:
        policy_from({**ALWAYS_OPEN, "error_budget": {"objective": "100%", "status_urls": ["ftp://h/s"]}})
    text = str(caught.value)
    assert "error_budget.objective: expected a percentage above 0% and below 100%, got 100%" in text
    assert "error_budget.status_urls[0]: expected an http:// or https:// URL, got 'ftp://h/s'" in text
    with pytest.raises(ConfigError, match=r"error_budget\.status_urls: give at least one"):
        policy_from({**ALWAYS_OPEN, "error_budget": {"objective": "99%", "status_urls": []}})


def test_validate_names_the_error_budget(guard: GuardRunner) -> None:
    policy = guard.policy({**ALWAYS_OPEN, "error_budget": {"objective": "99.9%", "status_urls": ["http://h/s"]}})
    result = guard.run("validate", policy=policy)
    assert result.code == 0, result
    assert "error budget 99.9% over 28d from 1 URL(s), on_unreachable block" in result.out


def test_a_closed_window_or_a_hotfix_never_asks_the_budget(guard: GuardRunner, status_server: StatusServer) -> None:
    status_server.answer("/s?availability=28d", document(0.0, WEEK, "28d"))  # nothing good: would block
    node = {**PLAIN, "error_budget": {"objective": "99.9%", "status_urls": [status_server.url("/s")]}}
    policy = guard.policy(node)
    saturday = guard.run("check", "--at", "2026-11-28T10:00:00+01:00", "--json", policy=policy)
    assert saturday.code == 1 and [r["code"] for r in saturday.json()["reasons"]] == ["outside_window"]
    hotfix = guard.run("check", "--hotfix", "--reason", "broken checkout", "--json", policy=policy)
    assert hotfix.code == 0 and [r["code"] for r in hotfix.json()["reasons"]] == ["hotfix"]
    assert status_server.requests == []
    tuesday = guard.run("check", "--at", "2026-11-24T09:00:00+01:00", "--json", policy=policy)
    assert tuesday.code == 1 and [r["code"] for r in tuesday.json()["reasons"]] == ["error_budget_exhausted"]
    assert status_server.requests == ["/s?availability=28d"]
    assert guard.audit_records()[-1]["incident_gate"] == [
        {
            "url": status_server.url("/s"),
            "error_budget": {"window": "28d", "availability": 0.0, "good_seconds": 0.0, "total_seconds": WEEK},
        }
    ]
