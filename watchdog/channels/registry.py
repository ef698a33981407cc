"""`type:` name -> channel class, and building the configured channels.

An unknown type is a config error listing these keys (watchdog.config reads each type's
keys from its class's `Config` dataclass). Classes are imported when their type is first
used (watchdog.lazy_registry): without HTTP channels the daemon never loads `requests`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from watchdog.channels.base import Channel
from watchdog.channels.transports import Transports
from watchdog.lazy_registry import LazyRegistry
from watchdog.logs import SCRUBBER

if TYPE_CHECKING:  # watchdog.config imports CHANNELS from here
    from watchdog.config import ChannelSpec

CHANNELS: LazyRegistry[Channel] = LazyRegistry(
    Channel,
    {
        "email": "watchdog.channels.email:EmailChannel",
        "webhook": "watchdog.channels.webhook:WebhookChannel",
        "pagerduty": "watchdog.channels.pagerduty:PagerDutyChannel",
        "alertmanager": "watchdog.channels.alertmanager:AlertmanagerChannel",
    },
)


def build_channels(specs: Sequence[ChannelSpec], transports: Transports) -> dict[str, Channel]:
    """Channel objects by name; their secret values are registered with the log scrubber first."""
    channels: dict[str, Channel] = {}
    for spec in specs:
        channel = CHANNELS[spec.type](spec.name, spec.options, transports)
        SCRUBBER.add(*channel.secrets())
        channels[spec.name] = channel
    return channels
