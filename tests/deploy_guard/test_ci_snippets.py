"""The README's CI snippets, run for real.

Their script lines in bash against the installed CLI (every hotfix path, quickly); the whole
GitLab pipeline under a real local GitLab CI runner, installing deploy-guard with its own
line and releasing or not as the gate says; the whole GitHub workflow through actionlint.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
from datetime import UTC, datetime, time, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import yaml

from tests.deploy_guard.ci_tools import GitLabRunner, actionlint, checkout_copy, git, job_image, npm_tools
from tests.deploy_guard.conftest import ALWAYS_OPEN, CLI, PLAIN, REPO, windows_for

DOC = REPO / "README.md"
CLOSED = {**PLAIN, "windows": []}
WARSAW = ZoneInfo("Europe/Warsaw")


def yaml_texts() -> list[str]:
    return re.findall(r"```yaml\n(.*?)```", DOC.read_text(), re.S)


def gitlab_pipeline_text() -> str:
    (text,) = [t for t in yaml_texts() if "deploy-window" in yaml.safe_load(t)]
    return text


def github_workflow_text() -> str:
    (text,) = [t for t in yaml_texts() if "jobs" in yaml.safe_load(t)]
    return text


def gitlab_job() -> dict[str, Any]:
    return yaml.safe_load(gitlab_pipeline_text())["deploy-window"]  # type: ignore[no-any-return]


def github_workflow() -> dict[Any, Any]:
    return yaml.safe_load(github_workflow_text())  # type: ignore[no-any-return]


def github_step() -> dict[str, Any]:
    (step,) = [s for s in github_workflow()["jobs"]["deploy-window"]["steps"] if s.get("name") == "Deploy window"]
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


def test_github_snippet_hotfix_run_by_hand_with_a_reason_input(tmp_path: Path) -> None:
    result = run_github(
        tmp_path, CLOSED, {"GITHUB_REF_NAME": "main"}, {"inputs.hotfix": "true", "inputs.reason": "cart totals wrong"}
    )
    assert result.returncode == 0, result.stderr
    (record,) = audit(tmp_path)
    assert record["hotfix_triggers"] == ["DEPLOY_GUARD_HOTFIX=1"] and record["reason_given"] == "cart totals wrong"


def test_github_snippet_hotfix_run_by_hand_without_a_reason_stops(tmp_path: Path) -> None:
    result = run_github(tmp_path, CLOSED, {"GITHUB_REF_NAME": "main"}, {"inputs.hotfix": "true", "inputs.reason": ""})
    assert result.returncode == 2
    assert "a hotfix needs a reason" in result.stderr


def test_github_snippet_hotfix_branch_on_push(tmp_path: Path) -> None:
    result = run_github(
        tmp_path,
        CLOSED,
        {"GITHUB_REF_NAME": "hotfix/cart"},
        {"github.event.head_commit.message": "Cart totals wrong", "inputs.hotfix": ""},
    )
    assert result.returncode == 0, result.stderr
    (record,) = audit(tmp_path)
    assert (
        record["hotfix_triggers"] == ["GITHUB_REF_NAME=hotfix/cart"] and record["reason_given"] == "Cart totals wrong"
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


def test_the_snippets_are_whole_pipelines() -> None:
    pipeline = yaml.safe_load(gitlab_pipeline_text())
    assert pipeline["stages"] == ["gate", "release"]  # GitLab creates no pipeline of .pre jobs only
    assert pipeline["release"]["needs"] == ["deploy-window"]
    assert pipeline["release"]["rules"] == pipeline["deploy-window"]["rules"]
    assert {"if": "$CI_COMMIT_TAG"} in pipeline["deploy-window"]["rules"]
    assert not pipeline["deploy-window"]["image"].endswith("-slim")  # the git+ install needs git
    workflow = github_workflow()
    on = workflow[True]  # YAML 1.1 reads the key `on` as true
    assert set(on) == {"push", "workflow_dispatch"} and set(on["workflow_dispatch"]["inputs"]) == {"hotfix", "reason"}
    assert "vars.HOTFIX_REASON" not in github_workflow_text()
    assert workflow["jobs"]["release"]["needs"] == "deploy-window"


@pytest.fixture(scope="session")
def ci_tool_bin() -> Path:
    return npm_tools()


@pytest.fixture(scope="session")
def gitlab(ci_tool_bin: Path, tmp_path_factory: pytest.TempPathFactory) -> GitLabRunner:
    """One job image and one git copy of the checkout for every pipeline of the session."""
    base = tmp_path_factory.mktemp("gitlab")
    repo_url = checkout_copy(REPO, base / "shop-watchdog.git")
    (base / "home").mkdir()
    return GitLabRunner(ci_tool_bin, job_image(base / "image"), repo_url, base / "home")


def gitlab_project(tmp_path: Path, message: str, branch: str = "main") -> Path:
    """A repository with the README's pipeline as .gitlab-ci.yml and the plain policy, `branch` checked out."""
    root = tmp_path / "shop"
    (root / "deploy").mkdir(parents=True)
    (root / ".gitlab-ci.yml").write_text(gitlab_pipeline_text())
    (root / "deploy" / "deploy-guard.yaml").write_text(
        yaml.safe_dump({**PLAIN, "audit_log": "deploy-guard-audit.jsonl"})
    )
    git("init", "-q", "-b", "main", cwd=root)
    git("add", "-A", cwd=root)
    git("commit", "-q", "-m", "Shop with a release gate", cwd=root)
    if branch != "main":
        git("checkout", "-q", "-b", branch, cwd=root)
    git("commit", "-q", "--allow-empty", "-m", message, cwd=root)
    return root


