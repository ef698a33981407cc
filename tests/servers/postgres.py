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
from typing import Any

import psycopg

from tests.servers.datadir import DataDirServer, DataDirTemplate
from tests.servers.scratch import owned_tempdir

PG_BIN = Path("/usr/lib/postgresql/15/bin")
DEFAULT_PASSWORD = "pg-test-pw-7"


class PostgresTemplate(DataDirTemplate):
    """An initdb'd data directory to copy; users `postgres` (superuser) and `monitor`, both with `password`."""

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


class PostgresServer(DataDirServer[PostgresTemplate]):
    """`postgres` as our child on a copy of `template` (see datadir.py); runs as the postgres user."""

    name = "postgres"
    stop_signal = signal.SIGINT  # fast shutdown: disconnect clients, no waiting
    owner = "postgres"
    directory_prefix = "pg-"
    login_errors = (psycopg.OperationalError,)

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

    def try_login(self) -> None:
        self.sql("SELECT 1")

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
        # Under load a dying backend can still be attached for a moment: the segment is only
        # gone once the last one detached, so remove and look again, for a bounded time.
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            subprocess.run(["ipcrm", "-m", shmid], capture_output=True, timeout=10, check=False)
            if shmid not in _sysv_shm_ids():
                return
            time.sleep(0.05)


def _sysv_shm_ids() -> set[str]:
    with open("/proc/sysvipc/shm", encoding="ascii") as fh:
        return {line.split()[1] for line in fh.read().splitlines()[1:]}
