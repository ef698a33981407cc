"""Alertmanager label matchers (`severity="critical"`), checked when the policy is read.

The gate hands each matcher to Alertmanager as written (a `filter` of GET /api/v2/alerts),
so Alertmanager decides what matches; this module only makes sure it will accept them, so
that a typo is exit 2 at `validate` instead of a gate that can never answer. The grammar is
Alertmanager's own (pkg/labels ParseMatcher): a label name, one of `=`, `!=`, `=~`, `!~`,
and a value, optionally in double quotes, with `\\"`, `\\n` and `\\\\` as escapes. One matcher per
list entry: Alertmanager's `filter` takes one each. Regexes are anchored by Alertmanager;
Python's `re` stands in for Go's RE2 to catch the ones that cannot compile.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_MATCHER = re.compile(r"^\s*([a-zA-Z_:][a-zA-Z0-9_:]*)\s*(=~|=|!=|!~)\s*(.*?)\s*$", re.DOTALL)
_ESCAPES = {"n": "\n", '"': '"', "\\": "\\"}


@dataclass(frozen=True)
class Matcher:
    name: str
    op: str
    value: str


def parse_matcher(text: str) -> Matcher:
    """The matcher `text` stands for; ValueError saying what is wrong with it."""
    if text.strip().startswith("{") or "," in _outside_quotes(text):
        raise ValueError(f'one matcher per list entry (like severity="critical"), got {text!r}')
    found = _MATCHER.match(text)
    if found is None:
        raise ValueError(f'expected LABEL, one of = != =~ !~, then a value (like severity="critical"), got {text!r}')
    name, op, raw = found.groups()
    value = _unquote(raw, text)
    if op in ("=~", "!~"):
        try:
            re.compile(value)
        except re.error as exc:
            raise ValueError(f"the regex in {text!r} does not compile: {exc}") from None
    return Matcher(name, op, value)


def _unquote(raw: str, text: str) -> str:
    """The value with its quotes and escapes resolved, as Alertmanager reads it."""
    quoted = raw.startswith('"')
    body = raw[1:] if quoted else raw
    out: list[str] = []
    closed = False
    i = 0
    while i < len(body):
        char = body[i]
        if char == "\\" and i < len(body) - 1:
            out.append(_ESCAPES.get(body[i + 1], "\\" + body[i + 1]))
            i += 2
            continue
        if char == '"':
            if not quoted or i < len(body) - 1:
                raise ValueError(f'the value in {text!r} has a double quote inside: write it as \\"')
            closed = True
        else:
            out.append(char)
        i += 1
    if quoted and not closed:
        raise ValueError(f"the value in {text!r} opens a double quote it does not close")
    return "".join(out)


def _outside_quotes(text: str) -> str:
    """`text` without its double-quoted parts (escaped quotes stay inside them)."""
    out: list[str] = []
    inside = escaped = False
    for char in text:
        if escaped:
            escaped = False
        elif char == "\\":
            escaped = True
        elif char == '"':
            inside = not inside
        elif not inside:
            out.append(char)
    return "".join(out)
