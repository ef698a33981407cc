"""Database drivers are pip extras: a check whose driver is missing is a config error naming
the extra, in a real install without the drivers (`pip install shop-watchdog[daemon]`)."""

from __future__ import annotations

import importlib.metadata
import json
import tomllib
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import NormalizedName, canonicalize_name

from tests.servers.installs import Install
from tests.systemd.wheelhouse import requirements
from watchdog.common.extras import DISTRIBUTION, OPTIONAL_MODULES

REPO = Path(__file__).resolve().parents[3]

CONFIG = """\
state_dir: {state}
checks:
  - {{name: root, type: disk, path: /}}
  - {{name: ssh, type: tcp, host: 127.0.0.1, port: 22}}
  - {{name: db, type: postgres, host: 127.0.0.1}}
  - {{name: orders-db, type: mysql, host: 127.0.0.1}}
  - {{name: cache, type: redis, host: 127.0.0.1}}
"""


def test_checks_whose_driver_is_missing_are_config_errors_naming_the_extra(
    daemon_install: Install, tmp_path: Path
) -> None:
    config = tmp_path / "watchdog.yaml"
    config.write_text(CONFIG.format(state=tmp_path / "state"))
    assert not any(daemon_install.importable(m) for m in ("psycopg", "pymysql", "redis"))
    for command in ("check-config", "run"):
        result = daemon_install.run("shop-watchdog", command, "-c", str(config))
        assert result.returncode == 2, result.stderr
        assert result.stderr.splitlines() == [
            f"{config}: checks[2].type: postgres needs the PostgreSQL driver: pip install 'shop-watchdog[postgres]'",
            f"{config}: checks[3].type: mysql needs the MySQL driver: pip install 'shop-watchdog[mysql]'",
            f"{config}: checks[4].type: redis needs the Redis client: pip install 'shop-watchdog[redis]'",
        ]
    assert not (tmp_path / "state").exists()


def test_the_daemon_extra_runs_checks_that_need_no_driver(daemon_install: Install, tmp_path: Path) -> None:
    config = tmp_path / "watchdog.yaml"
    config.write_text("".join(CONFIG.format(state=tmp_path / "state").splitlines(keepends=True)[:4]))
    result = daemon_install.run("shop-watchdog", "check-config", "-c", str(config))
    assert result.returncode == 0, result.stderr
    assert "root" in result.stdout and "ssh" in result.stdout


def test_the_embedded_default_watches_redis_by_tcp_without_the_redis_client(daemon_install: Install) -> None:
    script = (
        "import json, types\n"
        "import psutil\n"
        "from checks.registry import CHECKS\n"
        "from watchdog.config.discovery import embedded_default\n"
        "from watchdog.delivery.channels.registry import CHANNELS\n"
        "addr = types.SimpleNamespace(ip='127.0.0.1', port=6379)\n"
        "redis = types.SimpleNamespace(status=psutil.CONN_LISTEN, laddr=addr)\n"
        "config = embedded_default(checks=CHECKS, channels=CHANNELS, partitions=list, connections=lambda: [redis])\n"
        "print(json.dumps([[c.name, c.type] for c in config.checks]))\n"
    )
    result = daemon_install.run("python", "-c", script)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == [["redis", "tcp"]]


def names(lines: list[str]) -> set[NormalizedName]:
    return {canonicalize_name(Requirement(line).name) for line in lines}


def test_every_optional_import_is_installed_by_the_extra_the_table_names() -> None:
    """The table against pyproject, through the distributions installed in the test venv."""
    with open(REPO / "pyproject.toml", "rb") as fh:
        project = tomllib.load(fh)["project"]
    extras = set(project["optional-dependencies"]) - {"test"}
    provided_by = importlib.metadata.packages_distributions()
    base = names(requirements(REPO))
    for module, extra in OPTIONAL_MODULES.items():
        assert extra.name in extras, f"{module}: no extra {extra.name!r} in pyproject.toml"
        dists = {canonicalize_name(d) for d in provided_by[module]}
        assert dists & names(requirements(REPO, [extra.name])), f"[{extra.name}] does not install {module}"
        assert not dists & base, f"the base install brings {module}"
    assert set(requirements(REPO, ["all"])) == set(requirements(REPO, sorted(extras)))
    assert project["name"] == DISTRIBUTION
