"""The local HTTP API: metrics, health, status, and the writing calls (ack, silence).

The API is a route table: each `Route` names a method, a path pattern (`{name}` matches one
path segment, handed to the handler percent-decoded), the handler, and what the route needs.
A writing route (`write=True`) is served only to requests that are not cross-site, carry a
body of a type it accepts, and — when the route says `bearer` and a token is configured —
the bearer token; every route, reading or writing, only under an allowed Host. The rules
are watchdog.service.http_policy's; the transport (connections, timeouts, limits, a bounded
worker pool) is watchdog.service.http_server's. A new endpoint is one line in ROUTES and
one handler method.

Writing calls need `Authorization: Bearer TOKEN` whenever a token is configured (the config
forces one — `api_token_file` — when the listener is not loopback-only); on a loopback-only
listener without a token, any local program may ack and silence, which is what the
`shop-watchdog ack/silence` commands rely on, but no web page may. Reading calls never need
a token: Prometheus must scrape /metrics (under a name in `api_hosts` when it scrapes by a
name other than the machine's own).

    GET  /                            the status page (HTML; /status.js and /status.css beside it)
    GET  /metrics                     Prometheus text format 0.0.4 (what every Prometheus 2.x scrapes)
    GET  /healthz                     200 "ok", 503 with the reason when the loop stalled
    GET  /api/v1/status               {"host", "checks": [...], "incidents": [...], "outbox": {...},
                                      "silences": [...]}
    GET  /api/v1/incidents?since=7d   {"since", "incidents": [...]}: opened in that span (default 7d),
                                      resolved ones too -> 200, 400 bad span
    GET  /api/v1/incidents/ID         the incident with its timeline, restarts, deliveries -> 200, 404
    GET  /api/v1/status               {"host", "checks": [...], "incidents": [...], "outbox": {...}}
                                      ?availability=28d adds "availability" (as below)
    GET  /api/v1/availability?window=28d   the shop's availability from the check history
    GET  /api/v1/report?since=7d      the working-hours report (watchdog.incidents.report)
    POST /api/v1/incidents/ID/ack     {"by": NAME} -> 200, 404 unknown or resolved incident
    GET  /api/v1/silences             {"silences": [{"id", "check", "reason", "created_by", "created_at", "until"}]}
    POST /api/v1/silences             {"check", "duration": "30m", "reason", "by"} -> 201, 400, 404
    DELETE /api/v1/silences/KEY       optional {"by": NAME}; KEY is a silence id or a check name (all
                                      of its silences) -> 200 {"ended": [...]}, 404 none in force
    GET  /ack/TOKEN                   HTML confirmation page of a signed ack link (changes nothing)
    POST /ack/TOKEN                   acknowledges: the page's form post, or an empty POST (ntfy action);
                                      the signed token is the credential, no bearer token needed;
                                      403 altered, 410 expired or resolved, 409 used before (HTML)
    POST /api/v1/releases             {"event": "start"|"finish", "id", "commit", "branch", "by",
                                       "hotfix", "reason"} -> 201 (watchdog.service.release_body), 400

Errors are JSON `{"error": "..."}`: 400 bad body, 401 token, 403 Host or cross-site, 404,
405, 411/413 length, 415 body type, 503 busy.
"""

from __future__ import annotations

import json
import logging
import math
import re
import socket
import urllib.parse
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from watchdog.common import ack_links
from watchdog.common.ack_links import AckClaim, LinkOutcome, TokenProblem
from watchdog.common.clock import Clock, SystemClock
from watchdog.common.configtools import Secret, format_seconds, parse_duration
from watchdog.common.incident_history import IncidentDetail, IncidentSummary
from watchdog.common.logs import event
from watchdog.common.status_document import Availability, SilenceEntry, StatusDocument
from watchdog.config.model import Listen, WatchdogConfig
from watchdog.service import ack_pages, status_page
from watchdog.service.http_policy import HostPolicy, bearer_matches, cross_site, media_type
from watchdog.service.http_server import (
    HttpError,
    HttpServer,
    Limits,
    Request,
    Response,
    error_response,
    json_response,
)
from watchdog.service.release_body import release_note
from watchdog.storage.releases import ReleaseNote

