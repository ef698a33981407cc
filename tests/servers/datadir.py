"""Database servers on their own copy of a session template data directory.

Creating a data directory (initdb, mariadb-install-db) takes a second or more, copying one
in RAM a few milliseconds, so a session builds one template and every server runs on a
fresh copy that is deleted with the server. The template is built by running a server on
`template.data` itself, which is then neither copied nor deleted.
"""

from __future__ import annotations

import shutil
import subprocess
import time
from pathlib import Path
from types import TracebackType
from typing import ClassVar, Generic, Self, TypeVar

from tests.servers.ports import ServerStartError
from tests.servers.processes import ChildServer
from tests.servers.scratch import owned_tempdir


class DataDirTemplate:
    """A data directory (`directory`/data) to copy; its login users have `password`."""

    def __init__(self, directory: Path, password: str) -> None:
        self.directory = directory
        self.password = password

    @property
    def data(self) -> Path:
        return self.directory / "data"

    def remove(self) -> None:
        shutil.rmtree(self.directory, ignore_errors=True)


TemplateT = TypeVar("TemplateT", bound=DataDirTemplate)


class DataDirServer(ChildServer, Generic[TemplateT]):
    """A database server in the foreground as our child, on a copy of `template` (or on `data` itself).

    Subclasses name the copy's owner and directory prefix, and say what a first login is
    (`try_login()`, failing with one of `login_errors` until the server accepts logins).
    `max_connections` is settable for saturation tests. Leaving the context manager (or
    `remove()`) stops the server and deletes its directory, also when it failed to start.
    """

    owner: ClassVar[str]
    directory_prefix: ClassVar[str]
    login_errors: ClassVar[tuple[type[Exception], ...]]

    def __init__(
        self,
        template: TemplateT,
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
            self.own_directory = owned_tempdir(self.directory_prefix, self.owner)
            data = self.own_directory / "data"
            subprocess.run(["cp", "-a", str(template.data), str(data)], check=True, timeout=60)
        self.data = data
        super().__init__(port, data.parent / f"{self.name}-{id(self)}.log")

    def try_login(self) -> None:
        """One login and trivial query; raises one of `login_errors` while the server is not ready."""
        raise NotImplementedError

    def wait_ready(self) -> None:
        """The port accepts before the server takes logins (recovery, initialization)."""
        deadline = time.monotonic() + self.start_timeout
        while True:
            try:
                self.try_login()
                return
            except self.login_errors as exc:
                if time.monotonic() > deadline or not self.running:
                    raise ServerStartError(f"{self.name} does not accept logins: {exc}: {self.log()}") from exc
                time.sleep(0.01)

    def remove(self) -> None:
        self.stop()
        if self.own_directory is not None:
            shutil.rmtree(self.own_directory, ignore_errors=True)

    def __enter__(self) -> Self:
        try:
            return super().__enter__()
        except BaseException:
            self.remove()
            raise

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.remove()
