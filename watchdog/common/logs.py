"""One log line per event, `key=value`, secrets scrubbed.

Every module logs through `event()`: `event(log, "restart_failed", check="web",
incident="inc-3f2a", unit="nginx.service", rc=1)` ->
`event=restart_failed check=web incident=inc-3f2a unit=nginx.service rc=1`.
Values that contain spaces or quotes are quoted; known secret values registered with
`Scrubber.add()` are replaced by `***` wherever they appear.
"""

from __future__ import annotations

import logging
import re
import threading

_SAFE = re.compile(r"^[A-Za-z0-9_.:/@%+\-,\[\]]*$")


class Scrubber:
    """Replaces registered secret values in log text; thread-safe, process-wide per daemon."""

    def __init__(self) -> None:
        self._secrets: frozenset[str] = frozenset()
        self._lock = threading.Lock()

    def add(self, *values: str) -> None:
        with self._lock:
            self._secrets = self._secrets | {v for v in values if v and len(v) >= 3}

    def scrub(self, text: str) -> str:
        for secret in self._secrets:
            if secret in text:
                text = text.replace(secret, "***")
        return text


SCRUBBER = Scrubber()


def format_value(value: object) -> str:
    text = str(value)
    if text and _SAFE.match(text):
        return text
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


def format_event(name: str, fields: dict[str, object]) -> str:
    parts = [f"event={name}"]
    parts.extend(f"{k}={format_value(v)}" for k, v in fields.items() if v is not None)
    return SCRUBBER.scrub(" ".join(parts))


def event(logger: logging.Logger, name: str, level: int = logging.INFO, **fields: object) -> None:
    """Logs one event line; `None` values are left out."""
    if logger.isEnabledFor(level):
        logger.log(level, "%s", format_event(name, fields))
