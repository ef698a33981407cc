"""A private MariaDB 10.11 on 127.0.0.1 with a password login user `monitor`.

mariadb-install-db takes ~1-2 s, so a session makes one `MariaDBTemplate` (root with no
password, reachable only over the Unix socket; `monitor`@`127.0.0.1` with `password`)
and every `MariaDBServer` starts on a copy of it. `--no-defaults` keeps the machine's own
/etc/mysql config (and its shared server) out of the picture.
"""

from __future__ import annotations

import shutil
import signal
import subprocess
import time
from pathlib import Path
from types import TracebackType
from typing import Any

import pymysql

from tests.servers.ports import ServerStartError, free_port
from tests.servers.processes import ChildServer
from tests.servers.scratch import owned_tempdir

DEFAULT_PASSWORD = "my-test-pw-7"
INNODB_OPTIONS = ["--innodb-buffer-pool-size=16M", "--innodb-log-file-size=4M"]


class MariaDBTemplate:
    """An installed data directory to copy; user `monitor`@127.0.0.1 with `password`."""

    def __init__(self, directory: Path, password: str) -> None:
        self.directory = directory
        self.password = password

    @property
    def data(self) -> Path:
        return self.directory / "data"

    @classmethod
    def create(cls, password: str = DEFAULT_PASSWORD) -> MariaDBTemplate:
        directory = owned_tempdir("mytpl-", "mysql")
        template = cls(directory, password)
        subprocess.run(
            ["mariadb-install-db", "--no-defaults", f"--datadir={template.data}", "--user=mysql",
             "--auth-root-authentication-method=normal", "--skip-test-db", *INNODB_OPTIONS],
            cwd=directory, check=True, capture_output=True, timeout=120,
        )  # fmt: skip
        with MariaDBServer(template, data=template.data) as server:
            server.sql_as_root(f"CREATE USER 'monitor'@'127.0.0.1' IDENTIFIED BY '{password}'")
            server.sql_as_root("GRANT PROCESS, USAGE ON *.* TO 'monitor'@'127.0.0.1'")
        return template

    def remove(self) -> None:
        shutil.rmtree(self.directory, ignore_errors=True)


class MariaDBServer(ChildServer):
    """`mariadbd` in the foreground as our child, on a copy of `template` (or on `data` itself).

    `socket` is its Unix socket (root logs in there without password); `max_connections`
    is settable for saturation tests. Leaving the context manager (or `remove()`) stops
    the server and deletes its directory.
    """

    name = "mariadb"
    stop_signal = signal.SIGTERM

    def __init__(
        self,
        template: MariaDBTemplate,
        *,
        port: int | None = None,
        max_connections: int = 20,
        data: Path | None = None,
    ) -> None:
        self.template = template
        self.password = template.password
        self.max_connections = max_connections
        self.own_directory: Path | None = None
        if data is None:
            self.own_directory = owned_tempdir("my-", "mysql")
            data = self.own_directory / "data"
            subprocess.run(["cp", "-a", str(template.data), str(data)], check=True, timeout=60)
        self.data = data
        self.socket = data.parent / "s.sock"
        super().__init__(port if port is not None else free_port(), data.parent / f"mariadb-{id(self)}.log")

    def argv(self) -> list[str]:
        return [
            "mariadbd", "--no-defaults", f"--datadir={self.data}", f"--socket={self.socket}",
            f"--port={self.port}", "--bind-address=127.0.0.1", "--user=mysql", "--skip-name-resolve",
            f"--max-connections={self.max_connections}", f"--pid-file={self.data.parent}/mariadb.pid",
            "--skip-log-bin", *INNODB_OPTIONS,
        ]  # fmt: skip

    def sql_as_root(self, query: str) -> list[tuple[Any, ...]]:
        """Rows of `query` run as root over the Unix socket (autocommit)."""
        conn = pymysql.connect(unix_socket=str(self.socket), user="root", autocommit=True, connect_timeout=5)
        try:
            with conn.cursor() as cur:
                cur.execute(query)
                return list(cur.fetchall())
        finally:
            conn.close()

    def connect_monitor(self) -> pymysql.connections.Connection[Any]:
        return pymysql.connect(host="127.0.0.1", port=self.port, user="monitor", password=self.password, connect_timeout=5)

    def wait_ready(self) -> None:
        deadline = time.monotonic() + self.start_timeout
        while True:
            try:
                self.sql_as_root("SELECT 1")
                return
            except pymysql.err.OperationalError as exc:
                if time.monotonic() > deadline or not self.running:
                    raise ServerStartError(f"mariadb does not accept logins: {exc}: {self.log()}") from exc
                time.sleep(0.01)

    def remove(self) -> None:
        self.stop()
        if self.own_directory is not None:
            shutil.rmtree(self.own_directory, ignore_errors=True)

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.remove()
