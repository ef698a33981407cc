"""Policy files deploy-guard cannot judge, through the real installed CLI: exit 2, bounded, one line each.

A duplicate key left by a merge must never open a window; numbers must be finite and in
range; alias bombs, deep nesting, huge, binary and non-UTF-8 files are refused quickly and
with little memory.
"""

from __future__ import annotations

import random
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
import yaml

from tests.deploy_guard.conftest import GuardRunner, windows_for

BLACK_WEEK_TWICE = """\
timezone: Europe/Warsaw
windows:
  - {days: [mon, tue, wed, thu], start: "08:00", end: "12:00"}
holidays: {country: PL, block_days_before: 1}
freezes:
  - {name: black-week, start: 2026-11-23, end: 2026-11-30, reason: peak traffic}
audit_log: AUDIT
# a merge brought this back from an older branch:
freezes: []
"""
# Bounds for a refused file: typical runs take 0.2 s and 30 MiB.
MAX_SECONDS = 5.0
MAX_RSS_MIB = 120.0


def test_yaml_itself_would_open_the_window_a_duplicate_freezes_key_hides() -> None:
    at = datetime(2026, 11, 24, 10, 0, tzinfo=ZoneInfo("Europe/Warsaw"))
    assert windows_for(yaml.safe_load(BLACK_WEEK_TWICE.replace("AUDIT", "/dev/null"))).blockers(at) == []


@pytest.mark.parametrize("command", ["check", "validate"])
def test_a_second_freezes_key_is_an_error_naming_both_lines(guard: GuardRunner, command: str) -> None:
    policy = guard.policy(BLACK_WEEK_TWICE.replace("AUDIT", str(guard.audit_log)))
    at = ["--at", "2026-11-24T10:00"] if command == "check" else []
    result = guard.run(command, *at, policy=policy)
    result.assert_refused(
        f"{policy}: freezes: duplicate key at lines 5 and 9: YAML would silently keep only the last one; merge them"
    )
    assert guard.audit_records() == []


@pytest.mark.parametrize(
    "text, problem",
    [
        (
            'windows:\n  - {days: [mon], start: "08:00", end: "12:00", start: "06:00"}\n',
            "windows[0].start: duplicate key at lines 2 and 2",
        ),
        (
            "holidays:\n  country: PL\n  block_days_before: 1\n  country: null\n",
            "holidays.country: duplicate key at lines 2 and 4",
        ),
        (
            "holidays:\n  extra:\n    2026-12-31: inventory\n    2026-12-31: party\n",
            "holidays.extra.2026-12-31: duplicate key at lines 3 and 4",
        ),
        (
            "incident_gate:\n  status_urls: [http://127.0.0.1:9841/api/v1/status]\n"
            "  on_unreachable: block\n  on_unreachable: allow\n",
            "incident_gate.on_unreachable: duplicate key at lines 3 and 4",
        ),
        (
            "hotfix:\n  require_reason: true\n  require_reason: false\n",
            "hotfix.require_reason: duplicate key at lines 2 and 3",
        ),
    ],
)
def test_duplicate_keys_at_every_level_are_errors(guard: GuardRunner, text: str, problem: str) -> None:
    policy = guard.policy(f"{text}audit_log: {guard.audit_log}\n")
    guard.run("validate", policy=policy).assert_refused(f"{policy}: {problem}: YAML would silently keep only the last")


