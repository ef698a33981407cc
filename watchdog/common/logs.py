"""One log line per event, `key=value`, secrets scrubbed, and no value able to forge a line.

Every module logs through `event()`: `event(log, "restart_failed", check="web",
incident="inc-3f2a", unit="nginx.service", rc=1)` ->
`event=restart_failed check=web incident=inc-3f2a unit=nginx.service rc=1`.
Values that contain anything but plain characters are quoted; known secret values registered
with `Scrubber.add()` are replaced by `***` wherever they appear. Text is scrubbed whole,
before anything cuts it short: half a secret no longer matches. Where the rest of a text is
gone before it can be scrubbed (output kept as a bounded head and tail), `scrub_piece()` also
masks the part of a secret that a cut may have left at the piece's edge.

Values come from outside (a silence reason, a remote server's error text, a check's output),
so a value must never end its line or start a new one: `escape()` turns every character that
a log reader could take as a line break or that a terminal would act on — CR, LF, NEL
(U+0085), U+2028/U+2029, the C0 and C1 control characters (ESC, and so every ANSI escape
sequence, included), DEL, invisible format characters (bidi overrides, zero-width ones) and
lone surrogates — into a visible `\\n`, `\\r`, `\\t`, `\\xNN` or `\\uNNNN`. The formatters of
watchdog.service.journal apply it to whole messages and to each line of a traceback, whose
exception texts are escaped too (`exception_lines`), so only a traceback's own structure
spans lines. A value is also cut at MAX_VALUE characters: journald splits a line longer than
its LineMax (48 KiB) into two entries, the second of which would start with text of the
sender's choosing.
"""

from __future__ import annotations

import logging
import re
import threading
import traceback

_SAFE = re.compile(r"^[A-Za-z0-9_.:/@%+\-,\[\]]*$")
_KEY = re.compile(r"[^A-Za-z0-9_.\-]")
_UNSAFE = re.compile(
    "[\x00-\x1f\x7f-\x9f\u061c\u200b-\u200f\u2028-\u202e\u2060-\u2069\ufeff\ufff9-\ufffb\ud800-\udfff]"
)
_NAMED = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}

MAX_VALUE = 4096
"""Characters of one value kept in a log line; the rest is replaced by a count."""

MAX_LINE = 16384
"""Characters of one whole line kept (well under journald's default LineMax of 48 KiB)."""

_CAUSE = "The above exception was the direct cause of the following exception:"
_CONTEXT = "During handling of the above exception, another exception occurred:"


class Scrubber:
    """Replaces registered secret values in log text; thread-safe, process-wide per daemon."""

    def __init__(self) -> None:
        self._secrets: frozenset[str] = frozenset()
        self._lock = threading.Lock()

    def add(self, *values: str) -> None:
        with self._lock:
            self._secrets = self._secrets | {v for v in values if v and len(v) >= 3}

    def scrub(self, text: str) -> str:
        for secret in self._secrets:
            if secret in text:
                text = text.replace(secret, "***")
        return text

    def scrub_piece(self, text: str, *, cut_start: bool = False, cut_end: bool = False) -> str:
        """`text`, cut out of a longer text that is gone, scrubbed: whole secrets, and at each
        cut edge the longest start of a secret it may end with (`cut_end`) or end of a secret it
        may begin with (`cut_start`), become `***`."""
        text = self.scrub(text)
        secrets = self._secrets
        if cut_end:
            left = max((_overlap(text, s) for s in secrets), default=0)
            text = text[: len(text) - left] + "***" if left else text
        if cut_start:
            left = max((_overlap(text[::-1], s[::-1]) for s in secrets), default=0)
            text = "***" + text[left:] if left else text
        return text


def _overlap(text: str, secret: str) -> int:
    """Length of the longest end of `text` that is a proper start of `secret` (0: none)."""
    start = text.find(secret[0], max(len(text) - len(secret) + 1, 0))
    while start != -1:
        if secret.startswith(text[start:]):
            return len(text) - start
        start = text.find(secret[0], start + 1)
    return 0


