"""`shop-watchdog`: run the daemon, validate a config, probe once, talk to the running daemon.

Exit codes are part of the contract (DESIGN.md): bad config is 2 everywhere, with every
problem on stderr; `once` exits with the worst status (0 OK, 1 WARNING, 2 CRITICAL,
3 UNKNOWN); commands that talk to the daemon exit 3 when it is unreachable.

Config: `-c FILE`, else `$SHOP_WATCHDOG_CONFIG`, else /etc/shop-watchdog/watchdog.yaml when
it exists, else the embedded default (watchdog.config.discovery).
"""

from __future__ import annotations

import argparse
import getpass
import json
import logging
import os
import sys
import threading
import urllib.parse
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from checks.base import Status, worst
from checks.registry import CHECKS
from watchdog.cli.client import ApiClient, ApiUnreachable
from watchdog.cli.incident_output import format_incident, format_incidents, timeline_json, timeline_markdown
from watchdog.cli.output import format_config_summary, format_once, format_silences, format_status, once_json
from watchdog.common.clock import SystemClock
from watchdog.common.configtools import ConfigError, parse_duration
from watchdog.common.logs import SCRUBBER, event
from watchdog.config.loader import DEFAULT_CONFIG_PATH, load_config
from watchdog.config.model import HeartbeatConfig, WatchdogConfig
from watchdog.delivery.channels.registry import CHANNELS
from watchdog.delivery.pager import test_notify
from watchdog.incidents.report_text import format_report
from watchdog.monitor.probes import build_check
from watchdog.monitor.runner import Runner, RunOutcome
from watchdog.service.api import ListenError
from watchdog.service.daemon import Daemon, Heartbeat, package_version, register_secrets
from watchdog.service.journal import setup_logging
from watchdog.service.wiring import build_engine

EXIT_OK = 0
EXIT_BAD_CONFIG = 2
EXIT_UNREACHABLE = 3


def config_source(
    explicit: str | None, environ: Mapping[str, str], exists: Callable[[str], bool] = os.path.exists
) -> str | None:
    """The config file to read, or None for the embedded default."""
    if explicit:
        return explicit
    if environ.get("SHOP_WATCHDOG_CONFIG"):
        return environ["SHOP_WATCHDOG_CONFIG"]
    return DEFAULT_CONFIG_PATH if exists(DEFAULT_CONFIG_PATH) else None


def config_loader(explicit: str | None, environ: Mapping[str, str] = os.environ) -> Callable[[], WatchdogConfig]:
    """Reads the config from where it came from, again on every call (SIGHUP reload)."""
    path = config_source(explicit, environ)
    if path is None:
        # imported only here: discovery needs psutil (0.9 MB) that a configured daemon may not
        from watchdog.config.discovery import embedded_default

        return lambda: embedded_default(checks=CHECKS, channels=CHANNELS)
    return lambda: load_config(path, checks=CHECKS, channels=CHANNELS)


# -- commands ------------------------------------------------------------------------------------


def cmd_check_config(args: argparse.Namespace, config: WatchdogConfig) -> int:
    for warning in config.warnings:
        print(f"{config.source}: warning: {warning}", file=sys.stderr)
    print(format_config_summary(config))
    return EXIT_OK


def cmd_run(args: argparse.Namespace, config: WatchdogConfig) -> int:
    from watchdog.service.children import end_children
    from watchdog.service.sdnotify import SystemdNotifier

    os.makedirs(config.state_dir, mode=0o750, exist_ok=True)
    clock = SystemClock()
    daemon = Daemon(
        config,
        clock=clock,
        load=config_loader(args.config),
        sink_factory=build_engine,
        notifier=SystemdNotifier.from_environment(),
        make_heartbeat=lambda heartbeat: _heartbeat(heartbeat, clock),
        set_log_level=setup_logging,
        end_children=end_children,
    )
    daemon.install_signal_handlers()
    try:
        return daemon.run()
    except ListenError as exc:
        event(logging.getLogger("watchdog.cli.main"), "daemon_cannot_listen", logging.ERROR, error=str(exc))
        print(f"shop-watchdog run: {exc}", file=sys.stderr)
        return 1


def _heartbeat(config: HeartbeatConfig, clock: SystemClock) -> Heartbeat:
    from watchdog.service import heartbeat

    return heartbeat.Heartbeat(config.url, config.interval, clock, heartbeat.RequestsGet())


