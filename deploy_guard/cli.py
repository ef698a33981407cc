"""`deploy-guard`: the release gate CI pipelines ask before every release.

Exit codes (the contract): `check` 0 allowed, 1 blocked, 2 usage or config error; the other
commands 0 or 2. Recording releases (deploy_guard.release_record) adds exit 3: `record
start|finish` exits 0 when every watchdog recorded it, 3 when one or more could not (each
named on stderr). `check --record` records a start only when the release is allowed: blocked
stays 1 and records nothing; allowed and recorded is 0; allowed but not recorded everywhere
is 3, so a pipeline testing for 0 stops and one that accepts 3 releases knowingly - a failed
record never turns a block into an allow, nor passes unnoticed.

Anything the guard cannot be sure about exits 2 - a bad policy, time or
duration, a hotfix without its required reason, an audit log that cannot be written - so a
pipeline that only tests for exit 0 never releases by mistake.

Start time matters (it runs in every pipeline): modules are imported only by the command
that needs them, and the incident gate's HTTP client only when the gate is asked.
"""

from __future__ import annotations

import argparse
import os
import re
import sys
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, date, datetime, timedelta
from typing import TYPE_CHECKING, Any

from deploy_guard.fleet_gate import fleet_text
from deploy_guard.incident_gate import Fetch
from deploy_guard.inputs import UsageError, utf8_text
from deploy_guard.policy import Policy, load_policy
from deploy_guard.release_windows import ReleaseWindows
from watchdog.common.configtools import ConfigError, format_seconds, parse_duration
from watchdog.common.holiday_calendar import HolidayCalendar

if TYPE_CHECKING:
    from deploy_guard.ci_identity import CiIdentity
    from deploy_guard.hotfix import Hotfix
    from deploy_guard.release_record import Recorded

Clock = Callable[[], datetime]
MAX_CALENDAR_DAYS = 3660
MAX_DURATION = timedelta(days=31)
_BARE_NUMBER = re.compile(r"\s*(\d+(?:\.\d+)?)\s*")


def _utc_now() -> datetime:
    return datetime.now(UTC)


class _Version(argparse.Action):
    """`--version`: the installed distribution's version, looked up only when asked."""

    def __init__(self, option_strings: Sequence[str], dest: str, **kwargs: Any) -> None:
        super().__init__(option_strings, dest, nargs=0, help="print the version and exit")

    def __call__(self, parser: argparse.ArgumentParser, *args: Any, **kwargs: Any) -> None:
        from importlib.metadata import PackageNotFoundError, version

        try:
            number = version("shop-watchdog")
        except PackageNotFoundError:
            number = "unknown (not installed as a package)"
        print(f"deploy-guard {number}")
        parser.exit()


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="deploy-guard", description="Release gate for CI pipelines.")
    parser.add_argument("--version", action=_Version)
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def command(name: str, help_text: str) -> argparse.ArgumentParser:
        sub = commands.add_parser(name, help=help_text, description=help_text)
        sub.add_argument(
            "-c",
            "--config",
            metavar="FILE",
            help="policy file (default: $DEPLOY_GUARD_CONFIG, "
            "else /etc/shop-watchdog/deploy-guard.yaml, else the embedded default)",
        )
        return sub

    check = command("check", "may a release start now (or at --at)? exit 0 allowed, 1 blocked, 2 error")
    check.add_argument(
        "--at",
        metavar="ISO8601",
        help="ask about another time (no offset: the policy's timezone); "
        "recorded as a query, never as a release decision",
    )
    check.add_argument(
        "--duration",
        metavar="DURATION",
        help="the whole release must fit in the window: 30m, 2h, 1d (a unit is required)",
    )
    check.add_argument("--hotfix", action="store_true", help="this release is a hotfix (allowed at any time)")
    check.add_argument("--reason", metavar="TEXT", help="why (required for a hotfix when the policy says so)")
    check.add_argument("--json", action="store_true", help="print one JSON object")
    check.add_argument(
        "--record",
        action="store_true",
        help="when allowed, record the release's start at the watchdogs (exit 3: allowed, not recorded)",
    )
    check.add_argument("--id", metavar="ID", help="the release id for --record (default: the CI pipeline id)")
    rec = command("record", "tell the watchdogs a release starts or finishes: exit 0 recorded, 3 not recorded")
    rec.add_argument("event", choices=("start", "finish"))
    rec.add_argument(
        "--id", metavar="ID", help="release id (default: $DEPLOY_GUARD_RELEASE_ID, else the CI pipeline id)"
    )
    rec.add_argument("--hotfix", action="store_true", help="this release is a hotfix")
    rec.add_argument("--reason", metavar="TEXT", help="why (recorded with the release)")
    rec.add_argument("--json", action="store_true", help="print one JSON object")
    nxt = command("next", "when the next release window opens and closes")
    nxt.add_argument("--at", metavar="ISO8601")
    nxt.add_argument("--json", action="store_true")
    cal = command("calendar", "each day: its windows, holidays, freezes")
    cal.add_argument("--from", dest="start", metavar="DATE", help="first day (default: today)")
    cal.add_argument("--days", default="14", metavar="N", help="number of days (default 14)")
    command("validate", "check a policy file")
    return parser


