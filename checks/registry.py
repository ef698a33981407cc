"""`type:` name -> check class. An unknown type is a config error listing these keys."""

from __future__ import annotations

from checks.base import Check
from checks.command import CommandCheck
from checks.disk import DiskCheck
from checks.http import HttpCheck
from checks.mysql import MysqlCheck
from checks.postgres import PostgresCheck
from checks.process import ProcessCheck
from checks.redis import RedisCheck
from checks.system import SystemCheck
from checks.systemd import SystemdCheck
from checks.tcp import TcpCheck

CHECKS: dict[str, type[Check]] = {
    "disk": DiskCheck,
    "http": HttpCheck,
    "tcp": TcpCheck,
    "postgres": PostgresCheck,
    "mysql": MysqlCheck,
    "redis": RedisCheck,
    "process": ProcessCheck,
    "systemd": SystemdCheck,
    "system": SystemCheck,
    "command": CommandCheck,
}
