"""pytest fixtures wrapping the real servers in tests/servers/ (each started and stopped per use).

Function-scoped unless named `*_template` / `test_ca` (session): every test gets its own
server on a fresh port and directory, and everything it started is stopped, unmounted
and removed in teardown, also when the test fails. Factories (`make_*`) take the same
arguments as the class they build and return it started.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import pytest

from tests.servers.certs import CertificateAuthority
from tests.servers.hanging import HangingTCPServer
from tests.servers.loopfs import FailingDisk, failing_disk
from tests.servers.mariadb import MariaDBServer, MariaDBTemplate
from tests.servers.nginx import NginxServer
from tests.servers.postgres import PostgresServer, PostgresTemplate
from tests.servers.redis import RedisServer
from tests.servers.slow_http import SlowHTTPServer
from tests.servers.tmpfs import tmpfs_mount


@pytest.fixture
def server_stack() -> Iterator[ExitStack]:
    """Everything entered here is stopped at teardown, last started first."""
    with ExitStack() as stack:
        yield stack


@pytest.fixture(scope="session")
def test_ca(tmp_path_factory: pytest.TempPathFactory) -> CertificateAuthority:
    """A private CA for the session; `test_ca.issue(name, days=N)` makes server certificates."""
    return CertificateAuthority(tmp_path_factory.mktemp("ca"))


@pytest.fixture
def make_nginx(server_stack: ExitStack, tmp_path: Path) -> Callable[..., NginxServer]:
    """make_nginx(tls=..., extra_server_config=..., port=...) -> a started NginxServer."""
    counter = itertools.count()

    def make(**kwargs: Any) -> NginxServer:
        server = NginxServer(tmp_path / f"nginx{next(counter)}", **kwargs)
        return server_stack.enter_context(server)

    return make


@pytest.fixture
def nginx(make_nginx: Callable[..., NginxServer]) -> NginxServer:
    """A started plain-HTTP nginx with /healthz, /redirect, /error."""
    return make_nginx()


@pytest.fixture
def make_redis(server_stack: ExitStack, tmp_path: Path) -> Callable[..., RedisServer]:
    """make_redis(password=..., maxmemory=..., maxclients=...) -> a started RedisServer."""
    counter = itertools.count()

    def make(**kwargs: Any) -> RedisServer:
        return server_stack.enter_context(RedisServer(tmp_path / f"redis{next(counter)}", **kwargs))

    return make


@pytest.fixture
def redis_server(make_redis: Callable[..., RedisServer]) -> RedisServer:
    """A started Redis without password."""
    return make_redis()


@pytest.fixture
def hanging_tcp() -> Iterator[HangingTCPServer]:
    """A port that accepts connections and never answers (a hung service)."""
    with HangingTCPServer() as server:
        yield server


@pytest.fixture
def make_slow_http(server_stack: ExitStack) -> Callable[..., SlowHTTPServer]:
    """make_slow_http(delay, status=200, body="ok") -> a running SlowHTTPServer."""

    def make(delay: float, **kwargs: Any) -> SlowHTTPServer:
        return server_stack.enter_context(SlowHTTPServer(delay, **kwargs))

    return make


@pytest.fixture
def make_tmpfs(server_stack: ExitStack) -> Callable[..., Path]:
    """make_tmpfs("8m", nr_inodes=None) -> the mount point of a fresh tmpfs (unmounted at teardown)."""

    def make(size: str = "8m", *, nr_inodes: int | None = None) -> Path:
        return server_stack.enter_context(tmpfs_mount(size, nr_inodes=nr_inodes))

    return make


@pytest.fixture
def tmpfs(make_tmpfs: Callable[..., Path]) -> Path:
    """An 8 MiB tmpfs (unmounted at teardown)."""
    return make_tmpfs()


@pytest.fixture
def loop_disk(server_stack: ExitStack) -> FailingDisk:
    """ext4 on a loop device whose disk can be made to fail (tests.servers.loopfs)."""
    return server_stack.enter_context(failing_disk())


@pytest.fixture(scope="session")
def postgres_template() -> Iterator[PostgresTemplate]:
    """One initdb per session (scram-sha-256; users postgres and monitor, password `.password`)."""
    template = PostgresTemplate.create()
    yield template
    template.remove()


@pytest.fixture
def make_postgres(server_stack: ExitStack, postgres_template: PostgresTemplate) -> Callable[..., PostgresServer]:
    """make_postgres(max_connections=20, port=None) -> a started PostgresServer on a copy of the template."""

    def make(**kwargs: Any) -> PostgresServer:
        return server_stack.enter_context(PostgresServer(postgres_template, **kwargs))

    return make


@pytest.fixture
def postgres(make_postgres: Callable[..., PostgresServer]) -> PostgresServer:
    """A started PostgreSQL on a fresh copy of the session template."""
    return make_postgres()


@pytest.fixture(scope="session")
def mariadb_template() -> Iterator[MariaDBTemplate]:
    """One mariadb-install-db per session (user monitor@127.0.0.1, password `.password`)."""
    template = MariaDBTemplate.create()
    yield template
    template.remove()


@pytest.fixture
def make_mariadb(server_stack: ExitStack, mariadb_template: MariaDBTemplate) -> Callable[..., MariaDBServer]:
    """make_mariadb(max_connections=20, port=None) -> a started MariaDBServer on a copy of the template."""

    def make(**kwargs: Any) -> MariaDBServer:
        return server_stack.enter_context(MariaDBServer(mariadb_template, **kwargs))

    return make


@pytest.fixture
def mariadb(make_mariadb: Callable[..., MariaDBServer]) -> MariaDBServer:
    """A started MariaDB on a fresh copy of the session template."""
    return make_mariadb()
