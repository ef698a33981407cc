"""Every probe family of the design is registered under its documented `type:` name."""

from __future__ import annotations

import dataclasses

from checks.base import Check
from checks.registry import CHECKS

DOCUMENTED = {"disk", "http", "tcp", "postgres", "mysql", "redis", "process", "systemd", "system", "command"}


def test_every_documented_type_has_a_check_with_a_frozen_config() -> None:
    assert set(CHECKS) == DOCUMENTED
    for cls in CHECKS.values():
        assert issubclass(cls, Check) and cls.run is not Check.run
        assert dataclasses.is_dataclass(cls.Config) and cls.Config.__dataclass_params__.frozen  # type: ignore[attr-defined]
