"""Every registered channel type keeps the channel contract (channels.base), run over the registry.

A new type in CHANNELS is held to all of it: the tables below must name it (the first
test fails until they do), everything else follows from the registry.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import pytest

from checks.registry import CHECKS
from tests.servers.hanging import HangingTCPServer
from tests.servers.ports import free_port
from tests.watchdog.common.plugin_conformance import assert_config_contract, secret_keys
from watchdog.config.loader import parse_config
from watchdog.delivery.channels.base import Channel, DeliveryError, TransientError
from watchdog.delivery.channels.registry import CHANNELS
from watchdog.delivery.channels.transports import Transports
from watchdog.delivery.notification import Notification

TIMEOUT = 0.5
SLACK = 2.0

MINIMAL: dict[str, Callable[[int], dict[str, object]]] = {
    "email": lambda port: {
        "smtp_host": "127.0.0.1",
        "smtp_port": port,
        "from": "watchdog@shop.test",
        "to": ["admins@shop.test"],
    },
    "webhook": lambda port: {"url": f"http://127.0.0.1:{port}/hook"},
    "pagerduty": lambda port: {
        "url": f"http://127.0.0.1:{port}/v2/enqueue",
        "routing_key_env": "CONFORMANCE_ROUTING_KEY",
    },
    "alertmanager": lambda port: {"url": f"http://127.0.0.1:{port}"},
    "apprise": lambda port: {"urls_env": "CONFORMANCE_APPRISE_URLS"},
}
"""A minimal valid config per type, sending to 127.0.0.1:`port`."""

ENVIRONMENT: dict[str, Callable[[int], dict[str, str]]] = {
    "apprise": lambda port: {"CONFORMANCE_APPRISE_URLS": f"json://127.0.0.1:{port}/hook"},
}
"""Variables a type's minimal config reads (a secret that must be valid, not just set)."""

SECRET_VALUES: dict[str, str] = {"urls": "json://127.0.0.1:9/conformance-urls-S3cr3t"}
"""Secrets the config checks for form (Apprise URLs), instead of `secret_value(key)`."""

WITH_SECRETS: dict[str, dict[str, object]] = {"email": {"username": "watchdog"}}
"""Keys a type needs besides its secrets for every secret to be set (a password needs a user)."""


def secret_value(key: str) -> str:
    return SECRET_VALUES.get(key, f"conformance-{key}-S3cr3t")


def minimal(type_name: str, port: int, monkeypatch: pytest.MonkeyPatch) -> dict[str, object]:
    environment = ENVIRONMENT.get(type_name)
    for name, value in (environment(port) if environment is not None else {}).items():
        monkeypatch.setenv(name, value)
    return MINIMAL[type_name](port)


@pytest.fixture(autouse=True)
def secret_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """CONFORMANCE_<KEY> holds a recognisable value for every secret key of every type."""
    for cls in CHANNELS.values():
        for key in secret_keys(cls.Config):
            monkeypatch.setenv(f"CONFORMANCE_{key.upper()}", secret_value(key))


def build(type_name: str, options: dict[str, Any], transports: Transports) -> Channel[object]:
    """The channel as the daemon builds it: through the config loader and the registry."""
    entry = {"name": "conformance", "type": type_name, "timeout": f"{TIMEOUT}s", **options}
    config = parse_config({"notify": {"channels": [entry]}}, "conformance.yaml", checks=CHECKS, channels=CHANNELS)
    (spec,) = config.notify.channels
    return CHANNELS[type_name](spec.name, spec.options, transports)


def send_error(channel: Channel[object], n: Notification) -> tuple[DeliveryError, float]:
    """The error `send` raised and how long it took; fails the test when it raised anything else."""
    started = time.monotonic()
    with pytest.raises(DeliveryError) as info:
        channel.send(n)
    return info.value, time.monotonic() - started


def test_every_registered_type_is_in_the_table() -> None:
    assert set(MINIMAL) == set(CHANNELS), "give every channel type a minimal config"


@pytest.mark.parametrize("type_name", sorted(CHANNELS))
def test_config_is_a_frozen_dataclass_the_parser_reads(type_name: str) -> None:
    assert_config_contract(CHANNELS[type_name])


@pytest.mark.parametrize("type_name", sorted(CHANNELS))
def test_a_closed_port_is_a_transient_error(
    type_name: str,
    transports: Transports,
    make_notification: Callable[..., Notification],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    channel = build(type_name, minimal(type_name, free_port(), monkeypatch), transports)
    assert isinstance(channel, CHANNELS[type_name]) and channel.name == "conformance"
    error, took = send_error(channel, make_notification())
    assert isinstance(error, TransientError), f"{type(error).__name__}: {error}"
    assert took <= TIMEOUT + SLACK


@pytest.mark.parametrize("type_name", sorted(CHANNELS))
def test_a_receiver_that_never_answers_is_a_transient_error_within_the_timeout(
    type_name: str,
    transports: Transports,
    hanging_tcp: HangingTCPServer,
    make_notification: Callable[..., Notification],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    channel = build(type_name, minimal(type_name, hanging_tcp.port, monkeypatch), transports)
    error, took = send_error(channel, make_notification())
    assert isinstance(error, TransientError), f"{type(error).__name__}: {error}"
    assert TIMEOUT * 0.9 <= took <= TIMEOUT + SLACK


@pytest.mark.parametrize("type_name", sorted(t for t in CHANNELS if secret_keys(CHANNELS[t].Config)))
def test_every_secret_is_declared_and_kept_out_of_errors(
    type_name: str,
    transports: Transports,
    make_notification: Callable[..., Notification],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    keys = secret_keys(CHANNELS[type_name].Config)
    options = {
        **minimal(type_name, free_port(), monkeypatch),
        **WITH_SECRETS.get(type_name, {}),
        **{f"{key}_env": f"CONFORMANCE_{key.upper()}" for key in keys},
    }
    channel = build(type_name, options, transports)
    assert set(channel.secrets()) >= {secret_value(key) for key in keys}
    error, _ = send_error(channel, make_notification())
    assert not any(secret_value(key) in str(error) for key in keys)
