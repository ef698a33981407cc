"""Optional dependencies: which pip extra of shop-watchdog brings which import.

The base install is what deploy-guard needs (a CI job that only asks the release gate
installs no database driver); the daemon and each database driver are extras (pyproject's
[project.optional-dependencies], tested against this table). Where an optional module is
missing, the user reads which extra to install, never an ImportError traceback:

* a check or channel type whose module cannot import its driver is a config error at its
  `type:` key (watchdog.common.lazy_registry raises `MissingExtra`, the loader reports it);
* `shop-watchdog` without the daemon extra exits 2 with one line (watchdog.__main__).
"""

from __future__ import annotations

import importlib.util
import types
from collections.abc import Mapping
from dataclasses import dataclass

DISTRIBUTION = "shop-watchdog"
DAEMON = "daemon"


@dataclass(frozen=True)
class Extra:
    """`name` is the pip extra; `provides` says what the module is, for messages."""

    name: str
    provides: str

    @property
    def install(self) -> str:
        return f"pip install '{DISTRIBUTION}[{self.name}]'"


OPTIONAL_MODULES: Mapping[str, Extra] = types.MappingProxyType(
    {
        "prometheus_client": Extra(DAEMON, "the Prometheus client library"),
        "psutil": Extra(DAEMON, "psutil"),
        "requests": Extra(DAEMON, "requests"),
        "jeepney": Extra(DAEMON, "the D-Bus library"),
        "h11": Extra(DAEMON, "the HTTP/1.1 parser h11"),
        "psycopg": Extra("postgres", "the PostgreSQL driver"),
        "pymysql": Extra("mysql", "the MySQL driver"),
        "hiredis": Extra("redis", "the Redis client"),
        "apprise": Extra("apprise", "Apprise (ntfy, Teams, Slack, Telegram, SMS gateways...)"),
    }
)
"""Top-level import name -> the extra that installs it."""


class MissingExtra(ImportError):
    """An optional module is not installed; `str()` says what it is and how to install it."""

    def __init__(self, module: str, extra: Extra) -> None:
        super().__init__(f"needs {extra.provides}: {extra.install}", name=module)
        self.extra = extra


def missing_extra(exc: ModuleNotFoundError) -> MissingExtra | None:
    """The `MissingExtra` for an import that failed on an optional module; None for any other."""
    module = (exc.name or "").partition(".")[0]
    extra = OPTIONAL_MODULES.get(module)
    return MissingExtra(module, extra) if extra is not None else None


def absent_modules(extra: str) -> list[str]:
    """The import names of `extra` that are not installed (found without importing them)."""
    return [m for m, e in OPTIONAL_MODULES.items() if e.name == extra and importlib.util.find_spec(m) is None]
