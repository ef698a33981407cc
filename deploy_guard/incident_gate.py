"""No normal release while the shop is on fire: ask the watchdog(s) for open incidents.

Each `status_urls` entry is the watchdog's `/api/v1/status`, whose `incidents` lists the
unresolved ones; the document is read with the daemon's own definition of it
(watchdog.common.status_document). All URLs are asked at once, each in a daemon thread, and
the whole gate waits at most `timeout` (3 s by default): a hung status URL costs CI seconds,
not the job. An answer that is not a status document (HTTP error, not JSON, no `incidents`
list, no `host`) counts as unreachable, and `on_unreachable` decides. An incident the gate
cannot read (no readable severity, a key of the contract missing) blocks whatever
`block_on` says: the gate fails closed. urllib is used (not requests) to keep the CLI's
start fast; proxies from the environment are not used for loopback addresses.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Generic, Protocol, TypeVar

from deploy_guard.parallel import in_parallel
from deploy_guard.policy import IncidentGateConfig
from deploy_guard.release_windows import Reason
from watchdog.common.incident_terms import Severity
from watchdog.common.status_document import IncidentEntry, NotAStatusDocument, UnreadableIncident, read_status

MAX_BODY = 4 * 1024 * 1024
LOOPBACK_HOSTS = ("127.0.0.1", "localhost", "::1", "[::1]")

Fetch = Callable[[str, float], bytes]


class StatusUnavailable(Exception):
    """The status URL gave no usable answer."""


def http_get(url: str, timeout: float) -> bytes:
    """Body of a 2xx GET answer; StatusUnavailable on anything else."""
    return http_send(url, timeout)


def http_send(url: str, timeout: float, body: bytes | None = None, headers: Mapping[str, str] | None = None) -> bytes:
    """Body of a 2xx answer to a GET (or, with `body`, a JSON POST); StatusUnavailable on
    anything else (for a POST with the `error` of a JSON error answer, when there is one)."""
    import urllib.error
    import urllib.request

    handlers: list[urllib.request.BaseHandler] = []
    if _is_loopback(url):
        handlers.append(urllib.request.ProxyHandler({}))
    opener = urllib.request.build_opener(*handlers)
    sent = {"Accept": "application/json", "User-Agent": "deploy-guard", **(headers or {})}
    if body is not None:
        sent["Content-Type"] = "application/json"
    request = urllib.request.Request(url, data=body, headers=sent)
    try:
        with opener.open(request, timeout=timeout) as response:
            answer: bytes = response.read(MAX_BODY + 1)
    except urllib.error.HTTPError as exc:
        detail = _error_text(exc) if body is not None else ""  # why a write was refused (401, 400)
        raise StatusUnavailable(f"HTTP {exc.code}{detail}") from exc
    except urllib.error.URLError as exc:
        raise StatusUnavailable(str(exc.reason)) from exc
    except (OSError, ValueError) as exc:
        raise StatusUnavailable(str(exc) or type(exc).__name__) from exc
    if len(answer) > MAX_BODY:
        raise StatusUnavailable("answer larger than 4 MiB")
    return answer


def _error_text(answer: Any) -> str:
    """': MESSAGE' from a JSON `{"error": MESSAGE}` answer ('' for any other answer)."""
    import json

    try:
        message = json.loads(answer.read(4096)).get("error")
    except (OSError, ValueError, AttributeError):
        return ""
    return f": {message[:300]}" if isinstance(message, str) else ""


class GateSource(Protocol):
    """One source the gate asked (a status URL, or a fleet source); `as_json` goes to the audit log."""

    def as_json(self) -> dict[str, Any]: ...


@dataclass(frozen=True)
class SourceResult:
    """What one status URL said: its incidents (and those it could not read), or why it
    could not say."""

    url: str
    incidents: tuple[IncidentEntry, ...] = ()
    unreadable: tuple[UnreadableIncident, ...] = ()
    error: str | None = None

    @classmethod
    def of(cls, url: str, body: bytes) -> SourceResult:
        """Reads one answer; StatusUnavailable if it is not a status document."""
        try:
            reading = read_status(body)
        except NotAStatusDocument as exc:
            raise StatusUnavailable(str(exc)) from exc
        return cls(url, tuple(reading.document["incidents"]), reading.unreadable)

    def as_json(self) -> dict[str, Any]:
        if self.error is not None:
            return {"url": self.url, "error": self.error}
        found: dict[str, Any] = {"url": self.url, "incidents": [i["id"] for i in self.incidents]}
        if self.unreadable:
            found["unreadable"] = [u.problem for u in self.unreadable]
        return found


SourceT = TypeVar("SourceT", bound=GateSource)


@dataclass(frozen=True)
class GateResult(Generic[SourceT]):
    """`reasons` block the release; `notes` are told but do not block."""

    reasons: tuple[Reason, ...]
    notes: tuple[str, ...]
    sources: tuple[SourceT, ...] = field(default=())


def _ask_all(urls: Sequence[str], timeout: float, fetch: Fetch) -> list[SourceResult]:
    def ask(url: str) -> SourceResult:
        try:
            return SourceResult.of(url, fetch(url, timeout))
        except StatusUnavailable as exc:
            return SourceResult(url, error=str(exc))

    answers = in_parallel({url: functools.partial(ask, url) for url in urls}, timeout)
    return [answers[url] or SourceResult(url, error=f"no answer within {timeout:g}s") for url in urls]


def _incident_text(incident: IncidentEntry) -> str:
    return (
        f"{incident['id']} on {incident['check']} "
        f"({incident['severity']}, {incident['state']} since {incident['opened_at']})"
    )


def _unreadable_text(incident: UnreadableIncident) -> str:
    return f"{incident.id or 'an incident'} that cannot be read ({incident.problem}), blocking to be safe"


def _is_loopback(url: str) -> bool:
    import urllib.parse

    host = urllib.parse.urlsplit(url).hostname or ""
    return host in LOOPBACK_HOSTS or host.startswith("127.")


def _unreachable_help(url: str) -> str:
    """What a developer blocked by an unanswered status URL can do about it."""
    if _is_loopback(url):
        where = "no watchdog answers on this machine (a CI runner usually runs none)"
    else:
        where = "check that the watchdog there runs and this runner may reach it"
    return (
        f"{where}: point incident_gate.status_urls at your shop's watchdog (its /api/v1/status), "
        "or set incident_gate.on_unreachable: allow"
    )


def check_incident_gate(config: IncidentGateConfig, fetch: Fetch = http_get) -> GateResult[SourceResult]:
    """Block on open incidents of `block_on` severity (warning: any) and on unreadable ones,
    and on silence if so configured."""
    sources = _ask_all(config.status_urls, config.timeout, fetch)
    reasons: list[Reason] = []
    notes: list[str] = []
    for source in sources:
        if source.error is not None:
            text = f"incident status {source.url} unreachable: {source.error}"
            if config.on_unreachable == "block":
                reasons.append(
                    Reason(
                        "incident_status_unreachable",
                        f"{text} (on_unreachable: block); {_unreachable_help(source.url)}",
                        "incident_gate.on_unreachable: block",
                    )
                )
            else:
                notes.append(text + " (on_unreachable: allow)")
            continue
        blocking = [
            _incident_text(i)
            for i in source.incidents
            if config.block_on == "warning" or i["severity"] is Severity.CRITICAL
        ]
        blocking += [_unreadable_text(u) for u in source.unreadable]
        if blocking:
            listed = "; ".join(blocking)
            reasons.append(
                Reason(
                    "incident_open",
                    f"open incident(s) at {source.url}: {listed}",
                    f"incident_gate.block_on: {config.block_on}",
                )
            )
    return GateResult(tuple(reasons), tuple(notes), tuple(sources))
