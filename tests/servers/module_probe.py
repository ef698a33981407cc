"""The real daemon (`watchdog.__main__.main()`), reporting which modules it had imported when it exited.

For tests of what a running daemon loads (and so what it costs in memory): run it as
`WatchdogDaemon(..., cli=probe_cli(directory), env={MODULES_FILE: str(path)})`; when the
daemon exits normally (SIGTERM: `WatchdogDaemon.terminate()`), `sorted(sys.modules)` is written
to `path`, one name a line, and `modules_at_exit(path)` reads it back. Run as the daemon, this
module imports only what the interpreter loaded at its start (atexit, os, sys, pathlib), so
the list is the daemon's.
"""

from __future__ import annotations

import atexit
import os
import sys
from pathlib import Path

MODULES_FILE = "MODULE_PROBE_FILE"
"""The environment variable that names the file the module list is written to."""


def probe_cli(directory: Path) -> str:
    """An executable in `directory` that runs this probe with the venv's python from the
    repository root (WatchdogDaemon's working directory), for WatchdogDaemon's `cli=`."""
    import shlex  # here, not at the top: the daemon's module list must not show it

    launcher = directory / "shop-watchdog-probe"
    launcher.write_text(f'#!/bin/sh\nexec {shlex.quote(sys.executable)} -m tests.servers.module_probe "$@"\n')
    launcher.chmod(0o755)
    return str(launcher)


def modules_at_exit(path: Path) -> set[str]:
    return set(path.read_text().split())


def _write_modules(path: str) -> None:
    Path(path).write_text("".join(name + "\n" for name in sorted(sys.modules)))


def main() -> int:
    atexit.register(_write_modules, os.environ[MODULES_FILE])
    from watchdog.__main__ import main as watchdog_main

    return watchdog_main()


if __name__ == "__main__":
    raise SystemExit(main())
