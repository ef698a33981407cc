"""The small real-server helpers: hanging and slow servers, tmpfs, Redis, databases, certificates."""

from __future__ import annotations

import os
import socket
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

import pytest
import redis
import requests
from redis.backoff import NoBackoff
from redis.retry import Retry

from tests.servers.certs import CertificateAuthority
from tests.servers.hanging import HangingTCPServer
from tests.servers.mariadb import MariaDBServer
from tests.servers.postgres import PostgresServer
from tests.servers.redis import RedisServer
from tests.servers.slow_http import SlowHTTPServer
from tests.servers.tmpfs import exhaust_inodes, fill_to, tmpfs_mount


def sysv_shm_ids() -> set[str]:
    return {line.split()[1] for line in Path("/proc/sysvipc/shm").read_text().splitlines()[1:]}


def test_hanging_server_accepts_and_never_answers(hanging_tcp: HangingTCPServer) -> None:
    with socket.create_connection(("127.0.0.1", hanging_tcp.port), timeout=1) as sock:
        sock.sendall(b"GET / HTTP/1.0\r\n\r\n")
        sock.settimeout(0.2)
        with pytest.raises(TimeoutError):
            sock.recv(1)


def test_slow_server_answers_after_its_delay(make_slow_http: Callable[..., SlowHTTPServer]) -> None:
    server = make_slow_http(0.2, status=503, body="busy")
    started = time.monotonic()
    response = requests.get(server.url, timeout=5)
    assert time.monotonic() - started >= 0.2
    assert (response.status_code, response.text, server.requests) == (503, "busy", 1)


def test_slow_server_stop_releases_waiting_requests() -> None:
    with SlowHTTPServer(30) as server:
        started = time.monotonic()
        with socket.create_connection(("127.0.0.1", server.port), timeout=1) as sock:
            sock.sendall(b"GET / HTTP/1.0\r\n\r\n")
            while server.requests == 0:
                assert time.monotonic() - started < 2, "the request never reached the server"
                time.sleep(0.01)
            server.stop()
            sock.settimeout(2)
            assert sock.recv(100) == b""
        assert time.monotonic() - started < 2


def test_tmpfs_fills_up_and_is_unmounted_even_after_an_error() -> None:
    with pytest.raises(RuntimeError), tmpfs_mount("4m", nr_inodes=32) as mount:
        fill_to(mount, 1.0)
        with pytest.raises(OSError):
            (mount / "more").write_bytes(b"x" * 8192)
        assert exhaust_inodes(mount) < 32
        raise RuntimeError("test failed midway")
    assert not mount.exists()
    assert str(mount) not in Path("/proc/mounts").read_text()


def test_redis_password_and_restart_keep_the_port(make_redis: Callable[..., RedisServer]) -> None:
    server = make_redis(password="pw-1")
    with redis.Redis(port=server.port, password="pw-1") as client:
        assert client.ping()
    server.kill()
    server.start()
    no_retries = Retry(NoBackoff(), 0)
    with redis.Redis(port=server.port, retry=no_retries) as anonymous, pytest.raises(redis.AuthenticationError):
        anonymous.ping()


def test_postgres_copy_accepts_scram_logins_and_kill_leaves_no_shared_memory(postgres: PostgresServer) -> None:
    assert postgres.sql("SELECT current_user", user="monitor") == [("monitor",)]
    assert postgres.sql("SHOW password_encryption") == [("scram-sha-256",)]
    shmid = (postgres.data / "postmaster.pid").read_text().splitlines()[6].split()[1]
    assert shmid in sysv_shm_ids()
    postgres.kill()
    assert shmid not in sysv_shm_ids()
    assert not [
        f for f in os.listdir("/dev/shm") if f.startswith("PostgreSQL.") and os.stat(f"/dev/shm/{f}").st_gid == 0
    ]
    postgres.start()
    assert postgres.sql("SELECT 1") == [(1,)]


def test_mariadb_copy_has_the_monitor_user(mariadb: MariaDBServer) -> None:
    conn = mariadb.connect_monitor()
    try:
        with conn.cursor() as cur:
            cur.execute("SELECT CURRENT_USER()")
            assert cur.fetchone() == ("monitor@127.0.0.1",)
    finally:
        conn.close()
    assert mariadb.own_directory is not None and mariadb.own_directory.is_dir()


def still_valid_in(cert: Path, seconds: int) -> bool:
    """`openssl x509 -checkend`: whether `cert` is still valid `seconds` from now."""
    done = subprocess.run(
        ["openssl", "x509", "-in", str(cert), "-noout", "-checkend", str(seconds)],
        capture_output=True,
        check=False,
        timeout=30,
    )
    assert done.returncode in (0, 1), done.stderr
    return done.returncode == 0


def test_ca_issues_certificates_with_the_chosen_lifetime(test_ca: CertificateAuthority) -> None:
    files = test_ca.issue("lifetime", days=3)
    assert still_valid_in(files.cert, 2 * 86400)
    assert not still_valid_in(files.cert, 4 * 86400)
    assert os.path.getsize(files.key) > 0
