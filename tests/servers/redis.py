"""A private redis-server on 127.0.0.1: no persistence, optional password and maxmemory."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from tests.servers.processes import ChildServer


class RedisServer(ChildServer):
    """redis-server in the foreground as our child.

    `password` sets `requirepass` (the `default` user's password); `maxmemory` (bytes)
    and `maxclients` bound it; `extra_args` are more `--option value` pairs. ACL users are
    added by the test through a client (`ACL SETUSER ...`).
    """

    name = "redis"

    def __init__(
        self,
        directory: Path,
        *,
        port: int | None = None,
        password: str | None = None,
        maxmemory: int | None = None,
        maxclients: int | None = None,
        extra_args: Sequence[str] = (),
    ) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        super().__init__(port, directory / "redis.log")
        self.directory = directory
        self.password = password
        self.maxmemory = maxmemory
        self.maxclients = maxclients
        self.extra_args = tuple(extra_args)

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}"

    def argv(self) -> list[str]:
        argv = [
            "redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--dir", str(self.directory),
            "--save", "", "--appendonly", "no", "--daemonize", "no", "--protected-mode", "no",
        ]  # fmt: skip
        if self.password is not None:
            argv += ["--requirepass", self.password]
        if self.maxmemory is not None:
            argv += ["--maxmemory", str(self.maxmemory)]
        if self.maxclients is not None:
            argv += ["--maxclients", str(self.maxclients)]
        return [*argv, *self.extra_args]
