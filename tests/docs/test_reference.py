"""The reference in docs/ matches the program: every config key the parser accepts is in
docs/config.md and every key there is accepted; every metric the daemon exposes is in
docs/metrics.md and every metric there is exposed. A failure lists what to add or remove."""

from __future__ import annotations

import re
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.docs.reference import accepted_config_keys, exposed_metric_names
from tests.servers.watchdog_daemon import WatchdogDaemon

ROOT = Path(__file__).resolve().parents[2]
DOCS = ROOT / "docs"
README = ROOT / "README.md"
BIN = ROOT / ".venv" / "bin"
FIRST_COLUMN = re.compile(r"^\| `([^`]+)`", re.M)


def documented(page: str) -> set[str]:
    """The first-column names of the tables of docs/`page`."""
    return set(FIRST_COLUMN.findall((DOCS / page).read_text()))


def differences(documented: set[str], actual: set[str], what: str, page: str) -> str:
    lines = []
    if missing := sorted(actual - documented):
        lines.append(f"{len(missing)} {what} not documented in docs/{page}:")
        lines += [f"  + {name}" for name in missing]
    if stale := sorted(documented - actual):
        lines.append(f"{len(stale)} {what} documented in docs/{page} but not in the program:")
        lines += [f"  - {name}" for name in stale]
    return "\n".join(lines)


def test_every_config_key_is_documented_and_every_documented_key_is_accepted() -> None:
    problems = differences(documented("config.md"), accepted_config_keys(), "config keys", "config.md")
    assert not problems, problems


@pytest.fixture(scope="module")
def exposed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[set[str]]:
    """The metric names of a real daemon's /metrics (a check, so its labelled series exist)."""
    config = {"checks": [{"name": "root", "type": "disk", "path": "/"}]}
    with WatchdogDaemon(tmp_path_factory.mktemp("metrics") / "d", config) as daemon:
        daemon.wait_for("root", lambda c: not c.get("pending"))
        yield exposed_metric_names(daemon.metrics())


def test_every_exposed_metric_is_documented_and_every_documented_metric_is_exposed(exposed: set[str]) -> None:
    problems = differences(documented("metrics.md"), exposed, "metrics", "metrics.md")
    assert not problems, problems


def test_readme_links_every_reference_page_and_no_file_outside_the_repository() -> None:
    text = README.read_text()
    for page in ("config.md", "api.md", "metrics.md", "cli.md", "first-server.md", "deploy-guard.md"):
        assert f"](docs/{page})" in text, f"README.md does not link docs/{page}"
    for document in [README, *DOCS.glob("*.md")]:
        for target in re.findall(r"\]\(([^)#]+)", document.read_text()):
            if re.match(r"^[a-z]+://", target):
                continue
            resolved = (document.parent / target).resolve()
            assert resolved.is_relative_to(ROOT), f"{document.name} links {target}, outside the repository"
            assert resolved.exists(), f"{document.name} links {target}, which does not exist"
        assert "../shared" not in document.read_text(), f"{document.name} points at ../shared"


def subcommands(program: str) -> set[str]:
    """The COMMANDs `program --help` lists (indented four spaces under COMMAND)."""
    shown = subprocess.run([str(BIN / program), "--help"], capture_output=True, text=True, timeout=60, check=True)
    commands = set(re.findall(r"^    ([a-z][a-z-]*)(?:\s|$)", shown.stdout, re.M))
    assert commands, shown.stdout
    return commands


@pytest.mark.parametrize("program", ["shop-watchdog", "deploy-guard"])
def test_every_command_is_documented_and_every_documented_command_exists(program: str) -> None:
    listed = {name.split()[1] for name in documented("cli.md") if name.startswith(f"{program} ")}
    listed.discard("--version")
    problems = differences(listed, subcommands(program), f"{program} commands", "cli.md")
    assert not problems, problems


def test_every_metric_in_the_readme_table_is_in_the_reference(exposed: set[str]) -> None:
    in_readme = set(re.findall(r"`(shop_watchdog_[a-z_]+)`", README.read_text()))
    assert sorted(in_readme - documented("metrics.md")) == []
