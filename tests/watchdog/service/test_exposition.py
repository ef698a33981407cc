"""A `Recorder` renders exactly as client_python's own Counter, Gauge and Histogram fed the same
values would (without their `_created` series): the library is the oracle for the format."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

from watchdog.common.metric_values import Recorder
from watchdog.service.exposition import registry_of, render


def without_created(text: bytes) -> bytes:
    """`text` without the `_created` series (written after their metric, with HELP and TYPE)."""

    def name(line: bytes) -> bytes:
        words = line.split(b" ")
        return words[2] if line.startswith(b"#") else words[0].split(b"{")[0]

    return b"".join(line for line in text.splitlines(keepends=True) if not name(line).endswith(b"_created"))


def test_a_recorder_renders_as_client_pythons_metrics_fed_the_same_values() -> None:
    recorder, oracle = Recorder(), CollectorRegistry()
    buckets = (0.005, 0.1, 1, 2.5, 30)

    runs = recorder.counter("t_runs_total", "Runs by status.", ["check", "status"])
    oracle_runs = Counter("t_runs_total", "Runs by status.", ["check", "status"], registry=oracle)
    sent = recorder.counter("t_sent", "Counter named without _total.", ["channel"])
    oracle_sent = Counter("t_sent", "Counter named without _total.", ["channel"], registry=oracle)
    recorder.counter("t_idle_total", "Never counted.")
    Counter("t_idle_total", "Never counted.", registry=oracle)
    status = recorder.gauge("t_status", "Status by check.", ["check"])
    oracle_status = Gauge("t_status", "Status by check.", ["check"], registry=oracle)
    recorder.gauge("t_unset", "Never set.")
    Gauge("t_unset", "Never set.", registry=oracle)
    recorder.gauge("t_empty", "Labelled, no series yet.", ["check"])
    Gauge("t_empty", "Labelled, no series yet.", ["check"], registry=oracle)
    duration = recorder.histogram("t_duration_seconds", "Durations by type.", ["type"], buckets=buckets)
    oracle_duration = Histogram("t_duration_seconds", "Durations by type.", ["type"], buckets=buckets, registry=oracle)
    lag = recorder.histogram("t_lag_seconds", "Lag.", buckets=buckets).labels()
    oracle_lag = Histogram("t_lag_seconds", "Lag.", buckets=buckets, registry=oracle)

    for check, outcome in [("a", "ok"), ("a", "ok"), ("b", "critical"), ("c", "ok")]:
        runs.labels(check, outcome).inc()
        oracle_runs.labels(check, outcome).inc()
    sent.labels("pager").inc(3)
    oracle_sent.labels("pager").inc(3)
    for check, value in [("a", 0), ("b", 3), ("c", 1.5e9), ("a", 2)]:
        status.labels(check).set(value)
        oracle_status.labels(check).set(value)
    # on a bound (counted in that bucket, `le`), between bounds, past the last, zero
    for kind, value in [("http", 0.1), ("http", 0.3), ("tcp", 45.0), ("tcp", 0.0), ("http", 1)]:
        duration.labels(kind).observe(value)
        oracle_duration.labels(kind).observe(value)
    for value in (0.004, 2.5):
        lag.observe(value)
        oracle_lag.observe(value)
    for family in (runs, status):
        family.remove(check="c")
    oracle_runs.remove("c", "ok")
    oracle_status.remove("c")

    assert render(registry_of(recorder)) == without_created(generate_latest(oracle))
