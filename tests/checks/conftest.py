"""Fixtures of the probe tests: passwords reach checks the way the daemon gets them, via `password_env`."""

from __future__ import annotations

from collections.abc import Callable

import pytest

SetSecret = Callable[[str, str], str]


@pytest.fixture
def secret_env(monkeypatch: pytest.MonkeyPatch) -> SetSecret:
    """secret_env(NAME, value) sets environment variable NAME and returns NAME for `password_env`."""

    def set_env(name: str, value: str) -> str:
        monkeypatch.setenv(name, value)
        return name

    return set_env
