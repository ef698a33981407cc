"""Who and what is releasing, from the variables GitLab CI and GitHub Actions set.

Only these named variables are read (never the whole environment, which holds secrets), and
each must be valid UTF-8: the audit record names who released, faithfully or not at all.
"""

from __future__ import annotations

import getpass
from collections.abc import Mapping
from dataclasses import asdict, dataclass

from deploy_guard.inputs import env_text, utf8_text


@dataclass(frozen=True)
class CiIdentity:
    system: str | None
    user: str | None
    ref: str | None
    commit: str | None
    pipeline_url: str | None
    job_url: str | None
    project: str | None

    def as_json(self) -> dict[str, str | None]:
        return asdict(self)


def _first(environ: Mapping[str, str], *names: str) -> str | None:
    for name in names:
        value = env_text(environ, name).strip()
        if value:
            return value
    return None


def _local_user() -> str | None:
    try:
        return utf8_text(getpass.getuser(), "the local user name")
    except (KeyError, OSError):
        return None


def ci_identity(environ: Mapping[str, str]) -> CiIdentity:
    """GitLab's, else GitHub's, else the local user's identity; UsageError for a variable not in UTF-8."""
    if environ.get("GITLAB_CI") or environ.get("CI_PIPELINE_ID"):
        return CiIdentity(
            system="gitlab",
            user=_first(environ, "GITLAB_USER_LOGIN", "GITLAB_USER_NAME", "GITLAB_USER_EMAIL"),
            ref=_first(environ, "CI_COMMIT_REF_NAME", "CI_COMMIT_TAG"),
            commit=_first(environ, "CI_COMMIT_SHA"),
            pipeline_url=_first(environ, "CI_PIPELINE_URL"),
            job_url=_first(environ, "CI_JOB_URL"),
            project=_first(environ, "CI_PROJECT_PATH"),
        )
    if environ.get("GITHUB_ACTIONS") or environ.get("GITHUB_RUN_ID"):
        server = _first(environ, "GITHUB_SERVER_URL") or "https://github.com"
        repository = _first(environ, "GITHUB_REPOSITORY")
        run_id = _first(environ, "GITHUB_RUN_ID")
        pipeline = f"{server}/{repository}/actions/runs/{run_id}" if repository and run_id else None
        return CiIdentity(
            system="github",
            user=_first(environ, "GITHUB_TRIGGERING_ACTOR", "GITHUB_ACTOR"),
            ref=_first(environ, "GITHUB_HEAD_REF", "GITHUB_REF_NAME"),
            commit=_first(environ, "GITHUB_SHA"),
            pipeline_url=pipeline,
            job_url=None,
            project=repository,
        )
    return CiIdentity(None, _first(environ, "USER") or _local_user(), None, None, None, None, None)