log = logging.getLogger(__name__)

JSON = frozenset({"application/json"})
ACK_BODIES = frozenset({"application/x-www-form-urlencoded", "", "text/plain", "application/json"})
"""The ack page's form post, an empty or text POST (ntfy's action button), or a script's JSON:
the signed token is the credential, so the body type guards nothing here (only `by` is read,
from a form)."""

MAX_SILENCE = 90 * 86400.0
"""The longest silence: planned work, not a way to switch a check off (remove it instead)."""

MAX_TEXT = 1000
"""Characters of a free-text field (reason, by, check) the API accepts."""

MAX_AVAILABILITY_WINDOW = 90 * 86400.0
"""The longest availability window: the history is kept that long (watchdog.storage.availability)."""

MAX_LOOKBACK = 366 * 86400.0
"""The longest `since` of the incident list and the report."""
DEFAULT_AVAILABILITY_WINDOW = 28 * 86400.0
DEFAULT_LOOKBACK = 7 * 86400.0
"""How far back the incident list and the report look without `since`."""


class ApiBackend(Protocol):
    """What the API reads and changes: the daemon (watchdog.service.daemon.Daemon)."""

    def healthy(self) -> tuple[bool, str]: ...

    def metrics_text(self) -> tuple[bytes, str]:
        """The Prometheus exposition and its content type."""
        ...

    def status(self) -> StatusDocument: ...

    def availability(self, window: float) -> Availability: ...

    def report(self, since: float) -> Mapping[str, Any]: ...

    def ack(self, incident_id: str, by: str) -> bool: ...

    def ack_link(self, claim: AckClaim, by: str) -> LinkOutcome: ...

    def silence(self, check: str, seconds: float, reason: str, by: str) -> dict[str, Any]: ...

    def silences(self) -> list[SilenceEntry]: ...

    def unsilence(self, key: str, by: str) -> list[SilenceEntry]:
        """Raises KeyError when no silence in force has this id or check."""
        ...

    def incident(self, incident_id: str) -> IncidentDetail | None: ...

    def incidents(self, seconds: float) -> list[IncidentSummary]:
        """Opened in the last `seconds`, at most MAX_LOOKBACK."""
        ...

    def record_release(self, note: ReleaseNote) -> dict[str, Any]: ...


class ListenError(Exception):
    """The API cannot listen on its address (in use, not local, no permission)."""


@dataclass(frozen=True)
class Access:
    """Who may use the API: the bearer token of writing calls and the Host names served."""

    token: Secret | None = None
    hosts: HostPolicy = field(default_factory=HostPolicy)
    ack_key: Secret | None = None
    """The key of ack links; None: `/ack/TOKEN` answers 404."""
    origins: frozenset[str] = frozenset()
    """Origins besides the request's own Host that may post (the `public_url` the proxy serves)."""


def access_for(config: WatchdogConfig) -> Access:
    """The config's API access: its token; as Host names, besides IP literals and localhost,
    the listen host, the config's `host`, the machine's hostname and `api_hosts`."""
    names = [config.listen.host, config.host, socket.gethostname(), *config.api_hosts]
    origins: frozenset[str] = frozenset()
    if config.public_url is not None:
        public = urllib.parse.urlsplit(config.public_url)
        names.append(public.hostname or "")
        origins = frozenset({f"{public.scheme}://{public.netloc}".lower()})
    return Access(token=config.api_token, hosts=HostPolicy.of(names), ack_key=config.ack_key, origins=origins)


Handler = Callable[["Api", Request, Mapping[str, str]], Response]


@dataclass(frozen=True)
class Route:
    method: str
    pattern: str
    handler: Handler
    write: bool = False
    """Changes state: refused cross-site, needs a body of `accepts` (and the token, see `bearer`)."""
    bearer: bool = True
    """A writing route needs the bearer token when one is configured (False: the route
    authenticates by itself, like a signed link)."""
    accepts: frozenset[str] = JSON
    regex: re.Pattern[str] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        parts = re.split(r"\{(\w+)\}", self.pattern)
        regex = "".join(re.escape(p) if i % 2 == 0 else f"(?P<{p}>[^/]+)" for i, p in enumerate(parts))
        object.__setattr__(self, "regex", re.compile(regex))

    def match(self, path: str) -> dict[str, str] | None:
        found = self.regex.fullmatch(path)
        if found is None:
            return None
        return {name: urllib.parse.unquote(value) for name, value in found.groupdict().items()}


