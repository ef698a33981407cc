"""The last few results of every check, for the status page's sparklines.

A small ring per check (`DEFAULT_DEPTH` results), in memory only: a restart of the daemon
starts the rings empty. The main loop records, API threads read, so the rings are locked.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Iterable

from watchdog.common.status_document import HistoryPoint

DEFAULT_DEPTH = 30
"""Results kept per check: at the default 30 s interval, the last quarter of an hour."""


class ResultHistory:
    def __init__(self, depth: int = DEFAULT_DEPTH) -> None:
        self._depth = depth
        self._lock = threading.Lock()
        self._rings: dict[str, deque[HistoryPoint]] = {}

    def record(self, check: str, point: HistoryPoint) -> None:
        with self._lock:
            ring = self._rings.get(check)
            if ring is None:
                ring = self._rings[check] = deque(maxlen=self._depth)
            ring.append(point)

    def forget(self, checks: Iterable[str]) -> None:
        """Drops the rings of removed or changed checks (a changed probe starts a new history)."""
        with self._lock:
            for check in checks:
                self._rings.pop(check, None)

    def of(self, check: str) -> list[HistoryPoint]:
        """Oldest first."""
        with self._lock:
            return list(self._rings.get(check, ()))
