"""The strict YAML loader both config files go through: same values as safe_load, none of its traps."""

from __future__ import annotations

import time
from datetime import date
from pathlib import Path

import pytest
import yaml

from watchdog.common import strict_yaml
from watchdog.common.configtools import ConfigError, load_yaml, parse_yaml
from watchdog.common.strict_yaml import MAX_ALIAS_VALUES, MAX_BYTES, MAX_DEPTH, YamlRejected, loads

ORDINARY = """\
timezone: Europe/Warsaw
windows:
  - {days: [mon, tue], start: "08:00", end: "12:00"}
holidays: {country: PL, extra: {2026-12-31: company day off}, block_days_before: 1}
numbers: [0, -3, 0x1F, 0o17, 1_000, 1.5, -2.5e+3, 12:00]
flags: [yes, no, true, off, ~, null]
when: 2026-11-23 14:00:00
text: 'quoted: 12'
block: |
  two
  lines
"""


@pytest.fixture(params=["libyaml", "pure-python"])
def parser(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """The test runs with libyaml's parser and with PyYAML's own (a machine without libyaml)."""
    if request.param == "pure-python":
        monkeypatch.setattr(strict_yaml, "_PARSER", yaml.SafeLoader)
        monkeypatch.setattr(strict_yaml, "USES_LIBYAML", False)
    return str(request.param)


def issues(text: str) -> list[tuple[str, str]]:
    with pytest.raises(YamlRejected) as info:
        loads(text)
    return [(issue.path, issue.message) for issue in info.value.issues]


def test_ordinary_documents_read_exactly_as_safe_load_reads_them(parser: str) -> None:
    assert loads(ORDINARY) == yaml.safe_load(ORDINARY)
    assert loads("") is None
    assert loads("# only a comment\n") is None


def test_libyaml_is_used_when_installed(parser: str) -> None:
    if parser == "libyaml":
        assert hasattr(yaml, "CSafeLoader"), "PyYAML's wheels ship libyaml"
        assert strict_yaml.USES_LIBYAML and strict_yaml._PARSER is yaml.CSafeLoader


def test_merge_keys_merge_and_explicit_keys_win(parser: str) -> None:
    text = "base: &b {x: 1, y: 2}\nmore: &m {z: 3}\nthing:\n  <<: [*b, *m]\n  y: 9\n"
    assert loads(text)["thing"] == {"x": 1, "y": 9, "z": 3}
    assert loads(text) == yaml.safe_load(text)


def test_duplicate_top_level_key_names_both_lines(parser: str) -> None:
    text = "freezes:\n  - {name: black-week, start: 2026-11-23, end: 2026-11-30}\nwindows: []\nfreezes: []\n"
    assert issues(text) == [
        ("freezes", "duplicate key at lines 1 and 4: YAML would silently keep only the last one; merge them")
    ]


def test_duplicate_keys_are_found_at_every_level_and_in_flow_style(parser: str) -> None:
    text = "a:\n  b:\n    - {c: 1, c: 2}\n  d: 1\n  d: 2\n  d: 3\n"
    assert issues(text) == [
        ("a.b[0].c", "duplicate key at lines 3 and 3: YAML would silently keep only the last one; merge them"),
        ("a.d", "duplicate key at lines 4, 5 and 6: YAML would silently keep only the last one; merge them"),
    ]


def test_keys_equal_after_reading_are_duplicates(parser: str) -> None:
    assert [path for path, _ in issues("holidays:\n  2026-12-31: a\n  '2026-12-31': b\n  2026-12-31: c\n")] == [
        "holidays.2026-12-31"
    ]


@pytest.mark.parametrize(
    "value, message",
    [
        (".nan", ".nan at line 1 is not a finite number"),
        (".inf", ".inf at line 1 is not a finite number"),
        ("-.Inf", "-.Inf at line 1 is not a finite number"),
        ("1.0e+20", "the number 1.0e+20 at line 1 is out of range (at most 2^53 = 9007199254740992)"),
        ("100000000000000000000", "the number 100000000000000000000 at line 1 is out of range"),
        ("-9007199254740993", "the number -9007199254740993 at line 1 is out of range"),
    ],
)
def test_non_finite_and_overflowing_numbers_are_problems(value: str, message: str, parser: str) -> None:
    ((path, text),) = issues(f"timeout: {value}\n")
    assert path == "timeout" and text.startswith(message)


def test_numbers_within_range_are_kept() -> None:
    assert loads("a: 9007199254740992\nb: -1.5e+3\nc: 1e20\n") == {"a": 2**53, "b": -1500.0, "c": "1e20"}


def test_every_problem_of_the_file_is_reported_at_once(parser: str) -> None:
    found = issues("a: .nan\nb: 1\nb: 2\nc: [.inf]\n")
    assert [path for path, _ in found] == ["a", "c[0]", "b"]


def test_deep_nesting_stops_reading_at_the_limit(parser: str) -> None:
    block = "".join("  " * i + f"k{i}:\n" for i in range(MAX_DEPTH + 5))
    message = f"nested deeper than {MAX_DEPTH} levels at line {MAX_DEPTH + 1}; refusing to read on"
    assert issues(block) == [("", message)]
    flow = "a: " + "[" * 200_000 + "]" * 200_000 + "\n"
    started = time.monotonic()
    ((_, message),) = issues(flow)
    assert time.monotonic() - started < 5
    assert message.startswith("invalid YAML: line 1") or message.startswith("nested deeper than")


def test_nesting_just_inside_the_limit_is_read(parser: str) -> None:
    text = "a: " + "[" * (MAX_DEPTH - 1) + "1" + "]" * (MAX_DEPTH - 1) + "\n"
    value = loads(text)["a"]
    for _ in range(MAX_DEPTH - 2):
        value = value[0]
    assert value == [1]


def alias_bomb(levels: int) -> str:
    lines = ["a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
    lines += [f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 10)}]" for i in range(1, levels)]
    return "\n".join(lines) + "\n"


