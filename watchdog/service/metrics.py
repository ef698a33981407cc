"""The daemon's own Prometheus metrics: recorded in plain objects, rendered when scraped.

`Metrics` and `IncidentCounters` record into the daemon's `Recorder`
(watchdog.common.metric_values), whose families cost no Prometheus library: prometheus_client
is imported at the first scrape of /metrics only (`Metrics.render`, watchdog.service.exposition),
so the many installs that never scrape never load it nor the ssl and HTTP modules it imports
(about 7 MB of idle memory). The incident engine's events are counted by `IncidentCounters`
(its `IncidentObserver`) and the outbox counts deliveries, all in the same recorder
(`watchdog.service.wiring.build_engine(..., recorder=...)`). Names follow Prometheus'
conventions (and pass `promtool check metrics`): `shop_watchdog_` prefix, one base unit per
metric named at its end (`_seconds`, `_bytes`, `_ratio`), `_total` counters, and no
`_created` series. The daemon sets no `instance` or `host` label: Prometheus sets `instance`
to the address it scrapes, and the shipped scrape config adds `host`
(config/prometheus/example/prometheus.yml).

A check's status is exported by rank, so that `max()` over checks or servers is the worst:
0 OK, 1 WARNING, 2 UNKNOWN, 3 CRITICAL (checks.base.Status.rank; not the plugin exit codes).
A check's measurements (checks.base.CheckResult) go to the family of the unit their key
ends in: `response_seconds` is `shop_watchdog_check_measurement_seconds{measurement="response"}`,
likewise `_bytes` and `_ratio`; keys without a unit (counts, codes) go to
`shop_watchdog_check_measurement`.

Three kinds of metrics: `Metrics` records check results as they come; `IncidentCounters`
counts the incident engine's domain events; `incident_state`, `outbox_state` and
`store_state` read what mirrors state (unresolved incidents by state and severity, silences
and their ends, pending notifications and the oldest one's age, the state store's health)
when Prometheus scrapes, like client_python's process collector, so nothing pushes those
numbers on every result and they are never stale.

Per-check series are labelled `check`; series of a check removed by a reload are dropped.
Run durations are a histogram by check *type* (not per check: 1,000 checks x buckets would
be a cardinality bomb); the last duration per check is a gauge.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import TYPE_CHECKING, Protocol

from checks.base import Status
from watchdog.common.incident_terms import IncidentState, Severity
from watchdog.common.metric_values import AnyFamily, CounterSeries, GaugeFamily, GaugeSeries, MetricSource, Recorder
from watchdog.common.status_document import OutboxSummary
from watchdog.config.model import CheckSpec
from watchdog.delivery.notification import Kind
from watchdog.monitor.checkstate import CheckState
from watchdog.storage.database import StoreHealth

if TYPE_CHECKING:
    from prometheus_client import CollectorRegistry

_MEASUREMENT_RE = re.compile(r"[^a-zA-Z0-9_]")
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
    """Every metric the scheduler, runner and main loop export, in `recorder`, which the
    incident side records into too (`build_engine`)."""

    def __init__(self, version: str) -> None:
        self.recorder = Recorder()
        r = self.recorder
        self._exposition: CollectorRegistry | None = None
        self._exposition_lock = threading.Lock()
        r.gauge("shop_watchdog_build_info", "Version of the running daemon (value 1).", ["version"]).labels(
            version
        ).set(1)
        self.checks = r.gauge("shop_watchdog_checks", "Number of configured checks.").labels()
        self.status = r.gauge(
            "shop_watchdog_check_status",
            "Latest status of a check, ranked so max() is the worst: 0 OK, 1 WARNING, 2 UNKNOWN, 3 CRITICAL.",
            ["check"],
        )
        self.info = r.gauge(
            "shop_watchdog_check_info",
            "Configured checks (value 1) with their type and severity.",
            ["check", "type", "severity"],
        )
        self.hard = r.gauge(
            "shop_watchdog_check_hard", "1 when the check's status is confirmed (hard), 0 while soft.", ["check"]
        )
        self.failures = r.gauge(
            "shop_watchdog_check_consecutive_failures", "Consecutive non-OK results of a check.", ["check"]
        )
        self.last_run = r.gauge(
            "shop_watchdog_check_last_run_timestamp_seconds", "Unix time of the check's latest result.", ["check"]
        )
        self.last_duration = r.gauge(
            "shop_watchdog_check_last_duration_seconds", "Duration of the check's latest run.", ["check"]
        )
        self.duration = r.histogram(
            "shop_watchdog_check_duration_seconds",
            "Duration of check runs by check type.",
            ["type"],
            buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
        )
        self.runs = r.counter(
            "shop_watchdog_check_runs_total", "Finished check runs by resulting status.", ["check", "status"]
        )
        self.timeouts = r.counter(
            "shop_watchdog_check_timeouts_total", "Check runs that exceeded their timeout.", ["check"]
        )
        self.skipped = r.counter(
            "shop_watchdog_check_skipped_runs_total",
            "Due runs not started because the previous run of the check was still in flight.",
            ["check"],
        )
        self.measurements = {
            unit: r.gauge(
                "shop_watchdog_check_measurement" + (f"_{unit}" if unit else ""),
                _MEASUREMENT_HELP[unit],
                ["check", "measurement"],
            )
            for unit in (*_UNITS, "")
        }
        self.lag = r.histogram(
            "shop_watchdog_scheduler_lag_seconds",
            "Delay between a check's due time and the start of its run.",
            buckets=(0.001, 0.005, 0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5),
        ).labels()
        self.loop_timestamp = r.gauge(
            "shop_watchdog_loop_last_iteration_timestamp_seconds", "Unix time of the main loop's latest iteration."
        ).labels()
        self.hanging = r.gauge(
            "shop_watchdog_hanging_runs", "Runs past their timeout whose thread has not returned."
        ).labels()
        self.threads = r.gauge("shop_watchdog_worker_threads", "Worker threads started by the runner.").labels()
        self.reloads = r.counter("shop_watchdog_config_reloads_total", "Config reloads by result.", ["result"])
        # Prometheus' own names for the same facts (prometheus_config_last_reload_successful):
        # the config loaded at start counts as a successful reload.
        self.reload_ok = r.gauge(
            "shop_watchdog_config_last_reload_successful",
            "1 when the last config (re)load succeeded, 0 when it failed and the previous config still runs.",
        ).labels()
        self.reload_ok_at = r.gauge(
            "shop_watchdog_config_last_reload_success_timestamp_seconds",
            "Unix time of the last successful config (re)load.",
        ).labels()
        self._children: dict[str, _CheckChildren] = {}

    def configure(self, specs: list[CheckSpec], forget: list[str]) -> None:
        """Sets the configured checks; `forget` names checks removed or changed by a reload."""
        for name in forget:
            self._forget(name)
        self.info.remove()
        for spec in specs:
            self.info.labels(spec.name, spec.type, spec.severity).set(1)
        self.checks.set(len(specs))

    def _forget(self, name: str) -> None:
        self._children.pop(name, None)
        families: tuple[AnyFamily, ...] = (
            self.status,
            self.hard,
            self.failures,
            self.last_run,
            self.last_duration,
            self.timeouts,
            self.skipped,
            self.runs,
            *self.measurements.values(),
        )
        for family in families:
            family.remove(check=name)

    def observe(self, spec: CheckSpec, state: CheckState, timed_out: bool) -> None:
        """Records one result. Series are cached per check: a 1,000-check daemon records
        ~100 results a second, and a lookup by labels costs more than the update."""
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
                child = children.values[key] = self.measurements[unit].labels(name, measurement)
            child.set(number)

    def render(self) -> tuple[bytes, str]:
        """The Prometheus text of every metric in the recorder, and its content type. The
        first call imports prometheus_client (see the module docstring)."""
        from watchdog.service import exposition  # first scrape only: the library costs ~7 MB

        with self._exposition_lock:
            if self._exposition is None:
                self._exposition = exposition.registry_of(self.recorder)
        return exposition.render(self._exposition), exposition.CONTENT_TYPE


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
        self.runs: dict[int, CounterSeries] = {}
        self.timeouts = metrics.timeouts.labels(name)
        self.values: dict[str, GaugeSeries] = {}


class IncidentCounters:
    """The incident engine's domain events as counters (its `IncidentObserver`)."""

    def __init__(self, recorder: Recorder) -> None:
        r = recorder
        self._opened = r.counter(
            "shop_watchdog_incidents_opened_total", "Incidents opened, by check and severity.", ["check", "severity"]
        )
        self._restarts = r.counter(
            "shop_watchdog_restarts_total",
            "Restarts run by the daemon, by check and result (ok, failed, timeout, error).",
            ["check", "result"],
        )
        self._repairs = r.counter(
            "shop_watchdog_auto_repairs_total",
            "Incidents closed by a restart that fixed the check (no page).",
            ["check"],
        )
        self._pages = r.counter(
            "shop_watchdog_pages_total", "Incidents that paged people, by check and severity.", ["check", "severity"]
        )
        self._messages = r.counter(
            "shop_watchdog_incident_messages_total",
            "Messages handed to the outbox, by kind (trigger, reminder, escalation, resolve).",
            ["kind"],
        )
        self._give_ups = r.counter(
            "shop_watchdog_restart_give_ups_total",
            "Failures not restarted because the restart budget was used up.",
            ["check"],
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
    """What `incident_state` reads from the incident engine (thread-safe reads)."""

    def open_counts(self) -> Mapping[tuple[IncidentState, Severity], int]: ...

    def silence_ends(self) -> Mapping[str, datetime]: ...


class OutboxGauges(Protocol):
    """What `outbox_state` reads: the outbox, or the engine's pager in front of it."""

    def snapshot(self) -> OutboxSummary: ...


class StoreGauges(Protocol):
    """What `store_state` reads: the state database (watchdog.storage.database.Database)."""

    def health(self) -> StoreHealth: ...


def incident_state(incidents: IncidentGauges) -> MetricSource:
    """Unresolved incidents by state and severity, and the silences, read from the engine at
    scrape time. A silence still listed after its end means the loop that ends silences is
    stuck (the shipped rule ShopWatchdogSilencePastExpiry watches for it)."""

    def read() -> Iterable[GaugeFamily]:
        open_now = GaugeFamily(
            "shop_watchdog_incidents_open", "Unresolved incidents by state and severity.", ["state", "severity"]
        )
        silences = GaugeFamily("shop_watchdog_silences_active", "Checks currently silenced.")
        ends = GaugeFamily(
            "shop_watchdog_check_silenced_until_timestamp_seconds",
            "Unix time the silence of a silenced check ends.",
            ["check"],
        )
        for (state, severity), count in incidents.open_counts().items():
            open_now.labels(state.value, severity.value).set(count)
        silenced = incidents.silence_ends()
        silences.labels().set(len(silenced))
        for check, until in silenced.items():
            ends.labels(check).set(until.timestamp())
        return open_now, silences, ends

    return read


def outbox_state(outbox: OutboxGauges) -> MetricSource:
    """Notifications not yet delivered and how long the oldest waits, read from the outbox at
    scrape time (the oldest's timestamp only while something is pending)."""

    def read() -> Iterable[GaugeFamily]:
        pending = GaugeFamily("shop_watchdog_outbox_pending", "Notifications written but not yet delivered.")
        oldest = GaugeFamily(
            "shop_watchdog_outbox_oldest_pending_timestamp_seconds",
            "Unix time the oldest undelivered notification was written.",
        )
        snapshot = outbox.snapshot()
        pending.labels().set(snapshot["pending"])
        oldest_at = snapshot.get("oldest_pending_at")
        if oldest_at:
            oldest.labels().set(datetime.fromisoformat(oldest_at).timestamp())
        else:
            oldest.remove()  # no sample while nothing is pending
        return pending, oldest

    return read


def store_state(store: StoreGauges) -> MetricSource:
    """The state store's health, read at scrape time: whether it writes to disk or keeps
    changes in memory, how many it keeps, whether its reserve is in place."""

    def read() -> Iterable[GaugeFamily]:
        writing = GaugeFamily(
            "shop_watchdog_state_store_writing",
            "1 while the state store writes to disk, 0 while it keeps changes in memory.",
        )
        unsaved = GaugeFamily(
            "shop_watchdog_state_store_unsaved_transactions", "Transactions kept in memory, not yet written to disk."
        )
        reserve = GaugeFamily(
            "shop_watchdog_state_store_reserve", "1 while the reserve file that makes room on a full disk is in place."
        )
        health = store.health()
        writing.labels().set(int(health.writing))
        unsaved.labels().set(health.unsaved)
        reserve.labels().set(int(health.reserve))
        return writing, unsaved, reserve

    return read
