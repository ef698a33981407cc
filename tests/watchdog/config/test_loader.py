"""The daemon config: every problem at once with its YAML path, through the real
`shop-watchdog check-config` (exit 2, file + key + problem on stderr, secrets never shown)."""

from __future__ import annotations

import base64
import os
import subprocess
import time
from pathlib import Path

import pytest
import yaml

from checks.disk import DiskOptions
from checks.registry import CHECKS
from tests.watchdog.hostile_yaml import HOSTILE_FILES
from watchdog.common.configtools import ConfigError
from watchdog.config.loader import load_config, parse_config
from watchdog.config.model import WatchdogConfig
from watchdog.delivery.channels.registry import CHANNELS

ROOT = Path(__file__).resolve().parents[3]
CLI = str(ROOT / ".venv" / "bin" / "shop-watchdog")
EXAMPLE = ROOT / "config" / "watchdog.yaml"


def check_config(path: Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    full_env = {k: v for k, v in os.environ.items() if k != "SHOP_WATCHDOG_CONFIG"} | (env or {})
    return subprocess.run(
        [CLI, "check-config", "-c", str(path)], capture_output=True, text=True, env=full_env, timeout=60
    )


def problems_of(node: object) -> list[str]:
    with pytest.raises(ConfigError) as info:
        parse_config(node, "test.yaml", checks=CHECKS, channels=CHANNELS)
    return [str(p) for p in info.value.problems]


def test_minimal_config_gets_documented_defaults() -> None:
    config = parse_config(
        {"checks": [{"name": "root", "type": "disk", "path": "/"}]}, "t.yaml", checks=CHECKS, channels=CHANNELS
    )
    assert config.state_dir == "/var/lib/shop-watchdog"
    assert str(config.listen) == "127.0.0.1:9841" and config.listen.loopback_only
    (spec,) = config.checks
    assert (spec.interval, spec.timeout, spec.retries, spec.retry_interval, spec.severity) == (
        30.0,
        5.0,
        3,
        5.0,
        "critical",
    )
    assert isinstance(spec.options, DiskOptions) and spec.options.warn == 80.0


def test_check_timing_overrides_defaults() -> None:
    config = parse_config(
        {
            "defaults": {"interval": "1m", "retries": 2},
            "checks": [{"name": "a", "type": "disk", "path": "/", "interval": "10s", "timeout": "500ms"}],
        },
        "t.yaml",
        checks=CHECKS,
        channels=CHANNELS,
    )
    (spec,) = config.checks
    assert (spec.interval, spec.timeout, spec.retries) == (10.0, 0.5, 2)


def test_every_problem_is_reported_at_once_with_its_yaml_path() -> None:
    problems = problems_of(
        {
            "listne": "127.0.0.1:1",
            "defaults": {"interval": "often"},
            "checks": [
                {"name": "root", "type": "disk", "path": "/", "warn": "180%"},
                {"name": "web", "type": "htp", "url": "http://x"},
                {"name": "root", "type": "disk", "path": "/var"},
                {
                    "name": "db",
                    "type": "tcp",
                    "host": "127.0.0.1",
                    "port": 1,
                    "depends_on": ["nope"],
                    "timeout": "5 sec",
                },
            ],
            "notify": {"routes": {"critical": {"channels": ["pager"]}}},
        }
    )
    assert problems == [
        "defaults.interval: expected a duration like 30s, 5m or 500ms, got 'often'",
        "listne: unknown key (valid keys: ack_key_file, api_hosts, api_token, api_token_env, api_token_file, "
        "business_hours, checks, defaults, heartbeat, host, listen, log_level, notify, post_deploy, public_url, "
        "remediation, report, state_dir)",
        "checks[0].warn: expected a percentage from 0% to 100%, got '180%'",
        "checks[1].type: unknown check type 'htp' (valid types: command, disk, http, mysql, postgres, process, redis, "
        "system, systemd, tcp)",
        "checks[2].name: duplicate check name 'root' (also checks[0])",
        "checks[3].timeout: expected a duration like 30s, 5m or 500ms, got '5 sec'",
        "notify.routes.critical.channels[0]: no channel named 'pager' (channels: none)",
    ]


def test_unknown_key_inside_a_check_lists_the_valid_ones() -> None:
    (problem,) = problems_of({"checks": [{"name": "root", "type": "disk", "path": "/", "crit_at": "90%"}]})
    assert problem.startswith("checks[0].crit_at: unknown key (valid keys: ")
    assert "crit" in problem and "inodes_crit" in problem and "retry_interval" in problem


def test_dependencies_must_exist_and_not_loop() -> None:
    problems = problems_of(
        {
            "checks": [
                {"name": "a", "type": "disk", "path": "/", "depends_on": ["b"]},
                {"name": "b", "type": "disk", "path": "/", "depends_on": ["a", "ghost"]},
            ]
        }
    )
    assert "checks[1].depends_on[1]: no check named 'ghost'" in problems
    assert any(p.startswith("checks[0].depends_on: dependency cycle") for p in problems)


def test_remediation_must_fit_the_backend_and_name_a_unit() -> None:
    problems = problems_of(
        {
            "checks": [
                {
                    "name": "web",
                    "type": "tcp",
                    "host": "127.0.0.1",
                    "port": 80,
                    "remediate": {"command": ["/bin/true"]},
                },
                {"name": "db", "type": "tcp", "host": "127.0.0.1", "port": 5432, "remediate": {"restart": "rm -rf /"}},
            ]
        }
    )
    assert "checks[0].remediate: remediation.backend is systemd: give restart: UNIT" in problems
    assert any(p.startswith("checks[1].remediate: restart: 'rm -rf /' is not a systemd unit name") for p in problems)


def test_non_loopback_listener_requires_an_api_token(tmp_path: Path) -> None:
    assert problems_of({"listen": "0.0.0.0:9841"}) == [
        "api_token_file: listen 0.0.0.0:9841 is not loopback-only: an api_token_file is required"
    ]
    token = tmp_path / "token"
    token.write_text("tok-123456\n")
    config = parse_config(
        {"listen": "0.0.0.0:9841", "api_token_file": str(token)}, "t.yaml", checks=CHECKS, channels=CHANNELS
    )
    assert config.api_token is not None and config.api_token.reveal() == "tok-123456"
    assert [s.reveal() for s in config.secrets()] == ["tok-123456"]


def test_bad_listen_and_timing_values() -> None:
    problems = problems_of(
        {"listen": "localhost", "checks": [{"name": "a", "type": "disk", "path": "/", "retries": 0}]}
    )
    assert problems[0].startswith("listen: expected HOST:PORT")
    assert "checks[0]: retries must be at least 1 (1 = the first failure is confirmed)" in problems


def test_unknown_holiday_country_is_a_config_error_not_a_crash_at_start(tmp_path: Path) -> None:
    config = tmp_path / "watchdog.yaml"
    config.write_text("checks: [{name: root, type: disk, path: /}]\nbusiness_hours: {holidays: XX}\n")
    proc = check_config(config)
    assert proc.returncode == 2
    assert f"{config}: business_hours.holidays: unknown country code 'XX'" in proc.stderr
    assert (
        parse_config(
            {"business_hours": {"holidays": "de"}}, "t.yaml", checks=CHECKS, channels=CHANNELS
        ).business_hours.holidays
        == "de"
    )
    assert (
        parse_config(
            {"business_hours": {"holidays": None}}, "t.yaml", checks=CHECKS, channels=CHANNELS
        ).business_hours.holidays
        is None
    )


def test_secrets_of_checks_and_channels_are_collected(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("T_PG_PW", "pg-secret-1")
    monkeypatch.setenv("T_PD_KEY", "pd-secret-2")
    config = parse_config(
        {
            "checks": [{"name": "pg", "type": "postgres", "password_env": "T_PG_PW"}],
            "notify": {"channels": [{"name": "pager", "type": "pagerduty", "routing_key_env": "T_PD_KEY"}]},
        },
        "t.yaml",
        checks=CHECKS,
        channels=CHANNELS,
    )
    assert sorted(s.reveal() for s in config.secrets()) == ["pd-secret-2", "pg-secret-1"]


def test_check_config_exits_2_naming_file_key_and_problem(tmp_path: Path) -> None:
    path = tmp_path / "watchdog.yaml"
    path.write_text(
        yaml.safe_dump(
            {
                "checks": [
                    {"name": "root", "type": "disk", "path": "/", "warn": "lots"},
                    {"name": "web", "type": "http", "url": "http://127.0.0.1/", "slow": "fast"},
                ]
            }
        )
    )
    proc = check_config(path)
    assert proc.returncode == 2
    assert proc.stdout == ""
    assert proc.stderr.splitlines() == [
        f"{path}: checks[0].warn: expected a percentage from 0% to 100%, got 'lots'",
        f"{path}: checks[1].slow: expected a duration like 30s, 5m or 500ms, got 'fast'",
    ]


def test_check_config_never_prints_a_secret(tmp_path: Path) -> None:
    path = tmp_path / "watchdog.yaml"
    pw = tmp_path / "pw"
    pw.write_text("Very-Secret-PW-42\n")
    path.write_text(
        yaml.safe_dump(
            {
                "checks": [
                    {"name": "db", "type": "mysql", "password_file": str(pw)},
                    {"name": "bad", "type": "mysql", "password": "Inline-Secret-43"},
                ]
            }
        )
    )
    proc = check_config(path)
    assert proc.returncode == 2
    assert "checks[1].password: inline secrets are not accepted" in proc.stderr
    assert "Secret-PW-42" not in proc.stdout + proc.stderr and "Inline-Secret-43" not in proc.stdout + proc.stderr
    path.write_text(yaml.safe_dump({"checks": [{"name": "db", "type": "mysql", "password_file": str(pw)}]}))
    proc = check_config(path)
    assert proc.returncode == 0, proc.stderr
    assert "Secret-PW-42" not in proc.stdout + proc.stderr


def test_check_config_on_missing_file_exits_2(tmp_path: Path) -> None:
    proc = check_config(tmp_path / "nope.yaml")
    assert proc.returncode == 2
    assert proc.stderr.strip() == f"{tmp_path / 'nope.yaml'}: cannot read: No such file or directory"


def test_example_config_validates_given_its_secrets(tmp_path: Path) -> None:
    """config/watchdog.yaml as shipped: valid once its secret files and variables exist, and
    every missing secret is reported by key when they do not."""
    text = EXAMPLE.read_text().replace("/etc/shop-watchdog/", f"{tmp_path}/")
    (tmp_path / "mysql.pass").write_text("mysql-pw\n")
    (tmp_path / "apprise.urls").write_text("ntfys://tk_apprise-token@ntfy.example.com/shop-alerts\n")
    path = tmp_path / "watchdog.yaml"
    path.write_text(text)
    env = {
        "PG_MONITOR_PASSWORD": "pg-pw",
        "SMTP_PASSWORD": "smtp-pw",
        "PD_ROUTING_KEY": "pd-key",
        "CHAT_WEBHOOK_TOKEN": "chat-token",
    }
    proc = check_config(path, env)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith(f"{path}: valid\nhost shop-web-1")
    assert "12 checks:" in proc.stdout and "web (http, critical, every 30s" in proc.stdout
    for secret in ["mysql-pw", "tk_apprise-token", *env.values()]:
        assert secret not in proc.stdout
    missing = check_config(path, {"PG_MONITOR_PASSWORD": "", "SMTP_PASSWORD": "x"})
    assert missing.returncode == 2
    assert (
        f"{path}: notify.channels[1].routing_key_env: environment variable PD_ROUTING_KEY is not set" in missing.stderr
    )


def test_example_config_shows_every_check_type_and_channel_type() -> None:
    example = yaml.safe_load(EXAMPLE.read_text())
    shown_checks = {check["type"] for check in example["checks"]}
    shown_channels = {channel["type"] for channel in example["notify"]["channels"]}
    assert sorted(set(CHECKS) - shown_checks) == [], "check types missing from config/watchdog.yaml"
    assert sorted(set(CHANNELS) - shown_channels) == [], "channel types missing from config/watchdog.yaml"


def test_load_config_round_trip(tmp_path: Path) -> None:
    path = tmp_path / "c.yaml"
    path.write_text("host: shop-db-2\nchecks:\n  - {name: root, type: disk, path: /, crit: 95%}\n")
    config: WatchdogConfig = load_config(str(path), checks=CHECKS, channels=CHANNELS)
    assert config.source == str(path) and config.host == "shop-db-2"
    options = config.check("root").options
    assert isinstance(options, DiskOptions) and options.crit == 95.0


def test_the_state_store_checks_name_is_not_for_configured_checks() -> None:
    assert problems_of({"checks": [{"name": "state-store", "type": "disk", "path": "/"}]}) == [
        "checks[0].name: 'state-store' is the name of the daemon's own state store check"
    ]


@pytest.mark.parametrize("unit", ["-nginx.service", "--all.service", "-Hevil.service"])
def test_a_unit_name_starting_with_a_dash_is_refused_by_check_config(tmp_path: Path, unit: str) -> None:
    """systemctl would read it as an option (`--` in the argv guards anyway)."""
    path = tmp_path / "w.yaml"
    check = {"name": "web", "type": "tcp", "host": "127.0.0.1", "port": 80, "remediate": {"restart": unit}}
    path.write_text(yaml.safe_dump({"checks": [check]}))

    result = check_config(path)

    assert result.returncode == 2, result.stdout
    assert f"{path}: checks[0].remediate: restart: {unit!r} is not a systemd unit name systemctl can take" in (
        result.stderr
    )
    assert "Traceback" not in result.stderr


def test_api_hosts_are_host_names() -> None:
    config = parse_config(
        {"api_hosts": ["Shop-Web-1.Example.COM.", "metrics"]}, "t.yaml", checks=CHECKS, channels=CHANNELS
    )
    assert config.api_hosts == ("shop-web-1.example.com", "metrics")
    assert problems_of({"api_hosts": ["ok.example", "shop:9841", "http://x", "*.example", ""]}) == [
        f"api_hosts[{i}]: {name!r} is not a host name (a DNS name such as shop-web-1.example.com, no port, no scheme)"
        for i, name in [(1, "shop:9841"), (2, "http://x"), (3, "*.example"), (4, "")]
    ]
    assert problems_of({"api_hosts": {"a": 1}}) == ["api_hosts: expected a list, got dict"]


@pytest.mark.parametrize("blank", ["", " \n\t "])
def test_a_blank_secret_is_an_error_naming_its_key(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, blank: str) -> None:
    token = tmp_path / "token"
    token.write_text(blank)
    monkeypatch.setenv("SHOP_WATCHDOG_TEST_BLANK", blank)

    assert problems_of({"api_token_file": str(token)}) == [
        f"api_token_file: {token} is empty: a blank secret protects nothing"
    ]
    assert problems_of({"api_token_env": "SHOP_WATCHDOG_TEST_BLANK"}) == [
        "api_token_env: environment variable SHOP_WATCHDOG_TEST_BLANK is empty: a blank secret protects nothing"
    ]


# -- ranges, zeros, warnings, secrets, percentages (issue 9 and 10) ------------------------------


def write_yaml(path: Path, config: object) -> Path:
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    return path


def test_heartbeat_interval_0s_is_exit_2_at_check_config_and_at_run_never_a_crash(tmp_path: Path) -> None:
    path = write_yaml(
        tmp_path / "watchdog.yaml",
        {
            "listen": "127.0.0.1:0",
            "state_dir": str(tmp_path),
            "heartbeat": {"url": "http://127.0.0.1:1/p", "interval": "0s"},
        },
    )
    checked = check_config(path)
    assert checked.returncode == 2
    assert checked.stderr.strip() == (
        f'{path}: heartbeat.interval: must be from 1s to 1d, got 0s (zero does not mean "off")'
    )
    run = subprocess.run([CLI, "run", "-c", str(path)], capture_output=True, text=True, timeout=60)
    assert run.returncode == 2
    assert "heartbeat.interval" in run.stderr and "Traceback" not in run.stderr


@pytest.mark.parametrize(
    "url", ["ftp://127.0.0.1/ping", "127.0.0.1:8000/ping", "http:///no-host", "http://host/ping secret-id-9"]
)
def test_heartbeat_url_must_be_http_with_a_host_and_is_never_quoted(tmp_path: Path, url: str) -> None:
    path = write_yaml(tmp_path / "watchdog.yaml", {"heartbeat": {"url": url}})
    proc = check_config(path)
    assert proc.returncode == 2
    assert proc.stderr.strip() == (
        f"{path}: heartbeat: url: expected an http:// or https:// URL with a host (no spaces)"
    )
    assert "secret-id-9" not in proc.stderr


@pytest.mark.parametrize(("value", "shown"), [("0s", "0s"), ("500ms", "500ms"), ("2h", "2h"), (-5, None)])
def test_restart_timeout_outside_1s_to_1h_is_exit_2_with_its_path(tmp_path: Path, value: object, shown: str) -> None:
    path = write_yaml(tmp_path / "watchdog.yaml", {"remediation": {"restart_timeout": value}})
    proc = check_config(path)
    assert proc.returncode == 2
    (line,) = proc.stderr.splitlines()
    assert line.startswith(f"{path}: remediation.restart_timeout: ")
    if shown is not None:
        assert f"must be from 1s to 1h, got {shown}" in line
    else:
        assert "must not be negative" in line


def test_zeros_that_would_switch_something_off_are_errors_naming_how_to_switch_it_off() -> None:
    problems = problems_of(
        {
            "remediation": {"restart_timeout": "0s", "verify_after": 0},
            "notify": {
                "channels": [{"name": "hook", "type": "webhook", "url": "http://127.0.0.1:9/h"}],
                "routes": {"critical": {"channels": ["hook"], "repeat_every": "0s", "escalate_after": "0m"}},
            },
        }
    )
    off = '(zero does not mean "off"'
    assert problems == [
        f"remediation.verify_after: must be from 100ms to 1h, got 0s {off})",
        f"remediation.restart_timeout: must be from 1s to 1h, got 0s {off})",
        f"notify.routes.critical.repeat_every: must be from 1s to 7d, got 0s {off}: "
        "to send no reminders, leave repeat_every out)",
        f"notify.routes.critical.escalate_after: must be from 1s to 7d, got 0s {off}: "
        "to never escalate, leave escalate_after out)",
    ]


@pytest.mark.parametrize(
    ("node", "path", "allowed"),
    [
        ({"defaults": {"interval": "2d"}}, "defaults.interval", "from 100ms to 1d"),
        ({"defaults": {"timeout": "2h"}}, "defaults.timeout", "from 100ms to 1h"),
        ({"defaults": {"retry_interval": "10ms"}}, "defaults.retry_interval", "from 100ms to 1d"),
        ({"checks": [{"name": "a", "type": "disk", "path": "/", "interval": "0s"}]}, "checks[0].interval", "100ms"),
        ({"checks": [{"name": "a", "type": "disk", "path": "/", "timeout": "3h"}]}, "checks[0].timeout", "1h"),
        ({"remediation": {"restart_window": "30d"}}, "remediation.restart_window", "from 1s to 7d"),
        ({"remediation": {"verify_after": "2h"}}, "remediation.verify_after", "from 100ms to 1h"),
        ({"heartbeat": {"url": "http://127.0.0.1:9/p", "interval": "2d"}}, "heartbeat.interval", "from 1s to 1d"),
        (
            {"checks": [{"name": "w", "type": "http", "url": "http://127.0.0.1/", "slow": "0s"}]},
            "checks[0].slow",
            "1ms",
        ),
        (
            {"notify": {"channels": [{"name": "h", "type": "webhook", "url": "http://127.0.0.1:9/", "timeout": "9d"}]}},
            "notify.channels[0].timeout",
            "from 1ms to 1d",
        ),
    ],
)
def test_every_duration_of_the_daemon_config_has_a_range(node: dict[str, object], path: str, allowed: str) -> None:
    (problem,) = problems_of(node)
    assert problem.startswith(f"{path}: must be ") and allowed in problem


def test_huge_counts_are_errors_not_overflows() -> None:
    problems = problems_of({"defaults": {"retries": 2**40}, "remediation": {"max_restarts": 10**6}})
    assert problems == ["defaults: retries must be at most 100", "remediation: max_restarts must be at most 100"]


def test_timeout_longer_than_interval_is_a_warning_at_check_config(tmp_path: Path) -> None:
    path = write_yaml(
        tmp_path / "watchdog.yaml",
        {
            "defaults": {"interval": "10s", "timeout": "20s"},
            "checks": [
                {"name": "inherits", "type": "disk", "path": "/"},
                {"name": "own", "type": "disk", "path": "/", "interval": "5s", "timeout": "6s"},
                {"name": "fine", "type": "disk", "path": "/", "timeout": "5s"},
            ],
        },
    )
    proc = check_config(path)
    assert proc.returncode == 0, proc.stderr
    why = "runs never overlap, so a run that hangs until its timeout delays the next one"
    assert [line for line in proc.stderr.splitlines() if ".timeout: " in line] == [
        f"{path}: warning: checks[0].timeout: timeout 20s is longer than interval 10s: {why}",
        f"{path}: warning: checks[1].timeout: timeout 6s is longer than interval 5s: {why}",
    ]
    assert proc.stdout.startswith(f"{path}: valid")


NO_CHECKS = "checks: no checks configured: the daemon runs but watches nothing"
NO_CHANNEL = "notify.channels: no notification channel: a failure that a restart cannot fix is told to nobody"


@pytest.mark.parametrize("text", ["", "{}\n", "checks: []\n"])
def test_empty_config_is_valid_with_warnings_at_check_config(tmp_path: Path, text: str) -> None:
    path = tmp_path / "watchdog.yaml"
    path.write_text(text)
    proc = check_config(path)
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr.splitlines() == [f"{path}: warning: {NO_CHECKS}", f"{path}: warning: {NO_CHANNEL}"]
    assert proc.stdout.startswith(f"{path}: valid")


def test_config_without_a_notification_channel_is_valid_with_a_warning_at_check_config(tmp_path: Path) -> None:
    path = write_yaml(tmp_path / "watchdog.yaml", {"checks": [{"name": "root", "type": "disk", "path": "/"}]})
    proc = check_config(path)
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr.splitlines() == [f"{path}: warning: {NO_CHANNEL}"]


def test_empty_secret_files_and_blank_secret_variables_are_exit_2(tmp_path: Path) -> None:
    empty, blank, good = tmp_path / "empty", tmp_path / "blank", tmp_path / "good"
    empty.write_text("")
    blank.write_text("  \n\n")
    good.write_text("good-secret-1\n")
    path = write_yaml(
        tmp_path / "watchdog.yaml",
        {
            "listen": "0.0.0.0:9841",
            "api_token_file": str(empty),
            "checks": [
                {"name": "db", "type": "mysql", "password_file": str(blank)},
                {"name": "cache", "type": "redis", "password_file": str(good)},
            ],
            "notify": {
                "channels": [
                    {"name": "pager", "type": "pagerduty", "routing_key_env": "T_BLANK_KEY"},
                    {"name": "hook", "type": "webhook", "url": "http://127.0.0.1:9/h", "token_env": "T_EMPTY_TOKEN"},
                ]
            },
        },
    )
    proc = check_config(path, {"T_BLANK_KEY": " \t", "T_EMPTY_TOKEN": ""})
    why = "a blank secret protects nothing"
    assert proc.returncode == 2
    assert proc.stderr.splitlines() == [
        f"{path}: api_token_file: {empty} is empty: {why}",
        f"{path}: checks[0].password_file: {blank} is empty: {why}",
        f"{path}: notify.channels[0].routing_key_env: environment variable T_BLANK_KEY is empty: {why}",
        f"{path}: notify.channels[1].token_env: environment variable T_EMPTY_TOKEN is empty: {why}",
    ]


@pytest.mark.parametrize("written", ["0.8", 0.8])
def test_percentage_without_its_sign_is_exit_2_naming_both_readings(tmp_path: Path, written: object) -> None:
    path = write_yaml(
        tmp_path / "watchdog.yaml", {"checks": [{"name": "root", "type": "disk", "path": "/", "warn": written}]}
    )
    proc = check_config(path)
    assert proc.returncode == 2
    assert proc.stderr.strip() == (
        f'{path}: checks[0].warn: {written!r} is ambiguous: write "80%" if it is a ratio, or "0.8%" if it is percent'
    )
    checks = [{"name": "root", "type": "disk", "path": "/", "warn": "0.8%", "crit": 95}]
    options = parse_config({"checks": checks}, "t.yaml", checks=CHECKS, channels=CHANNELS).check("root").options
    assert isinstance(options, DiskOptions) and (options.warn, options.crit) == (0.8, 95.0)


def test_password_of_a_url_is_a_secret_as_written_decoded_and_as_basic_auth() -> None:
    config = parse_config(
        {"checks": [{"name": "admin", "type": "http", "url": "http://ops:p%40ss-w0rd@127.0.0.1/admin"}]},
        "t.yaml",
        checks=CHECKS,
        channels=CHANNELS,
    )
    assert sorted(s.reveal() for s in config.secrets()) == sorted(
        ["p%40ss-w0rd", "p@ss-w0rd", base64.b64encode(b"ops:p@ss-w0rd").decode()]
    )


@pytest.mark.parametrize("what", HOSTILE_FILES)
def test_check_config_rejects_a_hostile_file_in_one_line_exit_2_at_once(tmp_path: Path, what: str) -> None:
    path = tmp_path / "watchdog.yaml"
    path.write_bytes(HOSTILE_FILES[what])
    started = time.monotonic()
    proc = check_config(path)
    assert proc.returncode == 2
    (line,) = proc.stderr.splitlines()
    assert line.startswith(f"{path}: ") and "Traceback" not in proc.stderr
    assert len(line) < len(str(path)) + 400, "a value that expands without bound is never printed whole"
    assert time.monotonic() - started < 10


def test_report_digest_is_weekly_by_default_and_its_period_is_validated() -> None:
    checks = [{"name": "root", "type": "disk", "path": "/"}]
    config = parse_config({"checks": checks}, "t.yaml", checks=CHECKS, channels=CHANNELS)
    assert (config.report.every, config.report.digest) == (7 * 86400.0, True)
    config = parse_config(
        {"checks": checks, "report": {"every": "1d", "digest": False}}, "t.yaml", checks=CHECKS, channels=CHANNELS
    )
    assert (config.report.every, config.report.digest) == (86400.0, False)
    assert problems_of({"checks": checks, "report": {"every": "0s", "when": "monday"}}) == [
        'report.every: must be from 1d to 28d, got 0s (zero does not mean "off")',
        "report.when: unknown key (valid keys: digest, every)",
    ]
