"""Start, stop or restart a private test nginx in the background, by its directory.

    python -m tests.servers.nginx_ctl --dir D start|stop|restart|status

(run with the repository root as working directory or on PYTHONPATH). `D` is the
directory of an `NginxServer` (its config must exist). The nginx started here is detached
(`daemon on`): it outlives this command, as a service restarted by a remediation does, and
`NginxServer.stop()` / `kill()` of the same directory stop it too.

Exit codes: 0 done (status: running), 1 failed (status: not running), e.g. nginx refused a
broken config (`NginxServer.broken_config()`); the reason goes to stderr.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from tests.servers.nginx import pidfile_pid, start_detached, stop_detached
from tests.servers.ports import ServerStartError


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="nginx_ctl", description=__doc__.splitlines()[0])
    parser.add_argument("--dir", required=True, type=Path, help="directory of the private nginx")
    parser.add_argument("action", choices=["start", "stop", "restart", "status"])
    args = parser.parse_args(argv)
    directory: Path = args.dir.resolve()
    if not (directory / "nginx.conf").is_file():
        print(f"nginx_ctl: no nginx.conf in {directory}", file=sys.stderr)
        return 1
    if args.action == "status":
        pid = pidfile_pid(directory)
        print(f"running, pid {pid}" if pid else "not running")
        return 0 if pid else 1
    if args.action in ("stop", "restart"):
        stop_detached(directory)
    if args.action in ("start", "restart"):
        running = pidfile_pid(directory)
        if running is not None:
            print(f"already running, pid {running}")
            return 0
        try:
            pid = start_detached(directory)
        except (ServerStartError, OSError) as exc:
            print(f"nginx_ctl: start failed: {exc}", file=sys.stderr)
            return 1
        print(f"started, pid {pid}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
