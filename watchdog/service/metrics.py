"""The daemon's own Prometheus metrics, on a private registry.

A private `CollectorRegistry` (never the process-global default) so that tests and a
reloaded daemon never see duplicate registrations, and so the incident side adds its metrics
to the same registry (`watchdog.service.wiring.build_engine(..., registry=...)`). Names
follow Prometheus' conventions (and pass `promtool check metrics`): `shop_watchdog_` prefix,
one base unit per metric named at its end (`_seconds`, `_bytes`, `_ratio`), `_total`
counters, and no `_created` series (client_python adds them to counters and histograms;
`render()` leaves them out without touching its process-wide switch). The daemon sets no
`instance` or `host` label: Prometheus sets `instance` to the address it scrapes, and the
shipped scrape config adds `host` (config/prometheus/example/prometheus.yml).

A check's status is exported by rank, so that `max()` over checks or servers is the worst:
0 OK, 1 WARNING, 2 UNKNOWN, 3 CRITICAL (checks.base.Status.rank; not the plugin exit codes).
A check's measurements (checks.base.CheckResult) go to the family of the unit their key
ends in: `response_seconds` is `shop_watchdog_check_measurement_seconds{measurement="response"}`,
likewise `_bytes` and `_ratio`; keys without a unit (counts, codes) go to
`shop_watchdog_check_measurement`.

Three kinds of metrics: `Metrics` records check results as they come; `IncidentCounters`
counts the incident engine's domain events (it is the engine's `IncidentObserver`);
`IncidentStateCollector`, `OutboxCollector` and `StoreCollector` read what mirrors state
(unresolved incidents by state and severity, silences and their ends, pending notifications
and the oldest one's age, the state store's health) when Prometheus scrapes, like
client_python's process collector, so nothing pushes those numbers on every result and
they are never stale.

Per-check series are labelled `check`; series of a check removed by a reload are dropped.
Run durations are a histogram by check *type* (not per check: 1,000 checks x buckets would
be a cardinality bomb); the last duration per check is a gauge.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Protocol

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.exposition import generate_latest
from prometheus_client.metrics_core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from checks.base import Status
from watchdog.common.incident_terms import IncidentState, Severity
from watchdog.common.status_document import OutboxSummary
from watchdog.config.model import CheckSpec
from watchdog.delivery.notification import Kind
from watchdog.monitor.checkstate import CheckState
from watchdog.storage.database import StoreHealth

_MEASUREMENT_RE = re.compile(r"[^a-zA-Z0-9_]")
_STATUSES = ("ok", "warning", "critical", "unknown")
_UNITS = ("seconds", "bytes", "ratio")
_MEASUREMENT_HELP = {
    "seconds": "Times a check measured in its latest run (response, connect, cert_expiry...), in seconds.",
    "bytes": "Sizes a check measured in its latest run (used, available, used_memory...), in bytes.",
    "ratio": "Shares of a limit a check measured in its latest run (used, inodes_used, connections...), 0 to 1.",
    "": "Counts and codes a check measured in its latest run (connections, processes, status_code...).",
}


def measurement_family(key: str) -> tuple[str, str]:
    """(unit, measurement label) of a measurement key: `used_ratio` -> ("ratio", "used");
    a key without a unit suffix keeps its name, unit ""."""
    name = _MEASUREMENT_RE.sub("_", key)
    for unit in _UNITS:
        if name.endswith("_" + unit) and len(name) > len(unit) + 1:
            return unit, name.removesuffix("_" + unit)
    return "", name


class Metrics:
    """Every metric the scheduler, runner and main loop export."""

    def __init__(self, version: str, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry if registry is not None else CollectorRegistry(auto_describe=True)
        r = self.registry
        self.build_info = Gauge(
            "shop_watchdog_build_info", "Version of the running daemon (value 1).", ["version"], registry=r
        )
        self.build_info.labels(version).set(1)
        self.checks = Gauge("shop_watchdog_checks", "Number of configured checks.", registry=r)
        self.status = Gauge(
            "shop_watchdog_check_status",
            "Latest status of a check, ranked so max() is the worst: 0 OK, 1 WARNING, 2 UNKNOWN, 3 CRITICAL.",
            ["check"],
            registry=r,
        )
        self.info = Gauge(
            "shop_watchdog_check_info",
            "Configured checks (value 1) with their type and severity.",
            ["check", "type", "severity"],
            registry=r,
        )
        self.hard = Gauge(
            "shop_watchdog_check_hard",
            "1 when the check's status is confirmed (hard), 0 while soft.",
            ["check"],
            registry=r,
        )
        self.failures = Gauge(
            "shop_watchdog_check_consecutive_failures", "Consecutive non-OK results of a check.", ["check"], registry=r
        )
        self.last_run = Gauge(
            "shop_watchdog_check_last_run_timestamp_seconds",
            "Unix time of the check's latest result.",
            ["check"],
            registry=r,
        )
        self.last_duration = Gauge(
            "shop_watchdog_check_last_duration_seconds", "Duration of the check's latest run.", ["check"], registry=r
        )
        self.duration = Histogram(
            "shop_watchdog_check_duration_seconds",
            "Duration of check runs by check type.",
            ["type"],
            buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
            registry=r,
        )
        self.runs = Counter(
            "shop_watchdog_check_runs_total",
            "Finished check runs by resulting status.",
            ["check", "status"],
            registry=r,
        )
        self.timeouts = Counter(
            "shop_watchdog_check_timeouts_total", "Check runs that exceeded their timeout.", ["check"], registry=r
        )
        self.skipped = Counter(
            "shop_watchdog_check_skipped_runs_total",
            "Due runs not started because the previous run of the check was still in flight.",
            ["check"],
            registry=r,
        )
        self.measurements = {
            unit: Gauge(
                "shop_watchdog_check_measurement" + (f"_{unit}" if unit else ""),
                _MEASUREMENT_HELP[unit],
                ["check", "measurement"],
                registry=r,
            )
            for unit in (*_UNITS, "")
        }
        self.lag = Histogram(
            "shop_watchdog_scheduler_lag_seconds",
            "Delay between a check's due time and the start of its run.",
            buckets=(0.001, 0.005, 0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5),
            registry=r,
        )
        self.loop_timestamp = Gauge(
            "shop_watchdog_loop_last_iteration_timestamp_seconds",
            "Unix time of the main loop's latest iteration.",
            registry=r,
        )
        self.hanging = Gauge(
            "shop_watchdog_hanging_runs", "Runs past their timeout whose thread has not returned.", registry=r
        )
        self.threads = Gauge("shop_watchdog_worker_threads", "Worker threads started by the runner.", registry=r)
        self.reloads = Counter(
            "shop_watchdog_config_reloads_total", "Config reloads by result.", ["result"], registry=r
        )
        # Prometheus' own names for the same facts (prometheus_config_last_reload_successful):
        # the config loaded at start counts as a successful reload.
        self.reload_ok = Gauge(
            "shop_watchdog_config_last_reload_successful",
            "1 when the last config (re)load succeeded, 0 when it failed and the previous config still runs.",
            registry=r,
        )
        self.reload_ok_at = Gauge(
            "shop_watchdog_config_last_reload_success_timestamp_seconds",
            "Unix time of the last successful config (re)load.",
            registry=r,
        )
        self._measured: dict[str, set[tuple[str, str]]] = {}
        self._children: dict[str, _CheckChildren] = {}

    def configure(self, specs: list[CheckSpec], forget: list[str]) -> None:
        """Sets the configured checks; `forget` names checks removed or changed by a reload."""
        for name in forget:
            self._forget(name)
        self.info.clear()
        for spec in specs:
            self.info.labels(spec.name, spec.type, spec.severity).set(1)
        self.checks.set(len(specs))

    def _forget(self, name: str) -> None:
        self._children.pop(name, None)
        for metric in (
            self.status,
            self.hard,
            self.failures,
            self.last_run,
            self.last_duration,
            self.timeouts,
            self.skipped,
        ):
            _remove(metric, name)
        for status in _STATUSES:
            _remove(self.runs, name, status)
        for unit, measurement in self._measured.pop(name, set()):
            _remove(self.measurements[unit], name, measurement)

    def observe(self, spec: CheckSpec, state: CheckState, timed_out: bool) -> None:
        """Records one result. Label children are cached per check: `labels()` costs more
        than the update, and a 1,000-check daemon records ~100 results a second."""
        name = spec.name
        children = self._children.get(name)
        if children is None or children.type != spec.type:
            children = self._children[name] = _CheckChildren(self, name, spec.type)
        children.status.set(state.status.rank)
        children.hard.set(1 if state.hard else 0)
        children.failures.set(state.failures)
        children.last_run.set(state.last_run.timestamp())
        children.last_duration.set(state.duration)
        children.duration.observe(state.duration)
        status = int(state.status)
        run_counter = children.runs.get(status)
        if run_counter is None:
            run_counter = children.runs[status] = self.runs.labels(name, Status(status).name.lower())
        run_counter.inc()
        if timed_out:
            children.timeouts.inc()
        for key, number in state.measurements.items():
            child = children.values.get(key)
            if child is None:
                unit, measurement = measurement_family(key)
                self._measured.setdefault(name, set()).add((unit, measurement))
                child = children.values[key] = self.measurements[unit].labels(name, measurement)
            child.set(number)

    def render(self) -> bytes:
        return generate_latest(_WithoutCreated(self.registry))


class _WithoutCreated(Collector):
    """The registry's metrics without the `_created` samples of counters and histograms: a
    timestamp per series that Prometheus stores as one more series and no rule uses."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self._registry = registry

    def collect(self) -> Iterable[Metric]:
        for metric in self._registry.collect():  # fresh objects on every collect: ours to trim
            created = metric.name + "_created"
            metric.samples = [sample for sample in metric.samples if sample.name != created]
            yield metric


