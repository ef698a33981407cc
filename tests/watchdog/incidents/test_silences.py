"""Silences: persisted at once, ended on the wall clock, replaced per check."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from watchdog.incidents.silences import Silences
from watchdog.storage.database import Database
from watchdog.storage.state import StateStore

T0 = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)


def test_silence_is_active_until_its_end(tmp_path: Path) -> None:
    silences = Silences(StateStore(Database(str(tmp_path))))
    rec = silences.add("web", 60, "nginx upgrade", "ops", T0)
    assert rec.until == T0 + timedelta(seconds=60)
    assert silences.active("web", T0 + timedelta(seconds=59)) == rec
    assert silences.active("web", T0 + timedelta(seconds=60)) is None
    assert silences.active("db", T0) is None


def test_expire_ends_only_silences_past_their_end(tmp_path: Path) -> None:
    silences = Silences(StateStore(Database(str(tmp_path))))
    silences.add("web", 60, "upgrade", "ops", T0)
    silences.add("db", 600, "migration", "ops", T0)
    assert silences.expire(T0 + timedelta(seconds=30)) == []
    ended = silences.expire(T0 + timedelta(seconds=61))
    assert [s.check for s in ended] == ["web"]
    assert [s.check for s in silences.all()] == ["db"]
    assert silences.expire(T0 + timedelta(seconds=62)) == []


def test_silence_survives_restart_and_ended_one_does_not_come_back(tmp_path: Path) -> None:
    first = Silences(StateStore(Database(str(tmp_path))))
    first.add("web", 60, "upgrade", "ops", T0)
    first.add("db", 10, "quick", "ops", T0)
    first.expire(T0 + timedelta(seconds=11))
    again = Silences(StateStore(Database(str(tmp_path))))
    assert [(s.check, s.reason, s.by) for s in again.all()] == [("web", "upgrade", "ops")]


def test_new_silence_replaces_the_previous_one_of_the_check(tmp_path: Path) -> None:
    silences = Silences(StateStore(Database(str(tmp_path))))
    silences.add("web", 600, "long", "ops", T0)
    silences.add("web", 60, "shorter after all", "ops", T0)
    assert len(silences.all()) == 1
    assert silences.active("web", T0 + timedelta(seconds=120)) is None
    assert Silences(StateStore(Database(str(tmp_path)))).all()[0].reason == "shorter after all"


@pytest.mark.parametrize(("seconds", "reason"), [(0, "x"), (-5, "x"), (60, "  ")])
def test_silence_needs_duration_and_reason(tmp_path: Path, seconds: float, reason: str) -> None:
    with pytest.raises(ValueError):
        Silences(StateStore(Database(str(tmp_path)))).add("web", seconds, reason, "ops", T0)


@pytest.mark.parametrize("seconds", [1e30, math.inf, math.nan])
def test_a_silence_that_cannot_be_created_leaves_the_previous_one_in_force(tmp_path: Path, seconds: float) -> None:
    silences = Silences(StateStore(Database(str(tmp_path))))
    previous = silences.add("web", 600, "planned upgrade", "ops", T0)

    with pytest.raises(ValueError):
        silences.add("web", seconds, "typo", "ops", T0)

    assert silences.active("web", T0 + timedelta(seconds=300)) == previous
    assert Silences(StateStore(Database(str(tmp_path)))).all() == [previous]


def test_end_lifts_a_silence_by_id_or_by_check_and_it_stays_lifted(tmp_path: Path) -> None:
    silences = Silences(StateStore(Database(str(tmp_path))))
    web = silences.add("web", 600, "upgrade", "ops", T0)
    silences.add("db", 600, "migration", "ops", T0)
    assert silences.end("sil-unknown", T0) == []
    assert silences.end(web.id, T0 + timedelta(seconds=1)) == [web]
    assert silences.active("web", T0 + timedelta(seconds=2)) is None
    assert [s.check for s in silences.end("db", T0 + timedelta(seconds=3))] == ["db"]
    assert silences.all() == [] and silences.end("db", T0) == []
    assert Silences(StateStore(Database(str(tmp_path)))).all() == []


def test_in_force_leaves_out_a_silence_that_ran_out_before_the_tick(tmp_path: Path) -> None:
    silences = Silences(StateStore(Database(str(tmp_path))))
    silences.add("web", 60, "upgrade", "ops", T0)
    later = silences.add("db", 600, "migration", "ops", T0 + timedelta(seconds=1))
    assert silences.in_force(T0 + timedelta(seconds=61)) == [later]
