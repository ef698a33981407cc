"""Hearing from systemd the moment a watched unit changes state, instead of at the next poll.

A `systemd` check that got an answer about its unit names it in its result
(`CheckResult.watch_unit`). The daemon hands that unit to a `UnitWatcher`, which listens on
the system bus for systemd's own `PropertiesChanged` signals of the unit's object
(`/org/freedesktop/systemd1/unit/<escaped name>`, interface `org.freedesktop.systemd1.Unit`).
When `ActiveState` changes (systemd repeats an unchanged one along with other properties:
those are ignored), it calls `on_change(check, ended)` once: `ended` is True when the
unit entered `failed` or `inactive` (its processes are gone and systemd will not bring them
back by itself), and the daemon runs the check at once as the witness of that fact; any other
change (activating, active, ...) just runs the check at once. Either way the check verifies
what the signal said, so a signal is never trusted alone.

Only units a check vouched for in its last result are watched; every new result replaces the
check's unit. Without a system bus (a container without systemd, a test machine) the watcher
logs it once and the checks simply keep their interval: polling as before.

Why jeepney: a pure-Python D-Bus protocol library (no C build, no dependencies, ~50 KB,
loaded only when a `systemd` check exists), maintained for years as the D-Bus layer of
SecretStorage/keyring. Its thread-safe connection lets any thread send AddMatch while one
thread receives. dbus-fast needs an asyncio loop and a compiled extension (about twice the
memory of this whole watcher); dbus-python needs libdbus and a GLib main loop; dbus-next and
pydbus are no longer maintained.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Any

from jeepney import DBusAddress, HeaderFields, MatchRule, MessageType, new_method_call
from jeepney.bus_messages import message_bus
from jeepney.io.threading import DBusConnection, ReceiveStopped, open_dbus_connection

from watchdog.common.logs import event

log = logging.getLogger(__name__)

SYSTEMD = DBusAddress(
    "/org/freedesktop/systemd1", bus_name="org.freedesktop.systemd1", interface="org.freedesktop.systemd1.Manager"
)
UNIT_INTERFACE = "org.freedesktop.systemd1.Unit"
ENDED = frozenset({"failed", "inactive"})
"""ActiveStates in which the unit's processes are gone and systemd will not restart them."""


def unit_path(unit: str) -> str:
    """The unit's object path: systemd escapes every byte but ASCII letters and digits (and a
    leading digit) as `_xx` (sd_bus_path_encode)."""
    label = "".join(
        c if c.isascii() and (c.isalpha() or (c.isdigit() and i > 0)) else "".join(f"_{b:02x}" for b in c.encode())
        for i, c in enumerate(unit)
    )
    return f"/org/freedesktop/systemd1/unit/{label}"


def _rule(path: str) -> MatchRule:
    return MatchRule(
        type="signal",
        sender="org.freedesktop.systemd1",
        interface="org.freedesktop.DBus.Properties",
        member="PropertiesChanged",
        path=path,
    )


class UnitWatcher:
    """One thread receiving systemd's signals for the units checks last vouched for.

    `watch()` and `close()` may be called from any thread; `on_change` is called from the
    watcher's thread and must only hand work to the main loop.
    """

    def __init__(self, on_change: Callable[[str, bool], None], bus: str = "SYSTEM") -> None:
        self._on_change = on_change
        self._lock = threading.Lock()
        self._by_check: dict[str, str] = {}
        """check -> unit"""
        self._by_path: dict[str, set[str]] = {}
        """object path -> checks watching that unit"""
        self._states: dict[str, str] = {}
        """object path -> ActiveState last signalled (systemd repeats it with other changes)"""
        self._conn: DBusConnection | None = None
        self._thread: threading.Thread | None = None
        try:
            self._conn = open_dbus_connection(bus=bus)
        except (OSError, KeyError, ValueError, TimeoutError) as exc:
            # KeyError: no DBUS_SYSTEM_BUS_ADDRESS-style address known; OSError: no socket
            self._unavailable(exc)
            return
        self._call(new_method_call(SYSTEMD, "Subscribe"))
        self._thread = threading.Thread(target=self._run, name="unit-watcher", daemon=True)
        self._thread.start()

    @property
    def available(self) -> bool:
        return self._conn is not None

    def _unavailable(self, exc: BaseException) -> None:
        event(
            log,
            "unit_watch_unavailable",
            logging.WARNING,
            error=type(exc).__name__,
            detail=str(exc)[:200],
            fallback="polling at each check's interval",
        )

    def _call(self, message: Any) -> None:
        """Sends a method call; the reply (or error) arrives in the watcher's thread."""
        assert self._conn is not None
        self._conn.send(message)

    def watch(self, check: str, unit: str | None) -> None:
        """Watches `unit` for `check` from now on (None: nothing)."""
        with self._lock:
            if self._by_check.get(check) == unit:
                return
            self._forget(check)
            if unit is None or self._conn is None:
                return
            self._by_check[check] = unit
            path = unit_path(unit)
            checks = self._by_path.setdefault(path, set())
            if not checks:
                self._call(message_bus.AddMatch(_rule(path)))
            checks.add(check)

    def watched(self) -> dict[str, str]:
        """check -> unit currently watched."""
        with self._lock:
            return dict(self._by_check)

    def _forget(self, check: str) -> None:
        unit = self._by_check.pop(check, None)
        if unit is None:
            return
        path = unit_path(unit)
        checks = self._by_path.get(path, set())
        checks.discard(check)
        if not checks:
            self._by_path.pop(path, None)
            self._states.pop(path, None)
            if self._conn is not None:
                self._call(message_bus.RemoveMatch(_rule(path)))

    def _run(self) -> None:
        assert self._conn is not None
        while True:
            try:
                message = self._conn.receive()
            except ReceiveStopped:
                return
            except (OSError, ValueError) as exc:  # the bus went away (dbus restarted)
                with self._lock:
                    self._conn = None
                self._unavailable(exc)
                return
            self._dispatch(message)

    def _dispatch(self, message: Any) -> None:
        header = message.header
        if header.message_type is MessageType.error:
            event(
                log,
                "unit_watch_error",
                logging.WARNING,
                error=header.fields.get(HeaderFields.error_name),
                detail=str(message.body[0])[:200] if message.body else None,
            )
            return
        if (
            header.message_type is not MessageType.signal
            or header.fields.get(HeaderFields.member) != "PropertiesChanged"
        ):
            return
        interface, changed, _ = message.body
        state = changed.get("ActiveState") if interface == UNIT_INTERFACE else None
        if state is None:
            return
        active_state = str(state[1])
        path = str(header.fields.get(HeaderFields.path))
        with self._lock:
            if self._states.get(path) == active_state:
                return
            self._states[path] = active_state
            checks = sorted(self._by_path.get(path, ()))
        for check in checks:
            event(
                log,
                "watched_unit_changed",
                logging.WARNING if active_state in ENDED else logging.INFO,
                check=check,
                unit=self._by_check.get(check),
                active_state=active_state,
            )
            self._on_change(check, active_state in ENDED)

    def close(self) -> None:
        with self._lock:
            conn, self._conn = self._conn, None
        if conn is None:
            return
        conn.interrupt()  # the receiving thread ends on ReceiveStopped
        if self._thread is not None:
            self._thread.join(timeout=5)
        conn.close()
