"""A bounded pool of daemon worker threads, started on demand and kept while idle.

The check runner and the API transport both need it: threads only when there is work (an
idle daemon holds none it never used), at most `max_workers` of them, and daemon threads,
because Python cannot kill a thread and one stuck in a probe or a handler must not keep the
process from exiting on SIGTERM (`concurrent.futures` joins its threads at exit).

A job may return a *hand-back*, run once its worker counts itself free again: whoever the
hand-back wakes may submit the next job at once (the next request on the same connection)
and finds this worker free, instead of starting another.
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable

Job = Callable[[], Callable[[], None] | None]


class WorkerPool:
    """Worker threads named `{name}-N`, created on demand up to `max_workers`, reused when idle."""

    def __init__(self, max_workers: int, name: str) -> None:
        if max_workers < 1:
            raise ValueError("max_workers must be at least 1")
        self._max = max_workers
        self._name = name
        self._jobs: queue.SimpleQueue[Job | None] = queue.SimpleQueue()
        self._lock = threading.Lock()
        self._threads: list[threading.Thread] = []
        self._idle = 0
        self._closed = False

    def submit(self, job: Job) -> None:
        with self._lock:
            if self._closed:
                raise RuntimeError("worker pool is closed")
            if self._idle > 0:
                self._idle -= 1
            elif len(self._threads) < self._max:
                thread = threading.Thread(target=self._work, name=f"{self._name}-{len(self._threads) + 1}", daemon=True)
                self._threads.append(thread)
                thread.start()
        self._jobs.put(job)

    @property
    def threads(self) -> int:
        with self._lock:
            return len(self._threads)

    def _work(self) -> None:
        while (job := self._jobs.get()) is not None:
            hand_back = job()
            with self._lock:
                self._idle += 1
            if hand_back is not None:
                hand_back()

    def close(self, wait: float = 0.0) -> None:
        """Lets idle workers exit, waiting up to `wait` seconds in all for them; a worker still
        inside a job stays until the job returns (a daemon thread, it never holds up the exit)."""
        with self._lock:
            self._closed = True
            threads = list(self._threads)
        for _ in threads:
            self._jobs.put(None)
        deadline = time.monotonic() + wait
        for thread in threads:
            thread.join(timeout=max(0.0, deadline - time.monotonic()))
