"""A private nginx on 127.0.0.1 for probe and end-to-end tests.

Everything lives in one directory `D`: `nginx.conf`, `nginx.pid`, `error.log`, `html/`
(static files served at /), `port` (the port, for `nginx_ctl`). Built-in locations:

* `/healthz` -> 200 "ok"
* `/redirect` -> 302 to `/healthz` (relative Location)
* `/error` -> 500 "broken"
* anything else -> a file under `html/` (404 when missing)

Two ways to run it, sharing the directory so a test can mix them:

* `NginxServer.start()`: nginx in the foreground (`-g "daemon off;"`) as our own child;
* `python -m tests.servers.nginx_ctl --dir D start|stop|restart|status`: detached
  (`daemon on`), outliving the command, as a restart by a remediation would.

`stop()` / `kill()` act on whichever instance runs: our child, or the detached master
named by `nginx.pid`.
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path

from tests.servers.certs import CertFiles
from tests.servers.ports import ServerStartError, tail, wait_until_accepting
from tests.servers.processes import ChildServer, is_dead, terminate_group

NGINX = "nginx"
BROKEN_DIRECTIVE = "this_directive_breaks_the_config;\n"


def _conf_text(directory: Path, port: int, tls: CertFiles | None, extra_server_config: str) -> str:
    d = directory
    listen = f"listen 127.0.0.1:{port}{' ssl' if tls else ''};"
    tls_lines = f"ssl_certificate {tls.cert};\n        ssl_certificate_key {tls.key};" if tls else ""
    user = "user root;\n" if os.geteuid() == 0 else ""
    return f"""{user}worker_processes 1;
pid {d}/nginx.pid;
error_log {d}/error.log warn;
events {{ worker_connections 128; }}
http {{
    access_log {d}/access.log;
    client_body_temp_path {d}/tmp/client_body;
    proxy_temp_path {d}/tmp/proxy;
    fastcgi_temp_path {d}/tmp/fastcgi;
    uwsgi_temp_path {d}/tmp/uwsgi;
    scgi_temp_path {d}/tmp/scgi;
    default_type text/plain;
    absolute_redirect off;
    server {{
        {listen}
        {tls_lines}
        root {d}/html;
        location = /healthz {{ return 200 "ok"; }}
        location = /redirect {{ return 302 /healthz; }}
        location = /error {{ return 500 "broken"; }}
        {extra_server_config}
    }}
}}
"""


def base_argv(directory: Path) -> list[str]:
    return [NGINX, "-p", f"{directory}/", "-c", str(directory / "nginx.conf"), "-e", str(directory / "error.log")]


def pidfile_pid(directory: Path) -> int | None:
    """The live master named by D/nginx.pid, if it is an nginx of this directory."""
    try:
        pid = int((directory / "nginx.pid").read_text().strip())
    except (OSError, ValueError):
        return None
    if is_dead(pid):
        return None
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace")
    except OSError:
        return None
    return pid if str(directory / "nginx.conf") in cmdline else None


def port_of(directory: Path) -> int:
    return int((directory / "port").read_text())


def stop_detached(directory: Path, sig: int = signal.SIGTERM) -> None:
    """Stop the master named by the pid file (and its workers) if it runs."""
    pid = pidfile_pid(directory)
    if pid is not None:
        terminate_group(pid, sig)


def start_detached(directory: Path, timeout: float = 10.0) -> int:
    """Start nginx on directory D in the background (`daemon on`); the master's pid.

    nginx opens its listening socket before daemonizing, so once the launcher exited 0
    and the pid file names a live master, the port accepts. Raises ServerStartError with
    the error log tail when nginx refuses to start (e.g. a broken config).
    """
    log = directory / "ctl.log"
    with open(log, "ab") as out:
        done = subprocess.run(
            base_argv(directory), stdin=subprocess.DEVNULL, stdout=out, stderr=out, timeout=timeout, check=False
        )
    if done.returncode != 0:
        raise ServerStartError(f"nginx exited with code {done.returncode}: {tail(str(log), 1000)}")
    wait_until_accepting(port_of(directory), timeout=timeout, log=str(directory / "error.log"), what="nginx")
    pid = pidfile_pid(directory)
    if pid is None:
        raise ServerStartError(f"nginx started but wrote no pid file in {directory}")
    return pid


class NginxServer(ChildServer):
    """A private nginx; `url` is http(s)://127.0.0.1:PORT, `healthz_url` its /healthz.

    `tls`: serve https with these files; `extra_server_config`: more directives (e.g.
    locations) inside the server block. The constructor writes the config; `start()`.
    """

    name = "nginx"

    def __init__(
        self,
        directory: Path,
        *,
        port: int | None = None,
        tls: CertFiles | None = None,
        extra_server_config: str = "",
    ) -> None:
        super().__init__(port, directory / "nginx.out")
        self.directory = directory
        self.tls = tls
        self.extra_server_config = extra_server_config
        for sub in ("html", "tmp"):
            (directory / sub).mkdir(parents=True, exist_ok=True)
        (directory / "port").write_text(str(self.port))
        self.write_config()

    @property
    def conf_path(self) -> Path:
        return self.directory / "nginx.conf"

    @property
    def pid_path(self) -> Path:
        return self.directory / "nginx.pid"

    @property
    def url(self) -> str:
        return f"{'https' if self.tls else 'http'}://127.0.0.1:{self.port}"

    @property
    def healthz_url(self) -> str:
        return f"{self.url}/healthz"

    def ctl_argv(self, python: str, action: str) -> list[str]:
        """argv of the nginx_ctl CLI for this directory (run it with cwd = repo root)."""
        return [python, "-m", "tests.servers.nginx_ctl", "--dir", str(self.directory), action]

    def write_config(self) -> None:
        self.conf_path.write_text(_conf_text(self.directory, self.port, self.tls, self.extra_server_config))

    def broken_config(self) -> None:
        """Make the config invalid: start() and `nginx_ctl start` fail until fix_config()."""
        self.conf_path.write_text(self.conf_path.read_text() + BROKEN_DIRECTIVE)

    def fix_config(self) -> None:
        self.write_config()

    def write_file(self, relative: str, content: str) -> None:
        """Serve `content` at /`relative`."""
        target = self.directory / "html" / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(content)

    def argv(self) -> list[str]:
        return [*base_argv(self.directory), "-g", "daemon off;"]

    def wait_ready(self) -> None:
        """Until nginx wrote `nginx.pid`: it listens before it writes it, and probes and `nginx_ctl` read it."""
        deadline = time.monotonic() + self.start_timeout
        while self.master_pid() != self.pid:
            if time.monotonic() >= deadline or not self.running:
                raise ServerStartError(
                    f"nginx accepts but did not write {self.pid_path}: {tail(str(self.directory / 'error.log'))}"
                )
            time.sleep(0.005)

    def master_pid(self) -> int | None:
        """The running master's pid (our child or a detached one), from the pid file."""
        return pidfile_pid(self.directory)

    def stop(self) -> None:
        super().stop()
        stop_detached(self.directory)

    def kill(self) -> None:
        super().kill()
        stop_detached(self.directory, signal.SIGKILL)
