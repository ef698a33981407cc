"""How main() assembles the daemon's incident engine from its layers.

The engine decides; storage, delivery and the metrics that count its events are built here
and handed to it, so the incident layer never constructs a database, a transport or a
metric itself. The gauges that mirror its state are read from it at scrape time. One state
database serves both the incident store and the outbox; the store's own health is fed to
the engine as the `state-store` check (watchdog.service.storewatch).
"""

from __future__ import annotations

from collections.abc import Callable

from watchdog.common.clock import Clock
from watchdog.common.metric_values import Recorder
from watchdog.config.model import WatchdogConfig
from watchdog.delivery.pager import OutboxPager
from watchdog.incidents.availability import AvailabilityLedger
from watchdog.incidents.engine import IncidentEngine
from watchdog.monitor.checkstate import Rechecker, ResultSink
from watchdog.service.metrics import IncidentCounters, incident_state, outbox_state, store_state
from watchdog.service.storewatch import StoreWatch, with_store_check
from watchdog.storage.availability import AvailabilityStore
from watchdog.storage.database import Database
from watchdog.storage.outbox import OutboxStore
from watchdog.storage.state import StateStore


def build_engine(
    config: WatchdogConfig,
    *,
    clock: Clock,
    recheck: Rechecker,
    recorder: Recorder,
    wake: Callable[[], None] = lambda: None,
) -> ResultSink:
    """The daemon's incident engine watched by StoreWatch: state database, channels, outbox
    (started), engine, and their metrics in `recorder`. Never fails for a bad or unwritable
    state file (see watchdog.storage.database).

    `wake` wakes the daemon's loop when work is waiting for its next `tick()` (a finished restart)."""
    db = Database(config.state_dir, clock=clock, on_fault=wake)
    pager = OutboxPager(config, OutboxStore(db), clock, recorder)
    engine = IncidentEngine(
        with_store_check(config),
        clock=clock,
        recheck=recheck,
        store=StateStore(db),
        pager=pager,
        observer=IncidentCounters(recorder),
        availability=AvailabilityLedger(AvailabilityStore(db), clock),
        wake=wake,
    )
    recorder.read_at_scrape(incident_state(engine))
    recorder.read_at_scrape(outbox_state(pager))
    recorder.read_at_scrape(store_state(db))
    return StoreWatch(engine, db, clock)
