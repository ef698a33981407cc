"""Dead man's switch pings against a real HTTP receiver on loopback."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler

import pytest

from tests.servers.http_thread import HttpThread
from watchdog.common.clock import ManualClock
from watchdog.service.heartbeat import Heartbeat, RequestsGet

CHECK_ID = "5f0c3a4e-secret-check-id"


class PingReceiver:
    """A healthchecks.io-like receiver: records every path it is asked for."""

    def __init__(self) -> None:
        self.paths: list[str] = []
        self.status = 200
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                receiver.paths.append(self.path)
                body = b"OK"
                self.send_response(receiver.status)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: object) -> None:
                pass

        self.http = HttpThread(Handler, name="ping-receiver")
        self.url = f"http://127.0.0.1:{self.http.port}/ping/{CHECK_ID}"


@pytest.fixture
def receiver() -> Iterator[PingReceiver]:
    r = PingReceiver()
    r.http.start()
    yield r
    r.http.stop()


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


def test_healthy_daemon_pings_every_interval(receiver: PingReceiver, clock: ManualClock) -> None:
    hb = Heartbeat(receiver.url, 60.0, clock, RequestsGet())

    assert hb.tick(healthy=True) is True
    clock.advance(59)
    assert hb.tick(healthy=True) is None
    clock.advance(1)
    assert hb.tick(healthy=True) is True

    assert receiver.paths == [f"/ping/{CHECK_ID}"] * 2


def test_becoming_unhealthy_reports_fail_at_once_and_recovery_pings_at_once(
    receiver: PingReceiver, clock: ManualClock
) -> None:
    hb = Heartbeat(receiver.url, 60.0, clock, RequestsGet())
    hb.tick(healthy=True)
    clock.advance(5)

    assert hb.tick(healthy=False) is True
    assert hb.tick(healthy=False) is None
    clock.advance(5)
    assert hb.tick(healthy=True) is True

    assert receiver.paths == [f"/ping/{CHECK_ID}", f"/ping/{CHECK_ID}/fail", f"/ping/{CHECK_ID}"]


def test_without_fail_suffix_an_unhealthy_daemon_goes_silent(receiver: PingReceiver, clock: ManualClock) -> None:
    hb = Heartbeat(receiver.url, 60.0, clock, RequestsGet(), fail_suffix=None)

    assert hb.tick(healthy=False) is False
    clock.advance(120)
    assert hb.tick(healthy=False) is False

    assert receiver.paths == []


def test_a_rejected_ping_is_reported_without_the_secret_url(
    receiver: PingReceiver, clock: ManualClock, caplog: pytest.LogCaptureFixture
) -> None:
    receiver.status = 404
    hb = Heartbeat(receiver.url, 60.0, clock, RequestsGet())

    assert hb.ping(healthy=True) is False

    assert "event=heartbeat_rejected receiver=127.0.0.1 status=404" in caplog.text
    assert CHECK_ID not in caplog.text


def test_an_unreachable_receiver_is_retried_next_interval_not_hammered(
    clock: ManualClock, caplog: pytest.LogCaptureFixture
) -> None:
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    hb = Heartbeat(f"http://127.0.0.1:{port}/ping/{CHECK_ID}", 60.0, clock, RequestsGet(), timeout=2)

    assert hb.tick(healthy=True) is False
    assert hb.tick(healthy=True) is None
    clock.advance(60)
    assert hb.due(healthy=True)

    assert "event=heartbeat_failed receiver=127.0.0.1 error=ConnectionError" in caplog.text
    assert CHECK_ID not in caplog.text


def test_interval_must_be_positive(clock: ManualClock) -> None:
    with pytest.raises(ValueError):
        Heartbeat("http://127.0.0.1:1/x", 0, clock, RequestsGet())
