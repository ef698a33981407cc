"""The Prometheus text of a `Recorder`, rendered by prometheus_client.

The only module of the daemon that imports prometheus_client, and it is imported at the
first scrape of /metrics (watchdog.service.metrics.Metrics.render), so a daemon nobody
scrapes never loads the library, nor the ssl, urllib and http.server modules it imports
(see watchdog.common.metric_values). One collector on a private `CollectorRegistry` turns
each family the recorder yields into client_python's metric family of its type, so names,
HELP and TYPE lines, `le` labels and the text format are client_python's own. Counters and
histograms get no `_created` series: a timestamp per series that Prometheus stores as one
more series and no rule uses.
"""

from __future__ import annotations

from collections.abc import Iterable

from prometheus_client import CollectorRegistry
from prometheus_client.exposition import CONTENT_TYPE_PLAIN_0_0_4, generate_latest
from prometheus_client.metrics_core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily, Metric
from prometheus_client.registry import Collector
from prometheus_client.utils import floatToGoString

from watchdog.common.metric_values import AnyFamily, CounterFamily, GaugeFamily, Recorder

CONTENT_TYPE = CONTENT_TYPE_PLAIN_0_0_4
"""Text format 0.0.4: what every Prometheus 2.x scrapes."""


def registry_of(recorder: Recorder) -> CollectorRegistry:
    """A registry that reads `recorder` on every collect."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(_RecorderCollector(recorder))
    return registry


def render(registry: CollectorRegistry) -> bytes:
    return generate_latest(registry)


class _RecorderCollector(Collector):
    def __init__(self, recorder: Recorder) -> None:
        self._recorder = recorder

    def collect(self) -> Iterable[Metric]:
        return [metric_family(family) for family in self._recorder.collect()]


def metric_family(family: AnyFamily) -> Metric:
    """client_python's family of `family`'s type with a sample per series."""
    labels = family.labelnames
    if isinstance(family, CounterFamily):
        counter = CounterMetricFamily(family.name, family.documentation, labels=labels)
        for values, value in family.snapshot():
            counter.add_metric(values, value)
        return counter
    if isinstance(family, GaugeFamily):
        gauge = GaugeMetricFamily(family.name, family.documentation, labels=labels)
        for values, value in family.snapshot():
            gauge.add_metric(values, value)
        return gauge
    histogram = HistogramMetricFamily(family.name, family.documentation, labels=labels)
    for values, counts in family.snapshot():
        histogram.add_metric(values, [(_le(bound), n) for bound, n in counts.buckets], counts.sum)
    return histogram


def _le(bound: float) -> str:
    """`le` as client_python's Histogram writes it (1 -> "1.0", inf -> "+Inf")."""
    text: str = floatToGoString(bound)  # type: ignore[no-untyped-call]  # untyped in prometheus_client
    return text
