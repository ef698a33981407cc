"""The incident gate for a whole fleet: Alertmanager and Prometheus answer for every server.

Two sources, each optional, each answering for the fleet:

* **Alertmanager** (`alertmanager_urls`, API v2): the firing alerts that match every one of
  `alertmanager_matchers` (default `severity="critical"`) block. All nodes of the cluster are
  asked at once and what they say is joined: the nodes share silences but not alerts, and a
  sender that missed one node is caught up only by its next re-send. One node answering is
  enough; nodes that do not answer are told in a note. A silenced alert does not block (a
  silence is someone's decision that the alert needs nobody now); an inhibited one does
  (inhibition only keeps a notification quiet, the problem is there).
* **Prometheus** (`prometheus_url` + `prometheus_query`): the release is blocked while the
  instant query returns any series, e.g. `ALERTS{alertstate="firing", severity="critical"}`.

The sources combine: any source that answers with something blocking blocks, and only when
neither answers does `on_unreachable` decide (block: fail closed). The servers' own status
URLs (deploy_guard.incident_gate) keep their per-server rule and are asked at the same time,
so the whole gate still waits at most `timeout`. Requests are plain GETs through the same
`fetch` as the status URLs (urllib, no extra dependency for a gate-only install).
"""

from __future__ import annotations

import functools
import json
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

from deploy_guard.incident_gate import Fetch, GateResult, GateSource, StatusUnavailable, check_incident_gate
from deploy_guard.parallel import in_parallel
from deploy_guard.policy import IncidentGateConfig
from deploy_guard.release_windows import Reason

ALERTMANAGER = "alertmanager"
PROMETHEUS = "prometheus"
_LISTED = 10


@dataclass(frozen=True)
class FleetAlert:
    """One blocking alert (Alertmanager) or series (Prometheus): its labels and what it says."""

    labels: Mapping[str, str]
    summary: str = ""
    since: str = ""

    def text(self) -> str:
        name = self.labels.get("__name__") or self.labels.get("alertname") or "series"
        rest = ", ".join(f"{k}={v}" for k, v in sorted(self.labels.items()) if k not in ("__name__", "alertname"))
        words = f"{name}{{{rest}}}"
        if self.summary:
            words += f": {self.summary}"
        return words + (f" (since {self.since})" if self.since else "")


@dataclass(frozen=True)
class FleetAnswer:
    """What one fleet source said: the blocking alerts it reported (joined over the nodes
    that answered) and, per URL that did not answer, why."""

    source: str
    urls: tuple[str, ...]
    answered_by: tuple[str, ...] = ()
    alerts: tuple[FleetAlert, ...] = ()
    errors: Mapping[str, str] = field(default_factory=dict)

    @property
    def answered(self) -> bool:
        return bool(self.answered_by)

    def as_json(self) -> dict[str, Any]:
        found: dict[str, Any] = {"source": self.source, "urls": list(self.urls), "answered_by": list(self.answered_by)}
        if self.answered:
            found["alerts"] = [dict(a.labels) for a in self.alerts]
        if self.errors:
            found["errors"] = dict(self.errors)
        return found


def _get_json(fetch: Fetch, url: str, timeout: float) -> Any:
    try:
        return json.loads(fetch(url, timeout))
    except (ValueError, UnicodeDecodeError) as exc:
        raise StatusUnavailable("answer is not JSON") from exc


def _alertmanager_alerts(document: Any) -> tuple[FleetAlert, ...]:
    """The alerts of a GET /api/v2/alerts answer; StatusUnavailable if it is not one."""
    if not isinstance(document, list) or not all(
        isinstance(a, dict) and isinstance(a.get("labels"), dict) for a in document
    ):
        raise StatusUnavailable("answer is not an Alertmanager alert list")
    return tuple(
        FleetAlert(
            {str(k): str(v) for k, v in a["labels"].items()},
            str(_mapping(a.get("annotations")).get("summary") or ""),
            str(a.get("startsAt") or ""),
        )
        for a in document
    )


def _mapping(value: object) -> Mapping[str, object]:
    return value if isinstance(value, dict) else {}


def ask_alertmanager(urls: tuple[str, ...], matchers: tuple[str, ...], timeout: float, fetch: Fetch) -> FleetAnswer:
    """Every node's firing, unsilenced alerts matching `matchers`, joined by label set."""
    states = [("active", "true"), ("silenced", "false"), ("inhibited", "true")]
    query = urlencode(states + [("filter", m) for m in matchers])

    def ask(url: str) -> tuple[FleetAlert, ...] | str:
        try:
            return _alertmanager_alerts(_get_json(fetch, f"{url.rstrip('/')}/api/v2/alerts?{query}", timeout))
        except StatusUnavailable as exc:
            return str(exc)

    answers = in_parallel({url: functools.partial(ask, url) for url in urls}, timeout)
    joined: dict[tuple[tuple[str, str], ...], FleetAlert] = {}
    errors: dict[str, str] = {}
    for url, answer in answers.items():
        if answer is None or isinstance(answer, str):
            errors[url] = answer or f"no answer within {timeout:g}s"
            continue
        for alert in answer:
            joined.setdefault(tuple(sorted(alert.labels.items())), alert)
    answered = tuple(url for url in urls if url not in errors)
    return FleetAnswer(ALERTMANAGER, urls, answered, tuple(joined.values()), errors)


