"""The body of `POST /api/v1/releases`, read strictly: what deploy-guard says about a release.

    {"event": "start" | "finish", "id": "4711", "commit": "9f1c2e7", "branch": "main",
     "by": "alice", "hotfix": false, "reason": null}

`event` and `id` are required; the rest is optional (null is "not known"). Every text is
one line of printable characters within its size; `hotfix` is a JSON boolean. Unknown keys,
wrong types and oversized values are refused (400) all at once, so a typo in a pipeline is
seen at once instead of recording a release nobody can find. The time is the daemon's own.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from watchdog.common.logs import is_one_line
from watchdog.service.http_server import HttpError
from watchdog.storage.releases import ReleaseNote

EVENTS = ("start", "finish")
TEXT_LIMITS: Mapping[str, int] = {"id": 128, "commit": 64, "branch": 255, "by": 200, "reason": 1000}
"""Characters each text field may have."""
KEYS = ("event", "hotfix", *TEXT_LIMITS)


def _text_problem(key: str, value: object) -> str | None:
    if not isinstance(value, str):
        return f"{key}: expected a string, got {type(value).__name__}"
    if not value.strip():
        return f"{key}: must not be empty"
    if len(value) > TEXT_LIMITS[key]:
        return f"{key}: at most {TEXT_LIMITS[key]} characters"
    if not is_one_line(value):
        return f"{key}: must be one line of printable text (no control characters)"
    return None


def release_note(body: Mapping[str, Any]) -> ReleaseNote:
    """The release note of a parsed JSON object; HttpError 400 naming every problem."""
    problems = [f"{key}: unknown key (valid keys: {', '.join(KEYS)})" for key in body if key not in KEYS]
    event = body.get("event")
    if event not in EVENTS:
        problems.append(f"event: expected one of {', '.join(EVENTS)}, got {event!r}"[:200])
    hotfix = body.get("hotfix", False)
    if not isinstance(hotfix, bool):
        problems.append(f"hotfix: expected true or false, got {type(hotfix).__name__}")
    if "id" not in body or body["id"] is None:
        problems.append("id: required (the release's id, e.g. the CI pipeline id)")
    texts: dict[str, str | None] = {}
    for key in TEXT_LIMITS:
        value = body.get(key)
        problem = None if value is None else _text_problem(key, value)
        if problem is not None:
            problems.append(problem)
        texts[key] = value.strip() if isinstance(value, str) else None
    if problems:
        raise HttpError(400, "; ".join(problems))
    return ReleaseNote(
        event="start" if event == "start" else "finish",
        id=str(texts["id"]),
        commit=texts["commit"],
        branch=texts["branch"],
        by=texts["by"],
        hotfix=bool(hotfix),
        reason=texts["reason"],
    )