def inside_a_window() -> datetime:
    """Half an hour into the next release window at least two hours long, from tomorrow on."""
    period = windows_for(PLAIN).next_window(datetime.now(UTC) + timedelta(days=1), timedelta(hours=2))
    assert period is not None
    return period.start + timedelta(minutes=30)


def outside_the_windows() -> datetime:
    """The next Saturday, 10:00 in Warsaw."""
    day = datetime.now(WARSAW).date() + timedelta(days=1)
    while day.weekday() != 5:
        day += timedelta(days=1)
    return datetime.combine(day, time(10, 0), tzinfo=WARSAW)


def test_gitlab_pipeline_releases_inside_a_window(gitlab: GitLabRunner, tmp_path: Path) -> None:
    project = gitlab_project(tmp_path, "Release 4.2")
    pipeline = gitlab.run(project, inside_a_window())
    assert pipeline.code == 0, pipeline.output
    assert pipeline.jobs_run == ["deploy-window", "release"]
    assert "ALLOWED at " in (pipeline.log("deploy-window") or "")
    assert "Releasing " in (pipeline.log("release") or "")
    (record,) = pipeline.audit()
    assert (record["kind"], record["decision"], record["duration_seconds"]) == ("release", "allowed", 1800)
    assert record["ci"]["system"] == "gitlab" and record["ci"]["ref"] == "main"
    assert record["ci"]["commit"] == git("rev-parse", "HEAD", cwd=project).strip()


def test_gitlab_pipeline_does_not_release_outside_the_windows(gitlab: GitLabRunner, tmp_path: Path) -> None:
    pipeline = gitlab.run(gitlab_project(tmp_path, "Release 4.3"), outside_the_windows())
    assert pipeline.code != 0
    assert pipeline.jobs_run == ["deploy-window"]
    assert "BLOCKED at " in (pipeline.log("deploy-window") or "")
    assert [r["decision"] for r in pipeline.audit()] == ["blocked"]


def test_gitlab_hotfix_branch_releases_outside_the_windows_with_the_commit_as_reason(
    gitlab: GitLabRunner, tmp_path: Path
) -> None:
    project = gitlab_project(tmp_path, "Fix payment 500\n\nThe PSP changed its API.", branch="hotfix/pay-500")
    pipeline = gitlab.run(project, outside_the_windows())
    assert pipeline.code == 0, pipeline.output
    assert pipeline.jobs_run == ["deploy-window", "release"]
    (record,) = pipeline.audit()
    assert record["hotfix_triggers"] == ["CI_COMMIT_REF_NAME=hotfix/pay-500"]
    assert record["reason_given"] == "Fix payment 500"