@pytest.mark.parametrize(
    "text, problem",
    [
        (
            "incident_gate: {status_urls: [http://127.0.0.1:9/], timeout: .nan}",
            "incident_gate.timeout: .nan at line 1 is not a finite number",
        ),
        (
            "incident_gate: {status_urls: [http://127.0.0.1:9/], timeout: .inf}",
            "incident_gate.timeout: .inf at line 1 is not a finite number",
        ),
        (
            "incident_gate: {status_urls: [http://127.0.0.1:9/], timeout: 1.0e+20}",
            "incident_gate.timeout: the number 1.0e+20 at line 1 is out of range",
        ),
        (
            "incident_gate: {status_urls: [http://127.0.0.1:9/], timeout: 1e20}",
            "incident_gate.timeout: expected a duration",
        ),
        (
            "incident_gate: {status_urls: [http://127.0.0.1:9/], timeout: 100000d}",
            "incident_gate.timeout: must be from 1ms to 1m, got 100000d",
        ),
        (
            "holidays: {block_days_before: 100000000000000000000}",
            "holidays.block_days_before: the number 100000000000000000000 at line 1 is out of range",
        ),
        ("holidays: {block_days_before: 1e20}", "holidays.block_days_before: expected an integer, got '1e20'"),
        (
            "holidays: {block_days_before: 1000000}",
            "holidays.block_days_before: at most 31 (a longer closed period is a freeze)",
        ),
        ("holidays: {block_days_before: -.inf}", "holidays.block_days_before: -.inf at line 1 is not a finite number"),
    ],
)
def test_non_finite_overflowing_and_out_of_range_numbers_are_errors(
    guard: GuardRunner, text: str, problem: str
) -> None:
    policy = guard.policy(f"{text}\naudit_log: {guard.audit_log}\n")
    result = guard.run_measured("check", policy=policy)
    result.assert_refused(f"{policy}: {problem}")
    assert result.seconds < MAX_SECONDS
    assert guard.audit_records() == []


def billion_laughs() -> str:
    lines = ["a0: &a0 [lol, lol, lol, lol, lol, lol, lol, lol, lol, lol]"]
    lines += [f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 10)}]" for i in range(1, 9)]
    return "\n".join(lines) + "\nwindows: *a8\n"


def hostile_files() -> list[tuple[str, bytes, str]]:
    garbage = random.Random(7).randbytes(64 * 1024)
    return [
        ("alias bomb", billion_laughs().encode(), "aliases expand to more than 100000 values (at *a3, line 5)"),
        ("recursive alias", b"windows: &w [*w]\n", "alias *w at line 1 refers to a value that contains it"),
        ("deep flow nesting", b"windows: " + b"[" * 500_000 + b"]" * 500_000 + b"\n", "invalid YAML: line 1"),
        (
            "deep block nesting",
            "".join("  " * i + f"k{i}:\n" for i in range(1000)).encode(),
            "nested deeper than 64 levels at line 65",
        ),
        ("huge file", b"# padding\n" * (2 * 1024 * 1024), "the file is larger than 16 MiB; refusing to read it"),
        ("binary garbage", garbage, "not UTF-8: byte 0x"),
        (
            "binary zeros",
            b"timezone: UTC\n" + b"\0" * 4096,
            "invalid YAML: line 2, column 1: character U+0000 is not allowed",
        ),
        (
            "latin-1 file",
            "timezone: Europe/Warsaw\nfreezes:\n  - {name: été, start: 2026-07-01, end: 2026-07-31}\n".encode(
                "latin-1"
            ),
            "not UTF-8: byte 0xe9 at line 3, column 12; save it as UTF-8",
        ),
        ("utf-16 file", "timezone: UTC\n".encode("utf-16"), "not UTF-8: byte 0xff at line 1, column 1"),
        (
            "tag",
            b"timezone: !!python/object/apply:os.system [true]\n",
            "unsupported YAML tag !!python/object/apply:os.system",
        ),
        ("two documents", b"timezone: UTC\n---\ntimezone: Europe/Warsaw\n", "a second YAML document starts at line 2"),
    ]


@pytest.mark.parametrize("name, content, message", hostile_files(), ids=[f[0] for f in hostile_files()])
@pytest.mark.parametrize("command", ["check", "validate"])
def test_hostile_files_are_refused_quickly_in_one_line(
    guard: GuardRunner, name: str, content: bytes, message: str, command: str
) -> None:
    policy = guard.tmp_path / "policy.yaml"
    policy.write_bytes(content)
    result = guard.run_measured(command, policy=policy)
    result.assert_refused(f"deploy-guard: invalid policy, failing closed: {policy}: ", message)
    assert result.seconds < MAX_SECONDS, result.seconds
    assert result.peak_rss_mib < MAX_RSS_MIB, result.peak_rss_mib
