"""Whether this release is a hotfix, and the reason given for it.

A hotfix is declared by `--hotfix`, `DEPLOY_GUARD_HOTFIX=1`, a branch matching one of
`hotfix.branch_patterns` (shell-style, case-sensitive like git refs) in any of GitLab's or
GitHub's ref variables, or one of `hotfix.commit_tags` in `CI_COMMIT_MESSAGE`
(case-insensitive: "[HOTFIX]" is as deliberate as "[hotfix]"). The reason is `--reason`, else
the commit message's first non-empty line with the tags taken out.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from fnmatch import fnmatchcase

from deploy_guard.inputs import env_text, utf8_text
from deploy_guard.policy import HotfixConfig

REF_VARIABLES = ("CI_COMMIT_REF_NAME", "GITHUB_HEAD_REF", "GITHUB_REF_NAME")
MESSAGE_VARIABLE = "CI_COMMIT_MESSAGE"
HOTFIX_VARIABLE = "DEPLOY_GUARD_HOTFIX"
_TRUE = ("1", "true", "yes")


@dataclass(frozen=True)
class Hotfix:
    """`triggers` says what declared it (e.g. "--hotfix", "CI_COMMIT_REF_NAME=hotfix/pay")."""

    triggers: tuple[str, ...]
    reason: str | None

    @property
    def detected(self) -> bool:
        return bool(self.triggers)


def _strip_tags(message: str, tags: tuple[str, ...]) -> str | None:
    for line in message.splitlines():
        for tag in tags:
            line = re.sub(re.escape(tag), "", line, flags=re.IGNORECASE)
        line = " ".join(line.split())
        if line:
            return line
    return None


def detect_hotfix(config: HotfixConfig, environ: Mapping[str, str], *, flag: bool, reason: str | None) -> Hotfix:
    """What declared this release a hotfix (if anything) and its reason (if any).

    Raises UsageError when the reason or a variable read here is not valid UTF-8.
    """
    triggers: list[str] = []
    if flag:
        triggers.append("--hotfix")
    if env_text(environ, HOTFIX_VARIABLE).strip().lower() in _TRUE:
        triggers.append(f"{HOTFIX_VARIABLE}=1")
    for variable in REF_VARIABLES:
        ref = env_text(environ, variable)
        if ref and any(fnmatchcase(ref, pattern) for pattern in config.branch_patterns):
            triggers.append(f"{variable}={ref}")
    message = env_text(environ, MESSAGE_VARIABLE)
    lowered = message.lower()
    triggers.extend(f"commit tag {tag}" for tag in config.commit_tags if tag.lower() in lowered)
    given = " ".join(utf8_text(reason, "--reason").split()) if reason else ""
    return Hotfix(tuple(triggers), given or _strip_tags(message, config.commit_tags))
