"""The message the incident engine hands to delivery: one immutable value, JSON round-trip safe.

A `Notification` is written to the outbox as JSON before any channel sees it, so everything a
channel needs to render it (email, PagerDuty event, Alertmanager alert, webhook body) is in
these fields; channels never look anything up elsewhere. `incident_id` is the identity every
channel deduplicates on (PagerDuty `dedup_key`, Alertmanager label `incident`, e-mail thread).
"""

from __future__ import annotations

import json
import uuid
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any, Literal, get_args

Kind = Literal["trigger", "reminder", "escalation", "resolve", "notice", "test", "report"]
NotificationSeverity = Literal["critical", "warning"]

KINDS: tuple[str, ...] = get_args(Kind)
SEVERITIES: tuple[str, ...] = get_args(NotificationSeverity)

FIRING_KINDS: frozenset[str] = frozenset({"trigger", "reminder", "escalation", "notice"})
"""Kinds that tell a problem is (still) there; `resolve` ends it, `test` stands alone."""

STANDALONE_KINDS: frozenset[str] = frozenset({"test", "report"})
"""Kinds about no problem (a test message, the working-hours digest): nothing fires or resolves."""

_DATETIME_FIELDS = ("since", "created_at")


def new_notification_id() -> str:
    return uuid.uuid4().hex


@dataclass(frozen=True)
class Notification:
    """One message about one incident.

    `summary` is one line (a subject or a pager title); `details` may span lines. Datetimes
    are UTC-aware; `from_json` rejects naive ones so a bad row fails loudly, not at 3 a.m.
    """

    id: str
    incident_id: str
    kind: Kind
    severity: NotificationSeverity
    host: str
    check: str
    check_type: str
    summary: str
    details: str
    since: datetime
    created_at: datetime
    runbook_url: str | None = None
    ack_url: str | None = None
    """The signed link that acknowledges the incident from the message (watchdog.common.ack_links);
    only on firing messages, and only when `public_url` is configured."""

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"kind must be one of {', '.join(KINDS)}, got {self.kind!r}")
        if self.severity not in SEVERITIES:
            raise ValueError(f"severity must be one of {', '.join(SEVERITIES)}, got {self.severity!r}")
        if not self.id or not self.incident_id:
            raise ValueError("id and incident_id must not be empty")
        for name in _DATETIME_FIELDS:
            value = getattr(self, name)
            if not isinstance(value, datetime) or value.tzinfo is None:
                raise ValueError(f"{name} must be a timezone-aware datetime, got {value!r}")

    @property
    def firing(self) -> bool:
        return self.kind in FIRING_KINDS

    @property
    def standalone(self) -> bool:
        return self.kind in STANDALONE_KINDS

    @property
    def tag(self) -> str:
        """The bracketed word people scan for: CRITICAL, WARNING, RESOLVED, CRITICAL REMINDER..."""
        level = self.severity.upper()
        return {
            "trigger": level,
            "reminder": f"{level} REMINDER",
            "escalation": f"{level} ESCALATION",
            "resolve": "RESOLVED",
            "notice": f"{level} NOTICE",
            "test": "TEST",
            "report": "REPORT",
        }[self.kind]

    @property
    def headline(self) -> str:
        """One line for a subject or pager title: `[CRITICAL] shop-web-1 web: connection refused`."""
        return one_line(f"[{self.tag}] {self.host} {self.summary}")

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        for name in _DATETIME_FIELDS:
            data[name] = getattr(self, name).isoformat()
        return data

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), sort_keys=True, ensure_ascii=False)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Notification:
        values = dict(data)
        for name in _DATETIME_FIELDS:
            values[name] = datetime.fromisoformat(values[name])
        return cls(**values)

    @classmethod
    def from_json(cls, text: str) -> Notification:
        data = json.loads(text)
        if not isinstance(data, dict):
            raise ValueError("a notification is a JSON object")
        return cls.from_dict(data)


def one_line(text: str, limit: int = 250) -> str:
    """`text` with line breaks folded to spaces and cut to `limit` characters (header-safe)."""
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"
