"""command: real plugin scripts, exit codes, perfdata, timeout kill, no lingering processes."""

from __future__ import annotations

import time
import tracemalloc
from pathlib import Path

import pytest

from checks.base import CheckResult, Status
from checks.command import MAX_MESSAGE, OUTPUT_HEAD, OUTPUT_TAIL, BoundedOutput, parse_perfdata
from tests.checks.building import config_problems, make_check
from tests.servers.processes import is_dead, wait_dead
from watchdog.common.logs import SCRUBBER


def plugin(tmp_path: Path, body: str, name: str = "check_thing") -> str:
    script = tmp_path / name
    script.write_text(f"#!/bin/sh\n{body}\n")
    script.chmod(0o755)
    return str(script)


@pytest.mark.parametrize(
    ("code", "status"), [(0, Status.OK), (1, Status.WARNING), (2, Status.CRITICAL), (3, Status.UNKNOWN)]
)
def test_exit_code_is_the_status_and_first_line_the_message(tmp_path: Path, code: int, status: Status) -> None:
    argv = [plugin(tmp_path, f"echo 'THING {code} - queue length 7'; echo 'long text'; exit {code}")]
    result = make_check("command", argv=argv).run(timeout=5)
    assert result.status is status
    assert result.message == f"THING {code} - queue length 7"


def test_other_exit_codes_and_signals_are_unknown(tmp_path: Path) -> None:
    odd = make_check("command", argv=[plugin(tmp_path, "echo oops; exit 42")]).run(timeout=5)
    assert odd.status is Status.UNKNOWN
    assert odd.message == "plugin exited with code 42: oops"
    killed = make_check("command", argv=[plugin(tmp_path, "kill -9 $$", "selfkill")]).run(timeout=5)
    assert killed.status is Status.UNKNOWN
    assert killed.message == "plugin killed by signal 9"


def test_perfdata_becomes_measurements_in_base_units(tmp_path: Path) -> None:
    body = "echo \"OK - fine | time=12ms;100;200 'disk used'=50%;80;90 size=2MB\"; echo 'more | rows=17c'; exit 0"
    result = make_check("command", argv=[plugin(tmp_path, body)]).run(timeout=5)
    assert result.status is Status.OK
    assert result.message == "OK - fine"
    assert result.measurements == pytest.approx(
        {"time_seconds": 0.012, "disk_used_ratio": 0.5, "size_bytes": 2 * 1024 * 1024, "rows": 17.0}
    )


def test_unknown_perfdata_units_are_skipped() -> None:
    assert parse_perfdata("temp=40C load=1.5 bad=x") == {"load": 1.5}


def test_timeout_kills_the_whole_process_group(tmp_path: Path) -> None:
    pids = tmp_path / "pids"
    body = f"sleep 60 & echo $! > {pids}; echo $$ >> {pids}; sleep 60"
    started = time.monotonic()
    result = make_check("command", argv=[plugin(tmp_path, body)]).run(timeout=0.5)
    assert time.monotonic() - started < 2.0
    assert result.status is Status.CRITICAL
    assert result.message == "timeout after 0.5s: check_thing killed"
    assert result.timed_out, "a plugin killed at its timeout is a timeout, not just a CRITICAL"
    background, script = (int(p) for p in pids.read_text().split())
    assert is_dead(script)
    assert wait_dead(background, 2.0), "the plugin's background child must not linger"


def test_background_leftovers_of_a_finished_plugin_are_killed(tmp_path: Path) -> None:
    pidfile = tmp_path / "bg.pid"
    body = f"sleep 60 >/dev/null 2>&1 & echo $! > {pidfile}; echo 'OK - spawned'; exit 0"
    result = make_check("command", argv=[plugin(tmp_path, body)]).run(timeout=5)
    assert result.status is Status.OK
    assert wait_dead(int(pidfile.read_text()), 2.0)


