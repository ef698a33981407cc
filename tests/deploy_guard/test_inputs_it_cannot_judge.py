"""Command-line and CI input deploy-guard cannot judge, through the real installed CLI.

Each is exit 2 with one line a developer understands, never a traceback or "internal error",
and never an audit record: years the calendar does not know, durations without a unit or
longer than any window, text that is not UTF-8.
"""

from __future__ import annotations

from importlib.metadata import version

import pytest

from deploy_guard.cli import main
from tests.deploy_guard.conftest import ALWAYS_OPEN, PLAIN, GuardRunner

PL_RANGE = (
    "outside the dates this policy can judge "
    "(1925-01-01 to 2100-12-30: the holidays library knows PL holidays for 1925-2100 only)"
)
COMPUTED_RANGE = (
    "outside the dates this policy can judge (0002-01-01 to 9998-12-31: the range of dates deploy-guard computes with)"
)


@pytest.mark.parametrize(
    "args, message",
    [
        (["check", "--at", "0001-01-01"], f"--at: 0001-01-01 is {PL_RANGE}"),
        (["check", "--at", "9999-12-31T23:59"], f"--at: 9999-12-31 is {PL_RANGE}"),
        (["check", "--at", "0001-01-01T00:00+14:00"], f"--at: 0001-01-01T00:00+14:00 is {PL_RANGE}"),
        (["check", "--at", "9999-12-31T23:59-12:00"], f"--at: 9999-12-31T23:59-12:00 is {PL_RANGE}"),
        (["check", "--at", "2101-01-04T10:00"], f"--at: 2101-01-04 is {PL_RANGE}"),  # a Monday without holiday data
        (["check", "--at", "1924-12-29T10:00"], f"--at: 1924-12-29 is {PL_RANGE}"),
        (["next", "--at", "9999-12-31T23:59"], f"--at: 9999-12-31 is {PL_RANGE}"),
        (["next", "--at", "0001-01-01"], f"--at: 0001-01-01 is {PL_RANGE}"),
        (["calendar", "--from", "9999-12-25"], f"--from: 9999-12-25 is {PL_RANGE}"),
        (["calendar", "--from", "0001-01-01", "--days", "3"], f"--from: 0001-01-01 is {PL_RANGE}"),
        (["calendar", "--from", "2100-12-25", "--days", "14"], f"--days: 2100-12-31 is {PL_RANGE}"),
        (
            ["check", "--at", "2100-12-20T10:00", "--duration", "20d"],
            "--duration: the release would run until 2101-01-09, past the dates this policy can judge",
        ),
    ],
)
def test_dates_the_holiday_calendar_does_not_know_are_refused(
    guard: GuardRunner, args: list[str], message: str
) -> None:
    guard.run(*args, policy=guard.policy(PLAIN)).assert_refused(message)
    assert guard.audit_records() == []


def test_the_first_and_last_days_the_calendar_knows_are_judged(guard: GuardRunner) -> None:
    policy = guard.policy(PLAIN)
    assert guard.run("check", "--at", "2100-12-30T10:00", policy=policy).code == 0
    assert guard.run("check", "--at", "1925-01-01T10:00", policy=policy).code == 1  # New Year's Day
    calendar = guard.run("calendar", "--from", "2100-12-17", "--days", "14", policy=policy)
    assert calendar.code == 0 and calendar.out.splitlines()[-1].startswith("2100-12-30  Thu")


def test_next_near_the_end_says_where_the_search_stopped(guard: GuardRunner) -> None:
    result = guard.run("next", "--at", "2100-12-30T13:00", policy=guard.policy(PLAIN))
    assert result.code == 0
    assert result.out == "No release window opens up to 2100-12-30, the last date this policy can judge.\n"


def test_without_a_country_the_whole_computable_range_is_judged(guard: GuardRunner) -> None:
    policy = guard.policy(ALWAYS_OPEN)
    last = guard.run("check", "--at", "9998-12-31T23:59", policy=policy)
    assert last.code == 0 and last.out.startswith("ALLOWED at Thu 9998-12-31 23:59 CET (+01:00).")
    first = guard.run("check", "--at", "0002-01-01T00:00", policy=policy)
    assert first.code == 0 and first.out.startswith("ALLOWED at Tue 0002-01-01 00:00 LMT (+01:24).")
    assert guard.run("calendar", "--from", "9998-12-18", "--days", "14", policy=policy).code == 0
    guard.run("check", "--at", "9999-01-01T00:00", policy=policy).assert_refused(
        f"--at: 9999-01-01 is {COMPUTED_RANGE}"
    )
    guard.run("next", "--at", "0001-12-31T23:00", policy=policy).assert_refused(f"--at: 0001-12-31 is {COMPUTED_RANGE}")


def test_a_freeze_until_the_end_of_time_stays_closed(guard: GuardRunner) -> None:
    forever = {"freezes": [{"name": "rewrite", "start": "0001-01-01", "end": "9999-12-31"}]}
    policy = guard.policy({**PLAIN, **forever})
    assert guard.run("validate", policy=policy).code == 0
    blocked = guard.run("check", "--at", "2026-12-02T10:00", policy=policy)
    assert blocked.code == 1 and "No release window opens within a year." in blocked.out
    open_policy = guard.policy({**ALWAYS_OPEN, **forever})
    assert guard.run("next", "--at", "9998-06-01T10:00", policy=open_policy).out == (
        "No release window opens up to 9998-12-31, the last date this policy can judge.\n"
    )


