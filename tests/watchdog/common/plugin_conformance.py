"""What every registered check and channel type owes the config layer (watchdog.common.plugin).

Used by the conformance tests of checks (tests/checks/test_conformance.py) and channels
(tests/watchdog/delivery/channels/test_conformance.py), which run it over every type of
their registry, so a new type is held to it without anyone adding a test.
"""

from __future__ import annotations

import dataclasses
import re
import types
import typing
from collections.abc import Mapping
from typing import Any, Literal, Union

from watchdog.common.configtools import DURATION, PERCENT, Problems, Secret, convert, yaml_key

SECRET_NAME = re.compile(r"pass|token|secret|key|credential", re.IGNORECASE)
"""Field names that hold a secret: such a field must be a `Secret` (scrubbed, never printed)."""


def _fields(config: type[Any]) -> list[tuple[dataclasses.Field[Any], Any]]:
    hints = typing.get_type_hints(config, include_extras=True)
    return [(f, hints[f.name]) for f in dataclasses.fields(config) if f.init]


def _is_secret(tp: Any) -> bool:
    return tp is Secret or (typing.get_origin(tp) in (Union, types.UnionType) and Secret in typing.get_args(tp))


def secret_keys(config: type[Any]) -> list[str]:
    """The YAML names of the config's secrets (each is given as NAME_env or NAME_file)."""
    return [yaml_key(f) for f, tp in _fields(config) if _is_secret(tp)]


def yaml_sample(tp: Any, where: str) -> object:
    """A YAML value of annotation `tp`, written the way users write it; AssertionError when
    the config parser (configtools.convert) has no YAML form for the type."""
    origin, args = typing.get_origin(tp), typing.get_args(tp)
    if origin in (Union, types.UnionType):
        inner = [a for a in args if a is not type(None)]
        assert len(inner) == 1, f"{where}: the config parser reads only X | None unions, not {tp}"
        return yaml_sample(inner[0], where)
    if origin is typing.Annotated:
        forms: dict[object, object] = {DURATION: "1500ms", PERCENT: "42%"}
        assert args[1] in forms, f"{where}: unknown annotation {args[1]!r}"
        return forms[args[1]]
    if origin is Literal:
        return args[-1]
    if origin is tuple:
        assert len(args) == 2 and args[1] is Ellipsis, f"{where}: the config parser reads tuple[X, ...], not {tp}"
        return [yaml_sample(args[0], where)]
    if origin in (Mapping, dict):
        return {"some-key": yaml_sample(args[1], where)}
    scalars: dict[object, object] = {str: "text", int: 7, float: 2.5, bool: True}
    assert tp in scalars, f"{where}: the config parser has no YAML form for {tp}"
    return scalars[tp]


def assert_config_contract(plugin: type[Any]) -> None:
    """`Config` is a frozen dataclass; the parser reads every field from YAML; secrets are `Secret`s."""
    config = plugin.Config
    where = f"{plugin.__name__}.Config ({config.__name__})"
    assert dataclasses.is_dataclass(config) and isinstance(config, type), f"{where} is not a dataclass"
    assert config.__dataclass_params__.frozen, f"{where} is not frozen"  # type: ignore[attr-defined]
    for f, tp in _fields(config):
        field_where = f"{where}.{f.name}"
        if SECRET_NAME.search(f.name):
            assert _is_secret(tp), f"{field_where} looks like a secret but is a {tp}, not a Secret"
        if _is_secret(tp):
            continue
        problems = Problems()
        value = convert(tp, yaml_sample(tp, field_where), yaml_key(f), problems)
        assert not problems.items and value is not None, f"{field_where}: {[str(p) for p in problems.items]}"
