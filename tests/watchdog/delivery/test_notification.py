"""The Notification value: what the outbox stores must come back identical after a restart."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime

import pytest

from watchdog.delivery.notification import Notification, one_line


def test_json_round_trip_is_identical(make_notification: Callable[..., Notification]) -> None:
    n = make_notification(runbook_url=None)
    back = Notification.from_json(n.to_json())
    assert back == n
    assert back.since.tzinfo is not None
    assert json.loads(n.to_json())["since"] == n.since.isoformat()


def test_naive_datetime_is_rejected(make_notification: Callable[..., Notification]) -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        make_notification(since=datetime(2026, 11, 23, 12, 0))


def test_unknown_kind_is_rejected_when_read_back(make_notification: Callable[..., Notification]) -> None:
    data = make_notification().to_dict()
    data["kind"] = "page"
    with pytest.raises(ValueError, match="kind must be one of"):
        Notification.from_json(json.dumps(data))


@pytest.mark.parametrize(
    ("kind", "severity", "tag"),
    [
        ("trigger", "critical", "CRITICAL"),
        ("trigger", "warning", "WARNING"),
        ("reminder", "critical", "CRITICAL REMINDER"),
        ("escalation", "critical", "CRITICAL ESCALATION"),
        ("resolve", "critical", "RESOLVED"),
        ("test", "warning", "TEST"),
    ],
)
def test_headline_starts_with_the_tag_people_scan_for(
    make_notification: Callable[..., Notification], kind: str, severity: str, tag: str
) -> None:
    n = make_notification(kind=kind, severity=severity, summary="web: connection refused")
    assert n.headline == f"[{tag}] shop-web-1 web: connection refused"


def test_headline_is_one_line_even_for_a_multiline_summary(make_notification: Callable[..., Notification]) -> None:
    n = make_notification(summary="web: refused\r\nBcc: victim@example.com\n" + "x" * 400)
    assert "\n" not in n.headline and "\r" not in n.headline
    assert len(n.headline) <= 250


def test_one_line_folds_whitespace_and_cuts() -> None:
    assert one_line("a\n b\t c") == "a b c"
    assert one_line("abcdef", limit=4) == "abc…"