def run_once(config: WatchdogConfig) -> list[RunOutcome | None]:
    """Runs every check once, all at the same time; outcomes in config order."""
    wake = threading.Event()
    runner = Runner(SystemClock(), max_workers=max(1, len(config.checks)), wake=wake.set)
    jobs = {spec.name: runner.submit(spec.name, build_check(spec), spec.timeout) for spec in config.checks}
    done: dict[str, RunOutcome] = {}
    try:
        while len(done) < len(jobs):
            for outcome in runner.poll():
                done[outcome.name] = outcome
            deadline = runner.next_deadline()
            if len(done) < len(jobs):
                wake.wait(0.5 if deadline is None else max(0.0, min(0.5, deadline - SystemClock().monotonic())))
                wake.clear()
    finally:
        runner.close()
    return [done.get(spec.name) for spec in config.checks]


def cmd_once(args: argparse.Namespace, config: WatchdogConfig) -> int:
    from watchdog.service.children import end_children

    try:
        outcomes = run_once(config)
    finally:  # Ctrl-C: plugins run in sessions of their own, the terminal's SIGINT never reaches them
        end_children()
    statuses = [o.result.status for o in outcomes if o is not None]
    overall = worst(statuses) if statuses else Status.OK
    if args.json:
        print(json.dumps(once_json(config, outcomes, overall), indent=2))
    else:
        print(format_once(config, outcomes, overall))
    return int(overall)


def cmd_status(args: argparse.Namespace, config: WatchdogConfig) -> int:
    client = ApiClient(config)
    try:
        status = client.status()
    except ApiUnreachable as exc:
        if args.json:
            print(json.dumps({"error": str(exc), "url": exc.url}, indent=2))
        else:
            print(f"shop-watchdog status: {exc}", file=sys.stderr)
        return EXIT_UNREACHABLE
    print(json.dumps(status, indent=2) if args.json else format_status(status))
    return EXIT_OK


def positive_duration(text: str) -> float:
    """Seconds of a duration option; ValueError when malformed or not above 0."""
    seconds = parse_duration(text)
    if seconds <= 0:
        raise ValueError("duration must be greater than 0")
    return seconds


def _bad_duration(command: str, option: str, text: str) -> bool:
    """Whether `text` is no positive duration (said on stderr): checked before the daemon is asked."""
    try:
        positive_duration(text)
    except ValueError as exc:
        print(f"shop-watchdog {command}: {option}: {exc}", file=sys.stderr)
        return True
    return False


def cmd_report(args: argparse.Namespace, config: WatchdogConfig) -> int:
    if _bad_duration("report", "--since", args.since):
        return 2
    path = f"/api/v1/report?since={urllib.parse.quote(args.since)}"
    answer = _answer("report", lambda: ApiClient(config).get(path))
    if answer is None:
        return EXIT_UNREACHABLE
    code, body = answer
    if code != 200:
        print(f"shop-watchdog report: {body.get('error', f'HTTP {code}')}", file=sys.stderr)
        return 2
    print(json.dumps(body, indent=2) if args.json else format_report(body))
    return EXIT_OK


def cmd_ack(args: argparse.Namespace, config: WatchdogConfig) -> int:
    path = f"/api/v1/incidents/{args.incident_id}/ack"
    answer = _answer("ack", lambda: ApiClient(config).post(path, {"by": args.by}))
    if answer is None:
        return EXIT_UNREACHABLE
    code, body = answer
    if code != 200:
        return _refused("ack", code, body)
    print(f"acknowledged {args.incident_id} (by {args.by})")
    return EXIT_OK


def cmd_silence(args: argparse.Namespace, config: WatchdogConfig) -> int:
    if _bad_duration("silence", "--for", args.duration):
        return 2
    payload = {"check": args.check, "duration": args.duration, "reason": args.reason, "by": args.by}
    answer = _answer("silence", lambda: ApiClient(config).post("/api/v1/silences", payload))
    if answer is None:
        return EXIT_UNREACHABLE
    code, body = answer
    if code == 201:
        until = body.get("until") or body.get("end")
        print(
            f"silenced {args.check} for {args.duration}" + (f" (until {until})" if until else "") + f": {args.reason}"
        )
        return EXIT_OK
    print(f"shop-watchdog silence: {body.get('error', f'HTTP {code}')}", file=sys.stderr)
    return 2


