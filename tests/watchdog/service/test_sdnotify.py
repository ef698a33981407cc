"""sd_notify client against real AF_UNIX datagram sockets bound by the test, as systemd binds them."""

from __future__ import annotations

import os
import socket
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from watchdog.service.sdnotify import SystemdNotifier, format_status, watchdog_timeout


class Receiver:
    def __init__(self, sock: socket.socket, env_value: str) -> None:
        self.sock = sock
        self.env_value = env_value

    def messages(self) -> list[dict[str, str]]:
        """Every datagram waiting, each parsed into its KEY=VALUE fields."""
        out: list[dict[str, str]] = []
        self.sock.setblocking(False)
        while True:
            try:
                data = self.sock.recv(65536)
            except BlockingIOError:
                return out
            out.append(dict(line.split("=", 1) for line in data.decode().split("\n")))


@pytest.fixture(params=["path", "abstract"])
def receiver(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Receiver]:
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    if request.param == "path":
        address = str(tmp_path / "notify.sock")
        sock.bind(address)
        env_value = address
    else:
        name = f"shop-watchdog-test-{os.getpid()}-{id(sock)}"
        sock.bind("\0" + name)
        env_value = "@" + name
    yield Receiver(sock, env_value)
    sock.close()


def test_ready_with_status_arrives_as_one_datagram(receiver: Receiver) -> None:
    notifier = SystemdNotifier.from_environment({"NOTIFY_SOCKET": receiver.env_value})

    assert notifier.ready(status="3 checks, 0 failing, 0 incidents open") is True

    assert receiver.messages() == [{"READY": "1", "STATUS": "3 checks, 0 failing, 0 incidents open"}]


def test_watchdog_status_and_stopping_each_send_their_field(receiver: Receiver) -> None:
    notifier = SystemdNotifier(receiver.env_value)

    notifier.watchdog()
    notifier.status("12 checks, 1 failing, 0 incidents open")
    notifier.stopping()

    assert receiver.messages() == [
        {"WATCHDOG": "1"},
        {"STATUS": "12 checks, 1 failing, 0 incidents open"},
        {"STOPPING": "1"},
    ]


def test_reloading_carries_the_monotonic_clock_in_microseconds(receiver: Receiver) -> None:
    notifier = SystemdNotifier(receiver.env_value, monotonic_ns=lambda: 5_123_456_789)

    notifier.reloading()
    notifier.ready()

    assert receiver.messages() == [{"RELOADING": "1", "MONOTONIC_USEC": "5123456"}, {"READY": "1"}]


def test_reloading_uses_clock_monotonic_by_default(receiver: Receiver) -> None:
    before = time.clock_gettime_ns(time.CLOCK_MONOTONIC) // 1000
    SystemdNotifier(receiver.env_value).reloading()
    after = time.clock_gettime_ns(time.CLOCK_MONOTONIC) // 1000

    assert before <= int(receiver.messages()[0]["MONOTONIC_USEC"]) <= after


def test_status_with_newlines_stays_one_field(receiver: Receiver) -> None:
    SystemdNotifier(receiver.env_value).status("disk full\nREADY=1")

    assert receiver.messages() == [{"STATUS": "disk full READY=1"}]


def test_without_notify_socket_every_call_is_a_no_op() -> None:
    notifier = SystemdNotifier.from_environment({})

    assert notifier.enabled is False
    assert notifier.ready("x") is False
    assert notifier.watchdog() is False
    assert notifier.reloading() is False
    assert notifier.stopping() is False
    assert notifier.ping_interval is None


def test_a_vanished_socket_is_reported_not_raised(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    notifier = SystemdNotifier(str(tmp_path / "gone.sock"))

    assert notifier.watchdog() is False
    assert 'event=sd_notify_failed message="WATCHDOG=1"' in caplog.text


def test_watchdog_timeout_is_read_from_watchdog_usec_for_this_process() -> None:
    notifier = SystemdNotifier.from_environment(
        {"NOTIFY_SOCKET": "@x", "WATCHDOG_USEC": "30000000", "WATCHDOG_PID": "4242"}, pid=4242
    )

    assert notifier.watchdog_timeout == 30.0
    assert notifier.ping_interval == 15.0


@pytest.mark.parametrize(
    "env",
    [
        {"WATCHDOG_USEC": "30000000", "WATCHDOG_PID": "1"},  # meant for another process
        {"WATCHDOG_USEC": "0"},
        {"WATCHDOG_USEC": "soon"},
        {},
    ],
)
def test_no_watchdog_when_not_armed_for_this_process(env: dict[str, str]) -> None:
    assert watchdog_timeout(env, pid=4242) is None


def test_children_do_not_inherit_the_notify_socket_or_watchdog() -> None:
    env = {"NOTIFY_SOCKET": "@x", "WATCHDOG_USEC": "30000000", "WATCHDOG_PID": "7", "PATH": "/usr/bin"}

    notifier = SystemdNotifier.from_environment(env, pid=7)

    assert (notifier.enabled, notifier.watchdog_timeout) == (True, 30.0)
    assert env == {"PATH": "/usr/bin"}


def test_environment_can_be_left_alone() -> None:
    env = {"NOTIFY_SOCKET": "@x"}

    SystemdNotifier.from_environment(env, unset=False)

    assert env == {"NOTIFY_SOCKET": "@x"}


def test_watchdog_without_pid_applies_to_whoever_reads_it() -> None:
    assert watchdog_timeout({"WATCHDOG_USEC": "2500000"}, pid=4242) == 2.5


@pytest.mark.parametrize(
    ("counts", "text"),
    [
        ((12, 1, 0), "12 checks, 1 failing, 0 incidents open"),
        ((1, 0, 1), "1 check, 0 failing, 1 incident open"),
        ((0, 0, 2), "0 checks, 0 failing, 2 incidents open"),
    ],
)
def test_status_summary_text(counts: tuple[int, int, int], text: str) -> None:
    assert format_status(*counts) == text
