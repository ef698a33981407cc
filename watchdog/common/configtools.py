"""Turning YAML into frozen, typed config objects, reporting every problem at once.

A config section is declared as a frozen dataclass; `build()` reads a YAML node into it by
the field annotations, and records each problem with its YAML path
(`checks[2].remediate.restart: ...`) in a `Problems` collector instead of stopping at the
first. Unknown keys are problems too: a typo must never silently disable a check or open a
deploy window.

Field conventions understood by `build()`:

* `Duration` (`Annotated[float, DURATION]`): "500ms", "30s", "5m", "1h", "1d" (or a bare
  number of seconds) -> seconds as float, within `DEFAULT_DURATION_RANGE` or the `Between`
  given next to it (`Annotated[Duration, Between(1, 3600)]`). Zero is never in a range: a
  zero that silently switched something off (`repeat_every: 0s`) would be a trap, so "off"
  is always spelled by leaving the key out.
* `Percent` (`Annotated[float, PERCENT]`): "80%" -> percent as float. A number without `%`
  above 1 (`90`) is read as percent; one from 0 to 1 (`0.8`) is rejected as ambiguous
  (80 % or 0.8 %?).
* `Secret | None` named `password`: read from `password_env` (environment variable name)
  or `password_file` (path); an inline `password` is rejected so secrets never sit in
  config files that get copied into tickets. An empty or blank secret is an error: it
  would log in without a password or send an empty token, and fail far from its cause.
* `Literal[...]`, `str`, `int`, `float`, `bool`, `tuple[X, ...]`, `Mapping[str, X]`,
  nested dataclasses and `X | None`.
* A field's YAML key is its name, or `field(metadata={"key": "..."})`.
"""

from __future__ import annotations

import dataclasses
import math
import os
import re
import types
import typing
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal, TypeVar, Union

from watchdog.common.strict_yaml import YamlRejected, loads, read_text

T = TypeVar("T")


class _Marker:
    def __init__(self, name: str) -> None:
        self.name = name

    def __repr__(self) -> str:
        return self.name


DURATION = _Marker("DURATION")
PERCENT = _Marker("PERCENT")


@dataclass(frozen=True)
class Between:
    """The allowed range of a `Duration` field in seconds, both ends included."""

    low: float
    high: float
    off: str | None = None
    """How to switch it off, when that is possible: "to send no reminders, leave the key out"."""

    def check(self, seconds: float) -> None:
        """Raises ValueError naming the range when `seconds` is outside it."""
        if self.low <= seconds <= self.high:
            return
        problem = (
            f"must be from {format_seconds(self.low)} to {format_seconds(self.high)}, got {format_seconds(seconds)}"
        )
        if seconds == 0:
            problem += ' (zero does not mean "off"' + (f": {self.off})" if self.off else ")")
        raise ValueError(problem)


DEFAULT_DURATION_RANGE = Between(0.001, 86400.0)
"""The range of a `Duration` field that names none of its own: above zero, at most a day."""

Duration = typing.Annotated[float, DURATION]
Percent = typing.Annotated[float, PERCENT]


@dataclass(frozen=True)
class Problem:
    path: str
    message: str

    def __str__(self) -> str:
        return f"{self.path}: {self.message}" if self.path else self.message


class ConfigError(Exception):
    """A config file with one or more problems; `str()` lists all, one per line."""

    def __init__(self, source: str, problems: list[Problem]) -> None:
        self.source = source
        self.problems = list(problems)
        super().__init__(str(self))

    def __str__(self) -> str:
        return "\n".join(f"{self.source}: {p}" for p in self.problems)


MAX_PROBLEM_CHARS = 300
"""A problem quotes the value it is about; a megabyte-long value is cut, not printed whole."""


class Problems:
    """Collects config problems; `raise_if_any` turns them into one `ConfigError`."""

    def __init__(self) -> None:
        self.items: list[Problem] = []

    def add(self, path: str, message: str) -> None:
        if len(message) > MAX_PROBLEM_CHARS:
            message = message[: MAX_PROBLEM_CHARS - 1] + "…"
        self.items.append(Problem(path, message))

    def __bool__(self) -> bool:
        return bool(self.items)

    def raise_if_any(self, source: str) -> None:
        if self.items:
            raise ConfigError(source, self.items)


class Secret:
    """A secret value that never shows itself in repr, str, logs or tracebacks."""

    __slots__ = ("_value", "origin")

    def __init__(self, value: str, origin: str) -> None:
        self._value = value
        self.origin = origin

    def reveal(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return f"Secret(from {self.origin})"

    __str__ = __repr__

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        return hash(self._value)


def join(path: str, key: str | int) -> str:
    if isinstance(key, int):
        return f"{path}[{key}]"
    return f"{path}.{key}" if path else key


_DURATION_RE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)?\s*$")
_DURATION_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0, None: 1.0}


