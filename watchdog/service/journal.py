"""Log output fit for where it goes: journald under systemd, a readable stderr otherwise.

Under systemd, stderr is a stream to journald, which stamps time, host and unit by itself
and reads a leading `<N>` (syslog priority, sd-daemon(3)) as the entry's priority; so lines
carry no timestamp and a prefix per level, and `journalctl -p warning` works. systemd sets
`$JOURNAL_STREAM` to the `device:inode` of that stream; it is honoured only when stderr
still is that stream (a child whose stderr was redirected elsewhere inherits the variable).
Elsewhere each line starts with a UTC timestamp and the level as `key=value`.

Every line passes through the secret scrubber of watchdog.common.logs, tracebacks included,
and is escaped by it (watchdog.common.logs.escape): whatever a message or an exception's text
holds, a record's first line is one line, and only a traceback's own structure adds more.
Those continuation lines keep the record's priority, because journald makes one entry per
line (it also breaks lines at NUL, which is escaped like every other control character).
"""

from __future__ import annotations

import logging
import os
import sys
import time
from collections.abc import Mapping
from typing import TextIO

from watchdog.common.logs import clean, escape, exception_lines

LEVELS = {"debug": logging.DEBUG, "info": logging.INFO, "warning": logging.WARNING, "error": logging.ERROR}

_SYSLOG_PRIORITY = ((logging.CRITICAL, 2), (logging.ERROR, 3), (logging.WARNING, 4), (logging.INFO, 6))


def syslog_priority(levelno: int) -> int:
    """The syslog priority (0 emerg .. 7 debug) of a logging level."""
    for threshold, priority in _SYSLOG_PRIORITY:
        if levelno >= threshold:
            return priority
    return 7


def record_lines(record: logging.LogRecord) -> tuple[str, list[str]]:
    """A record's message and the lines of its traceback and stack, scrubbed and escaped."""
    message = clean(record.getMessage())
    more: list[str] = []
    if record.exc_info is not None and record.exc_info[1] is not None:
        more += exception_lines(record.exc_info[1])
    elif record.exc_text:
        more += [clean(line) for line in record.exc_text.splitlines()]
    if record.stack_info:
        more += [clean(line) for line in record.stack_info.split("\n")]
    return message, more


class JournalFormatter(logging.Formatter):
    """`<6>logger=watchdog.service.api event=...`, the priority repeated on every line."""

    def format(self, record: logging.LogRecord) -> str:
        message, more = record_lines(record)
        prefix = f"<{syslog_priority(record.levelno)}>"
        return "\n".join([f"{prefix}logger={escape(record.name)} {message}", *(prefix + line for line in more)])


class ConsoleFormatter(logging.Formatter):
    """`2026-11-23T09:11:10.123Z level=info logger=watchdog.service.api event=...`."""

    def format(self, record: logging.LogRecord) -> str:
        message, more = record_lines(record)
        stamp = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created)) + f".{int(record.msecs):03d}Z"
        level = record.levelname.lower()
        return "\n".join([f"{stamp} level={level} logger={escape(record.name)} {message}", *more])


class _OwnHandler(logging.StreamHandler[TextIO]):
    """Marks the handler `setup_logging` installed, so a second call replaces it."""


def is_journal_stream(stream: TextIO, environ: Mapping[str, str]) -> bool:
    """True when `stream` is the very journald stream `$JOURNAL_STREAM` names."""
    value = environ.get("JOURNAL_STREAM", "")
    dev, _, ino = value.partition(":")
    if not (dev.isdigit() and ino.isdigit()):
        return False
    try:
        st = os.fstat(stream.fileno())
    except (OSError, ValueError):
        return False
    return st.st_dev == int(dev) and st.st_ino == int(ino)


def setup_logging(level: str, stream: TextIO | None = None, environ: Mapping[str, str] | None = None) -> None:
    """Routes the root logger to `stream` (stderr) at `level` (debug, info, warning, error).

    Replaces the handler of an earlier call instead of adding a second one (a reload may
    change the level). Raises ValueError for an unknown level.
    """
    try:
        levelno = LEVELS[level.lower()]
    except KeyError:
        raise ValueError(f"unknown log level {level!r} (valid: {', '.join(LEVELS)})") from None
    out = sys.stderr if stream is None else stream
    env = os.environ if environ is None else environ
    handler = _OwnHandler(out)
    handler.setFormatter(JournalFormatter() if is_journal_stream(out, env) else ConsoleFormatter())
    root = logging.getLogger()
    for old in [h for h in root.handlers if isinstance(h, _OwnHandler)]:
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(levelno)
