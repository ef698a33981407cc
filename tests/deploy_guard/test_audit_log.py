"""The audit log: one intact JSON line per decision, concurrent writers, and failing closed."""

from __future__ import annotations

import errno
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from deploy_guard.audit import AuditError, append_record
from tests.deploy_guard.conftest import ALWAYS_OPEN, CLI, PLAIN, GuardRunner

WRITER = """
import sys
from deploy_guard.audit import append_record
path, writer, count = sys.argv[1], sys.argv[2], int(sys.argv[3])
for i in range(count):
    append_record(path, {"writer": writer, "i": i, "padding": "x" * 9000})
"""


def test_concurrent_writers_never_interleave_lines(tmp_path: Path) -> None:
    path = tmp_path / "audit.jsonl"
    writers = [subprocess.Popen([sys.executable, "-c", WRITER, str(path), str(w), "60"]) for w in range(6)]
    assert [w.wait(timeout=60) for w in writers] == [0] * 6
    records = [json.loads(line) for line in path.read_text().splitlines()]
    assert len(records) == 360
    assert sorted((r["writer"], r["i"]) for r in records) == sorted((str(w), i) for w in range(6) for i in range(60))


def test_two_pipelines_deciding_at_once_both_get_recorded(guard: GuardRunner) -> None:
    policy = guard.policy(PLAIN)
    runs = [
        subprocess.Popen(
            [str(CLI), "check", "--at", f"2026-12-0{d}T10:00"], env=guard.env(policy), stdout=subprocess.DEVNULL
        )
        for d in range(1, 9)
    ]
    codes = [run.wait(timeout=60) for run in runs]
    assert codes == [0, 0, 0, 1, 1, 1, 0, 0]  # Tue-Thu open, Fri-Sun closed, Mon-Tue open
    records = guard.audit_records()
    assert sorted(r["at"][:10] for r in records) == [f"2026-12-0{d}" for d in range(1, 9)]


def test_a_torn_last_line_is_left_alone_and_the_new_record_starts_on_its_own_line(tmp_path: Path) -> None:
    path = tmp_path / "audit.jsonl"
    path.write_text('{"decision": "allowed"}\n{"decision": "blo')
    append_record(str(path), {"decision": "blocked"})
    lines = path.read_text().splitlines()
    assert lines == ['{"decision": "allowed"}', '{"decision": "blo', '{"decision": "blocked"}']


def test_the_record_holds_time_decision_reasons_and_identity(guard: GuardRunner) -> None:
    result = guard.run(
        "check",
        "--at",
        "2026-12-24T10:00",
        "--reason",
        "release 4.2",
        policy=guard.policy(PLAIN),
        env={"USER": "ci-runner"},
    )
    assert result.code == 1
    (record,) = guard.audit_records()
    assert record["decision"] == "blocked"
    assert record["at"] == "2026-12-24T10:00:00+01:00"
    assert record["reasons"] == ["holiday"]
    assert record["reason_given"] == "release 4.2"
    assert record["ci"]["user"] == "ci-runner" and record["ci"]["system"] is None
    assert record["next_window"] == {"start": "2026-12-28T08:00:00+01:00", "end": "2026-12-28T12:00:00+01:00"}
    assert record["time"].endswith("+00:00")


def test_an_unwritable_audit_log_fails_closed(guard: GuardRunner, tmp_path: Path) -> None:
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("")
    policy = guard.policy({**ALWAYS_OPEN, "audit_log": str(blocker / "audit.jsonl")})
    result = guard.run("check", policy=policy)
    assert result.code == 2
    assert result.out == ""
    assert f"cannot open audit log {blocker}/audit.jsonl" in result.err
    assert "no decision without an audit record" in result.err
    assert str(policy) in result.err


def test_missing_audit_directory_is_created(guard: GuardRunner, tmp_path: Path) -> None:
    target = tmp_path / "new" / "deeper" / "audit.jsonl"
    assert guard.run("check", policy=guard.policy({**ALWAYS_OPEN, "audit_log": str(target)})).code == 0
    assert len(target.read_text().splitlines()) == 1


@pytest.fixture
def full_disk(tmp_path: Path) -> Iterator[Path]:
    """A 64 KiB tmpfs, filled up."""
    mount = tmp_path / "tiny"
    mount.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", str(mount)], check=True)
    try:
        fd = os.open(mount / "filler", os.O_WRONLY | os.O_CREAT)
        try:
            while os.write(fd, b"\0" * 4096):
                pass
        except OSError as exc:
            assert exc.errno == errno.ENOSPC
        finally:
            os.close(fd)
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=True)


def test_a_full_disk_fails_closed(guard: GuardRunner, full_disk: Path) -> None:
    with pytest.raises(AuditError, match="No space left on device"):
        append_record(str(full_disk / "direct.jsonl"), {"decision": "blocked"})
    result = guard.run("check", policy=guard.policy({**ALWAYS_OPEN, "audit_log": str(full_disk / "audit.jsonl")}))
    assert result.code == 2
    assert result.out == ""
    assert "No space left on device" in result.err


def test_a_question_about_another_time_is_recorded_as_a_query(guard: GuardRunner) -> None:
    policy = guard.policy(ALWAYS_OPEN)
    assert guard.run("check", "--at", "2026-12-24T10:00", policy=policy).code == 0
    assert guard.run("check", policy=policy).code == 0
    query, release = guard.audit_records()
    assert (query["kind"], query["decision"], query["at"]) == ("query", "allowed", "2026-12-24T10:00:00+01:00")
    assert (release["kind"], release["decision"]) == ("release", "allowed")