def parse_duration(value: object) -> float:
    """Seconds in a duration like "500ms", "30s", "5m", "1h", "1d" or a bare number.

    Raises ValueError with a message fit for a config error, also for one too large to be a
    number of seconds at all (a 400-digit count of days is infinity as a float).
    """
    if isinstance(value, bool):
        raise ValueError(f"expected a duration like 30s, 5m or 500ms, got {value!r}")
    seconds: float | None = None
    if isinstance(value, (int, float)):
        if value < 0:
            raise ValueError(f"duration must not be negative, got {value!r}")
        seconds = float(value)
    elif isinstance(value, str):
        m = _DURATION_RE.match(value)
        if m:
            seconds = float(m.group(1)) * _DURATION_UNITS[m.group(2)]
    if seconds is None:
        raise ValueError(f"expected a duration like 30s, 5m or 500ms, got {value!r}")
    if not math.isfinite(seconds):
        raise ValueError(f"duration too large, got {str(value)[:40]!r}")
    return seconds


def format_seconds(seconds: float) -> str:
    """`5s`, `500ms`, `2.5s`, `5m`, `1h`: durations written back as people write them in the config."""
    if 0 < seconds < 1:
        return f"{seconds * 1000:g}ms"
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size and seconds % size == 0:
            return f"{seconds / size:g}{unit}"
    return f"{seconds:g}s"


_PERCENT_RE = re.compile(r"\s*(\d+(?:\.\d+)?)\s*(%?)\s*")


def parse_percent(value: object) -> float:
    """Percent 0..100 from "80%", or from a number without `%` that can only mean percent.

    `0.8` could be a ratio (80 %) or 0.8 %: a threshold off by a factor of 100 pages at the
    wrong time or never, so a number from 0 to 1 needs its `%` (0 means the same either way).
    """
    number: float | None = None
    marked = False
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        number = float(value)
    elif isinstance(value, str) and (m := _PERCENT_RE.fullmatch(value)):
        number, marked = float(m.group(1)), bool(m.group(2))
    if number is None or not 0 <= number <= 100:
        raise ValueError(f"expected a percentage from 0% to 100%, got {value!r}")
    if not marked and 0 < number <= 1:
        raise ValueError(
            f'{value!r} is ambiguous: write "{number * 100:g}%" if it is a ratio, or "{number:g}%" if it is percent'
        )
    return number


def load_yaml(path: str) -> object:
    """Parsed YAML of a file, read strictly (see `watchdog.common.strict_yaml`: duplicate keys,
    non-finite numbers, depth, alias and size limits); ConfigError naming the file on any problem."""
    try:
        text = read_text(path)
    except OSError as exc:
        raise ConfigError(path, [Problem("", f"cannot read: {exc.strerror or exc}")]) from exc
    except YamlRejected as exc:
        raise _yaml_error(path, exc) from None
    return parse_yaml(text, path)


def parse_yaml(text: str, source: str) -> object:
    """Parsed YAML of `text`, read as strictly as `load_yaml` reads a file; ConfigError naming `source`."""
    try:
        return loads(text)
    except YamlRejected as exc:
        raise _yaml_error(source, exc) from None


def _yaml_error(source: str, exc: YamlRejected) -> ConfigError:
    return ConfigError(source, [Problem(issue.path, issue.message) for issue in exc.issues])


MAX_SECRET_CHARS = 64 * 1024
"""A `*_file` longer than this is a wrong path (a log, a binary), not a password or token."""


def yaml_key(f: dataclasses.Field[Any]) -> str:
    return str(f.metadata.get("key", f.name))


def read_secret(node: Mapping[str, Any], name: str, path: str, problems: Problems) -> Secret | None:
    """The secret `name` from `name_env` or `name_file` keys of node, or None if neither."""
    env_key, file_key = f"{name}_env", f"{name}_file"
    if name in node:
        problems.add(
            join(path, name),
            f"inline secrets are not accepted; use {env_key} (environment variable name) "
            f"or {file_key} (path to a file)",
        )
        return None
    if env_key in node and file_key in node:
        problems.add(join(path, env_key), f"give either {env_key} or {file_key}, not both")
        return None
    if env_key in node:
        var = node[env_key]
        if not isinstance(var, str) or not var:
            problems.add(join(path, env_key), "expected the name of an environment variable")
            return None
        value = os.environ.get(var)
        if value is None:
            problems.add(join(path, env_key), f"environment variable {var} is not set")
            return None
        if not value.strip():
            problems.add(join(path, env_key), f"environment variable {var} is empty: a blank secret protects nothing")
            return None
        return Secret(value, f"${var}")
    if file_key in node:
        fname = node[file_key]
        if not isinstance(fname, str) or not fname:
            problems.add(join(path, file_key), "expected a file path")
            return None
        try:
            with open(fname, encoding="utf-8") as fh:
                text = fh.read(MAX_SECRET_CHARS + 1).strip()
        except (OSError, UnicodeDecodeError) as exc:
            problems.add(join(path, file_key), f"cannot read {fname}: {getattr(exc, 'strerror', None) or exc}")
            return None
        if len(text) > MAX_SECRET_CHARS:
            problems.add(join(path, file_key), f"{fname} is over {MAX_SECRET_CHARS} characters: not a secret file")
            return None
        if not text:
            problems.add(join(path, file_key), f"{fname} is empty: a blank secret protects nothing")
            return None
        return Secret(text, fname)
    return None