def test_a_clock_beyond_the_calendar_is_refused_naming_the_clock(guard: GuardRunner) -> None:
    result = guard.run(
        "check", policy=guard.policy(PLAIN), env={"TZ": "UTC"}, prefix=["faketime", "2101-06-01 08:00:00"]
    )
    result.assert_refused(f"now: 2101-06-01 is {PL_RANGE}; check this machine's clock")


@pytest.mark.parametrize(
    "value, message",
    [
        ("30", "--duration: 30 has no unit: write 30m for 30 minutes or 30s for 30 seconds"),
        (" 45 ", "--duration: 45 has no unit: write 45m for 45 minutes or 45s for 45 seconds"),
        ("1.5", "--duration: 1.5 has no unit: write 1.5m for 1.5 minutes or 1.5s for 1.5 seconds"),
        ("32d", "--duration: at most 31d (no release window is longer), got '32d'"),
        ("5x", "--duration: expected a duration like 30s"),
    ],
)
def test_a_duration_needs_a_unit_and_fits_a_month(guard: GuardRunner, value: str, message: str) -> None:
    guard.run("check", "--duration", value, policy=guard.policy(ALWAYS_OPEN)).assert_refused(message)
    assert guard.audit_records() == []


def test_the_longest_duration_is_judged(guard: GuardRunner) -> None:
    result = guard.run("check", "--duration", "31d", "--json", policy=guard.policy(ALWAYS_OPEN))
    assert result.code == 0 and result.json()["allowed"] is True
    assert guard.audit_records()[0]["duration_seconds"] == 31 * 86400


@pytest.mark.parametrize(
    "value, message",
    [
        ("99999999999999999999d", "--duration: at most 31d"),
        ("100000000000h", "--duration: at most 31d"),
        ("1" + "0" * 400 + "d", "--duration: duration too large, got '1000"),
    ],
)
def test_a_huge_duration_is_refused_at_once(guard: GuardRunner, value: str, message: str) -> None:
    result = guard.run_measured("check", "--duration", value, policy=guard.policy(ALWAYS_OPEN))
    result.assert_refused(message)
    assert result.seconds < 5, result.seconds  # it took 28 s (and 400 MB) before the limit
    assert result.peak_rss_mib < 150, result.peak_rss_mib


@pytest.mark.parametrize(
    "args, env, message",
    [
        (["--hotfix", "--reason", "caf\udce9 down"], {}, "--reason is not valid UTF-8 (byte 0xe9 at character 4)"),
        ([], {"CI_COMMIT_MESSAGE": "[hotfix] \udce9t\udce9"}, "$CI_COMMIT_MESSAGE is not valid UTF-8 (byte 0xe9 at"),
        ([], {"CI_COMMIT_REF_NAME": "hotfix/caf\udce9"}, "$CI_COMMIT_REF_NAME is not valid UTF-8"),
        ([], {"GITHUB_HEAD_REF": "\udcff"}, "$GITHUB_HEAD_REF is not valid UTF-8 (byte 0xff at character 1)"),
        ([], {"DEPLOY_GUARD_HOTFIX": "\udcff"}, "$DEPLOY_GUARD_HOTFIX is not valid UTF-8"),
        ([], {"GITLAB_CI": "true", "GITLAB_USER_LOGIN": "j\udcf3zef"}, "$GITLAB_USER_LOGIN is not valid UTF-8"),
    ],
)
def test_text_that_is_not_utf8_is_refused_naming_where_it_came_from(
    guard: GuardRunner, args: list[str], env: dict[str, str], message: str
) -> None:
    result = guard.run("check", *args, policy=guard.policy(ALWAYS_OPEN), env=env)
    result.assert_refused(message, "deploy-guard can neither judge nor record it: write it in UTF-8")
    assert guard.audit_records() == []


def test_a_policy_path_that_is_not_utf8_is_refused(guard: GuardRunner) -> None:
    path = guard.tmp_path / "caf\udce9.yaml"
    path.write_text(f"audit_log: {guard.audit_log}\n")
    guard.run("validate", "-c", str(path)).assert_refused("-c is not valid UTF-8 (byte 0xe9")
    guard.run("validate", env={"DEPLOY_GUARD_CONFIG": str(path)}).assert_refused(
        "$DEPLOY_GUARD_CONFIG is not valid UTF-8"
    )


def test_version_prints_the_installed_version(guard: GuardRunner) -> None:
    result = guard.run("--version")
    assert result.code == 0
    assert result.out == f"deploy-guard {version('shop-watchdog')}\n"


EDGE_TIMES = [
    f"{day}T{clock}{offset}"
    for day in (
        "0001-01-01",
        "0001-12-31",
        "0002-01-01",
        "1924-12-31",
        "1925-01-01",
        "2100-12-30",
        "2100-12-31",
        "9998-12-31",
        "9999-01-01",
        "9999-12-31",
    )
    for clock in ("00:00", "23:59")
    for offset in ("", "+14:00", "-12:00")
]


@pytest.mark.parametrize("node", [PLAIN, ALWAYS_OPEN], ids=["PL", "no-country"])
def test_no_time_at_the_edges_of_the_calendar_is_an_internal_error(
    guard: GuardRunner, node: dict[str, object], capsys: pytest.CaptureFixture[str]
) -> None:
    policy = str(guard.policy({**node, "freezes": [{"name": "edge", "start": "0001-01-01", "end": "0001-01-05"}]}))
    for at in EDGE_TIMES:
        for command in (["check", "--duration", "31d"], ["check"], ["next"]):
            code = main([*command, "-c", policy, "--at", at], environ={})
            err = capsys.readouterr().err
            assert code in (0, 1, 2), (at, command)
            assert "internal error" not in err, (at, command, err)
            assert code != 2 or "the dates this policy can judge" in err, (at, command, err)
