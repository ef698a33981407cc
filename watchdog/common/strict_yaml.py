"""Strict, bounded YAML loading for config files (the daemon's config and the deploy policy).

Plain `yaml.safe_load` is the wrong tool for a file that opens release windows or pages
people: it keeps the last of two equal keys without a word (a second `freezes:` left by a
merge silently replaces the first), accepts `.nan`/`.inf`, expands an alias bomb of a few
hundred bytes into gigabytes, overflows the C stack or Python's recursion limit on deep
nesting, and is slow (its pure-Python scanner needs about a minute for 10 MB).

Here the parser (libyaml's when it is installed, else PyYAML's) only produces events; one
loop builds the Python values from them without recursion, so every limit is checked while
reading and a hostile file is refused as soon as it crosses one:

* duplicate keys at any level are problems naming the line of each occurrence;
* numbers must be finite and within +/- 2**53 (a larger one overflows durations and dates);
* nesting deeper than `MAX_DEPTH`, aliases that would add more than `MAX_ALIAS_VALUES`
  values, recursive aliases and files over `MAX_BYTES` stop reading at once;
* a file that is not UTF-8, control characters and syntax errors are one line each, with
  line and column; explicit tags other than YAML's plain ones are refused.

Values are those of `yaml.safe_load` (YAML 1.1: dates, `12:00` read as 720, merge keys `<<`).
Problems are reported as `YamlRejected` with a YAML path (`checks[2].timeout`) where one
exists; the caller decides how to present them.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import yaml
from yaml import events
from yaml.constructor import SafeConstructor
from yaml.nodes import ScalarNode
from yaml.resolver import Resolver

MAX_BYTES = 16 * 1024 * 1024
MAX_DEPTH = 64
MAX_ALIAS_VALUES = 100_000
MAX_NUMBER = 2**53
_LIMIT_TEXT = f"{MAX_BYTES // (1024 * 1024)} MiB"
_RESOLVE_CACHE_SIZE = 50_000

_PARSER: Any = getattr(yaml, "CSafeLoader", None) or yaml.SafeLoader
USES_LIBYAML = _PARSER is not yaml.SafeLoader

_STR = "tag:yaml.org,2002:str"
_INT = "tag:yaml.org,2002:int"
_FLOAT = "tag:yaml.org,2002:float"
_MERGE = "tag:yaml.org,2002:merge"
_MAP = "tag:yaml.org,2002:map"
_SEQ = "tag:yaml.org,2002:seq"
_SCALAR_TAGS = frozenset(
    {_STR, _INT, _FLOAT, "tag:yaml.org,2002:bool", "tag:yaml.org,2002:null", "tag:yaml.org,2002:timestamp"}
)


@dataclass(frozen=True)
class YamlIssue:
    """One problem: `path` is the YAML path of the value ("" for the file as a whole)."""

    path: str
    message: str


class YamlRejected(Exception):
    """The text is not acceptable YAML for a config; `issues` lists every problem found."""

    def __init__(self, issues: list[YamlIssue]) -> None:
        self.issues = issues
        super().__init__("; ".join(f"{i.path}: {i.message}" if i.path else i.message for i in issues))


class _Stop(Exception):
    """A problem after which reading on is pointless or unsafe; `located`: at a YAML path."""

    def __init__(self, message: str, *, located: bool = True) -> None:
        super().__init__(message)
        self.message = message
        self.located = located


class _MergeKey:
    """The `<<` key of a mapping: its value's keys are merged in, explicit keys win."""


_MERGE_KEY = _MergeKey()
_NO_KEY = object()


@dataclass(slots=True)
class _Frame:
    """A sequence or mapping being read; `size` counts the values in it, aliases expanded.

    For a mapping: `key` is the key read and waiting for its value, `lines` the line of each
    key's first occurrence, `duplicates` the lines of every key given more than once.
    """

    value: Any
    is_map: bool
    anchor: str | None
    line: int
    size: int = 1
    key: Any = _NO_KEY
    key_line: int = 0
    lines: dict[Any, int] = field(default_factory=dict)
    duplicates: dict[Any, list[int]] = field(default_factory=dict)
    merges: list[dict[Any, Any]] = field(default_factory=list)


