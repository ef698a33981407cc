"""docs/first-server.md works as written: its nginx snippet makes the example web check
pass, and its SQL creates `monitor` users the real probes log in with, who can read no data."""

from __future__ import annotations

import re
import secrets
from collections.abc import Callable
from pathlib import Path

import psycopg
import pymysql
import pytest
import yaml

from checks.base import CheckResult, Status
from tests.checks.building import make_check
from tests.servers.mariadb import MariaDBServer
from tests.servers.nginx import NginxServer
from tests.servers.postgres import PostgresServer

ROOT = Path(__file__).resolve().parents[2]
GUIDE = ROOT / "docs" / "first-server.md"
EXAMPLE = ROOT / "config" / "watchdog.yaml"
SERVERS_OWN_HEALTHZ = 'location = /healthz { return 200 "ok"; }'


def fenced(language: str, first_line: str) -> str:
    """The guide's ```language block that starts with `first_line`."""
    for block in re.findall(rf"```{language}\n(.*?)```", GUIDE.read_text(), re.S):
        if block.startswith(first_line):
            return str(block)
    raise AssertionError(f"{GUIDE} has no {language} block starting with {first_line!r}")


def create_monitor(execute: Callable[[str], object], heading: str) -> str:
    """Runs the guide's SQL block that starts with `heading`, statement by statement, with a
    fresh password for CHANGE-ME; returns the password."""
    password = secrets.token_urlsafe(18)
    sql = fenced("sql", heading).replace("CHANGE-ME", password)
    lines = [line for line in sql.splitlines() if not line.startswith("--")]
    for statement in "\n".join(lines).split(";"):
        if statement.strip():
            execute(statement.strip())
    return password


def example_check(name: str) -> dict[str, object]:
    check: dict[str, object] = next(c for c in yaml.safe_load(EXAMPLE.read_text())["checks"] if c["name"] == name)
    return check


def test_nginx_snippet_makes_the_example_web_check_pass(tmp_path: Path) -> None:
    snippet = fenced("nginx", "# shop-watchdog")
    server = NginxServer(tmp_path / "nginx")
    conf = server.conf_path.read_text()
    assert SERVERS_OWN_HEALTHZ in conf
    server.conf_path.write_text(conf.replace(SERVERS_OWN_HEALTHZ, snippet))
    with server:
        web = example_check("web")
        assert web["url"] == "http://127.0.0.1/healthz"
        options = {k: v for k, v in web.items() if k not in ("name", "type", "severity", "remediate", "rollback_hint")}
        result = make_check("http", **(options | {"url": server.healthz_url})).run(5.0)
        assert result.status is Status.OK, result.message


def probe_as_monitor(check_type: str, directory: Path, password: str, **options: object) -> CheckResult:
    """One run of the real probe as the guide's `monitor` user, counting connections too."""
    secret = directory / "monitor.pass"
    secret.write_text(password + "\n")
    probe = make_check(
        check_type,
        user="monitor",
        password_file=str(secret),
        connections_warn="80%",
        connections_crit="95%",
        **options,
    )
    return probe.run(5.0)


def test_postgres_sql_creates_a_monitor_the_probe_logs_in_with_and_reads_no_data(
    make_postgres: Callable[..., PostgresServer], tmp_path: Path
) -> None:
    server = make_postgres()
    server.sql("DROP ROLE monitor")  # the fixture's own; the guide's SQL creates it
    server.sql("CREATE DATABASE shop")
    with psycopg.connect(**(server.connect_kwargs() | {"dbname": "shop"}), autocommit=True) as shop:
        shop.execute("CREATE TABLE orders (id int, card text)")
    password = create_monitor(server.sql, "-- PostgreSQL")

    with psycopg.connect(**server.connect_kwargs()) as _other_client:
        result = probe_as_monitor("postgres", tmp_path, password, port=server.port, dbname="shop")
    assert result.status is Status.OK, result.message
    assert result.measurements["connections"] >= 2  # the probe sees other users' connections too

    monitor = server.connect_kwargs("monitor") | {"password": password, "dbname": "shop"}
    with psycopg.connect(**monitor, autocommit=True) as conn, pytest.raises(psycopg.errors.InsufficientPrivilege):
        conn.execute("SELECT * FROM orders")
    with psycopg.connect(**monitor, autocommit=True) as conn, pytest.raises(psycopg.errors.InsufficientPrivilege):
        conn.execute("CREATE TABLE mine (x int)")


def test_mariadb_sql_creates_a_monitor_the_probe_logs_in_with_and_reads_no_data(
    make_mariadb: Callable[..., MariaDBServer], tmp_path: Path
) -> None:
    server = make_mariadb()
    server.sql_as_root("DROP USER 'monitor'@'127.0.0.1'")  # the fixture's own; the guide's SQL creates it
    server.sql_as_root("CREATE DATABASE shop")
    server.sql_as_root("CREATE TABLE shop.orders (id int, card text)")
    password = create_monitor(server.sql_as_root, "-- MariaDB")

    result = probe_as_monitor("mysql", tmp_path, password, port=server.port)
    assert result.status is Status.OK, result.message
    assert "connections" in result.measurements

    conn = pymysql.connect(host="127.0.0.1", port=server.port, user="monitor", password=password, connect_timeout=5)
    try:
        with conn.cursor() as cur, pytest.raises(pymysql.err.OperationalError, match="denied"):
            cur.execute("SELECT * FROM shop.orders")
    finally:
        conn.close()
