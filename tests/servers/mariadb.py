"""A private MariaDB 10.11 on 127.0.0.1 with a password login user `monitor`.

mariadb-install-db takes ~1-2 s, so a session makes one `MariaDBTemplate` (root with no
password, reachable only over the Unix socket; `monitor`@`127.0.0.1` with `password`)
and every `MariaDBServer` starts on a copy of it. `--no-defaults` keeps the machine's own
/etc/mysql config (and its shared server) out of the picture.
"""

from __future__ import annotations

import signal
import subprocess
from pathlib import Path
from typing import Any

import pymysql

from tests.servers.datadir import DataDirServer, DataDirTemplate
from tests.servers.scratch import owned_tempdir

DEFAULT_PASSWORD = "my-test-pw-7"
INNODB_OPTIONS = ["--innodb-buffer-pool-size=16M", "--innodb-log-file-size=4M"]


class MariaDBTemplate(DataDirTemplate):
    """An installed data directory to copy; user `monitor`@127.0.0.1 with `password`."""

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


class MariaDBServer(DataDirServer[MariaDBTemplate]):
    """`mariadbd` as our child on a copy of `template` (see datadir.py).

    `socket` is its Unix socket: root logs in there without password.
    """

    name = "mariadb"
    stop_signal = signal.SIGTERM
    owner = "mysql"
    directory_prefix = "my-"
    login_errors = (pymysql.err.OperationalError,)

    @property
    def socket(self) -> Path:
        return self.data.parent / "s.sock"

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
        return pymysql.connect(
            host="127.0.0.1", port=self.port, user="monitor", password=self.password, connect_timeout=5
        )

    def try_login(self) -> None:
        self.sql_as_root("SELECT 1")