def _rejected(message: str) -> YamlRejected:
    return YamlRejected([YamlIssue("", message)])


def read_text(path: str) -> str:
    """The file's text; YamlRejected when it is larger than MAX_BYTES or not UTF-8. OSError passes."""
    with open(path, "rb") as fh:
        data = fh.read(MAX_BYTES + 1)
    if len(data) > MAX_BYTES:
        raise _rejected(f"the file is larger than {_LIMIT_TEXT}; refusing to read it")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line, column = _line_column(data, exc.start)
        byte = data[exc.start]
        raise _rejected(f"not UTF-8: byte 0x{byte:02x} at line {line}, column {column}; save it as UTF-8") from None


def _line_column(data: bytes, offset: int) -> tuple[int, int]:
    line_start = data.rfind(b"\n", 0, offset) + 1
    return data.count(b"\n", 0, offset) + 1, len(data[line_start:offset].decode("utf-8", "replace")) + 1


def loads(text: str) -> Any:
    """The value of a one-document YAML text, or None for an empty one; raises YamlRejected."""
    if len(text) > MAX_BYTES:
        raise _rejected(f"the text is larger than {_LIMIT_TEXT}; refusing to read it")
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as exc:  # lone surrogates: text that never came from a UTF-8 file
        raise _rejected(f"not UTF-8 text (character {exc.start + 1})") from None
    builder = _Builder()
    parser = None
    try:
        parser = _PARSER(text)  # PyYAML's own reader checks the characters here already
        builder.run(parser.get_event)
    except _Stop as stop:
        builder.issues.append(YamlIssue(builder.path() if stop.located else "", stop.message))
    except yaml.MarkedYAMLError as exc:
        builder.issues.append(YamlIssue("", _syntax_text(exc)))
    except yaml.reader.ReaderError as exc:
        builder.issues.append(YamlIssue("", _reader_text(exc, text)))
    finally:
        if parser is not None:
            parser.dispose()
    if builder.issues:
        raise YamlRejected(builder.issues)
    return builder.document


def _syntax_text(exc: yaml.MarkedYAMLError) -> str:
    mark = exc.problem_mark
    where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark is not None else ""
    context = ""
    if exc.context and exc.context_mark is not None:
        context = f" ({exc.context} started at line {exc.context_mark.line + 1})"
    return f"invalid YAML: {where}{exc.problem or 'syntax error'}{context}"


def _reader_text(exc: yaml.reader.ReaderError, text: str) -> str:
    """libyaml counts the position in UTF-8 bytes, PyYAML in characters."""
    data = text.encode("utf-8")
    offset = exc.position if USES_LIBYAML else len(text[: exc.position].encode("utf-8"))
    line, column = _line_column(data, offset)
    what = f"character U+{exc.character:04X}" if isinstance(exc.character, int) else "a character"
    return f"invalid YAML: line {line}, column {column}: {what} is not allowed (a binary file?)"


def _short(tag: str) -> str:
    return tag.replace("tag:yaml.org,2002:", "!!", 1)


