"""The worker pool shared by the check runner and the API transport."""

from __future__ import annotations

import threading
from collections.abc import Callable

from watchdog.common.workers import WorkerPool


def test_a_job_submitted_from_a_hand_back_finds_the_worker_free() -> None:
    pool = WorkerPool(4, "t")
    done = threading.Event()
    ran: list[str] = []

    def job(n: int) -> Callable[[], None]:
        ran.append(threading.current_thread().name)
        if n == 5:
            return done.set
        return lambda: pool.submit(lambda: job(n + 1))

    pool.submit(lambda: job(1))
    assert done.wait(5)
    assert ran == ["t-1"] * 5 and pool.threads == 1
    pool.close(wait=5)


def test_busy_workers_are_bounded_and_idle_ones_end_at_close() -> None:
    pool = WorkerPool(2, "t")
    release = threading.Event()
    started = threading.Semaphore(0)

    def block() -> None:
        started.release()
        release.wait(5)

    for _ in range(3):
        pool.submit(block)
    assert started.acquire(timeout=5) and started.acquire(timeout=5)
    assert pool.threads == 2 and not started.acquire(timeout=0.2), "the third job waits for a free worker"
    release.set()
    assert started.acquire(timeout=5)
    pool.close(wait=5)
    assert not [t for t in threading.enumerate() if t.name.startswith("t-")]
