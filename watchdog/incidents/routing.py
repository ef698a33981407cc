"""Who is told, and when: severity routes and business hours.

Critical incidents go to their route's channels at once. A route with
`when: business_hours` (warnings by default) tells people only inside business hours; a
warning found at 23:00 waits for the next business-hours start and is dropped if it cleared
meanwhile. Business days come from the same holiday calendar the deploy guard uses
(`watchdog.common.holiday_calendar`), so "no deploys on a holiday" and "no warnings on a
holiday" never disagree.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from watchdog.common.incident_terms import Severity
from watchdog.config.model import BusinessHours, NotifyConfig, Route
from watchdog.incidents.working_hours import BusinessClock


@dataclass(frozen=True)
class Delivery:
    """The decision for a message: the route, and when it may go (None: now)."""

    route: Route
    not_before: datetime | None


class Router:
    def __init__(self, notify: NotifyConfig, hours: BusinessHours) -> None:
        self._notify = notify
        self._clock = BusinessClock(hours)

    def route(self, severity: Severity) -> Route:
        return self._notify.route("critical" if severity == Severity.CRITICAL else "warning")

    def delivery(self, severity: Severity, now: datetime) -> Delivery:
        route = self.route(severity)
        if route.when == "business_hours" and not self._clock.is_open(now):
            return Delivery(route, self._clock.next_open(now))
        return Delivery(route, None)