class Api:
    """The application the transport serves: `Api(backend, access)(request) -> Response`."""

    def __init__(self, backend: ApiBackend, access: Access, clock: Clock | None = None) -> None:
        self.backend = backend
        self.access = access
        self.clock = clock or SystemClock()

    def __call__(self, request: Request) -> Response:
        try:
            return self._route(request)
        except HttpError as exc:
            return exc.response

    def _route(self, request: Request) -> Response:
        host = request.header("Host")
        if not self.access.hosts.allows(host):
            event(log, "api_refused", client=request.client, reason="host", host=host, path=request.path)
            raise HttpError(403, f"Host {host!r} is not a name of this API (add it to api_hosts)")
        matching = [(route, params) for route in ROUTES if (params := route.match(request.path)) is not None]
        if not matching:
            raise HttpError(404, f"no such resource: {request.path}")
        method = "GET" if request.method == "HEAD" else request.method
        for route, params in matching:
            if route.method == method:
                if route.write:
                    self._check_write(route, request)
                return route.handler(self, request, params)
        allowed = {r.method for r, _ in matching}
        if "GET" in allowed:
            allowed.add("HEAD")
        raise HttpError(405, f"{request.method} is not allowed here", {"Allow": ", ".join(sorted(allowed))})

    def _check_write(self, route: Route, request: Request) -> None:
        why = cross_site(request, self.access.origins)
        if why is not None:
            event(log, "api_refused", client=request.client, reason="cross_site", path=request.path, detail=why)
            raise HttpError(403, f"cross-site write refused: {why}")
        token = self.access.token
        if route.bearer and token is not None and not bearer_matches(request, token):
            raise HttpError(401, "missing or wrong bearer token", {"WWW-Authenticate": "Bearer"})
        given = media_type(request)
        if given not in route.accepts:
            raise HttpError(415, f"the body must be {' or '.join(sorted(route.accepts))}, not {given or 'untyped'}")

    # -- reading -----------------------------------------------------------------------------

    def page(self, request: Request, params: Mapping[str, str]) -> Response:
        return status_page.asset("status.html")

    def page_script(self, request: Request, params: Mapping[str, str]) -> Response:
        return status_page.asset("status.js")

    def page_style(self, request: Request, params: Mapping[str, str]) -> Response:
        return status_page.asset("status.css")

    def metrics(self, request: Request, params: Mapping[str, str]) -> Response:
        body, content_type = self.backend.metrics_text()
        return Response(200, body, content_type)

    def healthz(self, request: Request, params: Mapping[str, str]) -> Response:
        healthy, reason = self.backend.healthy()
        return Response(200 if healthy else 503, (reason + "\n").encode(), "text/plain; charset=utf-8")

    def status(self, request: Request, params: Mapping[str, str]) -> Response:
        document = self.backend.status()
        if "availability" in query_params(request):
            window = query_duration(request, "availability", DEFAULT_AVAILABILITY_WINDOW, MAX_AVAILABILITY_WINDOW)
            document["availability"] = self.backend.availability(window)
        return json_response(200, document)

    def availability(self, request: Request, params: Mapping[str, str]) -> Response:
        window = query_duration(request, "window", DEFAULT_AVAILABILITY_WINDOW, MAX_AVAILABILITY_WINDOW)
        return json_response(200, self.backend.availability(window))

    def report(self, request: Request, params: Mapping[str, str]) -> Response:
        since = query_duration(request, "since", DEFAULT_LOOKBACK, MAX_LOOKBACK)
        return json_response(200, self.backend.report(since))

    def silences(self, request: Request, params: Mapping[str, str]) -> Response:
        return json_response(200, {"silences": self.backend.silences()})

    def incident(self, request: Request, params: Mapping[str, str]) -> Response:
        found = self.backend.incident(params["id"])
        if found is None:
            return error_response(404, f"no incident {params['id']!r}")
        return json_response(200, found)

    def incidents(self, request: Request, params: Mapping[str, str]) -> Response:
        seconds = query_duration(request, "since", DEFAULT_LOOKBACK, MAX_LOOKBACK)
        return json_response(200, {"since": format_seconds(seconds), "incidents": self.backend.incidents(seconds)})

    # -- writing -----------------------------------------------------------------------------

    def ack(self, request: Request, params: Mapping[str, str]) -> Response:
        incident_id = params["id"]
        by = _text(json_object(request), "by", default="api")
        if not self.backend.ack(incident_id, by):
            return error_response(404, f"no open incident {incident_id!r}")
        event(log, "api_ack", incident=incident_id, by=by)
        return json_response(200, {"id": incident_id, "acknowledged": True, "by": by})

    def ack_page(self, request: Request, params: Mapping[str, str]) -> Response:
        claim = self._ack_claim(params["token"])
        return claim if isinstance(claim, Response) else ack_pages.confirm(claim)

    def ack_by_link(self, request: Request, params: Mapping[str, str]) -> Response:
        claim = self._ack_claim(params["token"])
        if isinstance(claim, Response):
            return claim
        form = urllib.parse.parse_qs(request.body.decode("utf-8", "replace"), max_num_fields=10)
        name = " ".join((form.get("by") or [""])[0].split())[:80]
        by = f"{name} (ack link)" if name else "ack link"
        result = self.backend.ack_link(claim, by)
        event(log, "api_ack_link", incident=claim.incident_id, link=claim.link_id, by=by, result=result.value)
        return ack_pages.outcome(claim, result, by)

    def _ack_claim(self, token: str) -> AckClaim | Response:
        key = self.access.ack_key
        if key is None:
            raise HttpError(404, "ack links are off (no public_url and ack_key_file configured)")
        claim = ack_links.verify(key.reveal().encode("latin-1"), token, self.clock.now())
        if isinstance(claim, TokenProblem):
            event(log, "api_ack_link_refused", reason=claim.value)
            return ack_pages.refused(claim)
        return claim

    def silence(self, request: Request, params: Mapping[str, str]) -> Response:
        body = json_object(request)
        check = _text(body, "check")
        reason = _text(body, "reason")
        by = _text(body, "by", default="api")
        seconds = silence_seconds(body.get("duration"))
        try:
            silence = self.backend.silence(check, seconds, reason, by)
        except KeyError:
            return error_response(404, f"no check named {check!r}")
        except ValueError as exc:
            return error_response(400, str(exc))
        event(log, "api_silence", check=check, seconds=seconds, by=by)
        return json_response(201, silence)

    def unsilence(self, request: Request, params: Mapping[str, str]) -> Response:
        key = params["key"]
        by = _text(json_object(request), "by", default="api")
        try:
            ended = self.backend.unsilence(key, by)
        except KeyError:
            return error_response(404, f"no silence in force with id or check {key!r}")
        event(log, "api_unsilence", key=key, by=by)
        return json_response(200, {"ended": ended, "by": by})

    def release(self, request: Request, params: Mapping[str, str]) -> Response:
        return json_response(201, self.backend.record_release(release_note(json_object(request))))


