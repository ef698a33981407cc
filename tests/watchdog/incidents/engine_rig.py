"""A test rig around the real incident engine: real state DB, real outbox, real webhook receiver.

The engine is built with `build_engine` exactly as the daemon builds it; only time is a
`ManualClock` so reminders, windows and business hours can be crossed in milliseconds.
Restarts are real subprocesses running in real time; `settle()` ticks the engine until they
finished. Results are fed the way the scheduler feeds them (`CheckState`).
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from prometheus_client import CollectorRegistry

from checks.base import Status
from tests.servers.webhook_sink import WebhookSink
from watchdog.common.clock import ManualClock
from watchdog.common.metric_values import Recorder
from watchdog.common.status_document import IncidentEntry
from watchdog.config.model import (
    BusinessHours,
    ChannelSpec,
    CheckSpec,
    Defaults,
    Listen,
    NotifyConfig,
    Remediate,
    RemediationConfig,
    Route,
    Routes,
    WatchdogConfig,
)
from watchdog.delivery.channels.webhook import WebhookConfig
from watchdog.incidents.engine import IncidentEngine
from watchdog.monitor.checkstate import CheckState
from watchdog.service.exposition import registry_of
from watchdog.service.storewatch import StoreWatch
from watchdog.service.wiring import build_engine
from watchdog.storage.database import Database
from watchdog.storage.state import StateStore

CHANNELS = ("pager", "admins", "boss")


def check(
    name: str = "web",
    *,
    command: Sequence[str] | None = None,
    severity: str = "critical",
    depends_on: Sequence[str] = (),
    runbook_url: str | None = None,
) -> CheckSpec:
    remediate = Remediate(command=tuple(command)) if command else None
    return CheckSpec(name, "http", 0.2, 1.0, 1, 0.2, severity, remediate, tuple(depends_on), runbook_url, None)  # type: ignore[arg-type]


def failing_repair(seconds: float = 0.3) -> list[str]:
    """A repair command that runs `seconds` (long enough to act while it runs), then fails
    with exit 1; an argv, no shell."""
    return [sys.executable, "-c", f"import sys, time; time.sleep({seconds}); sys.exit(1)"]


def config(
    state_dir: Path,
    sink: WebhookSink,
    checks: Sequence[CheckSpec],
    *,
    critical: Route | None = None,
    warning: Route | None = None,
    remediation: RemediationConfig | None = None,
) -> WatchdogConfig:
    channels = tuple(ChannelSpec(n, "webhook", WebhookConfig(url=sink.url(n), timeout=5)) for n in CHANNELS)
    routes = Routes(
        critical=critical or Route(channels=("pager", "admins")),
        warning=warning or Route(channels=("admins",), when="business_hours"),
    )
    return WatchdogConfig(
        source="test",
        host="shop-test-1",
        state_dir=str(state_dir),
        listen=Listen("127.0.0.1", 0),
        api_token=None,
        log_level="info",
        defaults=Defaults(),
        checks=tuple(checks),
        remediation=remediation
        or RemediationConfig(
            backend="command", verify_after=5, max_restarts=3, restart_window=3600, restart_timeout=10
        ),
        business_hours=BusinessHours(),
        notify=NotifyConfig(channels, routes),
        heartbeat=None,
    )


@dataclass
class Rig:
    cfg: WatchdogConfig
    sink: WebhookSink
    clock: ManualClock
    recorder: Recorder = field(init=False)
    registry: CollectorRegistry = field(init=False)
    """The recorder as Prometheus reads it (watchdog.service.exposition)."""
    rechecks: list[tuple[str, float]] = field(default_factory=list)
    engine: IncidentEngine = field(init=False)
    watch: StoreWatch = field(init=False)

    def __post_init__(self) -> None:
        self.start()

    def start(self) -> None:
        self.recorder = Recorder()
        self.registry = registry_of(self.recorder)
        watch = build_engine(self.cfg, clock=self.clock, recheck=self._recheck, recorder=self.recorder)
        assert isinstance(watch, StoreWatch) and isinstance(watch.engine, IncidentEngine)
        self.watch = watch
        self.engine = watch.engine

    def _recheck(self, name: str, delay: float) -> None:
        self.rechecks.append((name, delay))

    def result(self, name: str, status: Status, message: str = "", *, hard: bool = True) -> None:
        now = self.clock.now()
        state = CheckState(
            name, status, hard, message or status.name.lower(), now, now, 0 if status == Status.OK else 3, 0.01
        )
        self.engine.on_result(self.cfg.check(name), state)

    def settle(self, timeout: float = 20.0) -> None:
        """Waits (real time) for running restarts to finish, then ticks to pick them up."""
        self.engine.wait_for_restarts(timeout)
        self.engine.tick()

    def advance(self, seconds: float) -> None:
        self.clock.advance(seconds)
        self.engine.tick()

    def incidents(self) -> list[IncidentEntry]:
        return self.engine.incidents_snapshot()

    def incident(self, name: str = "web") -> IncidentEntry:
        [found] = [i for i in self.incidents() if i["check"] == name]
        return found

    def store(self) -> StateStore:
        return StateStore(Database(self.cfg.state_dir))

    def sent(self) -> int:
        """Messages handed to the outbox (pending, delivered or rejected)."""
        snap = self.engine.outbox_snapshot()
        return int(snap["pending"]) + int(snap["delivered"]) + int(snap["failed"])

    def metric(self, name: str, **labels: str) -> float:
        value = self.registry.get_sample_value(name, labels)
        return value if value is not None else 0.0

    def close(self) -> None:
        self.engine.close()


def at_local(year: int, month: int, day: int, hour: int, minute: int, tz: str = "Europe/Warsaw") -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=ZoneInfo(tz))
