"""Public holidays plus company days off, shared by the deploy guard and the watchdog daemon.

The daemon's business hours use "the same calendar as the deploy guard", so this module is
the one place that knows which dates are holidays. Public holidays come from the `holidays`
library; `extra` adds company days off with a name. Both count as holidays everywhere,
including for `block_days_before` (the N calendar days before each holiday are closed for
normal releases).

Cost: `import holidays` and its first use import every country module and read package
metadata (~0.2 s, 10 MB). Here a country code is looked up in the library's registry read
as data (nothing imported), that one country's module is imported when a date is first
asked about, and each year is computed once per `HolidayCalendar` and cached on it.
"""

from __future__ import annotations

import ast
import functools
import importlib
import importlib.util
import sys
import threading
from collections.abc import Collection, Iterator, Mapping
from contextlib import contextmanager
from datetime import date, timedelta
from pathlib import Path
from types import ModuleType
from typing import Any, Protocol

_PACKAGES = ("holidays", "holidays.countries")
_LANGUAGE = "en_US"
_IMPORT_LOCK = threading.Lock()
MONDAY_TO_FRIDAY: frozenset[int] = frozenset(range(5))


class _CountryHolidays(Protocol):
    supported_languages: tuple[str, ...]
    start_year: int
    end_year: int

    def __call__(self, *, years: int, language: str | None) -> Mapping[date, str]: ...


@contextmanager
def _bare_packages(names: tuple[str, ...]) -> Iterator[None]:
    """Packages importable without running their `__init__` while inside this block.

    `holidays/__init__` reads its version through importlib.metadata and builds lazy loaders
    for every country; `holidays.countries/__init__` imports all ~250 country modules. One
    country module needs neither, only the shared base modules. A bare package object (same
    spec and search path, `__init__` not executed) stands in for each package not imported
    yet, and is removed afterwards, so a later ordinary `import holidays` runs the real one.
    """
    inserted = []
    for name in names:
        if name in sys.modules:
            continue
        spec = importlib.util.find_spec(name)
        if spec is None:
            raise ImportError(f"{name} not found")
        sys.modules[name] = importlib.util.module_from_spec(spec)
        inserted.append(name)
    try:
        yield
    finally:
        for name in inserted:
            sys.modules.pop(name, None)


def _import(name: str) -> ModuleType:
    """Module `name` of the holidays library, importing as little of the library as possible."""
    with _IMPORT_LOCK:
        try:
            with _bare_packages(_PACKAGES):
                return importlib.import_module(name)
        except (ImportError, AttributeError):  # the library's layout changed: import it normally
            return importlib.import_module(name)


@functools.cache
def _countries() -> Mapping[str, tuple[str, ...]]:
    """`holidays.registry.COUNTRIES`: country module -> (class name, codes and aliases).

    Read once per process (90 KB kept): a daemon's config and working hours asked three
    times at start and again at every reload, each parse ~4 ms and 1.8 MB of garbage.

    Read as data from the registry's source file: importing `holidays.registry` imports the
    library's base class and with it every calendar system and dateutil, 2.2 MB of memory in a
    daemon that only validates its config (the country's module is imported when a date is
    first asked about). Should the registry ever stop being a literal there, it is imported.
    """
    spec = importlib.util.find_spec(_PACKAGES[0])  # a top-level find_spec imports nothing
    if spec is not None and spec.submodule_search_locations:
        source = Path(spec.submodule_search_locations[0]) / "registry.py"
        try:
            for node in ast.parse(source.read_text(encoding="utf-8")).body:
                if isinstance(node, ast.AnnAssign) and ast.unparse(node.target) == "COUNTRIES" and node.value:
                    countries: dict[str, tuple[str, ...]] = ast.literal_eval(node.value)
                    return countries
        except (OSError, SyntaxError, ValueError):
            pass
    registry: Any = _import("holidays.registry")
    return registry.COUNTRIES  # type: ignore[no-any-return]


def _registry_entry(code: str) -> tuple[str, str] | None:
    """(module name, class name) of a country code like PL or POL, or None if unknown."""
    wanted = code.upper()
    for module_name, names in _countries().items():
        if wanted in names[1:]:
            return module_name, names[0]
    return None


def is_known_country(code: str) -> bool:
    """Whether the `holidays` library has public holidays for this country code."""
    return _registry_entry(code) is not None


def _country_entry(code: str) -> tuple[str, str]:
    entry = _registry_entry(code)
    if entry is None:
        raise ValueError(f"unknown country code {code!r} (the holidays library has no such country)")
    return entry


class HolidayCalendar:
    """Which dates are holidays (public or company) and which are the days just before one.

    `country` None means company days off only. Raises ValueError for an unknown country.
    Instances cache per year and are cheap to keep; they are not shared between threads
    that construct years concurrently (the cache is a plain dict, worst case a year is
    computed twice).
    """

    def __init__(
        self,
        country: str | None,
        extra: Mapping[date, str] | None = None,
        block_days_before: int = 0,
    ) -> None:
        if block_days_before < 0:
            raise ValueError("block_days_before must not be negative")
        self.country = country
        self.extra: Mapping[date, str] = dict(extra or {})
        self.block_days_before = block_days_before
        self._country = _country_entry(country) if country else None
        """(module, class) of the country; the module is imported when a date is first asked
        about: a daemon whose warnings never wait for business hours never loads it."""
        self._years: dict[int, Mapping[date, str]] = {}

    @property
    def known_years(self) -> tuple[int, int] | None:
        """First and last year the country's public holidays are known for; None without a country.

        Outside them the library returns no holidays at all, which must not read as "no holiday".
        """
        cls = self._country_class()
        return None if cls is None else (cls.start_year, cls.end_year)

    def _country_class(self) -> _CountryHolidays | None:
        """The country's holidays class, its module imported on first use (see `_country`)."""
        if self._country is None:
            return None
        cls: _CountryHolidays = getattr(_import(f"holidays.countries.{self._country[0]}"), self._country[1])
        return cls

    def holidays_in(self, year: int) -> Mapping[date, str]:
        """All holidays of a year, public and company, date -> name (names joined by "; ")."""
        cached = self._years.get(year)
        if cached is not None:
            return cached
        found: dict[date, str] = {}
        cls = self._country_class()
        if cls is not None:
            language = _LANGUAGE if _LANGUAGE in cls.supported_languages else None
            found.update(cls(years=year, language=language))
        for day, name in self.extra.items():
            if day.year == year:
                found[day] = f"{found[day]}; {name}" if day in found else name
        self._years[year] = found
        return found

    def holiday(self, day: date) -> str | None:
        """The holiday's name, or None on an ordinary day."""
        return self.holidays_in(day.year).get(day)

    def holiday_ahead(self, day: date) -> tuple[date, str] | None:
        """The nearest holiday within the `block_days_before` days after `day` (not `day` itself)."""
        for offset in range(1, self.block_days_before + 1):
            ahead = day + timedelta(days=offset)
            name = self.holiday(ahead)
            if name is not None:
                return ahead, name
        return None

    def is_blocked(self, day: date) -> bool:
        """A holiday, or one of the `block_days_before` days before one."""
        return self.holiday(day) is not None or self.holiday_ahead(day) is not None

    def is_business_day(self, day: date, weekdays: Collection[int] = MONDAY_TO_FRIDAY) -> bool:
        """A working weekday (0 = Monday) that is not a holiday; days before holidays count as working."""
        return day.weekday() in weekdays and self.holiday(day) is None
