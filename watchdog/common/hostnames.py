"""Telling an IP literal from a host name (the API's Host rule, what the scrubber may keep)."""

from __future__ import annotations

import ipaddress


def is_ip_literal(name: str) -> bool:
    """Whether `name` is an IPv4 or IPv6 address (no brackets, no port)."""
    try:
        ipaddress.ip_address(name)
    except ValueError:
        return False
    return True