def _answer(command: str, call: Callable[[], tuple[int, dict[str, Any]]]) -> tuple[int, dict[str, Any]] | None:
    """The daemon's answer to `call`; None (said on stderr) when the daemon is unreachable."""
    try:
        return call()
    except ApiUnreachable as exc:
        print(f"shop-watchdog {command}: {exc}", file=sys.stderr)
        return None


def _refused(command: str, code: int, body: dict[str, Any]) -> int:
    """Says why the daemon refused; exit 1 for an unknown id (404), else 2."""
    print(f"shop-watchdog {command}: {body.get('error', f'HTTP {code}')}", file=sys.stderr)
    return 1 if code == 404 else 2


def cmd_silences(args: argparse.Namespace, config: WatchdogConfig) -> int:
    answer = _answer("silences", lambda: ApiClient(config).get("/api/v1/silences"))
    if answer is None:
        return EXIT_UNREACHABLE
    code, body = answer
    if code != 200:
        return _refused("silences", code, body)
    print(json.dumps(body["silences"], indent=2) if args.json else format_silences(body["silences"]))
    return EXIT_OK


def cmd_unsilence(args: argparse.Namespace, config: WatchdogConfig) -> int:
    path = "/api/v1/silences/" + urllib.parse.quote(args.key, safe="")
    answer = _answer("unsilence", lambda: ApiClient(config).delete(path, {"by": args.by}))
    if answer is None:
        return EXIT_UNREACHABLE
    code, body = answer
    if code != 200:
        return _refused("unsilence", code, body)
    for s in body["ended"]:
        print(f"ended silence {s['id']} of {s['check']} (was until {s['until']}: {s['reason']})")
    return EXIT_OK


def _incident(command: str, config: WatchdogConfig, incident_id: str) -> dict[str, Any] | int:
    """The incident from the daemon, or the exit code when there is none to show."""
    path = "/api/v1/incidents/" + urllib.parse.quote(incident_id, safe="")
    answer = _answer(command, lambda: ApiClient(config).get(path))
    if answer is None:
        return EXIT_UNREACHABLE
    code, body = answer
    return body if code == 200 else _refused(command, code, body)


def cmd_incident(args: argparse.Namespace, config: WatchdogConfig) -> int:
    found = _incident("incident", config, args.incident_id)
    if isinstance(found, int):
        return found
    print(json.dumps(found, indent=2) if args.json else format_incident(found))
    return EXIT_OK


def cmd_timeline(args: argparse.Namespace, config: WatchdogConfig) -> int:
    found = _incident("timeline", config, args.incident_id)
    if isinstance(found, int):
        return found
    print(timeline_json(found) if args.format == "json" else timeline_markdown(found))
    return EXIT_OK


def cmd_incidents(args: argparse.Namespace, config: WatchdogConfig) -> int:
    if _bad_duration("incidents", "--since", args.since):
        return 2
    path = "/api/v1/incidents?" + urllib.parse.urlencode({"since": args.since})
    answer = _answer("incidents", lambda: ApiClient(config).get(path))
    if answer is None:
        return EXIT_UNREACHABLE
    code, body = answer
    if code != 200:
        return _refused("incidents", code, body)
    print(json.dumps(body, indent=2) if args.json else format_incidents(body["incidents"], body["since"]))
    return EXIT_OK


def cmd_test_notify(args: argparse.Namespace, config: WatchdogConfig) -> int:
    try:
        config.notify.channel(args.channel)
    except KeyError:
        names = ", ".join(ch.name for ch in config.notify.channels) or "none configured"
        print(f"shop-watchdog test-notify: no channel named {args.channel!r} (channels: {names})", file=sys.stderr)
        return 2
    delivered, message = test_notify(config, args.channel)
    # a receiver's error text may quote what it was sent (a token in a 401 body)
    print(SCRUBBER.scrub(message), file=sys.stdout if delivered else sys.stderr)
    return 0 if delivered else 1


