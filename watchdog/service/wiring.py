"""How main() assembles the daemon's incident engine from its layers.

The engine decides; storage and delivery are built here and handed to it, so the incident
layer never constructs a database or a transport itself.
"""

from __future__ import annotations

from collections.abc import Callable

from prometheus_client import CollectorRegistry

from watchdog.common.clock import Clock
from watchdog.config.model import WatchdogConfig
from watchdog.delivery.pager import OutboxPager
from watchdog.incidents.engine import IncidentEngine
from watchdog.monitor.checkstate import Rechecker, ResultSink
from watchdog.storage.state import StateStore


def build_engine(
    config: WatchdogConfig,
    *,
    clock: Clock,
    recheck: Rechecker,
    registry: CollectorRegistry,
    wake: Callable[[], None] = lambda: None,
) -> ResultSink:
    """The daemon's incident engine: state database, channels, outbox (started) and engine.

    `wake` wakes the daemon's loop when work is waiting for its next `tick()` (a finished restart)."""
    store = StateStore(config.state_dir)
    pager = OutboxPager(config, clock, registry)
    return IncidentEngine(config, clock=clock, recheck=recheck, registry=registry, store=store, pager=pager, wake=wake)
