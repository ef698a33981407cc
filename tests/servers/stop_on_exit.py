"""The `with` contract every helper server shares: leaving the block stops the server.

A test that fails midway still leaves nothing running, because `__exit__` runs `stop()`
whatever happened inside the block.
"""

from __future__ import annotations

from types import TracebackType
from typing import Self


class StopOnExit:
    """Base of the helper servers; subclasses implement `stop()` (and may start in `__enter__`)."""

    def stop(self) -> None:
        raise NotImplementedError

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()
