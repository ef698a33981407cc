"""Telling the watchdogs that a release starts or finishes: `POST /api/v1/releases`.

Where: the daemon behind each `incident_gate.status_urls` entry (same scheme, host and port,
path /api/v1/releases), so a policy that already names its shop's watchdogs needs nothing
more; the write token comes from `incident_gate.api_token_env` / `api_token_file`. All
daemons are told at once, each bounded by the gate's `timeout` (deploy_guard.parallel).

What: the release id (`--id`, else `$DEPLOY_GUARD_RELEASE_ID`, else the CI pipeline's id,
else the commit),
the commit, branch and who from the CI identity (deploy_guard.ci_identity), and whether it
is a hotfix and why (deploy_guard.hotfix). The daemon stamps the time itself.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal
from urllib.parse import urlsplit

from deploy_guard.ci_identity import CiIdentity
from deploy_guard.hotfix import Hotfix
from deploy_guard.incident_gate import StatusUnavailable, http_send
from deploy_guard.inputs import UsageError, env_text
from deploy_guard.parallel import in_parallel
from deploy_guard.policy import IncidentGateConfig
from watchdog.common.logs import is_one_line

RELEASES_PATH = "/api/v1/releases"
ID_VARIABLES = ("DEPLOY_GUARD_RELEASE_ID", "CI_PIPELINE_ID", "GITHUB_RUN_ID", "CI_COMMIT_SHA", "GITHUB_SHA")
"""Where the release id comes from without `--id`: the pipeline's id, else the commit's."""
MAX_ID = 128
"""Characters of a release id (the daemon refuses longer ones)."""
NOT_RECORDED = 3
"""Exit code: the release could not be recorded at every watchdog (see deploy_guard.cli)."""

Event = Literal["start", "finish"]
Post = Callable[[str, bytes, Mapping[str, str], float], None]


def http_post(url: str, body: bytes, headers: Mapping[str, str], timeout: float) -> None:
    http_send(url, timeout, body, headers)


def release_urls(gate: IncidentGateConfig | None) -> tuple[str, ...]:
    """The releases endpoint of each status URL's daemon; UsageError when there is none."""
    urls = [] if gate is None else [urlsplit(u) for u in gate.status_urls]
    if not urls:
        raise UsageError(
            "no watchdog to record the release at: recording goes to the daemons of "
            "incident_gate.status_urls, and the policy names none"
        )
    return tuple(dict.fromkeys(f"{u.scheme}://{u.netloc}{RELEASES_PATH}" for u in urls))


def release_id(given: str | None, environ: Mapping[str, str]) -> str:
    """`--id`, else the first of ID_VARIABLES set (GitHub's run id with its attempt);
    UsageError when there is none, or it is not one line of at most MAX_ID characters."""
    value = (given or "").strip()
    if not value:
        for name in ID_VARIABLES:
            value = env_text(environ, name).strip()
            if value:
                attempt = env_text(environ, "GITHUB_RUN_ATTEMPT").strip() if name == "GITHUB_RUN_ID" else ""
                value += f"-{attempt}" if attempt else ""
                break
    if not value:
        raise UsageError(f"no release id: give --id ID or set one of {', '.join(ID_VARIABLES)}")
    if len(value) > MAX_ID or not is_one_line(value):
        raise UsageError(f"release id: one line of at most {MAX_ID} printable characters, got {value[:40]!r}")
    return value


def release_body(event: Event, rid: str, identity: CiIdentity, hotfix: Hotfix) -> dict[str, Any]:
    return {
        "event": event,
        "id": rid,
        "commit": identity.commit,
        "branch": identity.ref,
        "by": identity.user,
        "hotfix": hotfix.detected,
        "reason": hotfix.reason,
    }


@dataclass(frozen=True)
class Recorded:
    """One daemon's answer: recorded (error None) or why not."""

    url: str
    error: str | None = None

    def as_json(self) -> dict[str, Any]:
        return {"url": self.url, "recorded": self.error is None, "error": self.error}


def record_release(
    gate: IncidentGateConfig, urls: Sequence[str], body: Mapping[str, Any], post: Post = http_post
) -> list[Recorded]:
    """Sends `body` to every URL at once; each daemon's answer, within the gate's timeout."""
    data = json.dumps(body, ensure_ascii=False).encode()
    headers = {} if gate.api_token is None else {"Authorization": f"Bearer {gate.api_token.reveal()}"}

    def send(url: str) -> Recorded:
        try:
            post(url, data, headers, gate.timeout)
        except StatusUnavailable as exc:
            return Recorded(url, str(exc))
        return Recorded(url)

    answers = in_parallel({url: functools.partial(send, url) for url in urls}, gate.timeout)
    return [answers[url] or Recorded(url, f"no answer within {gate.timeout:g}s") for url in urls]


def failures_text(results: Sequence[Recorded]) -> str:
    return "; ".join(f"{r.url}: {r.error}" for r in results if r.error is not None)
