"""Log lines for journald (priority prefixes) and for a terminal (timestamps), secrets scrubbed."""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Iterator
from pathlib import Path
from typing import TextIO

import pytest

from watchdog.common.logs import SCRUBBER, event
from watchdog.service.journal import setup_logging, syslog_priority


@pytest.fixture
def stream(tmp_path: Path) -> Iterator[TextIO]:
    """A real file as stderr stand-in, with the root logger restored afterwards."""
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    with open(tmp_path / "stderr", "w+") as fh:
        yield fh
    root.handlers[:] = handlers
    root.setLevel(level)


def _journal_env(fh: TextIO) -> dict[str, str]:
    st = os.fstat(fh.fileno())
    return {"JOURNAL_STREAM": f"{st.st_dev}:{st.st_ino}"}


def _lines(fh: TextIO) -> list[str]:
    fh.flush()
    fh.seek(0)
    return fh.read().splitlines()


def test_under_journald_lines_carry_priority_and_no_timestamp(stream: TextIO) -> None:
    setup_logging("debug", stream, _journal_env(stream))
    log = logging.getLogger("watchdog.remediation")

    event(log, "restart_failed", logging.ERROR, check="web", unit="nginx.service")
    event(log, "retrying", logging.WARNING, check="web")
    event(log, "check_ok", check="web")
    event(log, "probe", logging.DEBUG, check="web")

    assert _lines(stream) == [
        "<3>logger=watchdog.remediation event=restart_failed check=web unit=nginx.service",
        "<4>logger=watchdog.remediation event=retrying check=web",
        "<6>logger=watchdog.remediation event=check_ok check=web",
        "<7>logger=watchdog.remediation event=probe check=web",
    ]


def test_a_traceback_keeps_its_priority_on_every_journal_line(stream: TextIO) -> None:
    setup_logging("info", stream, _journal_env(stream))
    try:
        raise RuntimeError("boom")
    except RuntimeError:
        logging.getLogger("watchdog.cli").exception("event=crashed")

    lines = _lines(stream)
    assert len(lines) > 2
    assert all(line.startswith("<3>") for line in lines)
    assert lines[-1] == "<3>RuntimeError: boom"


def test_outside_journald_lines_are_timestamped_key_value(stream: TextIO) -> None:
    setup_logging("info", stream, {})

    event(logging.getLogger("watchdog.api"), "listening", address="127.0.0.1:9841")

    (line,) = _lines(stream)
    assert re.fullmatch(
        r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z level=info "
        r"logger=watchdog\.api event=listening address=127\.0\.0\.1:9841",
        line,
    ), line


def test_an_inherited_journal_stream_that_is_not_our_stderr_is_ignored(stream: TextIO, tmp_path: Path) -> None:
    with open(tmp_path / "other", "w") as other:
        setup_logging("info", stream, _journal_env(other))

    logging.getLogger("watchdog").warning("event=x")

    assert re.match(r"\d{4}-.*Z level=warning logger=watchdog event=x$", _lines(stream)[0])


def test_level_filters_and_a_second_setup_replaces_the_first(stream: TextIO) -> None:
    setup_logging("info", stream, {})
    setup_logging("WARNING", stream, {})
    log = logging.getLogger("watchdog.scheduler")

    log.info("event=quiet")
    log.warning("event=loud")

    lines = _lines(stream)
    assert len(lines) == 1 and lines[0].endswith("event=loud")


def test_secrets_are_scrubbed_even_from_tracebacks(stream: TextIO) -> None:
    SCRUBBER.add("hunter2-very-secret")
    setup_logging("info", stream, _journal_env(stream))
    try:
        raise ValueError("login failed for password hunter2-very-secret")
    except ValueError:
        logging.getLogger("watchdog.channels").exception("event=send_failed")

    text = "\n".join(_lines(stream))
    assert "hunter2-very-secret" not in text
    assert "<3>ValueError: login failed for password ***" in text


def test_unknown_level_is_refused(stream: TextIO) -> None:
    with pytest.raises(ValueError, match="unknown log level 'verbose'"):
        setup_logging("verbose", stream, {})


@pytest.mark.parametrize(
    ("level", "priority"),
    [(logging.CRITICAL, 2), (logging.ERROR, 3), (logging.WARNING, 4), (logging.INFO, 6), (logging.DEBUG, 7)],
)
def test_syslog_priorities_follow_sd_daemon(level: int, priority: int) -> None:
    assert syslog_priority(level) == priority