class _Builder:
    """Turns parser events into Python values, checking every limit as it goes."""

    def __init__(self) -> None:
        self.issues: list[YamlIssue] = []
        self.document: Any = None
        self.stack: list[_Frame] = []
        self.anchors: dict[str, tuple[Any, int, int]] = {}  # name -> (value, size, line)
        self.open_anchors: set[str] = set()
        self.alias_values = 0
        self.documents = 0
        self.constructor = SafeConstructor()
        self.resolver: Any = Resolver()  # PyYAML's resolver is untyped
        self.resolved: dict[str, str] = {}

    def path(self) -> str:
        """The YAML path of the value being read (its mapping key or list index)."""
        parts: list[str] = []
        for frame in self.stack:
            if not frame.is_map:
                parts.append(f"[{len(frame.value)}]")
            elif frame.key is not _NO_KEY and frame.key is not _MERGE_KEY:
                parts.append(f".{frame.key}" if parts else str(frame.key))
        return "".join(parts).lstrip(".")

    def problem(self, message: str) -> None:
        self.issues.append(YamlIssue(self.path(), message))

    def run(self, get_event: Any) -> None:
        """Reads every event; the common case, a plain untagged scalar, is handled inline (speed)."""
        scalar_event, resolved, add = events.ScalarEvent, self.resolved, self.add
        while True:
            event = get_event()
            kind = type(event)
            if kind is scalar_event and event.tag is None and event.anchor is None:
                text = event.value
                if event.implicit[0]:  # plain: its type comes from its text (YAML 1.1)
                    tag = resolved.get(text) or self.resolve(text)
                    value = text if tag == _STR else self.typed(tag, event)
                else:
                    value = text
                add(value, 1, event.start_mark.line + 1)
            elif kind is scalar_event:
                self.scalar(event)
            elif kind is events.MappingStartEvent or kind is events.SequenceStartEvent:
                self.start(event, kind is events.MappingStartEvent)
            elif kind is events.MappingEndEvent or kind is events.SequenceEndEvent:
                self.end()
            elif kind is events.AliasEvent:
                self.alias(event)
            elif kind is events.DocumentStartEvent:
                self.documents += 1
                if self.documents > 1:
                    raise _Stop(
                        f"a second YAML document starts at line {event.start_mark.line + 1}; a config file holds one",
                        located=False,
                    )
            elif kind is events.StreamEndEvent or event is None:
                return

    def resolve(self, text: str) -> str:
        tag: str = self.resolver.resolve(ScalarNode, text, (True, False))
        if len(self.resolved) < _RESOLVE_CACHE_SIZE:
            self.resolved[text] = tag
        return tag

    def start(self, event: Any, is_map: bool) -> None:
        line = event.start_mark.line + 1
        if len(self.stack) >= MAX_DEPTH:
            raise _Stop(f"nested deeper than {MAX_DEPTH} levels at line {line}; refusing to read on", located=False)
        if self.stack and self.stack[-1].is_map and self.stack[-1].key is _NO_KEY:
            raise _Stop(f"a list or mapping used as a key at line {line}; keys must be plain values")
        if event.tag not in (None, "!", _MAP, _SEQ):
            self.problem(f"unsupported YAML tag {_short(event.tag)} at line {line}")
        if event.anchor is not None:
            self.open_anchors.add(event.anchor)
        self.stack.append(_Frame({} if is_map else [], is_map, event.anchor, line))

    def end(self) -> None:
        frame = self.stack[-1]
        if frame.duplicates:
            self.report_duplicates(frame)
        self.stack.pop()
        value = frame.value
        if frame.merges:
            merged: dict[Any, Any] = {}
            for source in reversed(frame.merges):  # the first merged mapping wins over later ones
                merged.update(source)
            merged.update(value)
            value = merged
        if frame.anchor is not None:
            self.open_anchors.discard(frame.anchor)
            self.remember(frame.anchor, value, frame.size, frame.line)
        self.add(value, frame.size, frame.line)

    def remember(self, anchor: str, value: Any, size: int, line: int) -> None:
        if anchor in self.anchors:
            self.problem(f"anchor &{anchor} is defined twice (lines {self.anchors[anchor][2]} and {line})")
        self.anchors[anchor] = (value, size, line)

    def alias(self, event: Any) -> None:
        line = event.start_mark.line + 1
        name = event.anchor
        if name in self.open_anchors:
            raise _Stop(f"alias *{name} at line {line} refers to a value that contains it (an endless value)")
        if name not in self.anchors:
            raise _Stop(f"alias *{name} at line {line} refers to no anchor &{name} before it")
        value, size, _ = self.anchors[name]
        if self.stack and self.stack[-1].is_map and self.stack[-1].key is _NO_KEY and isinstance(value, (list, dict)):
            raise _Stop(f"a list or mapping used as a key at line {line}; keys must be plain values")
        self.alias_values += size
        if self.alias_values > MAX_ALIAS_VALUES:
            raise _Stop(
                f"aliases expand to more than {MAX_ALIAS_VALUES} values (at *{name}, line {line}); "
                "refusing to read on (an alias bomb?)",
                located=False,
            )
        self.add(value, size, line)

    def scalar(self, event: Any) -> None:
        """A scalar with an anchor or an explicit tag."""
        line = event.start_mark.line + 1
        tag = event.tag
        if tag is None or tag == "!":
            implicit = event.implicit[0] and tag is None  # quoted, or an explicit `!`: a string
            tag = self.resolved.get(event.value) or self.resolve(event.value) if implicit else _STR
        if tag == _STR:
            value = event.value
        elif tag in _SCALAR_TAGS or tag == _MERGE:
            value = self.typed(tag, event)
        else:
            self.problem(f"unsupported YAML tag {_short(tag)} at line {line}")
            value = None
        if event.anchor is not None:
            self.remember(event.anchor, value, 1, line)
        self.add(value, 1, line)

    def typed(self, tag: str, event: Any) -> Any:
        """The value of a scalar of a YAML type other than string; None (and a problem) when bad."""
        if tag == _MERGE:
            return _MERGE_KEY
        text: str = event.value
        line = event.start_mark.line + 1
        try:
            value = SafeConstructor.yaml_constructors[tag](self.constructor, ScalarNode(tag, text))
        except (yaml.constructor.ConstructorError, ValueError) as exc:
            path = self.path()
            where = f"{path}, " if path else ""
            problem = getattr(exc, "problem", None) or str(exc)
            self.issues.append(YamlIssue("", f"invalid YAML value: {problem} ({where}line {line}: {text!r})"))
            return None
        if tag in (_INT, _FLOAT):
            if isinstance(value, float) and not math.isfinite(value):
                self.problem(f"{text} at line {line} is not a finite number")
                return None
            if abs(value) > MAX_NUMBER:
                self.problem(f"the number {text} at line {line} is out of range (at most 2^53 = {MAX_NUMBER})")
                return None
        return value

    def add(self, value: Any, size: int, line: int) -> None:
        stack = self.stack
        if not stack:
            self.document = value
            return
        frame = stack[-1]
        frame.size += size
        if not frame.is_map:
            frame.value.append(value)
        elif frame.key is _NO_KEY:
            frame.key, frame.key_line = value, line
        else:
            self.item(frame, value)

    def item(self, frame: _Frame, value: Any) -> None:
        key, key_line = frame.key, frame.key_line
        frame.key = _NO_KEY
        if key is _MERGE_KEY:
            sources = value if isinstance(value, list) else [value]
            if all(isinstance(source, dict) for source in sources):
                frame.merges.extend(sources)
            else:
                self.problem(f"<< at line {key_line} merges a mapping or a list of mappings only")
            return
        mapping = frame.value
        if key in mapping:  # also 1 and true, which one Python dict cannot hold apart
            frame.duplicates.setdefault(key, [frame.lines[key]]).append(key_line)
        else:
            frame.lines[key] = key_line
        mapping[key] = value

    def report_duplicates(self, frame: _Frame) -> None:
        """Every key given more than once in the mapping `frame` (still on the stack)."""
        base = self.path()
        for key, lines in frame.duplicates.items():
            path = f"{base}.{key}" if base else str(key)
            where = ", ".join(map(str, lines[:-1])) + f" and {lines[-1]}"
            message = f"duplicate key at lines {where}: YAML would silently keep only the last one; merge them"
            self.issues.append(YamlIssue(path, message))
