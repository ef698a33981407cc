"""command: real plugin scripts, exit codes, perfdata, timeout kill, no lingering processes."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from checks.base import Status
from checks.command import parse_perfdata
from tests.checks.building import config_problems, make_check
from tests.servers.processes import is_dead, wait_dead


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
    assert result.message == "check_thing timed out after 0.5s (killed)"
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