ROUTES: tuple[Route, ...] = (
    Route("GET", "/", Api.page),
    Route("GET", "/status.js", Api.page_script),
    Route("GET", "/status.css", Api.page_style),
    Route("GET", "/metrics", Api.metrics),
    Route("GET", "/healthz", Api.healthz),
    Route("GET", "/api/v1/status", Api.status),
    Route("GET", "/api/v1/incidents", Api.incidents),
    Route("GET", "/api/v1/incidents/{id}", Api.incident),
    Route("GET", "/api/v1/availability", Api.availability),
    Route("GET", "/api/v1/report", Api.report),
    Route("POST", "/api/v1/incidents/{id}/ack", Api.ack, write=True),
    Route("GET", "/api/v1/silences", Api.silences),
    Route("POST", "/api/v1/silences", Api.silence, write=True),
    # no body needed: a cross-site DELETE is refused like any write, and browsers preflight it anyway
    Route("DELETE", "/api/v1/silences/{key}", Api.unsilence, write=True, accepts=JSON | {""}),
    Route("GET", "/ack/{token}", Api.ack_page),
    Route("POST", "/ack/{token}", Api.ack_by_link, write=True, bearer=False, accepts=ACK_BODIES),
    Route("POST", "/api/v1/releases", Api.release, write=True),
)


