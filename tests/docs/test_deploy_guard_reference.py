"""docs/deploy-guard.md matches deploy-guard: every key the policy parser accepts is in its
"Policy keys" table and every key there is accepted; its "Reason codes" table lists exactly
the codes a decision can carry. A failure lists what to add or remove."""

from __future__ import annotations

import ast
import re
import typing

from deploy_guard.release_windows import ReasonCode
from tests.docs.reference import accepted_policy_keys
from tests.docs.test_reference import DOCS, FIRST_COLUMN, ROOT, differences

PAGE = "deploy-guard.md"


def documented_under(heading: str) -> set[str]:
    """The first-column names of the tables in the `## heading` section of docs/deploy-guard.md."""
    text = (DOCS / PAGE).read_text()
    match = re.search(rf"^## {re.escape(heading)}\n(.*?)(?=^## |\Z)", text, re.M | re.S)
    assert match, f"docs/{PAGE} has no section '## {heading}'"
    return set(FIRST_COLUMN.findall(match.group(1)))


def emitted_reason_codes() -> set[str]:
    """The codes written as the first argument of a `Reason(...)` anywhere in deploy_guard/."""
    codes = set()
    for source in (ROOT / "deploy_guard").glob("*.py"):
        for node in ast.walk(ast.parse(source.read_text())):
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "Reason":
                first = node.args[0] if node.args else None
                if isinstance(first, ast.Constant) and isinstance(first.value, str):
                    codes.add(first.value)
    return codes


def test_every_policy_key_is_documented_and_every_documented_key_is_accepted() -> None:
    problems = differences(documented_under("Policy keys"), accepted_policy_keys(), "policy keys", PAGE)
    assert not problems, problems


def test_every_reason_code_is_documented_and_every_documented_code_exists() -> None:
    problems = differences(documented_under("Reason codes"), set(typing.get_args(ReasonCode)), "reason codes", PAGE)
    assert not problems, problems


def test_every_reason_code_is_emitted_somewhere() -> None:
    unused = sorted(set(typing.get_args(ReasonCode)) - emitted_reason_codes())
    assert not unused, f"ReasonCode lists codes no Reason(...) in deploy_guard/ writes: {unused}"
