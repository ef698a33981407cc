"""The outbox's rows as the incident history reads them: every failed attempt is kept."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from watchdog.storage.database import Database
from watchdog.storage.outbox import Message, OutboxStore
from watchdog.storage.state import StateStore

T0 = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)


def test_each_failed_attempt_is_written_to_the_incident_timeline_and_the_row_keeps_the_last(tmp_path: Path) -> None:
    db = Database(str(tmp_path))
    outbox = OutboxStore(db)
    outbox.add(Message("n1", "inc-1", "trigger", "{}"), ["pager"], [], T0)
    [row] = outbox.pending("pager")
    outbox.attempted(row, 1, "HTTP 503", T0 + timedelta(seconds=1))
    outbox.attempted(row, 2, "timed out", T0 + timedelta(seconds=3))
    timeline = StateStore(db).timeline("inc-1")
    assert [(e.at, e.kind, e.text) for e in timeline] == [
        (T0 + timedelta(seconds=1), "delivery", "trigger to pager: attempt 1 failed: HTTP 503"),
        (T0 + timedelta(seconds=3), "delivery", "trigger to pager: attempt 2 failed: timed out"),
    ]
    [kept] = outbox.history("inc-1")
    assert (kept.state, kept.attempts, kept.last_error) == ("pending", 2, "timed out")
