"""A private PostgreSQL 15 on 127.0.0.1 with real scram-sha-256 password logins.

initdb takes ~0.7 s, so a session makes one `PostgresTemplate` (initdb with
`-A scram-sha-256 --pwfile`, plus a non-superuser login role `monitor`) and every
`PostgresServer` starts on a copy of it (~0.15 s). Both live in short directories in RAM (scratch.py)
owned by the postgres user: initdb and the server refuse to run as root, and the
Unix socket path must stay under 108 bytes.
"""

from __future__ import annotations

import shutil
import signal
import subprocess
import time
from pathlib import Path
from types import TracebackType
from typing import Any, Self

import psycopg

from tests.servers.ports import ServerStartError, free_port
from tests.servers.processes import ChildServer
from tests.servers.scratch import owned_tempdir

PG_BIN = Path("/usr/lib/postgresql/15/bin")
DEFAULT_PASSWORD = "pg-test-pw-7"


class PostgresTemplate:
    """An initdb'd data directory to copy; users `postgres` (superuser) and `monitor`, both with `password`."""

    def __init__(self, directory: Path, password: str) -> None:
        self.directory = directory
        self.password = password

    @property
    def data(self) -> Path:
        return self.directory / "data"

    @classmethod
    def create(cls, password: str = DEFAULT_PASSWORD) -> PostgresTemplate:
        directory = owned_tempdir("pgtpl-", "postgres")
        template = cls(directory, password)
        pwfile = directory / "pwfile"
        pwfile.write_text(password + "\n")
        shutil.chown(pwfile, "postgres")
        subprocess.run(
            [str(PG_BIN / "initdb"), "-D", str(template.data), "-U", "postgres", "-A", "scram-sha-256",
             f"--pwfile={pwfile}", "--no-sync"],
            user="postgres", cwd=directory, check=True, capture_output=True, timeout=120,
        )  # fmt: skip
        pwfile.unlink()
        with PostgresServer(template, data=template.data) as server:
            server.sql(f"CREATE ROLE monitor LOGIN PASSWORD '{password}'")
        return template

    def remove(self) -> None:
        shutil.rmtree(self.directory, ignore_errors=True)


class PostgresServer(ChildServer):
    """`postgres` in the foreground as our child, on a copy of `template` (or on `data` itself).

    `max_connections` is settable for saturation tests. Leaving the context manager (or
    `remove()`) stops the server and deletes its directory.
    """

    name = "postgres"
    stop_signal = signal.SIGINT  # fast shutdown: disconnect clients, no waiting

    def __init__(
        self,
        template: PostgresTemplate,
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
            self.own_directory = owned_tempdir("pg-", "postgres")
            data = self.own_directory / "data"
            subprocess.run(["cp", "-a", str(template.data), str(data)], check=True, timeout=60)
        self.data = data
        super().__init__(port if port is not None else free_port(), data.parent / f"postgres-{id(self)}.log")

    def child_user(self) -> str:
        return "postgres"

    def argv(self) -> list[str]:
        return [
            str(PG_BIN / "postgres"), "-D", str(self.data), "-p", str(self.port), "-k", str(self.data.parent),
            "-c", "listen_addresses=127.0.0.1", "-c", "fsync=off", "-c", "synchronous_commit=off",
            "-c", "full_page_writes=off", "-c", f"max_connections={self.max_connections}",
            "-c", "superuser_reserved_connections=1", "-c", "logging_collector=off",
            "-c", "dynamic_shared_memory_type=mmap",
        ]  # fmt: skip

    def connect_kwargs(self, user: str = "postgres") -> dict[str, Any]:
        return {"host": "127.0.0.1", "port": self.port, "user": user, "password": self.password, "dbname": "postgres"}

    def connect(self, user: str = "postgres") -> psycopg.Connection[Any]:
        return psycopg.connect(**self.connect_kwargs(user), autocommit=True, connect_timeout=5)

    def sql(self, query: str, user: str = "postgres") -> list[tuple[Any, ...]]:
        """Rows of `query` run as `user` (autocommit); [] for statements without rows."""
        with self.connect(user) as conn:
            cur = conn.execute(query.encode())
            return cur.fetchall() if cur.description else []

    def wait_ready(self) -> None:
        deadline = time.monotonic() + self.start_timeout
        while True:
            try:
                self.sql("SELECT 1")
                return
            except psycopg.OperationalError as exc:
                if time.monotonic() > deadline or not self.running:
                    raise ServerStartError(f"postgres does not accept logins: {exc}: {self.log()}") from exc
                time.sleep(0.01)

    def kill(self) -> None:
        super().kill()
        self._drop_crash_leftovers()

    def stop(self) -> None:
        super().stop()
        self._drop_crash_leftovers()

    def _drop_crash_leftovers(self) -> None:
        """Remove the SysV interlock segment a killed postmaster leaves (its postmaster.pid remains).

        Dynamic shared memory lives in the data directory (dynamic_shared_memory_type=mmap)
        and goes with it, so nothing of ours stays in /dev/shm or `ipcs -m`.
        """
        if self.running:
            return
        try:
            shmid = (self.data / "postmaster.pid").read_text().splitlines()[6].split()[1]
        except (OSError, IndexError):
            return
        subprocess.run(["ipcrm", "-m", shmid], capture_output=True, timeout=10, check=False)

    def remove(self) -> None:
        self.stop()
        if self.own_directory is not None:
            shutil.rmtree(self.own_directory, ignore_errors=True)

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.remove()
