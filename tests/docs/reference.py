"""What the program accepts, asked of the program itself, for the reference-docs tests.

`accepted_config_keys()` walks the config parser by its own error messages: every mapping
is given an unknown key, and the parser's "unknown key (valid keys: ...)" answer names the
keys it accepts there; each of those is then given a mapping of its own, and when that
draws another "unknown key" answer it is a section and is walked in turn. Checks and
channels are walked once per registered `type:`. New keys and sections show up without this
file knowing them.

`accepted_policy_keys()` walks deploy-guard's policy parser the same way; a list of
mappings (`windows`, `freezes`) is given a one-item list, and its keys are `windows[].days`.

Key paths: `host`, `defaults.interval`, `checks[].name` (every check), `checks[http].url`
(checks of one type), `notify.channels[].name`, `notify.channels[email].smtp_host`. A secret
is its `X_env` and `X_file` keys (the inline `X` is rejected).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from typing import Any

from checks.registry import CHECKS
from deploy_guard.policy import parse_policy
from watchdog.common.configtools import ConfigError
from watchdog.config.loader import parse_config
from watchdog.delivery.channels.registry import CHANNELS

PROBE = "zz_not_a_key"
QUICK = {"business_hours": {"holidays": None}}
"""Under every probe but those of business_hours: asking the holidays library about a
country costs ~30 ms, a few hundred probes would take seconds."""
_UNKNOWN = re.compile(r"^(.*?): unknown key \(valid keys: (.*)\)$")


def _unknown_key_answers(node: dict[str, Any]) -> dict[str, list[str]]:
    """YAML path of each mapping that reported PROBE as unknown -> the keys it accepts."""
    try:
        parse_config(QUICK | node, "probe.yaml", checks=CHECKS, channels=CHANNELS)
    except ConfigError as exc:
        return _probe_answers(exc)
    return {}


def _probe_answers(exc: ConfigError) -> dict[str, list[str]]:
    found = {}
    for problem in exc.problems:
        match = _UNKNOWN.match(str(problem))
        if match and match.group(1).endswith(PROBE):
            found[match.group(1)[: -len(PROBE) - 1]] = match.group(2).split(", ")
    return found


def _policy_answers(node: dict[str, Any]) -> list[str] | None:
    """The keys the policy mapping holding PROBE accepts, or None if it reported none."""
    try:
        parse_policy(node, "probe.yaml")
    except ConfigError as exc:
        answers = list(_probe_answers(exc).values())
        assert len(answers) <= 1, answers
        return answers[0] if answers else None
    return None


def accepted_policy_keys(wrap: Callable[[Any], dict[str, Any]] = lambda inner: inner, shown: str = "") -> set[str]:
    """The policy keys under the mapping `wrap(mapping)` puts in a policy, shown with prefix `shown`."""
    keys: set[str] = set()
    for key in _without_inline_secrets(_policy_answers(wrap({PROBE: 1})) or []):
        as_mapping = accepted_policy_keys(_under(wrap, key, listed=False), f"{shown}{key}.")
        as_list = accepted_policy_keys(_under(wrap, key, listed=True), f"{shown}{key}[].")
        keys |= as_mapping or as_list or {f"{shown}{key}"}
    return keys


def _under(wrap: Callable[[Any], dict[str, Any]], key: str, *, listed: bool) -> Callable[[Any], dict[str, Any]]:
    """`wrap` with `inner` put at `key` (as the one item of a list when `listed`)."""
    return lambda inner: wrap({key: [inner] if listed else inner})


def _nest(path: list[str], leaf: Any) -> Any:
    for key in reversed(path):
        leaf = {key: leaf}
    return leaf


def _section_keys(wrap: Any, path: list[str], shown: str, seen: set[str]) -> Iterable[str]:
    """Keys under `path` inside the document `wrap(inner)` builds, shown with prefix `shown`."""
    answers = _unknown_key_answers(wrap(_nest(path, {PROBE: 1})))
    if not answers:
        return
    (keys,) = answers.values()
    for key in _without_inline_secrets(keys):
        full = f"{shown}{key}"
        if full in seen:
            continue
        seen.add(full)
        sub = list(_section_keys(wrap, [*path, key], f"{full}.", seen))
        yield from sub if sub else [full]


def _without_inline_secrets(keys: list[str]) -> list[str]:
    return [k for k in keys if not (f"{k}_env" in keys and f"{k}_file" in keys)]


def accepted_config_keys() -> set[str]:
    keys: set[str] = set()
    seen: set[str] = {"checks", "notify"}
    keys.update(_section_keys(lambda inner: inner, [], "", seen))
    keys.update(_section_keys(lambda inner: {"notify": inner}, [], "notify.", {"notify.channels"}))
    keys.update(_typed_keys("checks", sorted(CHECKS), lambda item: {"checks": [item]}))
    keys.update(_typed_keys("notify.channels", sorted(CHANNELS), lambda item: {"notify": {"channels": [item]}}))
    return keys


def _typed_keys(section: str, types: list[str], wrap: Any) -> set[str]:
    """The keys of a list of typed items: `section[].key` for keys every type accepts,
    `section[type].key` for the others."""
    by_type: dict[str, set[str]] = {}
    for type_name in types:
        base = {"name": "x", "type": type_name}
        found = _section_keys(lambda inner, b=base: wrap(b | inner), [], "", set())
        by_type[type_name] = set(found) | {"name", "type"}
    common = set.intersection(*by_type.values())
    keys = {f"{section}[].{key}" for key in common}
    for type_name, own in by_type.items():
        keys.update(f"{section}[{type_name}].{key}" for key in own - common)
    return keys


_TYPE_LINE = re.compile(r"^# TYPE (\S+) (\S+)$", re.M)
_SUFFIX = {"counter": "_total", "info": "_info"}


def exposed_metric_names(text: str) -> set[str]:
    """The metric names in a Prometheus text exposition, as people write them: a counter
    with its `_total`, a histogram by its base name."""
    names = set()
    for name, kind in _TYPE_LINE.findall(text):
        suffix = _SUFFIX.get(kind, "")
        names.add(name if name.endswith(suffix) else name + suffix)
    return names
