"""How the database probes (mysql, postgres) judge what they found, the same way for both.

A query that returns no row is CRITICAL. Without connection levels the answer time is the
whole story; with them, client connections against `max_connections` decide, because at
the limit the server refuses the shop's next login while queries still look fast.
"""

from __future__ import annotations

from typing import Protocol

from checks.base import CheckResult, Status
from checks.thresholds import saturation, seconds_text


class ConnectionLevels(Protocol):
    """The percent levels of a database check's options (None: level off)."""

    @property
    def connections_warn(self) -> float | None: ...

    @property
    def connections_crit(self) -> float | None: ...


def query_result(where: str, row: object | None, elapsed: float, levels: ConnectionLevels) -> CheckResult | None:
    """The result of a query that answered `row` after `elapsed` s; None while the connections still decide.

    None means: read the server's client connections and limit, then `connections_result()`.
    """
    measurements = {"response_seconds": elapsed}
    if row is None:
        return CheckResult(Status.CRITICAL, f"{where}: query returned no row", measurements)
    if levels.connections_warn is None and levels.connections_crit is None:
        return CheckResult(Status.OK, f"{where}: query ok in {seconds_text(elapsed)}", measurements)
    return None


def connections_result(where: str, elapsed: float, used: float, limit: float, levels: ConnectionLevels) -> CheckResult:
    """The result of `used` of `limit` client connections (`limit` 0: unknown, ratio 0) against the levels."""
    measurements = {
        "response_seconds": elapsed,
        "connections": float(used),
        "connections_ratio": used / limit if limit else 0.0,
    }
    status, text = saturation("connections", used, limit, levels.connections_warn, levels.connections_crit)
    return CheckResult(status, f"{where}: {text}", measurements)
