"""The contract checks and channels share: a class configured by one frozen dataclass.

A plug-in class names the dataclass of its type-specific YAML keys in `Config`; the config
layer builds an instance of it from the YAML (configtools.build) and carries it as `object`,
because the config layer knows no plug-in type. The plug-in's constructor narrows it once:
`self.config` has the class's own config type from then on, so mypy checks every use of an
option, and a config of the wrong type (a wiring bug, never bad input) fails at construction
with a TypeError naming both types, instead of as an AttributeError in some later run.

    @dataclass(frozen=True)
    class RedisOptions: ...

    class RedisCheck(Check[RedisOptions]):
        Config = RedisOptions           # mypy: must be type[RedisOptions]

        def run(self, timeout: float) -> CheckResult:
            self.config.host            # RedisOptions.host, checked

`Configured` is covariant in its config type: a `RedisCheck` is a `Check[object]`, which is
what a registry holds and what `CHECKS[spec.type](spec.options)` accepts.
"""

from __future__ import annotations

from typing import Generic, TypeVar

ConfigT_co = TypeVar("ConfigT_co", covariant=True)


class Configured(Generic[ConfigT_co]):
    """A plug-in built from one instance of its class's `Config` dataclass."""

    Config: type[ConfigT_co]

    def __init__(self, config: ConfigT_co) -> None:
        if not isinstance(config, self.Config):
            raise TypeError(
                f"{type(self).__name__} is configured by {self.Config.__qualname__}, got {type(config).__qualname__}"
            )
        self.config = config