def _is_secret_type(tp: Any) -> bool:
    return tp is Secret or (_is_optional(tp) and _strip_optional(tp) is Secret)


def _is_optional(tp: Any) -> bool:
    origin = typing.get_origin(tp)
    return origin in (Union, types.UnionType) and type(None) in typing.get_args(tp)


def _strip_optional(tp: Any) -> Any:
    args = [a for a in typing.get_args(tp) if a is not type(None)]
    return args[0] if len(args) == 1 else Union[tuple(args)]  # noqa: UP007 (built from a tuple at run time)


def _type_name(tp: Any) -> str:
    if tp is str:
        return "a string"
    if tp is int:
        return "an integer"
    if tp is float:
        return "a number"
    if tp is bool:
        return "true or false"
    return getattr(tp, "__name__", str(tp))


def convert(tp: Any, value: object, path: str, problems: Problems) -> Any:
    """Value converted to annotation `tp`; on failure records a problem and returns None."""
    if _is_optional(tp):
        if value is None:
            return None
        return convert(_strip_optional(tp), value, path, problems)
    origin = typing.get_origin(tp)
    if origin is typing.Annotated:
        base, *meta = typing.get_args(tp)
        try:
            if DURATION in meta:
                seconds = parse_duration(value)
                next((m for m in meta if isinstance(m, Between)), DEFAULT_DURATION_RANGE).check(seconds)
                return seconds
            if PERCENT in meta:
                return parse_percent(value)
        except ValueError as exc:
            problems.add(path, str(exc))
            return None
        return convert(base, value, path, problems)
    if origin is Literal:
        allowed = typing.get_args(tp)
        if value not in allowed:
            problems.add(path, f"expected one of {', '.join(map(str, allowed))}, got {value!r}")
            return None
        return value
    if dataclasses.is_dataclass(tp) and isinstance(tp, type):
        return build(tp, value, path, problems)
    if origin is tuple:
        item_tp = typing.get_args(tp)[0]
        if isinstance(value, (str, int, float)) and not isinstance(value, bool) and item_tp in (str, int):
            value = [value]
        if not isinstance(value, list):
            problems.add(path, f"expected a list, got {type(value).__name__}")
            return None
        items = [convert(item_tp, v, join(path, i), problems) for i, v in enumerate(value)]
        return tuple(items)
    if origin in (Mapping, dict, typing.Mapping):
        key_tp, val_tp = typing.get_args(tp)
        if not isinstance(value, dict):
            problems.add(path, f"expected a mapping, got {type(value).__name__}")
            return None
        return types.MappingProxyType(
            {
                convert(key_tp, k, path, problems): convert(val_tp, v, join(path, str(k)), problems)
                for k, v in value.items()
            }
        )
    if tp is float:
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return float(value)
    elif tp is int:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
    elif tp is str:
        if isinstance(value, (str, int, float)) and not isinstance(value, bool):
            return str(value)
    elif tp is bool:
        if isinstance(value, bool):
            return value
    elif tp is Any or tp is object:
        return value
    problems.add(path, f"expected {_type_name(tp)}, got {value!r}")
    return None


def build(
    cls: type[T],
    node: object,
    path: str,
    problems: Problems,
    *,
    ignore: frozenset[str] = frozenset(),
    also_valid: frozenset[str] = frozenset(),
) -> T | None:
    """An instance of dataclass `cls` from mapping `node`, or None if it had problems.

    Keys in `ignore` and `also_valid` are accepted without being read (the caller handles
    them); `also_valid` keys are also listed as valid when an unknown key is reported.
    """
    if node is None:
        node = {}
    if not isinstance(node, dict):
        problems.add(path, f"expected a mapping, got {type(node).__name__}")
        return None
    hints = typing.get_type_hints(cls, include_extras=True)
    fields = dataclasses.fields(cls)  # type: ignore[arg-type]
    known: set[str] = set(ignore) | set(also_valid)
    values: dict[str, Any] = {}
    before = len(problems.items)
    for f in fields:
        if not f.init:
            continue
        key = yaml_key(f)
        tp = hints[f.name]
        if _is_secret_type(tp):
            known.update({key, f"{key}_env", f"{key}_file"})
            values[f.name] = read_secret(node, key, path, problems)
            continue
        known.add(key)
        if key in node:
            values[f.name] = convert(tp, node[key], join(path, key), problems)
        elif f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING:
            problems.add(join(path, key), "required key is missing")
    for key in node:
        if key not in known:
            valid = ", ".join(sorted(k for k in known if k not in ignore))
            problems.add(join(path, str(key)), f"unknown key (valid keys: {valid})")
    if len(problems.items) > before:
        return None
    try:
        return cls(**values)
    except (TypeError, ValueError) as exc:
        problems.add(path, str(exc))
        return None
