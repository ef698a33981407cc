"""`POST /api/v1/releases` bodies: the valid one becomes a release note, anything else a 400 naming every problem."""

from __future__ import annotations

import json
from typing import Any

import pytest

from watchdog.service.http_server import HttpError
from watchdog.service.release_body import release_note
from watchdog.storage.releases import ReleaseNote


def refused(body: dict[str, Any]) -> str:
    with pytest.raises(HttpError) as caught:
        release_note(body)
    assert caught.value.response.status == 400
    message: str = json.loads(caught.value.response.body)["error"]
    return message


def test_a_full_body_becomes_a_release_note() -> None:
    body = {"event": "start", "id": " 4711 ", "commit": "9f1c2e7", "branch": "main", "by": "alice", "hotfix": False}
    assert release_note(body) == ReleaseNote("start", "4711", "9f1c2e7", "main", "alice", False, None)
    assert release_note({"event": "finish", "id": "4711", "reason": None}) == ReleaseNote("finish", "4711")


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ({"event": "start", "id": "1", "admin": True}, "admin: unknown key"),
        ({"event": "deploy", "id": "1"}, "event: expected one of start, finish"),
        ({"id": "1"}, "event: expected one of start, finish"),
        ({"event": "start"}, "id: required"),
        ({"event": "start", "id": 4711}, "id: expected a string, got int"),
        ({"event": "start", "id": "1", "hotfix": 1}, "hotfix: expected true or false, got int"),
        ({"event": "start", "id": "1", "hotfix": "yes"}, "hotfix: expected true or false, got str"),
        ({"event": "start", "id": "1", "by": ["alice"]}, "by: expected a string, got list"),
        ({"event": "start", "id": "x" * 129}, "id: at most 128 characters"),
        ({"event": "start", "id": "1", "reason": "r" * 1001}, "reason: at most 1000 characters"),
        ({"event": "start", "id": "1", "commit": "abc\nFAKE: paged nobody"}, "commit: must be one line"),
        ({"event": "start", "id": "1", "by": "\x1b[31mroot"}, "by: must be one line"),
        ({"event": "start", "id": "1", "branch": "main\u202egnp.exe"}, "branch: must be one line"),
        ({"event": "start", "id": "   "}, "id: must not be empty"),
    ],
)
def test_a_wrong_body_is_refused_naming_the_key(body: dict[str, Any], expected: str) -> None:
    assert expected in refused(body)


def test_every_problem_is_named_at_once() -> None:
    message = refused({"event": "go", "id": 1, "hotfix": None, "extra": 1})
    for part in ("extra: unknown key", "event:", "id: expected a string", "hotfix: expected true or false"):
        assert part in message