def test_argv_is_not_a_shell_and_environment_is_minimal(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    literal = make_check("command", argv=["echo", "a; echo b", "$HOME"]).run(timeout=5)
    assert literal.message == "a; echo b $HOME"
    monkeypatch.setenv("SMTP_PASSWORD", "s3cret-of-daemon")
    script = plugin(tmp_path, 'echo "pw=[$SMTP_PASSWORD] region=[$REGION]"')
    result = make_check("command", argv=[script], env={"REGION": "eu"}).run(timeout=5)
    assert result.message == "pw=[] region=[eu]"


def test_missing_plugin_is_unknown(tmp_path: Path) -> None:
    result = make_check("command", argv=[str(tmp_path / "check_nothing")]).run(timeout=5)
    assert result.status is Status.UNKNOWN
    assert result.message.startswith(f"cannot run {tmp_path}/check_nothing")


def test_config_needs_an_argv() -> None:
    assert "argv" in config_problems("command", argv=[])
    assert "required key is missing" in config_problems("command")


def run_traced(argv: list[str], timeout: float) -> tuple[CheckResult, int]:
    """The result of a command check and the peak of Python memory allocated meanwhile."""
    check = make_check("command", argv=argv)
    tracemalloc.start()
    try:
        result = check.run(timeout=timeout)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return result, peak


def test_plugin_flooding_until_it_exits_costs_a_bounded_head_and_tail(tmp_path: Path) -> None:
    body = (
        "echo 'FLOOD OK - first line | early=1'; "
        "head -c 150000000 /dev/zero | tr '\\0' 'x'; "
        "echo; echo 'summary | late=2s'; exit 0"
    )
    result, peak = run_traced([plugin(tmp_path, body)], timeout=60)
    assert result.status is Status.OK and not result.timed_out
    assert result.message == "FLOOD OK - first line"
    assert result.measurements == {"early": 1.0, "late_seconds": 2.0}, "perfdata of the head and the tail"
    assert peak < 1024 * 1024, f"{peak} bytes of Python memory for 150 MB of output"


def test_plugin_flooding_until_its_timeout_is_killed_and_costs_a_bounded_head_and_tail(tmp_path: Path) -> None:
    result, peak = run_traced(["yes", "flood"], timeout=1.0)
    assert result.status is Status.CRITICAL and result.timed_out
    assert result.message == "timeout after 1s: yes killed"
    assert peak < 1024 * 1024, f"{peak} bytes of Python memory for a second of `yes`"


def test_bounded_output_keeps_the_first_and_last_bytes_and_says_what_it_left_out() -> None:
    output = BoundedOutput()
    output.add(b"first line | a=1\n" + b"h" * OUTPUT_HEAD)
    for _ in range(100):
        output.add(b"m" * 10_000)
    output.add(b"partial line | cut=9\n" + b"t" * (OUTPUT_TAIL - 40) + b"\nlast line | z=3\n")
    assert len(output.head) == OUTPUT_HEAD and len(output.tail) == OUTPUT_TAIL
    text = output.text()
    lines = text.splitlines()
    assert lines[0] == "first line | a=1"
    assert lines[1] == f"[... {output.dropped} bytes of output left out ...]"
    assert lines[-1] == "last line | z=3"
    assert "cut=9" not in text, "a line cut by the gap is left out"
    assert output.dropped == 17 + OUTPUT_HEAD + 1_000_000 + 21 + OUTPUT_TAIL - 40 + 17 - OUTPUT_HEAD - OUTPUT_TAIL


def test_a_secret_the_message_limit_cuts_in_half_leaves_no_part_behind(tmp_path: Path) -> None:
    """The message is the first MAX_MESSAGE characters: it is cut from scrubbed text, so the
    runner's later scrub is not left with half a password it cannot recognise."""
    secret = "Plugin-Pw-Straddles-42"
    SCRUBBER.add(secret)
    lead = "CRITICAL - login refused: " + "x" * (MAX_MESSAGE - 26 - 8)
    body = f"echo '{lead}{secret} and more'; exit 2"
    result = make_check("command", argv=[plugin(tmp_path, body)]).run(timeout=5)
    assert result.status is Status.CRITICAL
    assert result.message == f"{lead}*** and more"[:MAX_MESSAGE]
    assert secret[:8] not in result.message


def test_secrets_cut_by_the_dropped_middle_are_masked_at_both_cuts() -> None:
    """One endless line: the head ends inside a secret (mid-character), the tail starts inside
    another copy; neither half may survive, though neither is whole when it is scrubbed."""
    secret = "Zażółć-gęślą-jaźń-42"
    SCRUBBER.add(secret)
    raw = secret.encode()
    head_part = raw[:3]  # "Za" and the first byte of "ż"
    tail_from = raw.index("ź".encode()) + 1  # inside "ź"
    output = BoundedOutput()
    output.add(b"a" * (OUTPUT_HEAD - len(head_part)) + raw + b"m" * 100_000)
    output.add(raw + b"z" * (OUTPUT_TAIL - (len(raw) - tail_from)))
    head, marker, tail = output.text().split("\n")
    assert head == "a" * (OUTPUT_HEAD - len(head_part)) + "***"
    assert marker.startswith("[... ") and marker.endswith(" bytes of output left out ...]")
    assert tail == "***" + "z" * (OUTPUT_TAIL - (len(raw) - tail_from))


def test_small_output_is_kept_whole() -> None:
    output = BoundedOutput()
    output.add(b"OK - fine\n")
    output.add(b"more\n")
    assert output.text() == "OK - fine\nmore\n" and output.dropped == 0