def test_an_alias_bomb_is_refused_in_linear_time(parser: str) -> None:
    started = time.monotonic()
    ((path, message),) = issues(alias_bomb(9))  # would expand to a billion values
    assert time.monotonic() - started < 2
    assert path == ""
    assert message.startswith(f"aliases expand to more than {MAX_ALIAS_VALUES} values (at *a3, line 5)")


def test_ordinary_use_of_aliases_is_fine() -> None:
    assert loads(alias_bomb(4))["a3"][9][9][9][9] == "x"


@pytest.mark.parametrize(
    "text, message",
    [
        ("a: &x [*x]\n", "alias *x at line 1 refers to a value that contains it (an endless value)"),
        ("a: *nope\n", "alias *nope at line 1 refers to no anchor &nope before it"),
        ("{[1]: 2}\n", "a list or mapping used as a key at line 1; keys must be plain values"),
        ("--- 1\n--- 2\n", "a second YAML document starts at line 2; a config file holds one"),
        ("a: !!python/object:os.system x\n", "unsupported YAML tag !!python/object:os.system at line 1"),
        ("a: !!binary aGk=\n", "unsupported YAML tag !!binary at line 1"),
        ("a: !local {b: 1}\n", "unsupported YAML tag !local at line 1"),
        ("a: &x 1\nb: &x 2\n", "anchor &x is defined twice (lines 1 and 2)"),
        ("a: <<\n<<: 3\n", "<< at line 2 merges a mapping or a list of mappings only"),
    ],
)
def test_structures_a_config_has_no_use_for_are_refused(text: str, message: str, parser: str) -> None:
    assert message in [m for _, m in issues(text)]


def test_impossible_dates_name_the_key_and_line(parser: str) -> None:
    assert issues("freezes:\n  - {name: x, start: 2026-13-01}\n") == [
        ("", "invalid YAML value: month must be in 1..12 (freezes[0].start, line 2: '2026-13-01')")
    ]


@pytest.mark.parametrize(
    "text, message",
    [
        ("a: 1\nb: \x00x\n", "invalid YAML: line 2, column 4: character U+0000 is not allowed (a binary file?)"),
        ("a: zażółć\x07\n", "invalid YAML: line 1, column 10: character U+0007 is not allowed (a binary file?)"),
        ("windows: [\n", "invalid YAML: line 2, column 1: "),
        ("a: 1\n\tb: 2\n", "invalid YAML: line 2, column 1: "),
    ],
)
def test_syntax_errors_and_control_characters_are_one_line_with_position(text: str, message: str, parser: str) -> None:
    ((path, found),) = issues(text)
    assert path == "" and found.startswith(message) and "\n" not in found


def test_a_file_that_is_not_utf8_names_the_byte_and_position(tmp_path: Path) -> None:
    path = tmp_path / "latin1.yaml"
    path.write_bytes("a: 1\nname: Łódź\n".encode() + "reason: été\n".encode("latin-1"))
    with pytest.raises(ConfigError) as info:
        load_yaml(str(path))
    assert str(info.value) == f"{path}: not UTF-8: byte 0xe9 at line 3, column 9; save it as UTF-8"


def test_random_binary_garbage_is_one_line(tmp_path: Path) -> None:
    path = tmp_path / "garbage.yaml"
    path.write_bytes(bytes(range(256)) * 64)
    with pytest.raises(ConfigError) as info:
        load_yaml(str(path))
    assert len(str(info.value).splitlines()) == 1


def test_a_file_over_the_size_limit_is_not_read(tmp_path: Path) -> None:
    path = tmp_path / "huge.yaml"
    with path.open("wb") as fh:
        fh.truncate(MAX_BYTES + 1)
    with pytest.raises(ConfigError) as info:
        load_yaml(str(path))
    assert str(info.value) == f"{path}: the file is larger than 16 MiB; refusing to read it"


def test_a_file_at_the_size_limit_is_read(tmp_path: Path) -> None:
    path = tmp_path / "big.yaml"
    line = b"# padding\n"
    path.write_bytes(b"a: 1\n" + line * ((MAX_BYTES - 5) // len(line)))
    assert load_yaml(str(path)) == {"a": 1}


def test_parse_yaml_names_its_source() -> None:
    with pytest.raises(ConfigError) as info:
        parse_yaml("a: 1\na: 2\n", "<embedded>")
    assert str(info.value).startswith("<embedded>: a: duplicate key at lines 1 and 2")


def test_text_with_lone_surrogates_is_refused(parser: str) -> None:
    assert issues("a: \udcff\n") == [("", "not UTF-8 text (character 4)")]


def test_values_read_are_plain_python_values() -> None:
    assert loads("d: 2026-12-31\nk: {2026-12-31: x}\n") == {"d": date(2026, 12, 31), "k": {date(2026, 12, 31): "x"}}
