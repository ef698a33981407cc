"""How main() assembles the daemon's incident engine from its layers.

The engine decides; storage, delivery and the metrics that count its events are built here
and handed to it, so the incident layer never constructs a database, a transport or a
metric itself. The gauges that mirror its state are read from it at scrape time.
"""

from __future__ import annotations

from collections.abc import Callable

from prometheus_client import CollectorRegistry

from watchdog.common.clock import Clock
from watchdog.config.model import WatchdogConfig
from watchdog.delivery.pager import OutboxPager
from watchdog.incidents.engine import IncidentEngine
from watchdog.monitor.checkstate import Rechecker, ResultSink
from watchdog.service.metrics import IncidentCounters, IncidentStateCollector, OutboxCollector
from watchdog.storage.state import StateStore


def build_engine(
    config: WatchdogConfig,
    *,
    clock: Clock,
    recheck: Rechecker,
    registry: CollectorRegistry,
    wake: Callable[[], None] = lambda: None,
) -> ResultSink:
    """The daemon's incident engine: state database, channels, outbox (started), engine, and
    its metrics on `registry`.

    `wake` wakes the daemon's loop when work is waiting for its next `tick()` (a finished restart)."""
    store = StateStore(config.state_dir)
    pager = OutboxPager(config, clock, registry)
    engine = IncidentEngine(
        config,
        clock=clock,
        recheck=recheck,
        store=store,
        pager=pager,
        observer=IncidentCounters(registry),
        wake=wake,
    )
    registry.register(IncidentStateCollector(engine))
    registry.register(OutboxCollector(pager))
    return engine