class _CheckChildren:
    """The labelled series of one check, looked up once."""

    def __init__(self, metrics: Metrics, name: str, check_type: str) -> None:
        self.type = check_type
        self.status = metrics.status.labels(name)
        self.hard = metrics.hard.labels(name)
        self.failures = metrics.failures.labels(name)
        self.last_run = metrics.last_run.labels(name)
        self.last_duration = metrics.last_duration.labels(name)
        self.duration = metrics.duration.labels(check_type)
        self.runs: dict[int, Counter] = {}
        self.timeouts = metrics.timeouts.labels(name)
        self.values: dict[str, Gauge] = {}


def _remove(metric: Gauge | Counter, *labels: str) -> None:
    with contextlib.suppress(KeyError):
        metric.remove(*labels)


class IncidentCounters:
    """The incident engine's domain events as Prometheus counters (its `IncidentObserver`)."""

    def __init__(self, registry: CollectorRegistry) -> None:
        r = registry
        self._opened = Counter(
            "shop_watchdog_incidents_opened_total",
            "Incidents opened, by check and severity.",
            ["check", "severity"],
            registry=r,
        )
        self._restarts = Counter(
            "shop_watchdog_restarts_total",
            "Restarts run by the daemon, by check and result (ok, failed, timeout, error).",
            ["check", "result"],
            registry=r,
        )
        self._repairs = Counter(
            "shop_watchdog_auto_repairs_total",
            "Incidents closed by a restart that fixed the check (no page).",
            ["check"],
            registry=r,
        )
        self._pages = Counter(
            "shop_watchdog_pages_total",
            "Incidents that paged people, by check and severity.",
            ["check", "severity"],
            registry=r,
        )
        self._messages = Counter(
            "shop_watchdog_incident_messages_total",
            "Messages handed to the outbox, by kind (trigger, reminder, escalation, resolve).",
            ["kind"],
            registry=r,
        )
        self._give_ups = Counter(
            "shop_watchdog_restart_give_ups_total",
            "Failures not restarted because the restart budget was used up.",
            ["check"],
            registry=r,
        )

    def opened(self, check: str, severity: Severity) -> None:
        self._opened.labels(check, severity.value).inc()

    def restart_finished(self, check: str, result: str) -> None:
        self._restarts.labels(check, result).inc()

    def auto_repaired(self, check: str) -> None:
        self._repairs.labels(check).inc()

    def gave_up(self, check: str) -> None:
        self._give_ups.labels(check).inc()

    def paged(self, check: str, severity: Severity) -> None:
        self._pages.labels(check, severity.value).inc()

    def message_queued(self, kind: Kind) -> None:
        self._messages.labels(kind).inc()