def cmd_install_polkit(args: argparse.Namespace, config: WatchdogConfig) -> int:
    from watchdog.service.polkit import DEFAULT_RULE_PATH, install_polkit_rule

    units = config.restartable_units()
    path = args.output or DEFAULT_RULE_PATH
    try:
        changed = install_polkit_rule(args.user, units, path)
    except ValueError as exc:
        print(f"shop-watchdog install-polkit: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:
        print(f"shop-watchdog install-polkit: cannot write {path}: {exc.strerror or exc}", file=sys.stderr)
        return 1
    state = "written" if changed else "already up to date"
    print(f"{path} {state}: {args.user} may restart {', '.join(units) or 'no units'}")
    return EXIT_OK


# -- wiring --------------------------------------------------------------------------------------


def _default_user() -> str:
    return os.environ.get("SUDO_USER") or getpass.getuser()


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="shop-watchdog", description="Keeps online-shop servers alive: probes, repairs, pages."
    )
    parser.add_argument("--version", action="version", version=f"shop-watchdog {package_version()}")
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "-c",
        "--config",
        metavar="FILE",
        help=f"config file (default: $SHOP_WATCHDOG_CONFIG, else {DEFAULT_CONFIG_PATH}, else the embedded default)",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def add(
        name: str, handler: Callable[[argparse.Namespace, WatchdogConfig], int], text: str
    ) -> argparse.ArgumentParser:
        p = sub.add_parser(name, parents=[common], help=text, description=text)
        p.set_defaults(handler=handler)
        return p

    add("run", cmd_run, "run the daemon in the foreground")
    add("check-config", cmd_check_config, "validate the config and print a summary")
    p = add(
        "once", cmd_once, "run every check once; exit with the worst status (0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN)"
    )
    p.add_argument("--json", action="store_true", help="print JSON")
    p = add("status", cmd_status, "show the running daemon's checks, open incidents and outbox")
    p.add_argument("--json", action="store_true", help="print the daemon's JSON status")
    p = add("report", cmd_report, "the working-hours report: auto-repairs, pages, reaction times")
    p.add_argument("--since", default="7d", metavar="DURATION", help="the period back from now (default: 7d)")
    p.add_argument("--json", action="store_true", help="print the report as JSON")
    p = add("ack", cmd_ack, "acknowledge an incident: stops reminders and escalation")
    p.add_argument("incident_id", metavar="INCIDENT_ID")
    p.add_argument("--by", default=_default_user(), help="who acknowledges (default: your user name)")
    p = add("silence", cmd_silence, "planned work: no restarts and no pages for a check")
    p.add_argument("check", metavar="CHECK")
    p.add_argument("--for", dest="duration", required=True, metavar="DURATION", help="e.g. 30m, 2h")
    p.add_argument("--reason", required=True)
    p.add_argument("--by", default=_default_user())
    p = add("silences", cmd_silences, "list the silences in force: check, until when, who and why")
    p.add_argument("--json", action="store_true", help="print JSON")
    p = add("unsilence", cmd_unsilence, "end a silence early, by its id or by check name (all of that check's)")
    p.add_argument("key", metavar="CHECK|ID")
    p.add_argument("--by", default=_default_user(), help="who ends it (default: your user name)")
    p = add("incidents", cmd_incidents, "list the incidents opened in a span, resolved ones and auto-repairs too")
    p.add_argument("--since", default="7d", metavar="DURATION", help="how far back, e.g. 24h, 7d (default: 7d)")
    p.add_argument("--json", action="store_true", help="print JSON")
    p = add("incident", cmd_incident, "show one incident, resolved or not, with its whole timeline")
    p.add_argument("incident_id", metavar="INCIDENT_ID")
    p.add_argument("--json", action="store_true", help="print JSON")
    p = add("timeline", cmd_timeline, "print an incident's post-mortem timeline")
    p.add_argument("incident_id", metavar="INCIDENT_ID")
    p.add_argument("--format", choices=("markdown", "json"), default="markdown", help="default: markdown")
    p = add("test-notify", cmd_test_notify, "send a test message through one channel")
    p.add_argument("channel", metavar="CHANNEL")
    p = add("install-polkit", cmd_install_polkit, "write the polkit rule allowing restarts of the configured units")
    p.add_argument("--user", default="shop-watchdog", help="the daemon's system user (default: shop-watchdog)")
    p.add_argument(
        "--output",
        metavar="PATH",
        help="where to write the rule (default: /etc/polkit-1/rules.d/50-shop-watchdog.rules)",
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        config = config_loader(args.config)()
    except ConfigError as exc:
        print(str(exc), file=sys.stderr)
        return EXIT_BAD_CONFIG
    setup_logging(config.log_level)
    register_secrets(config)
    handler: Callable[[argparse.Namespace, WatchdogConfig], int] = args.handler
    try:
        return handler(args, config)
    except KeyboardInterrupt:
        return 130
    finally:
        logging.shutdown()
