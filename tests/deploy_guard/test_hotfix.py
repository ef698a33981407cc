"""Hotfix detection: flag, environment, GitLab/GitHub branches, commit tags; reasons required."""

from __future__ import annotations

import pytest

from deploy_guard.hotfix import detect_hotfix
from deploy_guard.policy import HotfixConfig
from tests.deploy_guard.conftest import PLAIN, GuardRunner

CONFIG = HotfixConfig(branch_patterns=("hotfix/*", "urgent-*"), commit_tags=("[hotfix]", "#urgent"))


@pytest.mark.parametrize(
    "env, flag, triggers",
    [
        ({}, False, ()),
        ({}, True, ("--hotfix",)),
        ({"DEPLOY_GUARD_HOTFIX": "1"}, False, ("DEPLOY_GUARD_HOTFIX=1",)),
        ({"DEPLOY_GUARD_HOTFIX": "0"}, False, ()),
        ({"CI_COMMIT_REF_NAME": "hotfix/pay-500"}, False, ("CI_COMMIT_REF_NAME=hotfix/pay-500",)),
        ({"CI_COMMIT_REF_NAME": "feature/hotfix/x"}, False, ()),
        ({"GITHUB_HEAD_REF": "urgent-cart"}, False, ("GITHUB_HEAD_REF=urgent-cart",)),
        ({"GITHUB_REF_NAME": "hotfix/x", "GITHUB_HEAD_REF": ""}, False, ("GITHUB_REF_NAME=hotfix/x",)),
        ({"GITHUB_REF_NAME": "Hotfix/x"}, False, ()),  # refs are case-sensitive
        ({"CI_COMMIT_MESSAGE": "[HOTFIX] cart totals"}, False, ("commit tag [hotfix]",)),
        ({"CI_COMMIT_MESSAGE": "cart totals #urgent"}, False, ("commit tag #urgent",)),
        ({"CI_COMMIT_MESSAGE": "hotfix cart totals"}, False, ()),
    ],
)
def test_hotfix_is_detected_from_flag_environment_branches_and_tags(
    env: dict[str, str], flag: bool, triggers: tuple[str, ...]
) -> None:
    assert detect_hotfix(CONFIG, env, flag=flag, reason=None).triggers == triggers


@pytest.mark.parametrize(
    "message, given, reason",
    [
        ("[hotfix] Fix checkout 500\n\nLong story", None, "Fix checkout 500"),
        ("[hotfix]\n\n  refund button broken  ", None, "refund button broken"),
        ("[hotfix]", None, None),
        ("", None, None),
        ("[hotfix] from the commit", "  from   the flag ", "from the flag"),
    ],
)
def test_reason_comes_from_the_flag_else_the_commit_message(
    message: str, given: str | None, reason: str | None
) -> None:
    found = detect_hotfix(CONFIG, {"CI_COMMIT_MESSAGE": message}, flag=True, reason=given)
    assert found.reason == reason


def test_hotfix_without_reason_exits_2_and_is_not_released(guard: GuardRunner) -> None:
    policy = guard.policy({**PLAIN, "windows": []})
    result = guard.run("check", policy=policy, env={"CI_COMMIT_REF_NAME": "hotfix/x", "CI_COMMIT_MESSAGE": "[hotfix]"})
    assert result.code == 2
    assert "a hotfix needs a reason" in result.err and "--reason" in result.err


def test_hotfix_without_reason_is_allowed_when_the_policy_does_not_require_one(guard: GuardRunner) -> None:
    policy = guard.policy({**PLAIN, "windows": [], "hotfix": {"require_reason": False}})
    result = guard.run("check", "--hotfix", "--json", policy=policy)
    assert result.code == 0
    assert result.json()["hotfix"] is True


def test_gitlab_hotfix_branch_ships_outside_the_window_and_is_recorded(guard: GuardRunner) -> None:
    policy = guard.policy({**PLAIN, "windows": []})
    env = {
        "GITLAB_CI": "true",
        "CI_PIPELINE_ID": "4242",
        "CI_COMMIT_REF_NAME": "hotfix/pay-500",
        "CI_COMMIT_MESSAGE": "Fix payment 500 after PSP change",
        "CI_COMMIT_SHA": "0123abcd",
        "CI_PIPELINE_URL": "https://gitlab.example/shop/-/pipelines/4242",
        "GITLAB_USER_LOGIN": "anna",
    }
    result = guard.run("check", "--at", "2026-12-24T22:00", policy=policy, env=env)
    assert result.code == 0, result
    assert result.out.startswith(
        "ALLOWED at Thu 2026-12-24 22:00 CET (+01:00) - hotfix (declared by CI_COMMIT_REF_NAME=hotfix/pay-500)"
    )
    assert "Fix payment 500 after PSP change" in result.out
    record = guard.audit_records()[-1]
    assert record["decision"] == "allowed" and record["hotfix"] is True
    assert record["reason_given"] == "Fix payment 500 after PSP change"
    assert record["reasons"] == ["hotfix"]
    assert record["ci"] == {
        "system": "gitlab",
        "user": "anna",
        "ref": "hotfix/pay-500",
        "commit": "0123abcd",
        "pipeline_url": "https://gitlab.example/shop/-/pipelines/4242",
        "job_url": None,
        "project": None,
    }


def test_github_pull_request_hotfix_is_recorded_with_the_run_url(guard: GuardRunner) -> None:
    policy = guard.policy({**PLAIN, "windows": []})
    env = {
        "GITHUB_ACTIONS": "true",
        "GITHUB_HEAD_REF": "hotfix/cart",
        "GITHUB_REF_NAME": "17/merge",
        "GITHUB_SHA": "feedbeef",
        "GITHUB_ACTOR": "bob",
        "GITHUB_SERVER_URL": "https://github.com",
        "GITHUB_REPOSITORY": "shop/web",
        "GITHUB_RUN_ID": "99",
    }
    result = guard.run("check", "--reason", "cart totals wrong", "--json", policy=policy, env=env)
    assert result.code == 0, result
    record = guard.audit_records()[-1]
    assert record["hotfix_triggers"] == ["GITHUB_HEAD_REF=hotfix/cart"]
    assert record["ci"]["pipeline_url"] == "https://github.com/shop/web/actions/runs/99"
    assert record["ci"]["user"] == "bob" and record["ci"]["ref"] == "hotfix/cart"


def test_environment_hotfix_with_commit_tag_reason(guard: GuardRunner) -> None:
    policy = guard.policy({**PLAIN, "windows": []})
    env = {"DEPLOY_GUARD_HOTFIX": "1", "CI_COMMIT_MESSAGE": "[hotfix] stock sync stuck"}
    result = guard.run("check", "--json", policy=policy, env=env)
    assert result.code == 0
    message = result.json()["reasons"][0]["message"]
    assert "DEPLOY_GUARD_HOTFIX=1" in message and "commit tag [hotfix]" in message and "stock sync stuck" in message


def test_a_normal_release_on_a_hotfix_looking_branch_elsewhere_is_not_a_hotfix(guard: GuardRunner) -> None:
    policy = guard.policy({**PLAIN, "windows": []})
    result = guard.run(
        "check", "--json", policy=policy, env={"CI_COMMIT_REF_NAME": "main", "CI_COMMIT_MESSAGE": "hotfix later"}
    )
    assert result.code == 1
    assert result.json()["hotfix"] is False
