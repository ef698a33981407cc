"""Generic webhook: the whole notification as a JSON object, POSTed to a configured URL.

The body is `Notification.to_dict()` plus `status` ("firing"/"resolved"/"test"/"report") and
`headline`, so a receiver can act on it without parsing text. `token` (from `token_env` or
`token_file`) becomes `Authorization: Bearer ...`; plain `headers` are for non-secret values.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from watchdog.common.configtools import Duration, Secret
from watchdog.delivery.channels.base import Channel
from watchdog.delivery.channels.http import check_http_url, post_json
from watchdog.delivery.notification import Notification


@dataclass(frozen=True)
class WebhookConfig:
    url: str
    headers: Mapping[str, str] = field(default_factory=dict)
    token: Secret | None = None
    timeout: Duration = 10.0

    def __post_init__(self) -> None:
        check_http_url(self.url)
        if self.timeout <= 0:
            raise ValueError("timeout must be greater than 0")
        if self.token is not None and any(k.lower() == "authorization" for k in self.headers):
            raise ValueError("give either token_env/token_file or an Authorization header, not both")


def status_of(n: Notification) -> str:
    if n.standalone:
        return n.kind
    return "firing" if n.firing else "resolved"


class WebhookChannel(Channel[WebhookConfig]):
    Config = WebhookConfig

    def secrets(self) -> tuple[str, ...]:
        token = self.config.token
        return (token.reveal(),) if token is not None else ()

    def send(self, n: Notification) -> None:
        config = self.config
        headers = dict(config.headers)
        if config.token is not None:
            headers["Authorization"] = f"Bearer {config.token.reveal()}"
        body: dict[str, Any] = {**n.to_dict(), "status": status_of(n), "headline": n.headline}
        post_json(self.transports.http, config.url, body, timeout=config.timeout, headers=headers)