def test_gitlab_hotfix_run_by_hand_releases_with_its_reason(gitlab: GitLabRunner, tmp_path: Path) -> None:
    pipeline = gitlab.run(
        gitlab_project(tmp_path, "Release 4.4"),
        outside_the_windows(),
        variables=["DEPLOY_GUARD_HOTFIX=1", "HOTFIX_REASON=PSP outage"],
    )
    assert pipeline.code == 0, pipeline.output
    assert pipeline.jobs_run == ["deploy-window", "release"]
    assert pipeline.audit()[0]["reason_given"] == "PSP outage"


def test_gitlab_tag_pipelines_are_gated(gitlab: GitLabRunner, tmp_path: Path) -> None:
    pipeline = gitlab.run(gitlab_project(tmp_path, "Release 4.5"), outside_the_windows(), tag="v4.5")
    assert pipeline.code != 0
    assert pipeline.jobs_run == ["deploy-window"]
    (record,) = pipeline.audit()
    assert record["decision"] == "blocked" and record["ci"]["ref"] == "v4.5"


def test_gitlab_feature_branches_neither_gate_nor_release(gitlab: GitLabRunner, tmp_path: Path) -> None:
    pipeline = gitlab.run(gitlab_project(tmp_path, "WIP", branch="feature/cart"), inside_a_window())
    assert pipeline.jobs_run == []


def github_checkout(tmp_path: Path, workflows: dict[str, str]) -> Path:
    (tmp_path / ".github" / "workflows").mkdir(parents=True)
    for name, text in workflows.items():
        (tmp_path / ".github" / "workflows" / f"{name}.yml").write_text(text)
    return tmp_path


def test_github_workflow_passes_actionlint(ci_tool_bin: Path, tmp_path: Path) -> None:
    result = actionlint(ci_tool_bin, github_checkout(tmp_path, {"release": github_workflow_text()}))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Checking 1 workflow file(s)" in result.stdout
    assert "All workflow files passed lint checks" in result.stdout


BREAKAGES = {  # name: (what the README has, what a broken copy has instead, what actionlint says)
    "no-on": ("on:\n", "when:\n", '"on" section is missing in workflow'),
    "needs-typo": ("needs: deploy-window", "needs: deploy-gate", 'needs job "deploy-gate" which does not exist'),
    "input-typo": ("inputs.reason }}", "inputs.reasons }}", 'property "reasons" is not defined'),
    "runs-on-typo": ("runs-on: ubuntu-latest", "runs_on: ubuntu-latest", '"runs-on" section is missing'),
    "injection": (
        'run: pip install --quiet "shop-watchdog @ git+${SHOP_WATCHDOG_REPO}"',
        "run: echo ${{ github.event.head_commit.message }}",
        '"github.event.head_commit.message" is potentially untrusted',
    ),
}


def test_actionlint_finds_each_broken_copy_of_the_workflow(ci_tool_bin: Path, tmp_path: Path) -> None:
    text = github_workflow_text()
    assert all(old in text for old, _, _ in BREAKAGES.values())
    broken = {name: text.replace(old, new, 1) for name, (old, new, _) in BREAKAGES.items()}
    result = actionlint(ci_tool_bin, github_checkout(tmp_path, broken))
    assert result.returncode == 1
    assert f"Checking {len(BREAKAGES)} workflow file(s)" in result.stdout
    reports = {line.split(":", 1)[0] for line in result.stdout.splitlines() if line.startswith(".github/")}
    assert reports == {f".github/workflows/{name}.yml" for name in BREAKAGES}
    for name, (_, _, problem) in BREAKAGES.items():
        assert any(
            line.startswith(f".github/workflows/{name}.yml:") and problem in line for line in result.stdout.splitlines()
        ), name
