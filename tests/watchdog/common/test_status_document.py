"""Reading a status document against its one definition: the contract is required, extras are not."""

from __future__ import annotations

import json
from typing import Any

import pytest

from watchdog.common.incident_terms import IncidentState, Severity, Substate
from watchdog.common.status_document import NotAStatusDocument, UnreadableIncident, read_status

CHECK = {
    "name": "web",
    "type": "http",
    "status": "CRITICAL",
    "severity": "critical",
    "since": "2026-11-23T08:00:00Z",
    "message": "connection refused",
}
INCIDENT = {"id": "inc-1", "check": "web", "severity": "critical", "state": "paged", "opened_at": "2026-11-23T08:00:00"}


def doc(*incidents: dict[str, Any], **top: Any) -> bytes:
    return json.dumps({"host": "shop-1", "checks": [CHECK], "incidents": list(incidents), **top}).encode()


def test_the_contract_minimum_reads_with_typed_values() -> None:
    reading = read_status(doc(INCIDENT))
    [incident] = reading.document["incidents"]
    assert incident["severity"] is Severity.CRITICAL and incident["state"] is IncidentState.PAGED
    assert reading.document["checks"][0]["severity"] is Severity.CRITICAL
    assert reading.document["host"] == "shop-1" and reading.unreadable == ()


def test_extras_are_read_when_they_fit_and_dropped_when_not() -> None:
    fits = {**INCIDENT, "substate": None, "paged_channels": ["pager"]}
    odd = {**INCIDENT, "id": "inc-2", "substate": "napping", "paged_channels": "pager"}
    reading = read_status(doc(fits, odd, outbox={"pending": 1, "failed": 0}))
    first, second = reading.document["incidents"]
    assert first["substate"] is None and first["paged_channels"] == ["pager"]
    assert "substate" not in second and "paged_channels" not in second
    assert reading.document["outbox"] == {"pending": 1, "failed": 0}
    assert read_status(doc({**INCIDENT, "substate": "deferred"})).document["incidents"][0]["substate"] is (
        Substate.DEFERRED
    )


def test_silences_are_read_with_who_why_and_until_and_a_malformed_list_is_dropped() -> None:
    silence = {
        "id": "sil-1",
        "check": "web",
        "reason": "nginx upgrade",
        "created_by": "anna",
        "created_at": "2026-11-23T08:00:00+00:00",
        "until": "2026-11-23T09:00:00+00:00",
    }
    assert read_status(doc(silences=[silence])).document["silences"] == [silence]
    assert "silences" not in read_status(doc(silences=[{**silence, "until": None}])).document


@pytest.mark.parametrize(
    ("incident", "problem"),
    [
        ({**INCIDENT, "severity": "major"}, "incidents[0]: severity: expected one of critical, warning, got 'major'"),
        ({k: v for k, v in INCIDENT.items() if k != "severity"}, "incidents[0]: severity: missing"),
        ({**INCIDENT, "severity": None}, "incidents[0]: severity: expected one of critical, warning, got None"),
        ({**INCIDENT, "state": "resolved"}, "incidents[0]: state: 'resolved' is not an unresolved state"),
        ({**INCIDENT, "opened_at": 1700000000}, "incidents[0]: opened_at: expected str, got 1700000000"),
    ],
)
def test_an_incident_that_breaks_the_contract_is_unreadable_not_gone(incident: dict[str, Any], problem: str) -> None:
    reading = read_status(doc(incident))
    assert reading.document["incidents"] == []
    assert reading.unreadable == (UnreadableIncident("inc-1", problem),)


@pytest.mark.parametrize(
    ("body", "problem"),
    [
        (b"<html>", "answer is not JSON"),
        (b"[1, 2]", 'answer has no "incidents" list'),
        (json.dumps({"host": "h", "checks": []}).encode(), 'answer has no "incidents" list'),
        (json.dumps({"checks": [], "incidents": []}).encode(), "answer is not a status document: host: missing"),
        (json.dumps({"host": "h", "checks": {}, "incidents": []}).encode(), "checks: expected a list"),
        (
            json.dumps({"host": "h", "checks": [{**CHECK, "message": None}], "incidents": []}).encode(),
            "checks[0].message: expected str, got None",
        ),
    ],
)
def test_an_answer_that_is_no_status_document_is_refused(body: bytes, problem: str) -> None:
    with pytest.raises(NotAStatusDocument) as caught:
        read_status(body)
    assert problem in str(caught.value)
