"""The README's CI snippets, run for real: their script lines in bash against the installed CLI."""

from __future__ import annotations

import json
import os
import re
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.deploy_guard.conftest import ALWAYS_OPEN, CLI, PLAIN, REPO

DOC = REPO / "README.md"
CLOSED = {**PLAIN, "windows": []}


def yaml_blocks() -> list[Any]:
    return [yaml.safe_load(block) for block in re.findall(r"```yaml\n(.*?)```", DOC.read_text(), re.S)]


def gitlab_job() -> dict[str, Any]:
    (job,) = [b["deploy-window"] for b in yaml_blocks() if "deploy-window" in b]
    return job  # type: ignore[no-any-return]


def github_step() -> dict[str, Any]:
    (workflow,) = [b for b in yaml_blocks() if "jobs" in b]
    (step,) = [s for s in workflow["jobs"]["deploy-window"]["steps"] if s.get("name") == "Deploy window"]
    return step  # type: ignore[no-any-return]


def project(tmp_path: Path, policy: dict[str, Any]) -> Path:
    """A checkout with the policy where the snippets expect it; the audit log lands in it."""
    (tmp_path / "deploy").mkdir()
    (tmp_path / "deploy" / "deploy-guard.yaml").write_text(
        yaml.safe_dump({**policy, "audit_log": "deploy-guard-audit.jsonl"})
    )
    return tmp_path