class IncidentGauges(Protocol):
    """What `IncidentStateCollector` reads from the incident engine (thread-safe reads)."""

    def open_counts(self) -> Mapping[tuple[IncidentState, Severity], int]: ...

    def silence_ends(self) -> Mapping[str, datetime]: ...


class OutboxGauges(Protocol):
    """What `OutboxCollector` reads: the outbox, or the engine's pager in front of it."""

    def snapshot(self) -> OutboxSummary: ...


class IncidentStateCollector(Collector):
    """Unresolved incidents by state and severity, and the silences, read from the engine at
    scrape time. A silence still listed after its end means the loop that ends silences is
    stuck (the shipped rule ShopWatchdogSilencePastExpiry watches for it)."""

    def __init__(self, incidents: IncidentGauges) -> None:
        self._incidents = incidents

    def describe(self) -> Iterable[Metric]:
        """The families without samples: registering must not read the engine."""
        return self._families()

    def collect(self) -> Iterable[Metric]:
        open_now, silences, ends = self._families()
        for (state, severity), count in self._incidents.open_counts().items():
            open_now.add_metric([state.value, severity.value], count)
        silenced = self._incidents.silence_ends()
        silences.add_metric([], len(silenced))
        for check, until in silenced.items():
            ends.add_metric([check], until.timestamp())
        return open_now, silences, ends

    @staticmethod
    def _families() -> tuple[GaugeMetricFamily, GaugeMetricFamily, GaugeMetricFamily]:
        return (
            GaugeMetricFamily(
                "shop_watchdog_incidents_open",
                "Unresolved incidents by state and severity.",
                labels=["state", "severity"],
            ),
            GaugeMetricFamily("shop_watchdog_silences_active", "Checks currently silenced."),
            GaugeMetricFamily(
                "shop_watchdog_check_silenced_until_timestamp_seconds",
                "Unix time the silence of a silenced check ends.",
                labels=["check"],
            ),
        )


