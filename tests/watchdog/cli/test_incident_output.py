"""What `incidents`, `incident` and `timeline` print, from the daemon's answers."""

from __future__ import annotations

import json
from typing import Any

from watchdog.cli.incident_output import format_incident, format_incidents, timeline_json, timeline_markdown
from watchdog.cli.output import when

INCIDENT: dict[str, Any] = {
    "id": "inc-1",
    "check": "web",
    "check_type": "http",
    "severity": "critical",
    "state": "resolved",
    "opened_at": "2026-11-23T08:00:00+00:00",
    "closed_at": "2026-11-23T08:20:00+00:00",
    "resolution": "resolved",
    "summary": "web CRITICAL: refused",
    "paged_channels": ["pager"],
    "acked_by": "anna",
    "acked_at": "2026-11-23T08:05:00+00:00",
    "timeline": [
        {"at": "2026-11-23T07:40:00+00:00", "kind": "change", "text": "release r42 (abc123) by bob"},
        {"at": "2026-11-23T08:00:00+00:00", "kind": "opened", "text": "CRITICAL: refused | 502"},
        {"at": "2026-11-23T08:01:00+00:00", "kind": "restart_result", "text": "failed (exit 1)\noutput:\n<boom>"},
    ],
    "restarts": [
        {"at": "2026-11-23T08:01:00+00:00", "result": "failed", "returncode": 1, "duration": 0.2, "output": "boom"}
    ],
    "deliveries": [],
}


def test_the_markdown_timeline_has_a_heading_and_one_escaped_row_per_entry_of_any_kind() -> None:
    lines = timeline_markdown(INCIDENT).splitlines()
    assert lines[0] == "# Incident inc-1: web (critical)"
    assert "- Closed: 2026-11-23T08:20:00Z (resolved)" in lines
    rows = lines[lines.index("| time | kind | text |") + 2 :]
    assert rows == [
        "| 2026-11-23T07:40:00.000Z | change | release r42 (abc123) by bob |",
        "| 2026-11-23T08:00:00.000Z | opened | CRITICAL: refused \\| 502 |",
        "| 2026-11-23T08:01:00.000Z | restart_result | failed (exit 1)<br>output:<br>&lt;boom> |",
    ]


def test_an_open_incident_says_it_is_not_closed_yet() -> None:
    still = INCIDENT | {"state": "paged", "closed_at": None, "resolution": None}
    assert "- Closed: not yet (paged)" in timeline_markdown(still).splitlines()
    assert format_incidents([still], "7d").splitlines()[1] == (
        "  inc-1 web critical paged, opened 2026-11-23T08:00:00Z, still open"
    )


def test_the_json_timeline_is_the_incident_fields_and_at_kind_text_entries() -> None:
    shown = json.loads(timeline_json(INCIDENT))
    assert "restarts" not in shown and "deliveries" not in shown
    assert shown["id"] == "inc-1" and shown["timeline"] == INCIDENT["timeline"]


def test_one_incident_prints_its_timeline_lines_indented_and_its_restarts() -> None:
    lines = format_incident(INCIDENT).splitlines()
    assert lines[0] == (
        "inc-1: web (http), critical, closed (resolved), opened 2026-11-23T08:00:00Z, closed 2026-11-23T08:20:00Z"
    )
    assert "acknowledged by anna at 2026-11-23T08:05:00Z" in lines
    assert "  2026-11-23T08:01:00.000Z  restart_result  failed (exit 1)" in lines
    assert lines[lines.index("restarts:") + 1 :] == ["  2026-11-23T08:01:00.000Z  failed (exit 1, 0.2s)", "      boom"]


def test_times_are_shown_in_utc_with_z_and_anything_else_as_it_came() -> None:
    assert when("2026-11-23T09:00:00.123456+01:00") == "2026-11-23T08:00:00.123Z"
    assert when("2026-11-23T08:00:00", "seconds") == "2026-11-23T08:00:00Z"
    assert when("soon") == "soon" and when(None) == "None"


def test_an_empty_history_says_so() -> None:
    assert format_incidents([], "24h") == "0 incidents opened in the last 24h"
