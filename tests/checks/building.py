"""Building a check from its YAML options exactly as the daemon does (configtools.build)."""

from __future__ import annotations

from typing import Any

from checks.base import Check
from checks.registry import CHECKS
from watchdog.common.configtools import ConfigError, Problems, build


def make_check(type_name: str, **options: Any) -> Check[object]:
    """The check of `type_name` from YAML-shaped `options`; ConfigError listing every problem."""
    cls = CHECKS[type_name]
    problems = Problems()
    config = build(cls.Config, options, "checks[0]", problems)
    problems.raise_if_any("test.yaml")
    return cls(config)


def config_problems(type_name: str, **options: Any) -> str:
    """The config error text for invalid `options` ("" when they are valid)."""
    try:
        make_check(type_name, **options)
    except ConfigError as exc:
        return str(exc)
    return ""
