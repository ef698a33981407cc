"""`type:` name -> check class. An unknown type is a config error listing these keys."""

from __future__ import annotations

from checks.base import Check

CHECKS: dict[str, type[Check]] = {}
