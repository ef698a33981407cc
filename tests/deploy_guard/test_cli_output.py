"""What people and pipelines read: the one-line verdict, --json, next, calendar and validate."""

from __future__ import annotations

from tests.deploy_guard.conftest import PLAIN, GuardRunner


def test_blocked_line_says_why_and_when_the_next_window_opens_in_local_time(guard: GuardRunner) -> None:
    policy = guard.policy(PLAIN)
    result = guard.run("check", "--at", "2026-12-24T10:00", policy=policy)
    assert result.code == 1
    assert result.out.count("\n") == 1
    assert result.out == (
        "BLOCKED at Thu 2026-12-24 10:00 CET (+01:00) - 2026-12-24 is a holiday: Christmas Eve. "
        f"Set by holidays.country: PL in {policy}; a hotfix may ship at any time (--hotfix --reason TEXT). "
        "Next window opens Mon 2026-12-28 08:00 CET (+01:00), closes 12:00 CET (+01:00).\n"
    )


def test_at_with_an_offset_is_converted_to_the_policy_timezone(guard: GuardRunner) -> None:
    result = guard.run("check", "--at", "2026-07-01T06:30:00Z", "--json", policy=guard.policy(PLAIN))
    assert result.code == 0
    assert result.json() == {
        "allowed": True,
        "hotfix": False,
        "at": "2026-07-01T08:30:00+02:00",
        "reasons": [],
        "next_window": {"start": "2026-07-01T08:00:00+02:00", "end": "2026-07-01T12:00:00+02:00"},
    }


def test_allowed_line_says_until_when(guard: GuardRunner) -> None:
    result = guard.run("check", "--at", "2026-07-01T09:15", policy=guard.policy(PLAIN))
    assert result.code == 0
    assert result.out == (
        "ALLOWED at Wed 2026-07-01 09:15 CEST (+02:00). "
        "The window is open now, until Wed 2026-07-01 12:00 CEST (+02:00).\n"
    )


def test_duration_crossing_the_window_end_is_blocked_with_the_reason(guard: GuardRunner) -> None:
    result = guard.run("check", "--at", "2026-12-02T11:30", "--duration", "45m", "--json", policy=guard.policy(PLAIN))
    assert result.code == 1
    document = result.json()
    assert [r["code"] for r in document["reasons"]] == ["outside_window"]
    assert (
        "45m release starting 11:30 CET (+01:00) would run past the window's end at Wed 2026-12-02 12:00"
        in document["reasons"][0]["message"]
    )
    assert document["next_window"]["start"] == "2026-12-03T08:00:00+01:00"
    assert guard.run("check", "--at", "2026-12-02T11:30", "--duration", "30m", policy=guard.policy(PLAIN)).code == 0


def test_json_reasons_list_every_cause(guard: GuardRunner) -> None:
    policy = guard.policy(
        {**PLAIN, "freezes": [{"name": "xmas", "start": "2026-12-20", "end": "2026-12-27", "reason": "peak"}]}
    )
    result = guard.run("check", "--at", "2026-12-25T10:00", "--json", policy=policy)
    assert [r["code"] for r in result.json()["reasons"]] == ["outside_window", "holiday", "freeze"]


def test_next_reports_opening_and_closing(guard: GuardRunner) -> None:
    policy = guard.policy(PLAIN)
    result = guard.run("next", "--at", "2026-04-29T12:00", policy=policy)
    assert result.code == 0
    assert result.out == "Next window opens Mon 2026-05-04 08:00 CEST (+02:00), closes 12:00 CEST (+02:00).\n"
    document = guard.run("next", "--at", "2026-05-04T09:00", "--json", policy=policy).json()
    assert document == {
        "at": "2026-05-04T09:00:00+02:00",
        "open_now": True,
        "next_window": {"start": "2026-05-04T08:00:00+02:00", "end": "2026-05-04T12:00:00+02:00"},
    }
    assert guard.audit_records() == []  # only decisions are audited


def test_next_says_so_when_nothing_opens_within_a_year(guard: GuardRunner) -> None:
    policy = guard.policy({**PLAIN, "freezes": [{"name": "rewrite", "start": "2026-01-01", "end": "2028-12-31"}]})
    result = guard.run("next", "--at", "2026-06-01T09:00", policy=policy)
    assert result.out == "No release window opens within a year.\n"
    assert guard.run("next", "--at", "2026-06-01T09:00", "--json", policy=policy).json()["next_window"] is None
    check = guard.run("check", "--at", "2026-06-01T09:00", policy=policy)
    assert check.code == 1 and check.out.rstrip().endswith("No release window opens within a year.")


def test_calendar_shows_each_day_its_window_and_why(guard: GuardRunner) -> None:
    policy = guard.policy(
        {**PLAIN, "holidays": {"country": "PL", "extra": {"2026-12-31": "company day off"}, "block_days_before": 1}}
    )
    result = guard.run("calendar", "--from", "2026-12-21", "--days", "14", policy=policy)
    assert result.code == 0
    lines = result.out.splitlines()
    assert lines[0] == f"Release calendar, Europe/Warsaw local time (policy: {policy})"
    assert lines[1].split() == ["date", "day", "windows", "status", "open", "why"]
    rows = {line[:10]: line for line in lines[2:]}
    assert len(rows) == 14
    assert rows["2026-12-21"].split()[:5] == ["2026-12-21", "Mon", "08:00-12:00", "open", "08:00-12:00"]
    assert rows["2026-12-23"].split()[:4] == ["2026-12-23", "Wed", "08:00-12:00", "CLOSED"]
    assert "the day before a holiday: Christmas Eve (2026-12-24)" in rows["2026-12-23"]
    assert "is a holiday: Christmas Eve" in rows["2026-12-24"]
    assert "is a holiday: company day off" in rows["2026-12-31"]
    assert "before a holiday: company day off" in rows["2026-12-30"]
    assert rows["2027-01-02"].split()[3] == "closed" and "no window on this day" in rows["2027-01-02"]


def test_calendar_marks_dst_switch_days(guard: GuardRunner) -> None:
    result = guard.run("calendar", "--from", "2026-03-28", "--days", "3", policy=guard.policy(PLAIN))
    rows = result.out.splitlines()[2:]
    assert rows[1].endswith("no window on this day; clocks change: CET (+01:00) -> CEST (+02:00)")
    assert "clocks change" not in rows[0] + rows[2]


def test_calendar_of_a_year_lists_365_days(guard: GuardRunner) -> None:
    result = guard.run("calendar", "--from", "2027-01-01", "--days", "365", policy=guard.policy(PLAIN))
    assert result.code == 0
    assert len(result.out.splitlines()) == 2 + 365


def test_validate_summarises_the_policy(guard: GuardRunner) -> None:
    policy = guard.policy({**PLAIN, "incident_gate": {"status_urls": ["http://127.0.0.1:9841/api/v1/status"]}})
    result = guard.run("validate", policy=policy)
    assert result.code == 0
    assert result.out.startswith(f"OK: {policy}: timezone Europe/Warsaw; windows Mon-Thu 08:00-12:00; holidays PL")
    assert "incident gate 1 URL(s), block_on critical, on_unreachable block" in result.out
