"""`type:` name -> channel class, and building the configured channels.

An unknown type is a config error listing these keys (the CLI hands this registry to
watchdog.config.loader, which reads each type's keys from its class's `Config` dataclass).
Classes are imported when their type is first used (watchdog.common.lazy_registry): without
HTTP channels the daemon never loads `requests`.
"""

from __future__ import annotations

from collections.abc import Sequence

from watchdog.common.lazy_registry import LazyRegistry
from watchdog.common.logs import SCRUBBER
from watchdog.config.model import ChannelSpec
from watchdog.delivery.channels.base import Channel
from watchdog.delivery.channels.transports import Transports

CHANNELS: LazyRegistry[Channel[object]] = LazyRegistry(
    Channel,
    {
        "email": "watchdog.delivery.channels.email:EmailChannel",
        "webhook": "watchdog.delivery.channels.webhook:WebhookChannel",
        "pagerduty": "watchdog.delivery.channels.pagerduty:PagerDutyChannel",
        "alertmanager": "watchdog.delivery.channels.alertmanager:AlertmanagerChannel",
        "apprise": "watchdog.delivery.channels.apprise:AppriseChannel",
    },
)


def build_channels(specs: Sequence[ChannelSpec], transports: Transports) -> dict[str, Channel[object]]:
    """Channel objects by name; their secret values are registered with the log scrubber first."""
    channels: dict[str, Channel[object]] = {}
    for spec in specs:
        channel = CHANNELS[spec.type](spec.name, spec.options, transports)
        SCRUBBER.add(*channel.secrets())
        channels[spec.name] = channel
    return channels
