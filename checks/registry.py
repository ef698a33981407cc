"""`type:` name -> check class. An unknown type is a config error listing these keys.

Classes are imported when their type is first used (watchdog.common.lazy_registry): a config
without database checks never loads the database drivers.
"""

from __future__ import annotations

from checks.base import Check
from watchdog.common.lazy_registry import LazyRegistry

CHECKS: LazyRegistry[Check[object]] = LazyRegistry(
    Check,
    {
        "disk": "checks.disk:DiskCheck",
        "http": "checks.http:HttpCheck",
        "tcp": "checks.tcp:TcpCheck",
        "postgres": "checks.postgres:PostgresCheck",
        "mysql": "checks.mysql:MysqlCheck",
        "redis": "checks.redis:RedisCheck",
        "process": "checks.process:ProcessCheck",
        "systemd": "checks.systemd:SystemdCheck",
        "system": "checks.system:SystemCheck",
        "command": "checks.command:CommandCheck",
    },
)
