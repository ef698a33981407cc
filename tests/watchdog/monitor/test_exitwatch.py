"""The exit watcher against real child processes."""

from __future__ import annotations

import os
import queue
import resource
import subprocess
from collections.abc import Iterator

import pytest

from watchdog.monitor.exitwatch import ExitWatcher


@pytest.fixture
def exits() -> Iterator[tuple[ExitWatcher, queue.SimpleQueue[str]]]:
    fired: queue.SimpleQueue[str] = queue.SimpleQueue()
    watcher = ExitWatcher(fired.put)
    yield watcher, fired
    watcher.close()


@pytest.fixture
def sleeper() -> Iterator[subprocess.Popen[bytes]]:
    proc = subprocess.Popen(["sleep", "60"])
    yield proc
    proc.kill()
    proc.wait()


def test_killed_process_fires_once_for_its_check(
    exits: tuple[ExitWatcher, queue.SimpleQueue[str]], sleeper: subprocess.Popen[bytes]
) -> None:
    watcher, fired = exits
    watcher.watch("web", sleeper.pid)
    assert fired.empty() and watcher.watched() == {"web": sleeper.pid}
    sleeper.kill()  # not reaped yet: a zombie has exited all the same
    assert fired.get(timeout=5) == "web"
    assert watcher.watched() == {}
    with pytest.raises(queue.Empty):
        fired.get(timeout=0.3)


def test_pid_already_gone_fires_at_once(exits: tuple[ExitWatcher, queue.SimpleQueue[str]]) -> None:
    watcher, fired = exits
    proc = subprocess.Popen(["true"])
    proc.wait()
    watcher.watch("web", proc.pid)
    assert fired.get(timeout=1) == "web"


def test_a_new_result_replaces_the_watched_pid_and_none_stops_watching(
    exits: tuple[ExitWatcher, queue.SimpleQueue[str]], sleeper: subprocess.Popen[bytes]
) -> None:
    watcher, fired = exits
    other = subprocess.Popen(["sleep", "60"])
    try:
        watcher.watch("web", other.pid)
        watcher.watch("web", sleeper.pid)
        other.kill()
        other.wait()
        watcher.watch("db", sleeper.pid)
        watcher.watch("db", None)
        with pytest.raises(queue.Empty):
            fired.get(timeout=0.3)
        assert watcher.watched() == {"web": sleeper.pid}
        sleeper.kill()
        assert fired.get(timeout=5) == "web"
    finally:
        other.kill()
        other.wait()


def test_an_exit_is_seen_when_the_pidfd_is_numbered_past_1023(
    exits: tuple[ExitWatcher, queue.SimpleQueue[str]], sleeper: subprocess.Popen[bytes]
) -> None:
    """The daemon may hold a thousand API connections: select() would fail on such a pidfd."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, 2048), max(hard, 2048)))
    filler = [os.open("/dev/null", os.O_RDONLY) for _ in range(1100)]
    try:
        watcher, fired = exits
        watcher.watch("web", sleeper.pid)
        sleeper.kill()
        assert fired.get(timeout=5) == "web"
    finally:
        for fd in filler:
            os.close(fd)
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))