def run_bash(script: str, cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    base = {"PATH": f"{CLI.parent}:/usr/bin:/bin", "HOME": str(cwd)}
    return subprocess.run(
        ["bash", "--noprofile", "--norc", "-eo", "pipefail", "-c", script],
        cwd=cwd,
        env={**base, **env},
        capture_output=True,
        text=True,
        timeout=60,
    )


def run_gitlab(tmp_path: Path, policy: dict[str, Any], ci: dict[str, str]) -> subprocess.CompletedProcess[str]:
    job = gitlab_job()
    env = {
        "GITLAB_CI": "true",
        "CI_PIPELINE_ID": "77",
        "CI_PIPELINE_URL": "https://gitlab.example/shop/-/pipelines/77",
        "CI_COMMIT_SHA": "abc123",
        "GITLAB_USER_LOGIN": "anna",
        **job["variables"],
        **ci,
    }
    return run_bash("\n".join(job["script"]), project(tmp_path, policy), env)


def run_github(
    tmp_path: Path, policy: dict[str, Any], ci: dict[str, str], expressions: dict[str, str]
) -> subprocess.CompletedProcess[str]:
    step = github_step()
    env = {
        key: re.sub(r"\$\{\{\s*(.*?)\s*\}\}", lambda m: expressions.get(m.group(1), ""), str(value))
        for key, value in step["env"].items()
    }
    ci_env = {
        "GITHUB_ACTIONS": "true",
        "GITHUB_SERVER_URL": "https://github.com",
        "GITHUB_REPOSITORY": "shop/web",
        "GITHUB_RUN_ID": "5",
        "GITHUB_SHA": "def456",
        "GITHUB_ACTOR": "bob",
        **ci,
    }
    return run_bash(step["run"], project(tmp_path, policy), {**ci_env, **env})


def audit(tmp_path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in (tmp_path / "deploy-guard-audit.jsonl").read_text().splitlines()]


def test_gitlab_snippet_allows_inside_the_window(tmp_path: Path) -> None:
    result = run_gitlab(tmp_path, ALWAYS_OPEN, {"CI_COMMIT_REF_NAME": "main", "CI_COMMIT_MESSAGE": "Release 4.2"})
    assert result.returncode == 0, result.stderr
    assert "ALLOWED at " in result.stdout
    (record,) = audit(tmp_path)
    assert record["duration_seconds"] == 1800
    assert (
        record["ci"]["pipeline_url"] == "https://gitlab.example/shop/-/pipelines/77" and record["ci"]["user"] == "anna"
    )


def test_gitlab_snippet_fails_the_job_outside_the_window(tmp_path: Path) -> None:
    result = run_gitlab(tmp_path, CLOSED, {"CI_COMMIT_REF_NAME": "main", "CI_COMMIT_MESSAGE": "Release 4.2"})
    assert result.returncode == 1
    assert "BLOCKED at " in result.stdout
    assert audit(tmp_path)[0]["decision"] == "blocked"


@pytest.mark.parametrize(
    "ci, code, reason",
    [
        ({"CI_COMMIT_REF_NAME": "hotfix/pay", "CI_COMMIT_MESSAGE": "Fix payment 500"}, 0, "Fix payment 500"),
        ({"CI_COMMIT_REF_NAME": "main", "CI_COMMIT_MESSAGE": "[hotfix] stock sync"}, 0, "stock sync"),
        (
            {
                "CI_COMMIT_REF_NAME": "main",
                "CI_COMMIT_MESSAGE": "x",
                "DEPLOY_GUARD_HOTFIX": "1",
                "HOTFIX_REASON": "PSP outage",
            },
            0,
            "PSP outage",
        ),
        ({"CI_COMMIT_REF_NAME": "hotfix/pay", "CI_COMMIT_MESSAGE": "[hotfix]"}, 2, None),
    ],
)
def test_gitlab_snippet_hotfixes(tmp_path: Path, ci: dict[str, str], code: int, reason: str | None) -> None:
    result = run_gitlab(tmp_path, CLOSED, ci)
    assert result.returncode == code, result.stderr
    if reason is not None:
        assert audit(tmp_path)[0]["reason_given"] == reason
    else:
        assert "a hotfix needs a reason" in result.stderr


def test_gitlab_snippet_stops_on_an_invalid_policy(tmp_path: Path) -> None:
    result = run_gitlab(tmp_path, {**PLAIN, "timezone": "Europe/Warsw"}, {"CI_COMMIT_REF_NAME": "main"})
    assert result.returncode == 2
    assert "deploy/deploy-guard.yaml: timezone: unknown IANA timezone" in result.stderr


def test_github_snippet_allows_inside_the_window(tmp_path: Path) -> None:
    result = run_github(
        tmp_path, ALWAYS_OPEN, {"GITHUB_REF_NAME": "main"}, {"github.event.head_commit.message": "Release 4.2"}
    )
    assert result.returncode == 0, result.stderr
    (record,) = audit(tmp_path)
    assert record["ci"]["pipeline_url"] == "https://github.com/shop/web/actions/runs/5"


def test_github_snippet_blocks_outside_the_window(tmp_path: Path) -> None:
    result = run_github(
        tmp_path, CLOSED, {"GITHUB_REF_NAME": "main"}, {"github.event.head_commit.message": "Release 4.2"}
    )
    assert result.returncode == 1
    assert "BLOCKED at " in result.stdout


def test_github_snippet_pull_request_hotfix_branch_with_reason_variable(tmp_path: Path) -> None:
    result = run_github(
        tmp_path,
        CLOSED,
        {"GITHUB_HEAD_REF": "hotfix/cart", "GITHUB_REF_NAME": "12/merge"},
        {"vars.HOTFIX_REASON": "cart totals wrong"},
    )
    assert result.returncode == 0, result.stderr
    (record,) = audit(tmp_path)
    assert (
        record["hotfix_triggers"] == ["GITHUB_HEAD_REF=hotfix/cart"] and record["reason_given"] == "cart totals wrong"
    )


def test_github_snippet_commit_tag_hotfix_on_push(tmp_path: Path) -> None:
    result = run_github(
        tmp_path, CLOSED, {"GITHUB_REF_NAME": "main"}, {"github.event.head_commit.message": "[hotfix] refund button"}
    )
    assert result.returncode == 0, result.stderr
    assert audit(tmp_path)[0]["reason_given"] == "refund button"


def test_snippets_use_only_the_documented_cli(tmp_path: Path) -> None:
    assert os.access(CLI, os.X_OK)
    assert all(line.startswith(("deploy-guard validate", "deploy-guard check")) for line in gitlab_job()["script"])