SCRUBBER = Scrubber()


def _escape_char(match: re.Match[str]) -> str:
    char = match.group()
    named = _NAMED.get(char)
    if named is not None:
        return named
    code = ord(char)
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def escape(text: str) -> str:
    """`text` with every line-breaking, control and invisible character made visible.

    The result is one line that a terminal prints as it is. Backslashes are left alone: this
    neutralises text, it does not quote it (`format_value` does that)."""
    return _UNSAFE.sub(_escape_char, text)


def is_one_line(text: str) -> bool:
    """`text` holds nothing `escape()` would change: no line break, control, invisible format
    character or lone surrogate (what a one-line text from outside, like a release id, must be)."""
    return _UNSAFE.search(text) is None


def clip(text: str, limit: int) -> str:
    """`text` cut to `limit` characters, saying how many were left out."""
    return text if len(text) <= limit else f"{text[:limit]}…[{len(text) - limit} more characters]"


def clean(text: str) -> str:
    """One log line from any text: secrets scrubbed, then escaped (scrubbing first: an escaped
    secret would no longer match), then cut to MAX_LINE characters."""
    return clip(escape(SCRUBBER.scrub(text)), MAX_LINE)


def format_value(value: object) -> str:
    """A logfmt value: bare when plain, else double-quoted with `\\`, `"` and unsafe characters
    escaped. Scrubbed before quoting, so escaping can never hide a secret from the scrubber."""
    text = clip(SCRUBBER.scrub(str(value)), MAX_VALUE)
    if text and _SAFE.match(text):
        return text
    return '"' + escape(text.replace("\\", "\\\\").replace('"', '\\"')) + '"'


def format_event(name: str, fields: dict[str, object]) -> str:
    parts = [f"event={_KEY.sub('_', name)}"]
    parts.extend(f"{_KEY.sub('_', k)}={format_value(v)}" for k, v in fields.items() if v is not None)
    return SCRUBBER.scrub(" ".join(parts))


def event(logger: logging.Logger, name: str, level: int = logging.INFO, **fields: object) -> None:
    """Logs one event line; `None` values are left out."""
    if logger.isEnabledFor(level):
        logger.log(level, "%s", format_event(name, fields))


def exception_lines(exc: BaseException) -> list[str]:
    """The traceback of `exc` as Python prints it (causes and contexts first), one list item
    per line, scrubbed, each exception's text and notes escaped: a message cannot add lines of
    its own."""
    chain: list[tuple[BaseException, str | None]] = []
    """Newest first, each with the sentence that leads from it to the one before it."""
    seen: set[int] = set()
    current: BaseException | None = exc
    link: str | None = None
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        chain.append((current, link))
        if current.__cause__ is not None:
            current, link = current.__cause__, _CAUSE
        elif current.__context__ is not None and not current.__suppress_context__:
            current, link = current.__context__, _CONTEXT
        else:
            current = None
    lines: list[str] = []
    for item, leads_on in reversed(chain):
        if item.__traceback__ is not None:
            lines.append("Traceback (most recent call last):")
            for frame in traceback.format_tb(item.__traceback__):
                lines.extend(clean(line) for line in frame.rstrip("\n").split("\n"))
        lines.append(_exception_line(item))
        lines.extend(clean(str(note)) for note in getattr(item, "__notes__", ()))
        if leads_on is not None:
            lines += ["", leads_on, ""]
    return lines


def _exception_line(exc: BaseException) -> str:
    cls = type(exc)
    name = cls.__qualname__ if cls.__module__ in ("builtins", "__main__") else f"{cls.__module__}.{cls.__qualname__}"
    try:
        text = str(exc)
    except Exception:
        text = "<exception str() failed>"
    return clean(f"{name}: {text}" if text else name)