def _no_constant(name: str) -> object:
    raise ValueError(f"{name} is not a number JSON allows")


def _finite(text: str) -> float:
    number = float(text)
    if not math.isfinite(number):
        raise ValueError(f"{text} is out of range")
    return number


def json_object(request: Request) -> dict[str, Any]:
    """The request's body as a JSON object ({} when empty); HttpError 400 when it is not
    one: malformed, not UTF-8, nested too deeply, or with NaN, Infinity or a number out of range."""
    if not request.body.strip():
        return {}
    try:
        body = json.loads(request.body.decode("utf-8"), parse_constant=_no_constant, parse_float=_finite)
    except (ValueError, RecursionError) as exc:
        raise HttpError(400, f"body is not JSON: {exc}") from None
    if not isinstance(body, dict):
        raise HttpError(400, "body must be a JSON object")
    return body


def query_params(request: Request) -> dict[str, list[str]]:
    return urllib.parse.parse_qs(request.query, keep_blank_values=True)


def query_duration(request: Request, name: str, default: float, high: float) -> float:
    """The duration of query parameter `name` (`?since=7d`), or `default` without one;
    HttpError 400 when it is malformed, repeated, zero or longer than `high`."""
    values = query_params(request).get(name)
    if values is None:
        return default
    if len(values) > 1:
        raise HttpError(400, f"{name}: give it once")
    try:
        seconds = parse_duration(values[0])
    except ValueError as exc:
        raise HttpError(400, f"{name}: {exc}") from None
    if not 0 < seconds <= high:
        raise HttpError(400, f"{name}: must be more than 0 and at most {format_seconds(high)}, got {values[0]!r}")
    return seconds


def silence_seconds(value: object) -> float:
    """A silence's duration in seconds: a duration string or a number of seconds, more than
    0 and at most MAX_SILENCE; HttpError 400 otherwise."""
    try:
        seconds = parse_duration(value)
    except (ValueError, OverflowError) as exc:
        raise HttpError(400, f"duration: {exc}") from None
    if not math.isfinite(seconds) or seconds > MAX_SILENCE:
        raise HttpError(400, f"duration: at most {MAX_SILENCE / 86400:g}d, got {value!r}")
    if seconds <= 0:
        raise HttpError(400, "duration: must be greater than 0")
    return seconds


def _text(body: Mapping[str, Any], key: str, default: str | None = None) -> str:
    value = body.get(key, default)
    if not isinstance(value, str) or not value.strip():
        raise HttpError(400, f"{key}: expected a non-empty string")
    if len(value) > MAX_TEXT:
        raise HttpError(400, f"{key}: at most {MAX_TEXT} characters")
    return value.strip()


class ApiServer:
    """The listener; `start()` binds (port 0: any free port, see `port`) and serves in a thread."""

    def __init__(self, listen: Listen, backend: ApiBackend, access: Access, limits: Limits = Limits()) -> None:
        self._listen = listen
        self._api = Api(backend, access)
        self._server = HttpServer(listen.host, listen.port, self._api, limits)

    def start(self) -> None:
        try:
            self._server.start()
        except OSError as exc:
            raise ListenError(f"cannot listen on {self._listen}: {exc.strerror or exc}") from exc

    @property
    def port(self) -> int:
        return self._server.port

    @property
    def failed(self) -> bool:
        """The listener's loop broke: the API answers nothing until the process restarts."""
        return self._server.failed

    def set_access(self, access: Access) -> None:
        """Takes a reloaded config's token and Host names (the next request sees them)."""
        self._api.access = access

    def stop(self) -> None:
        self._server.stop()
