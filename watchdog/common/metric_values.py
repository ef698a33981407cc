"""The daemon's metric values, kept in plain objects so recording one costs no Prometheus library.

Importing prometheus_client imports its exposition module, and with it ssl (OpenSSL's
libcrypto), urllib.request, http.server, wsgiref and gzip: about 7 MB of a daemon's idle
memory, paid even by the many installs that are never scraped. So the daemon records its
numbers here, in families of series keyed by their label values, and only the first scrape
imports prometheus_client (watchdog.service.exposition), which turns what `Recorder.collect()`
yields into metric families the way client_python documents for values an application owns
("custom collectors").

A family is named and documented as in Prometheus (a counter's name may end in `_total`,
the exposition adds the suffix when it does not); `labels(*values)` returns the series of
those label values, created at 0 on first use, as client_python's `labels()` does; a family
without labels has its one series from the start, so it is exported (at 0) before anything
was recorded. Callers that record often keep the series they looked up.

Thread safety: the check runner, the main loop, the outbox's delivery threads and the API
threads record and read concurrently; each family has one lock, taken by every update of its
series and by `snapshot()`, so a scrape sees each family consistent (a histogram's buckets,
sum and count of the same observations).
"""

from __future__ import annotations

import bisect
import math
import threading
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Generic, TypeVar


class CounterSeries:
    """One counter series: only goes up."""

    def __init__(self, lock: threading.Lock) -> None:
        self._lock = lock
        self._value = 0.0

    def inc(self, amount: float = 1.0) -> None:
        if amount < 0:
            raise ValueError("a counter only goes up")
        with self._lock:
            self._value += amount

    def read(self) -> float:
        """The value; the caller holds the family's lock (`Family.snapshot`)."""
        return self._value


class GaugeSeries:
    """One gauge series: the latest value set."""

    def __init__(self, lock: threading.Lock) -> None:
        self._lock = lock
        self._value = 0.0

    def set(self, value: float) -> None:
        with self._lock:
            self._value = float(value)

    def read(self) -> float:
        """The value; the caller holds the family's lock (`Family.snapshot`)."""
        return self._value


@dataclass(frozen=True)
class HistogramCounts:
    """A histogram series as Prometheus exports it: `buckets` pairs each upper bound (the
    last is +Inf) with the number of observations at or below it (cumulative)."""

    buckets: tuple[tuple[float, float], ...]
    sum: float


class HistogramSeries:
    """One histogram series: observations counted in fixed buckets, and their sum."""

    def __init__(self, lock: threading.Lock, bounds: tuple[float, ...]) -> None:
        self._lock = lock
        self._bounds = bounds
        self._counts = [0.0] * len(bounds)
        self._sum = 0.0

    def observe(self, value: float) -> None:
        # the first bound >= value: Prometheus buckets are "less than or equal"
        index = bisect.bisect_left(self._bounds, value)
        with self._lock:
            self._counts[index] += 1
            self._sum += value

    def read(self) -> HistogramCounts:
        """The cumulative counts; the caller holds the family's lock (`Family.snapshot`)."""
        total = 0.0
        buckets = []
        for bound, count in zip(self._bounds, self._counts, strict=True):
            total += count
            buckets.append((bound, total))
        return HistogramCounts(tuple(buckets), self._sum)


S = TypeVar("S", CounterSeries, GaugeSeries, HistogramSeries)
V = TypeVar("V", float, HistogramCounts)


class Family(Generic[S, V]):
    """A named metric and its series by label values (see the module docstring)."""

    def __init__(self, name: str, documentation: str, labelnames: Sequence[str] = ()) -> None:
        self.name = name
        self.documentation = documentation
        self.labelnames = tuple(labelnames)
        self._lock = threading.Lock()
        self._series: dict[tuple[str, ...], S] = {}
        if not self.labelnames:
            self._series[()] = self._new_series()

    def _new_series(self) -> S:
        raise NotImplementedError

    @staticmethod
    def _read(series: S) -> V:
        """`series.read()`, typed per family (a series' value type follows its family's)."""
        raise NotImplementedError

    def labels(self, *values: str) -> S:
        """The series of these label values (one per label name, in order), created at 0."""
        if len(values) != len(self.labelnames):
            raise ValueError(f"{self.name} takes labels {self.labelnames}, got {values}")
        with self._lock:
            series = self._series.get(values)
            if series is None:
                series = self._series[values] = self._new_series()
            return series

    def remove(self, **match: str) -> None:
        """Drops every series whose labels include `match` (a check removed by a reload);
        without `match`, every series (a family without labels then has no sample)."""
        positions = [(self.labelnames.index(label), value) for label, value in match.items()]
        with self._lock:
            for values in [v for v in self._series if all(v[i] == value for i, value in positions)]:
                del self._series[values]

    def snapshot(self) -> list[tuple[tuple[str, ...], V]]:
        """Every series' label values and value, read together under the family's lock."""
        with self._lock:
            return [(values, self._read(series)) for values, series in self._series.items()]


class CounterFamily(Family[CounterSeries, float]):
    @staticmethod
    def _read(series: CounterSeries) -> float:
        return series.read()

    def _new_series(self) -> CounterSeries:
        return CounterSeries(self._lock)


class GaugeFamily(Family[GaugeSeries, float]):
    @staticmethod
    def _read(series: GaugeSeries) -> float:
        return series.read()

    def _new_series(self) -> GaugeSeries:
        return GaugeSeries(self._lock)


class HistogramFamily(Family[HistogramSeries, HistogramCounts]):
    def __init__(
        self, name: str, documentation: str, labelnames: Sequence[str] = (), *, buckets: Sequence[float]
    ) -> None:
        bounds = tuple(sorted(float(b) for b in buckets))
        self.bounds = bounds if bounds and bounds[-1] == math.inf else (*bounds, math.inf)
        super().__init__(name, documentation, labelnames)

    @staticmethod
    def _read(series: HistogramSeries) -> HistogramCounts:
        return series.read()

    def _new_series(self) -> HistogramSeries:
        return HistogramSeries(self._lock, self.bounds)


F = TypeVar("F", CounterFamily, GaugeFamily, HistogramFamily)
AnyFamily = CounterFamily | GaugeFamily | HistogramFamily

MetricSource = Callable[[], Iterable[AnyFamily]]
"""Families built when scraped from state that lives elsewhere (unresolved incidents, the
outbox's backlog), like client_python's process collector, so that nothing pushes those
numbers on every change and they are never stale."""


class Recorder:
    """Every metric of one daemon: the families it records into, and the sources read at
    scrape time, exported in the order they were added."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._sources: list[MetricSource] = []

    def counter(self, name: str, documentation: str, labelnames: Sequence[str] = ()) -> CounterFamily:
        return self._add(CounterFamily(name, documentation, labelnames))

    def gauge(self, name: str, documentation: str, labelnames: Sequence[str] = ()) -> GaugeFamily:
        return self._add(GaugeFamily(name, documentation, labelnames))

    def histogram(
        self, name: str, documentation: str, labelnames: Sequence[str] = (), *, buckets: Sequence[float]
    ) -> HistogramFamily:
        return self._add(HistogramFamily(name, documentation, labelnames, buckets=buckets))

    def read_at_scrape(self, source: MetricSource) -> None:
        """Adds `source`, called on every `collect()`."""
        with self._lock:
            self._sources.append(source)

    def collect(self) -> Iterable[AnyFamily]:
        with self._lock:
            sources = list(self._sources)
        for source in sources:
            yield from source()

    def _add(self, family: F) -> F:
        self.read_at_scrape(lambda: (family,))
        return family
