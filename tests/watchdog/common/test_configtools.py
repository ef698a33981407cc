"""The config toolkit: durations, percentages, secrets, and `build()` reporting every problem."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Literal

import pytest

from watchdog.common.configtools import (
    Between,
    ConfigError,
    Duration,
    Percent,
    Problems,
    Secret,
    build,
    format_seconds,
    load_yaml,
    parse_duration,
    parse_percent,
)


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("500ms", 0.5),
        ("30s", 30.0),
        ("5m", 300.0),
        ("1h", 3600.0),
        ("1d", 86400.0),
        ("1.5s", 1.5),
        (10, 10.0),
        ("7", 7.0),
    ],
)
def test_durations_in_all_units(text: object, seconds: float) -> None:
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("bad", ["5 minutes", "-1s", "1w", "", True, None, -3, "s"])
def test_bad_durations_are_rejected_with_an_example(bad: object) -> None:
    with pytest.raises(ValueError, match="duration"):
        parse_duration(bad)


@pytest.mark.parametrize("huge", ["9" * 400 + "d", "1" + "0" * 309, float("inf"), float("nan")])
def test_durations_beyond_any_number_of_seconds_are_rejected(huge: object) -> None:
    with pytest.raises(ValueError, match="duration too large"):
        parse_duration(huge)


@pytest.mark.parametrize(("text", "value"), [("80%", 80.0), ("0%", 0.0), ("100%", 100.0), (90, 90.0), ("12.5 %", 12.5)])
def test_percentages(text: object, value: float) -> None:
    assert parse_percent(text) == value


@pytest.mark.parametrize("bad", ["101%", "-5%", "eighty", True, "80%%"])
def test_bad_percentages(bad: object) -> None:
    with pytest.raises(ValueError, match="percentage"):
        parse_percent(bad)


@pytest.mark.parametrize("reading", [0.8, "0.8", "0.8 ", 1, "1", 0.05])
def test_a_percentage_without_its_sign_from_0_to_1_is_ambiguous_and_names_both_readings(reading: object) -> None:
    number = float(str(reading))
    with pytest.raises(ValueError) as info:
        parse_percent(reading)
    message = str(info.value)
    assert "ambiguous" in message
    assert f'"{number * 100:g}%"' in message and f'"{number:g}%"' in message


def test_percent_sign_makes_small_values_plain_and_zero_needs_none() -> None:
    assert parse_percent("0.8%") == 0.8
    assert parse_percent("1%") == 1.0
    assert parse_percent(0) == 0.0 and parse_percent("0") == 0.0


def test_format_seconds_writes_zero_as_0s() -> None:
    assert [format_seconds(s) for s in (0.0, 0.001, 90.0, 604800.0)] == ["0s", "1ms", "90s", "7d"]


@dataclass(frozen=True)
class Ranged:
    plain: Duration = 30.0
    reminder: Annotated[Duration, Between(1.0, 3600.0, "to send none, leave reminder out")] | None = None


@pytest.mark.parametrize(
    ("node", "path", "message"),
    [
        ({"plain": "0s"}, "plain", 'must be from 1ms to 1d, got 0s (zero does not mean "off")'),
        ({"plain": "2d"}, "plain", "must be from 1ms to 1d, got 2d"),
        (
            {"reminder": 0},
            "reminder",
            'must be from 1s to 1h, got 0s (zero does not mean "off": to send none, leave reminder out)',
        ),
        ({"reminder": "500ms"}, "reminder", "must be from 1s to 1h, got 500ms"),
        ({"reminder": "99999999999999999999d"}, "reminder", "must be from 1s to 1h, got"),
    ],
)
def test_every_duration_has_a_range_and_zero_is_never_off(node: dict[str, object], path: str, message: str) -> None:
    problems = Problems()
    assert build(Ranged, node, "r", problems) is None
    (problem,) = problems.items
    assert problem.path == f"r.{path}"
    assert problem.message.startswith(message)


def test_durations_inside_their_range_are_read() -> None:
    ranged = build(Ranged, {"plain": "1d", "reminder": "1h"}, "r", Problems())
    assert ranged == Ranged(plain=86400.0, reminder=3600.0)


@dataclass(frozen=True)
class Sample:
    name: str
    every: Duration = 30.0
    full: Percent = 90.0
    mode: Literal["a", "b"] = "a"
    tags: tuple[str, ...] = ()
    password: Secret | None = None


def test_build_reports_every_problem_at_once_with_its_path() -> None:
    problems = Problems()
    result = build(
        Sample, {"every": "soon", "full": "120%", "mode": "c", "tags": {"x": 1}, "colour": "red"}, "checks[3]", problems
    )
    assert result is None
    by_path = {p.path: p.message for p in problems.items}
    assert set(by_path) == {
        "checks[3].every",
        "checks[3].full",
        "checks[3].mode",
        "checks[3].tags",
        "checks[3].colour",
        "checks[3].name",
    }
    assert by_path["checks[3].name"] == "required key is missing"
    assert by_path["checks[3].colour"].startswith("unknown key (valid keys: ")
    assert "every" in by_path["checks[3].colour"] and "password_env" in by_path["checks[3].colour"]
    assert by_path["checks[3].mode"] == "expected one of a, b, got 'c'"


def test_secret_from_environment_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SAMPLE_PW", "hunter2-value")
    problems = Problems()
    sample = build(Sample, {"name": "x", "password_env": "SAMPLE_PW"}, "", problems)
    assert sample is not None and sample.password is not None
    assert sample.password.reveal() == "hunter2-value"
    assert "hunter2" not in repr(sample) and "hunter2" not in str(sample.password)


def test_secret_from_file_is_stripped(tmp_path: Path) -> None:
    secret_file = tmp_path / "pw"
    secret_file.write_text("from-file-pw\n")
    sample = build(Sample, {"name": "x", "password_file": str(secret_file)}, "", Problems())
    assert sample is not None and sample.password is not None and sample.password.reveal() == "from-file-pw"


def test_inline_secret_and_missing_sources_are_problems(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("NOT_SET_ANYWHERE", raising=False)
    cases = [
        ({"name": "x", "password": "s3cr3t-inline-value"}, "password", "inline secrets are not accepted"),
        (
            {"name": "x", "password_env": "NOT_SET_ANYWHERE"},
            "password_env",
            "environment variable NOT_SET_ANYWHERE is not set",
        ),
        ({"name": "x", "password_file": str(tmp_path / "none")}, "password_file", "No such file"),
        ({"name": "x", "password_env": "A", "password_file": "/b"}, "password_env", "not both"),
    ]
    for node, key, text in cases:
        problems = Problems()
        assert build(Sample, node, "db", problems) is None
        (problem,) = problems.items
        assert problem.path == f"db.{key}" and text in problem.message
        assert "s3cr3t" not in problem.message, "a secret value is never echoed"


def test_secret_file_that_is_no_secret_file_is_a_problem(tmp_path: Path) -> None:
    binary, huge = tmp_path / "binary", tmp_path / "huge"
    binary.write_bytes(b"\xff\xfe\x00garbage")
    huge.write_text("x" * 100_000)
    for path, text in ((binary, "codec can't decode"), (huge, "is over 65536 characters")):
        problems = Problems()
        assert build(Sample, {"name": "x", "password_file": str(path)}, "db", problems) is None
        (problem,) = problems.items
        assert problem.path == "db.password_file" and text in problem.message


def test_config_error_names_file_and_every_problem() -> None:
    problems = Problems()
    problems.add("checks[0].interval", "bad")
    problems.add("listen", "worse")
    with pytest.raises(ConfigError) as info:
        problems.raise_if_any("/etc/x.yaml")
    assert str(info.value).splitlines() == ["/etc/x.yaml: checks[0].interval: bad", "/etc/x.yaml: listen: worse"]


def test_invalid_yaml_names_line_and_column(tmp_path: Path) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text("checks:\n  - name: a\n   type: disk\n")
    with pytest.raises(ConfigError) as info:
        load_yaml(str(path))
    message = str(info.value)
    assert message.startswith(f"{path}: invalid YAML: line 3, column")


def test_unreadable_file_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read: No such file"):
        load_yaml(str(tmp_path / "missing.yaml"))


def test_impossible_date_is_a_config_error_naming_the_file(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("freeze: 2026-13-01\n")
    with pytest.raises(ConfigError) as err:
        load_yaml(str(bad))
    assert str(err.value).startswith(f"{bad}: invalid YAML value")
