"""A `type:` registry that imports a class only when its type is used.

The probe and channel modules pull in their drivers (psycopg, PyMySQL, redis-py, requests),
together about 25 MB of a daemon's memory. A shop that watches only its disk and web server
should not pay for the database drivers it never calls, so the registries name each class
by "module:Class" and import it on first lookup. Listing the valid types (the config error
for an unknown `type:`) imports nothing.

A driver that is not installed (database drivers are pip extras) is not an unknown type:
the lookup raises `MissingExtra` (an ImportError, not a KeyError, so `get()` lets it
through), which the config loader reports at the entry's `type:` key with the extra to install.
"""

from __future__ import annotations

import importlib
import threading
from collections.abc import Iterator, Mapping
from typing import Generic, TypeVar

from watchdog.common.extras import missing_extra

T = TypeVar("T")


class LazyRegistry(Mapping[str, type[T]], Generic[T]):
    """Read-only mapping of type names to classes, each imported on first access.

    `targets` maps a type name to "package.module:ClassName"; `base` is the class every
    entry must subclass (a wrong target is a programming error, raised as TypeError).
    """

    def __init__(self, base: type[T], targets: Mapping[str, str]) -> None:
        self._base = base
        self._targets = dict(targets)
        self._loaded: dict[str, type[T]] = {}
        self._lock = threading.Lock()

    def __getitem__(self, name: str) -> type[T]:
        with self._lock:
            cls = self._loaded.get(name)
            if cls is None:
                module_name, _, attr = self._targets[name].partition(":")
                try:
                    module = importlib.import_module(module_name)
                except ModuleNotFoundError as exc:
                    missing = missing_extra(exc)
                    if missing is None:
                        raise
                    raise missing from None
                cls = getattr(module, attr)
                if not (isinstance(cls, type) and issubclass(cls, self._base)):
                    raise TypeError(f"{self._targets[name]} is not a {self._base.__name__}")
                self._loaded[name] = cls
            return cls

    def __iter__(self) -> Iterator[str]:
        return iter(self._targets)

    def __len__(self) -> int:
        return len(self._targets)

    def __contains__(self, name: object) -> bool:
        return name in self._targets