def parse_at(value: str | None, policy: Policy, clock: Clock, windows: ReleaseWindows) -> datetime:
    """`--at` (or now) as an aware time; without an offset it is read in the policy's timezone.

    UsageError when it is not a time, or a date the policy cannot judge.
    """
    if value is None:
        moment, what = clock(), "now"
    else:
        try:
            moment = datetime.fromisoformat(value.strip())
        except ValueError:
            raise UsageError(
                f"--at: expected an ISO-8601 time like 2026-11-24T09:30 or 2026-11-24T09:30:00+01:00, got {value!r}"
            ) from None
        moment, what = (moment.replace(tzinfo=policy.timezone) if moment.tzinfo is None else moment), "--at"
    try:
        day = windows.local_date(moment)
    except OverflowError:  # an offset moves it past year 1 or 9999
        raise UsageError(
            f"{what}: {value or moment.isoformat()} is outside the dates this policy can judge ({windows.range_text()})"
        ) from None
    problem = windows.out_of_range(day)
    if problem is not None:
        hint = "" if value is not None else "; check this machine's clock"
        raise UsageError(f"{what}: {problem}{hint}")
    return moment


def parse_duration_option(value: str | None) -> timedelta:
    """`--duration`: a unit is required (a bare 30 could mean seconds or minutes), at most 31 days."""
    if value is None:
        return timedelta()
    bare = _BARE_NUMBER.fullmatch(value)
    if bare:
        number = bare.group(1)
        raise UsageError(
            f"--duration: {number} has no unit: write {number}m for {number} minutes or {number}s for {number} seconds"
        )
    try:
        seconds = parse_duration(value)
    except ValueError as exc:
        raise UsageError(f"--duration: {exc}") from None
    if seconds > MAX_DURATION.total_seconds():
        raise UsageError(f"--duration: at most {MAX_DURATION.days}d (no release window is longer), got {value!r}")
    return timedelta(seconds=seconds)


def _windows(policy: Policy) -> ReleaseWindows:
    calendar = HolidayCalendar(policy.country, policy.extra_days_off, policy.block_days_before)
    return ReleaseWindows(policy, calendar)


def _check_fits(windows: ReleaseWindows, at: datetime, duration: timedelta) -> None:
    """A release must end within the dates the policy can judge."""
    end = windows.local_date(at + duration)
    if windows.out_of_range(end) is not None:
        raise UsageError(
            f"--duration: the release would run until {end.isoformat()}, "
            f"past the dates this policy can judge ({windows.range_text()})"
        )


