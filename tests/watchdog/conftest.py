"""Fixtures shared by the engine and end-to-end tests of tests/watchdog/."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.servers.webhook_sink import WebhookSink


@pytest.fixture
def sink() -> Iterator[WebhookSink]:
    """A recording webhook/PagerDuty receiver on loopback, stopped after the test."""
    s = WebhookSink()
    yield s
    s.stop()