class OutboxCollector(Collector):
    """Notifications not yet delivered and how long the oldest waits, read from the outbox at
    scrape time (the oldest's timestamp only while something is pending)."""

    def __init__(self, outbox: OutboxGauges) -> None:
        self._outbox = outbox

    def describe(self) -> Iterable[Metric]:
        return self._families()

    def collect(self) -> Iterable[Metric]:
        pending, oldest = self._families()
        snapshot = self._outbox.snapshot()
        pending.add_metric([], snapshot["pending"])
        oldest_at = snapshot.get("oldest_pending_at")
        if oldest_at:
            oldest.add_metric([], datetime.fromisoformat(oldest_at).timestamp())
        return pending, oldest

    @staticmethod
    def _families() -> tuple[GaugeMetricFamily, GaugeMetricFamily]:
        return (
            GaugeMetricFamily("shop_watchdog_outbox_pending", "Notifications written but not yet delivered."),
            GaugeMetricFamily(
                "shop_watchdog_outbox_oldest_pending_timestamp_seconds",
                "Unix time the oldest undelivered notification was written.",
            ),
        )


class StoreGauges(Protocol):
    """What `StoreCollector` reads: the state database (watchdog.storage.database.Database)."""

    def health(self) -> StoreHealth: ...


class StoreCollector(Collector):
    """The state store's health, read at scrape time: whether it writes to disk or keeps
    changes in memory, how many it keeps, whether its reserve is in place."""

    def __init__(self, store: StoreGauges) -> None:
        self._store = store

    def describe(self) -> Iterable[Metric]:
        return self._families()

    def collect(self) -> Iterable[Metric]:
        writing, unsaved, reserve = self._families()
        health = self._store.health()
        writing.add_metric([], int(health.writing))
        unsaved.add_metric([], health.unsaved)
        reserve.add_metric([], int(health.reserve))
        return writing, unsaved, reserve

    @staticmethod
    def _families() -> tuple[GaugeMetricFamily, GaugeMetricFamily, GaugeMetricFamily]:
        return (
            GaugeMetricFamily(
                "shop_watchdog_state_store_writing",
                "1 while the state store writes to disk, 0 while it keeps changes in memory.",
            ),
            GaugeMetricFamily(
                "shop_watchdog_state_store_unsaved_transactions",
                "Transactions kept in memory, not yet written to disk.",
            ),
            GaugeMetricFamily(
                "shop_watchdog_state_store_reserve",
                "1 while the reserve file that makes room on a full disk is in place.",
            ),
        )