def ask_prometheus(url: str, query: str, timeout: float, fetch: Fetch) -> FleetAnswer:
    """The series `query` returns now (each one blocks)."""

    def ask() -> tuple[FleetAlert, ...] | str:
        target = f"{url.rstrip('/')}/api/v1/query?{urlencode({'query': query})}"
        try:
            return _prometheus_series(_get_json(fetch, target, timeout))
        except StatusUnavailable as exc:
            if str(exc) in ("HTTP 400", "HTTP 422"):
                return f"{exc}: Prometheus rejected incident_gate.prometheus_query (try it in Prometheus' own UI)"
            return str(exc)

    answer = in_parallel({url: ask}, timeout)[url]
    if answer is None or isinstance(answer, str):
        return FleetAnswer(PROMETHEUS, (url,), errors={url: answer or f"no answer within {timeout:g}s"})
    return FleetAnswer(PROMETHEUS, (url,), (url,), answer)


def _prometheus_series(document: Any) -> tuple[FleetAlert, ...]:
    data = document.get("data") if isinstance(document, dict) and document.get("status") == "success" else None
    if not isinstance(data, dict) or not isinstance(data.get("result"), list):
        raise StatusUnavailable("answer is not a Prometheus query result")
    if data.get("resultType") not in ("vector", "matrix"):
        raise StatusUnavailable(
            f"incident_gate.prometheus_query returns a {data.get('resultType')}, not series: write a selector or "
            "a comparison that returns the series that block"
        )
    return tuple(
        FleetAlert({str(k): str(v) for k, v in _mapping(item.get("metric")).items()})
        for item in data["result"]
        if isinstance(item, dict)
    )


def check_fleet(config: IncidentGateConfig, fetch: Fetch) -> GateResult[FleetAnswer]:
    """The fleet sources' verdict: blocking alerts block; none answering -> `on_unreachable`."""
    calls: dict[str, Callable[[], FleetAnswer]] = {}
    if config.alertmanager_urls:
        calls[ALERTMANAGER] = lambda: ask_alertmanager(
            config.alertmanager_urls, config.alertmanager_matchers, config.timeout, fetch
        )
    if config.prometheus_url is not None and config.prometheus_query is not None:
        url, query = config.prometheus_url, config.prometheus_query
        calls[PROMETHEUS] = lambda: ask_prometheus(url, query, config.timeout, fetch)
    if not calls:
        return GateResult((), ())
    answers = [answer for answer in in_parallel(calls, config.timeout + 1.0).values() if answer is not None]
    reasons: list[Reason] = []
    notes: list[str] = []
    for answer in answers:
        if answer.alerts:
            reasons.append(_blocking(answer, config))
        for url, error in answer.errors.items():
            if any(a.answered for a in answers):
                notes.append(f"{answer.source} {url} unreachable: {error} (the fleet's answer came from the others)")
    if not any(a.answered for a in answers):
        told = "; ".join(f"{a.source} {url}: {error}" for a in answers for url, error in a.errors.items())
        text = f"no fleet source answered ({told or 'no answer in time'})"
        if config.on_unreachable == "block":
            help_text = (
                "check that they run and this runner may reach them (the URLs in incident_gate), "
                "or set incident_gate.on_unreachable: allow"
            )
            reasons.append(
                Reason(
                    "incident_status_unreachable",
                    f"{text} (on_unreachable: block); {help_text}",
                    "incident_gate.on_unreachable: block",
                )
            )
        else:
            notes.append(f"{text} (on_unreachable: allow)")
    return GateResult(tuple(reasons), tuple(notes), tuple(answers))


def _blocking(answer: FleetAnswer, config: IncidentGateConfig) -> Reason:
    listed = "; ".join(alert.text() for alert in answer.alerts[:_LISTED])
    more = f"; and {len(answer.alerts) - _LISTED} more" if len(answer.alerts) > _LISTED else ""
    if answer.source == ALERTMANAGER:
        matching = ", ".join(config.alertmanager_matchers) or "any label"
        text = f"{len(answer.alerts)} firing alert(s) in Alertmanager matching {matching}: {listed}{more}"
        return Reason("incident_open", text, f"incident_gate.alertmanager_matchers: {matching}")
    text = f"{len(answer.alerts)} series from Prometheus for {config.prometheus_query!r}: {listed}{more}"
    return Reason("incident_open", text, f"incident_gate.prometheus_query: {config.prometheus_query}")


def fleet_text(config: IncidentGateConfig) -> str:
    """The fleet sources for `deploy-guard validate`'s summary ("" without any)."""
    text = ""
    if config.alertmanager_urls:
        matching = ", ".join(config.alertmanager_matchers) or "any label"
        text += f", Alertmanager {len(config.alertmanager_urls)} node(s) matching {matching}"
    if config.prometheus_query is not None:
        text += f", Prometheus query {config.prometheus_query!r}"
    return text


def check_gate(config: IncidentGateConfig, fetch: Fetch) -> GateResult[GateSource]:
    """The whole incident gate: the servers' status URLs and the fleet sources, asked together
    (each part bounds its own wait by `timeout`)."""
    fleet: list[GateResult[FleetAnswer]] = []
    thread = threading.Thread(target=lambda: fleet.append(check_fleet(config, fetch)), daemon=True, name="gate fleet")
    thread.start()
    servers = check_incident_gate(config, fetch)
    thread.join()
    results: list[GateResult[Any]] = [servers, *fleet]
    return GateResult(
        tuple(r for result in results for r in result.reasons),
        tuple(n for result in results for n in result.notes),
        tuple(s for result in results for s in result.sources),
    )
