"""Every kind of bad input, through the real installed CLI: exit 2 and a message naming file, key, problem."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from deploy_guard.default_policy import DEFAULT_POLICY_YAML
from deploy_guard.policy import EMBEDDED_SOURCE, parse_policy
from tests.deploy_guard.conftest import ALWAYS_OPEN, PLAIN, REPO, GuardRunner

BAD_POLICIES: list[tuple[str, Any, str]] = [
    ("unknown top-level key", {**PLAIN, "windoes": []}, "windoes: unknown key"),
    (
        "unknown nested key",
        {**PLAIN, "windows": [{"days": ["mon"], "start": "08:00", "end": "12:00", "tz": "UTC"}]},
        "windows[0].tz: unknown key",
    ),
    ("unknown timezone", {**PLAIN, "timezone": "Europe/Warsw"}, "timezone: unknown IANA timezone 'Europe/Warsw'"),
    (
        "unknown weekday",
        {**PLAIN, "windows": [{"days": ["mo"], "start": "08:00", "end": "12:00"}]},
        "windows[0].days[0]: expected one of mon",
    ),
    (
        "malformed time",
        {**PLAIN, "windows": [{"days": ["mon"], "start": "8am", "end": "12:00"}]},
        'windows[0].start: expected a time "HH:MM"',
    ),
    (
        "end before start",
        {**PLAIN, "windows": [{"days": ["mon"], "start": "12:00", "end": "08:00"}]},
        "windows[0].end: must be after start (12:00)",
    ),
    ("unknown country", {**PLAIN, "holidays": {"country": "XX"}}, "holidays.country: unknown country code 'XX'"),
    (
        "negative block_days_before",
        {**PLAIN, "holidays": {"country": "PL", "block_days_before": -1}},
        "holidays.block_days_before: must not be negative",
    ),
    ("extra day not a date", {**PLAIN, "holidays": {"extra": {"soon": "x"}}}, "holidays.extra.soon: expected a date"),
    (
        "freeze bad date",
        {**PLAIN, "freezes": [{"name": "x", "start": "2026-02-30", "end": "2026-03-01"}]},
        "freezes[0].start: expected a date",
    ),
    (
        "freeze end before start",
        {**PLAIN, "freezes": [{"name": "x", "start": "2026-03-02", "end": "2026-03-01"}]},
        "freezes[0].end: must not be before start",
    ),
    (
        "freeze without name",
        {**PLAIN, "freezes": [{"start": "2026-03-02", "end": "2026-03-03"}]},
        "freezes[0].name: required key is missing",
    ),
    (
        "bad block_on",
        {**PLAIN, "incident_gate": {"status_urls": ["http://127.0.0.1:1/"], "block_on": "major"}},
        "incident_gate.block_on: expected one of critical, warning",
    ),
    (
        "bad on_unreachable",
        {**PLAIN, "incident_gate": {"status_urls": ["http://127.0.0.1:1/"], "on_unreachable": "ignore"}},
        "incident_gate.on_unreachable: expected one of block, allow",
    ),
    (
        "status url not http",
        {**PLAIN, "incident_gate": {"status_urls": ["127.0.0.1:9841"]}},
        "incident_gate.status_urls[0]: expected an http:// or https:// URL",
    ),
    (
        "empty branch pattern",
        {**PLAIN, "hotfix": {"branch_patterns": [""]}},
        "hotfix.branch_patterns[0]: must not be empty",
    ),
    (
        "require_reason not bool",
        {**PLAIN, "hotfix": {"require_reason": "yes"}},
        "hotfix.require_reason: expected true or false",
    ),
    ("not a mapping", ["timezone", "UTC"], "expected a mapping of policy keys"),
]


@pytest.mark.parametrize("case, node, message", BAD_POLICIES, ids=[c[0] for c in BAD_POLICIES])
@pytest.mark.parametrize("command", ["check", "validate"])
def test_invalid_policy_exits_2_naming_file_key_and_problem(
    guard: GuardRunner, case: str, node: Any, message: str, command: str
) -> None:
    path = guard.policy(node if isinstance(node, dict) else yaml.safe_dump(node))
    result = guard.run(command, "-c", str(path))
    assert result.code == 2, result
    assert f"{path}: {message}" in result.err
    assert result.out == ""
    assert guard.audit_records() == []


def test_unquoted_time_read_as_a_number_is_explained(guard: GuardRunner) -> None:
    path = guard.policy(f"audit_log: {guard.audit_log}\nwindows:\n  - {{days: [mon], start: 10:00, end: 12:00}}\n")
    result = guard.run("validate", policy=path)
    assert result.code == 2
    assert (
        f'{path}: windows[0].start: write times as quoted "HH:MM" strings (YAML read this one as the number 600)'
        in result.err
    )


def test_all_problems_are_reported_at_once(guard: GuardRunner) -> None:
    path = guard.policy({**PLAIN, "timezone": "Mars/Olympus", "holidays": {"country": "XX"}, "typo": 1})
    result = guard.run("validate", policy=path)
    assert result.code == 2
    for key in ("timezone:", "holidays.country:", "typo:"):
        assert f"{path}: {key}" in result.err


@pytest.mark.parametrize(
    "content, message",
    [
        ("windows: [\n", "invalid YAML: line 2, column 1"),
        ("", "the file is empty"),
        ("freezes:\n  - {name: x, start: 2026-13-01, end: 2026-13-02}\n", "invalid YAML value: month must be in 1..12"),
    ],
)
def test_unparseable_policy_exits_2(guard: GuardRunner, content: str, message: str) -> None:
    path = guard.policy(content)
    result = guard.run("check", policy=path)
    assert result.code == 2
    assert f"{path}: {message}" in result.err


def test_missing_or_unreadable_policy_exits_2(guard: GuardRunner, tmp_path: Path) -> None:
    missing = tmp_path / "nope.yaml"
    result = guard.run("check", policy=missing)
    assert result.code == 2 and f"{missing}: cannot read: No such file or directory" in result.err
    directory = tmp_path / "a-directory.yaml"
    directory.mkdir()
    result = guard.run("check", "-c", str(directory))
    assert result.code == 2 and f"{directory}: cannot read: Is a directory" in result.err


@pytest.mark.parametrize(
    "args, message",
    [
        (["check", "--at", "tomorrow"], "--at: expected an ISO-8601 time"),
        (["check", "--at", "2026-02-30T10:00"], "--at: expected an ISO-8601 time"),
        (["next", "--at", "10:00"], "--at: expected an ISO-8601 time"),
        (["check", "--duration", "5x"], "--duration: expected a duration like 30s"),
        (["check", "--duration=-5m"], "--duration: expected a duration like 30s"),
        (["calendar", "--days", "0"], "--days: expected a whole number from 1 to 3660"),
        (["calendar", "--days", "many"], "--days: expected a whole number"),
        (["calendar", "--from", "2026-11-31"], "--from: expected a date like 2026-11-24"),
    ],
)
def test_bad_options_exit_2_naming_the_option(guard: GuardRunner, args: list[str], message: str) -> None:
    result = guard.run(*args, policy=guard.policy(ALWAYS_OPEN))
    assert result.code == 2
    assert message in result.err
    assert guard.audit_records() == []


def test_unknown_command_and_option_exit_2(guard: GuardRunner) -> None:
    assert guard.run("deploy", policy=guard.policy(ALWAYS_OPEN)).code == 2
    assert guard.run("check", "--hotfx", policy=guard.policy(ALWAYS_OPEN)).code == 2


def test_embedded_default_is_the_contract_policy_and_the_example_file(guard: GuardRunner) -> None:
    embedded = parse_policy(yaml.safe_load(DEFAULT_POLICY_YAML), EMBEDDED_SOURCE)
    example_path = REPO / "config" / "deploy-guard.yaml"
    example = parse_policy(yaml.safe_load(example_path.read_text()), EMBEDDED_SOURCE)
    assert embedded == example
    design = REPO.parent / "shared" / "DESIGN.md"
    if design.exists():  # the contract, beside the checkout (here and in CI)
        block = design.read_text().split("## `deploy-guard`", 1)[1].split("```yaml\n", 1)[1].split("```", 1)[0]
        assert parse_policy(yaml.safe_load(block), EMBEDDED_SOURCE) == embedded


def test_validate_reads_the_embedded_default_without_any_file(guard: GuardRunner, tmp_path: Path) -> None:
    result = guard.run("validate")  # no DEPLOY_GUARD_CONFIG, and this machine has no /etc policy
    if Path("/etc/shop-watchdog/deploy-guard.yaml").exists():
        assert "OK: /etc/shop-watchdog/deploy-guard.yaml" in result.out
    else:
        assert result.code == 0, result
        assert result.out.startswith(f"OK: {EMBEDDED_SOURCE}: timezone Europe/Warsaw; windows Mon-Thu 08:00-12:00")


def test_policy_path_comes_from_the_environment_and_c_wins(guard: GuardRunner) -> None:
    env_policy = guard.policy(ALWAYS_OPEN, "from-env.yaml")
    flag_policy = guard.policy(PLAIN, "from-flag.yaml")
    assert f"OK: {env_policy}" in guard.run("validate", policy=env_policy).out
    assert f"OK: {flag_policy}" in guard.run("validate", "-c", str(flag_policy), policy=env_policy).out
