"""Recording releases, deploy-guard's side: where it sends, the release id, the body from the
CI environment. With a real daemon: tests/watchdog/test_e2e_releases.py."""

from __future__ import annotations

import pytest

from deploy_guard.ci_identity import ci_identity
from deploy_guard.hotfix import Hotfix
from deploy_guard.inputs import UsageError
from deploy_guard.policy import IncidentGateConfig
from deploy_guard.release_record import release_body, release_id, release_urls

CI = {
    "GITLAB_CI": "true",
    "CI_PIPELINE_ID": "4711",
    "CI_COMMIT_SHA": "9f1c2e7",
    "CI_COMMIT_REF_NAME": "main",
    "GITLAB_USER_LOGIN": "alice",
}

# -- where and what deploy-guard sends -----------------------------------------------------------


def test_each_status_urls_daemon_gets_the_release_once() -> None:
    gate = IncidentGateConfig(
        status_urls=(
            "http://127.0.0.1:9841/api/v1/status",
            "http://127.0.0.1:9841/api/v1/status?x=1",
            "https://shop-web-2.example:9841/api/v1/status",
        )
    )
    assert release_urls(gate) == (
        "http://127.0.0.1:9841/api/v1/releases",
        "https://shop-web-2.example:9841/api/v1/releases",
    )
    with pytest.raises(UsageError, match=r"incident_gate\.status_urls"):
        release_urls(None)


def test_the_release_id_comes_from_the_option_else_the_pipeline() -> None:
    assert release_id(" r-9 ", CI) == "r-9"
    assert release_id(None, CI) == "4711"
    assert release_id(None, {"GITHUB_RUN_ID": "77", "GITHUB_RUN_ATTEMPT": "2"}) == "77-2"
    assert release_id(None, {"DEPLOY_GUARD_RELEASE_ID": "v1.2", "CI_PIPELINE_ID": "1"}) == "v1.2"
    assert release_id(None, {"GITHUB_SHA": "0a1b2c"}) == "0a1b2c"
    with pytest.raises(UsageError, match="give --id"):
        release_id(None, {})
    with pytest.raises(UsageError, match="printable"):
        release_id("a\nb", {})


def test_the_body_carries_the_ci_identity_and_the_hotfix() -> None:
    body = release_body("start", "4711", ci_identity(CI), Hotfix(("--hotfix",), "pay fix"))
    assert body == {
        "event": "start",
        "id": "4711",
        "commit": "9f1c2e7",
        "branch": "main",
        "by": "alice",
        "hotfix": True,
        "reason": "pay fix",
    }
