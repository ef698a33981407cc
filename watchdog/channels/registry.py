"""`type:` name -> channel class. An unknown type is a config error listing these keys."""

from __future__ import annotations

from typing import Any

CHANNELS: dict[str, Any] = {}
