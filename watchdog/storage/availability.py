"""The availability history: per critical check and per hour, seconds good and seconds watched.

Bounded in size: one row per critical check and hour, plus one for the shop as a whole
(`SHOP`), and rows older than RETENTION are deleted (`prune`): with 90 days that is 2,160
rows per check. The error budget of the deploy guard reads windows of up to that length.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from watchdog.storage.database import Database

SHOP = ""
"""The row of the shop as a whole: good only while every critical check is."""

RETENTION = 90 * 86400.0
"""Seconds of history kept; a longer error-budget window is refused by the API."""

BUCKET = 3600
"""Seconds per row."""


@dataclass(frozen=True)
class Span:
    """Seconds good and seconds watched."""

    good: float = 0.0
    total: float = 0.0

    def __add__(self, other: Span) -> Span:
        return Span(self.good + other.good, self.total + other.total)


class AvailabilityStore:
    """Hourly buckets of good/total time in the state database; thread-safe through it."""

    def __init__(self, db: Database) -> None:
        self.db = db

    def add(self, spans: Mapping[tuple[str, int], Span]) -> None:
        """Adds each (check, hour start) span to its bucket, in one transaction."""
        if not spans:
            return
        with self.db.transaction() as tx:
            for (check, hour), span in spans.items():
                tx.execute(
                    "INSERT INTO availability (check_name, hour, good, total) VALUES (?, ?, ?, ?) "
                    "ON CONFLICT (check_name, hour) DO UPDATE SET good = good + excluded.good, "
                    "total = total + excluded.total",
                    (check, hour, span.good, span.total),
                )

    def totals(self, since: int) -> dict[str, Span]:
        """Per check (and SHOP): the sums of the buckets starting at or after `since` (unix time)."""
        rows = self.db.query(
            "SELECT check_name, SUM(good), SUM(total) FROM availability WHERE hour >= ? GROUP BY check_name",
            (since,),
        )
        return {r[0]: Span(float(r[1]), float(r[2])) for r in rows}

    def prune(self, before: int) -> None:
        """Deletes the buckets that start before `before` (unix time)."""
        with self.db.transaction() as tx:
            tx.execute("DELETE FROM availability WHERE hour < ?", (before,))
