"""Asking several sources at once, each bounded by the same deadline.

The gate's sources (status URLs, Alertmanager nodes, Prometheus) are asked in daemon threads
so that a hung one costs CI the gate's `timeout`, never more: its thread is abandoned, not
waited for, and the process exits without it.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping
from typing import TypeVar

T = TypeVar("T")


def in_parallel(calls: Mapping[str, Callable[[], T]], timeout: float) -> dict[str, T | None]:
    """Runs every call in its own daemon thread; each result, or None if it did not return
    within `timeout` seconds."""
    results: dict[str, T] = {}
    lock = threading.Lock()

    def run(key: str, call: Callable[[], T]) -> None:
        value = call()
        with lock:
            results[key] = value

    threads = [threading.Thread(target=run, args=item, daemon=True, name=f"gate {item[0]}") for item in calls.items()]
    deadline = time.monotonic() + timeout
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(max(0.0, deadline - time.monotonic()))
    with lock:
        return {key: results.get(key) for key in calls}
