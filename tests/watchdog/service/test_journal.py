"""Log lines for journald (priority prefixes) and for a terminal (timestamps), secrets scrubbed."""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import TextIO

import pytest

from tests.servers.http_thread import HttpThread
from tests.servers.watchdog_daemon import WatchdogDaemon
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


FORGED = "<0>logger=watchdog.incidents.engine event=restart_failed check=web incident=inc-forged"
BREAKERS = ["\n", "\r", "\r\n", "\x85", "\u2028", "\u2029", "\x00", "\x0b", "\x0c", "\x1c", "\x1e", "\x1b[2K\r"]


def _entries(raw: bytes) -> list[str]:
    """The journal entries a stream of bytes makes: journald ends an entry at LF and at NUL."""
    return [line for line in raw.decode("utf-8", "surrogateescape").replace("\x00", "\n").split("\n") if line]


@pytest.mark.parametrize("breaker", BREAKERS, ids=repr)
def test_no_message_or_exception_text_forges_a_journal_entry(stream: TextIO, breaker: str) -> None:
    setup_logging("info", stream, _journal_env(stream))
    log = logging.getLogger("watchdog.service.api")
    event(log, "api_silence", check="web", reason=f"planned{breaker}{FORGED}")
    log.warning("%s", f"a library's own text{breaker}{FORGED}")
    try:
        raise OSError(f"remote reason phrase{breaker}{FORGED}")
    except OSError:
        log.exception("event=send_failed")

    stream.flush()
    stream.seek(0)
    entries = _entries(stream.buffer.read())

    assert all(re.match(r"<[346]>", e) and e[3:].isprintable() for e in entries), entries
    starts = [e[3:].split(" ", 1)[0] for e in entries]
    assert starts.count("logger=watchdog.service.api") == 3, entries
    assert not [s for s in starts if s.startswith(("<", "logger=watchdog.incidents", "event="))], entries
    assert entries[-1].startswith("<3>OSError: remote reason phrase\\")


class _HostileHandler(BaseHTTPRequestHandler):
    """Answers with a status line full of control characters and a forged journal entry."""

    def do_GET(self) -> None:
        self.wfile.write(b"HTTP/1.1 2\x1b[31m00 \x00\x0b" + FORGED.encode() + b"\r\nContent-Length: 0\r\n\r\n")

    def log_message(self, format: str, *args: object) -> None:
        return None


def test_the_daemons_journal_holds_one_entry_per_event_whatever_clients_and_servers_send(tmp_path: Path) -> None:
    hostile = HttpThread(_HostileHandler, name="hostile-http").start()
    directory = tmp_path / "d"
    directory.mkdir()
    (directory / "daemon.log").touch()
    st = os.stat(directory / "daemon.log")
    config = {
        "log_level": "debug",
        "checks": [{"name": "web", "type": "http", "url": f"http://127.0.0.1:{hostile.port}/", "interval": "1s"}],
    }
    daemon = WatchdogDaemon(directory, config, env={"JOURNAL_STREAM": f"{st.st_dev}:{st.st_ino}"})
    try:
        daemon.start()
        for breaker in BREAKERS:
            silence = {"check": "web", "duration": "5m", "reason": f"r{breaker}{FORGED}", "by": f"b{breaker}{FORGED}"}
            assert daemon.request("POST", "/api/v1/silences", silence)[0] == 201
        assert daemon.request("GET", "/api/v1/status", headers={"Host": "evil.example\x1b[2J"})[0] in (400, 403)
        daemon.wait_for("web", lambda c: "invalid HTTP response" in c["message"])
        assert daemon.terminate() == 0
    finally:
        daemon.stop()
        hostile.stop()

    entries = _entries((directory / "daemon.log").read_bytes())
    assert len(entries) > 2 * len(BREAKERS)
    for entry in entries:
        assert re.match(r"<[0-7]>logger=(watchdog\.[a-z_.]+ event=[a-z_]+( |$)|asyncio |urllib3)", entry), entry
        assert entry.isprintable(), entry
    assert not [e for e in entries if "event=restart_failed" in e.split(" ", 2)[1]]