def _check(
    args: argparse.Namespace, policy: Policy, environ: Mapping[str, str], clock: Clock, fetch: Fetch | None
) -> int:
    from deploy_guard.audit import AuditError, append_record
    from deploy_guard.ci_identity import ci_identity
    from deploy_guard.decision import MissingHotfixReason, decide
    from deploy_guard.hotfix import detect_hotfix
    from deploy_guard.incident_gate import http_get
    from deploy_guard.render import audit_record, decision_json, decision_line, dumps

    windows = _windows(policy)
    at = parse_at(args.at, policy, clock, windows)
    duration = parse_duration_option(args.duration)
    _check_fits(windows, at, duration)
    hotfix = detect_hotfix(policy.hotfix, environ, flag=args.hotfix, reason=args.reason)
    identity = ci_identity(environ)
    record = _release_recorder(args, policy, environ, identity, hotfix) if args.record else None
    try:
        decision = decide(policy, windows, at, duration, hotfix, fetch or http_get)
    except MissingHotfixReason as exc:
        raise UsageError(str(exc)) from None
    audited = audit_record(decision, policy, identity, clock(), args.reason, query=args.at is not None)
    try:
        append_record(policy.audit_log, audited)
    except AuditError as exc:
        print(
            f"deploy-guard: {exc} (audit_log in {policy.source}); no decision without an audit record: "
            "refusing (exit 2)",
            file=sys.stderr,
        )
        return 2
    for note in decision.notes:
        print(f"deploy-guard: warning: {note}", file=sys.stderr)
    recorded = record() if record is not None and decision.allowed else None
    tz = policy.timezone
    document = decision_json(decision, tz)
    if recorded is not None:
        document["recorded"] = [r.as_json() for r in recorded]
    print(dumps(document) if args.json else decision_line(decision, policy))
    if not decision.allowed:
        return 1
    return 0 if recorded is None else _recorded_exit(recorded, "allowed, but the release start")


def _release_recorder(
    args: argparse.Namespace, policy: Policy, environ: Mapping[str, str], identity: CiIdentity, hotfix: Hotfix
) -> Callable[[], list[Recorded]]:
    """What `--record` will send, checked before the decision (a usage error is exit 2)."""
    from deploy_guard.release_record import record_release, release_body, release_id, release_urls

    if args.at is not None:
        raise UsageError("--record: a release starts now; --at asks about another time and records nothing")
    urls = release_urls(policy.incident_gate)
    body = release_body("start", release_id(args.id, environ), identity, hotfix)
    gate = policy.incident_gate
    assert gate is not None  # release_urls found its status URLs
    return lambda: record_release(gate, urls, body)


def _recorded_exit(results: Sequence[Recorded], what: str) -> int:
    """0 when every watchdog recorded it; else the failures on stderr and NOT_RECORDED."""
    from deploy_guard.release_record import NOT_RECORDED, failures_text

    failed = failures_text(results)
    if not failed:
        return 0
    print(
        f"deploy-guard: {what} was NOT recorded at every watchdog ({failed}); "
        f"exit {NOT_RECORDED}: later incidents there will not name this release",
        file=sys.stderr,
    )
    return NOT_RECORDED


def _record(args: argparse.Namespace, policy: Policy, environ: Mapping[str, str]) -> int:
    from deploy_guard.ci_identity import ci_identity
    from deploy_guard.hotfix import detect_hotfix
    from deploy_guard.release_record import record_release, release_body, release_id, release_urls
    from deploy_guard.render import dumps

    urls = release_urls(policy.incident_gate)
    hotfix = detect_hotfix(policy.hotfix, environ, flag=args.hotfix, reason=args.reason)
    rid = release_id(args.id, environ)
    body = release_body(args.event, rid, ci_identity(environ), hotfix)
    assert policy.incident_gate is not None  # release_urls found its status URLs
    results = record_release(policy.incident_gate, urls, body)
    if args.json:
        print(dumps({**body, "recorded": [r.as_json() for r in results]}))
    else:
        done = sum(r.error is None for r in results)
        print(f"release {rid} {args.event}: recorded at {done} of {len(results)} watchdog(s)")
    return _recorded_exit(results, f"release {rid} {args.event}")


