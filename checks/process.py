"""`process`: the service's process is alive, found by pid file or by a name pattern.

* `pidfile`: the pid in that file must be a live process. A missing file, a stale pid or
  a zombie (exited, not yet reaped: its service is gone) is CRITICAL. With `pattern` as
  well, the pid must also match it, so a recycled pid of another program does not pass.
* `pattern` alone: a regular expression searched in each process's name and in its
  command line (arguments joined by spaces); at least `min_count` (default 1) and at most
  `max_count` live matches. The watchdog's own process never counts.

With a pid file, an OK result names the pid it found (`watch_pid`): the daemon notices the
moment that process exits and checks again at once (watchdog.monitor.exitwatch). Pattern matches
are not watched: worker pools recycle their children all the time.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path

import psutil

from checks.base import Check, CheckResult, Status


@dataclass(frozen=True)
class ProcessOptions:
    pidfile: str | None = None
    pattern: str | None = None
    min_count: int = 1
    max_count: int | None = None
    regex: re.Pattern[str] | None = field(init=False, default=None, compare=False)

    def __post_init__(self) -> None:
        if self.pidfile is None and self.pattern is None:
            raise ValueError("give pidfile (path) or pattern (regex on name/command line), or both")
        if self.min_count < 0 or (self.max_count is not None and self.max_count < self.min_count):
            raise ValueError("need 0 <= min_count <= max_count")
        if self.pidfile is not None and (self.min_count != 1 or self.max_count is not None):
            raise ValueError("min_count/max_count apply to pattern matching, not to a pidfile")
        if self.pattern is not None:
            try:
                object.__setattr__(self, "regex", re.compile(self.pattern))
            except re.error as exc:
                raise ValueError(f"pattern: invalid regular expression: {exc}") from exc


def _matches(regex: re.Pattern[str], name: str, cmdline: list[str] | None) -> bool:
    return bool(regex.search(name) or (cmdline and regex.search(" ".join(cmdline))))


class ProcessCheck(Check[ProcessOptions]):
    Config = ProcessOptions

    def run(self, timeout: float) -> CheckResult:
        if self.config.pidfile is not None:
            return self._by_pidfile(self.config.pidfile)
        return self._by_pattern()

    def _by_pidfile(self, path: str) -> CheckResult:
        regex = self.config.regex
        try:
            text = Path(path).read_text(encoding="ascii", errors="replace").strip()
        except FileNotFoundError:
            return CheckResult(Status.CRITICAL, f"not running: pid file {path} missing")
        if not text.isdigit():
            return CheckResult(Status.CRITICAL, f"not running: pid file {path} holds no pid ({text[:20]!r})")
        pid = int(text)
        zombie = CheckResult(Status.CRITICAL, f"not running: pid {pid} from {path} is a zombie (exited)")
        try:
            proc = psutil.Process(pid)
            if proc.status() == psutil.STATUS_ZOMBIE:
                return zombie
            name, cmdline = proc.name(), proc.cmdline()
        except psutil.ZombieProcess:
            return zombie
        except psutil.NoSuchProcess:
            return CheckResult(Status.CRITICAL, f"not running: pid {pid} from {path} is gone")
        if regex is not None and not _matches(regex, name, cmdline):
            return CheckResult(
                Status.CRITICAL, f"not running: pid {pid} from {path} is {name!r}, not {self.config.pattern!r}"
            )
        return CheckResult(Status.OK, f"pid {pid} ({name}) running", {"processes": 1.0}, watch_pid=pid)

    def _by_pattern(self) -> CheckResult:
        cfg = self.config
        assert cfg.regex is not None
        me = os.getpid()
        count = 0
        for proc in psutil.process_iter(["name", "cmdline", "status"]):
            info = proc.info
            if proc.pid == me or info["status"] == psutil.STATUS_ZOMBIE:
                continue
            if _matches(cfg.regex, info["name"] or "", info["cmdline"]):
                count += 1
        measurements = {"processes": float(count)}
        wanted = f"{cfg.min_count}" + (f"..{cfg.max_count}" if cfg.max_count is not None else "+")
        text = f"{count} processes match {cfg.pattern!r} (expected {wanted})"
        if count < cfg.min_count:
            return CheckResult(Status.CRITICAL, text, measurements)
        if cfg.max_count is not None and count > cfg.max_count:
            return CheckResult(Status.WARNING, text, measurements)
        return CheckResult(Status.OK, text, measurements)