def _next(args: argparse.Namespace, policy: Policy, clock: Clock) -> int:
    from deploy_guard.render import dumps, iso, next_window_text, period_json

    windows = _windows(policy)
    at = parse_at(args.at, policy, clock, windows)
    period = windows.next_window(at)
    tz = policy.timezone
    if args.json:
        open_now = period is not None and period.start <= at
        print(dumps({"at": iso(at, tz), "open_now": open_now, "next_window": period_json(period, tz)}))
    else:
        print(next_window_text(period, at, tz, windows.search_limit(at)))
    return 0


def _calendar(args: argparse.Namespace, policy: Policy, clock: Clock) -> int:
    from deploy_guard.render import calendar_table

    try:
        first = date.fromisoformat(args.start) if args.start else clock().astimezone(policy.timezone).date()
    except ValueError:
        raise UsageError(f"--from: expected a date like 2026-11-24, got {args.start!r}") from None
    if not args.days.isdigit() or not 1 <= int(args.days) <= MAX_CALENDAR_DAYS:
        raise UsageError(f"--days: expected a whole number from 1 to {MAX_CALENDAR_DAYS}, got {args.days!r}")
    windows = _windows(policy)
    problem = windows.out_of_range(first)
    if problem is not None:
        raise UsageError(f"--from: {problem}")
    if int(args.days) > (windows.last_day - first).days + 1:
        raise UsageError(f"--days: {windows.out_of_range(windows.last_day + timedelta(days=1))}")
    plans = [windows.day_plan(first + timedelta(days=i)) for i in range(int(args.days))]
    print(f"Release calendar, {policy.timezone.key} local time (policy: {policy.source})")
    print(calendar_table(plans, policy.timezone))
    return 0


def _validate(policy: Policy, clock: Clock) -> int:
    windows = _windows(policy)
    windows.calendar.holidays_in(clock().astimezone(policy.timezone).year)  # the country's data loads
    gate = policy.incident_gate
    budget = policy.error_budget
    parts = [
        f"timezone {policy.timezone.key}",
        f"windows {windows.windows_text()}",
        f"holidays {policy.country or 'none'} + {len(policy.extra_days_off)} company day(s) off, "
        f"{policy.block_days_before} day(s) before each closed",
        f"{len(policy.freezes)} freeze(s)"
        + (f" ({', '.join(f.name for f in policy.freezes)})" if policy.freezes else ""),
        f"incident gate {len(gate.status_urls)} URL(s){fleet_text(gate)}, "
        f"block_on {gate.block_on}, on_unreachable {gate.on_unreachable}"
        if gate
        else "no incident gate",
        f"error budget {budget.objective:g}% over {format_seconds(budget.window)} from "
        f"{len(budget.status_urls)} URL(s), on_unreachable {budget.on_unreachable}"
        if budget
        else "no error budget",
        f"audit log {policy.audit_log}",
    ]
    print(f"OK: {policy.source}: " + "; ".join(parts))
    return 0


def main(
    argv: Sequence[str] | None = None,
    environ: Mapping[str, str] | None = None,
    clock: Clock = _utc_now,
    fetch: Fetch | None = None,
) -> int:
    """Runs one command; returns the exit code. `clock` and `fetch` are for tests."""
    args = _parser().parse_args(argv)
    env = os.environ if environ is None else environ
    try:
        policy = load_policy(args.config and utf8_text(args.config, "-c"), env)
        if args.command == "check":
            return _check(args, policy, env, clock, fetch)
        if args.command == "record":
            return _record(args, policy, env)
        if args.command == "next":
            return _next(args, policy, clock)
        if args.command == "calendar":
            return _calendar(args, policy, clock)
        return _validate(policy, clock)
    except ConfigError as exc:
        problems = str(exc)
        separator = "\n" if "\n" in problems else " "
        print(f"deploy-guard: invalid policy, failing closed:{separator}{problems}", file=sys.stderr)
        return 2
    except UsageError as exc:
        print(f"deploy-guard: {exc}", file=sys.stderr)
        return 2
    except Exception as exc:  # fail closed: a crash must never read as "blocked" (1), let alone allowed
        print(f"deploy-guard: internal error, failing closed: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
