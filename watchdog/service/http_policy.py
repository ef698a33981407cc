"""Who may ask the API what: the Host, Origin, body-type and bearer-token rules.

Loopback is not a wall. Any local user can connect to the API, and so can any web page open
in an admin's browser — straight to 127.0.0.1 or through an SSH tunnel. Such a page can send
requests but cannot read the answers of another origin, unless DNS rebinding makes the
browser believe the API *is* the page's origin. Hence:

* **Host** (every request, reads included): after rebinding, the page's requests reach the
  API under the page's own name (`Host: evil.example:9841`). Only names that cannot be
  rebound or that the admin named are served: IP literals (a page served from an IP address
  cannot re-resolve it), `localhost` and `*.localhost` (browsers resolve those to loopback by
  themselves), and the names a `HostPolicy` is given (watchdog.service.api gives the listen
  host, the config's `host`, the machine's hostname and the config's `api_hosts`). A request
  without Host is HTTP/1.0 from a program, not a browser (HTTP/1.1 requires it). Refused: 403.
* **Origin** (writes): a browser sends `Origin` with every cross-site POST. A write whose
  Origin is present and is not the API's own (`http://` or `https://` plus the request's
  Host) is refused, and so is one whose `Sec-Fetch-Site` is `cross-site` or `same-site`
  (another port of the same host is same-site, not same-origin): 403. A page the API serves
  itself may write with fetch(): its Origin is the API's own.
* **Body** (writes): only the media types a route accepts, `application/json` for every
  route so far: 415 otherwise, even without a body. An HTML form can send only urlencoded,
  multipart or text/plain bodies, and a cross-site fetch() with a JSON body needs a CORS
  preflight that the API never grants.
* **Token** (writes, when one is configured): `Authorization: Bearer TOKEN`, compared in
  constant time — of SHA-256 digests, so not even the token's length leaks (401 otherwise).
  `hashlib` and `hmac` are imported at the first write, not with this module: they load
  OpenSSL's libcrypto (about 3.7 MB resident), which a daemon nobody writes to never needs.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from watchdog.common.configtools import Secret
from watchdog.common.hostnames import is_ip_literal
from watchdog.service.http_server import Request

_HOST_HEADER = re.compile(r"(?:\[([0-9A-Fa-f:.]+(?:%[A-Za-z0-9._~-]+)?)\]|([A-Za-z0-9._~%!$&'()*+,;=-]+))(?::[0-9]*)?")
_REFUSED_FETCH_SITES = frozenset({"cross-site", "same-site"})


def host_name(host_header: str) -> str | None:
    """The name (or IP address) in a Host header, lower case, without port or final dot;
    None when the header is not a host[:port]."""
    match = _HOST_HEADER.fullmatch(host_header.strip())
    if match is None:
        return None
    return (match.group(1) or match.group(2)).lower().rstrip(".")


@dataclass(frozen=True)
class HostPolicy:
    """The names the API answers to besides IP literals and localhost (lower case)."""

    names: frozenset[str] = frozenset()

    @classmethod
    def of(cls, names: Iterable[str]) -> HostPolicy:
        return cls(frozenset(n.strip().lower().rstrip(".") for n in names if n.strip()))

    def allows(self, host_header: str | None) -> bool:
        if host_header is None:
            return True
        name = host_name(host_header)
        if name is None:
            return False
        return is_ip_literal(name) or name == "localhost" or name.endswith(".localhost") or name in self.names


def cross_site(request: Request, also: frozenset[str] = frozenset()) -> str | None:
    """Why `request` looks like a browser's cross-origin request (None: it does not).
    `also`: origins (lower case) that count as the API's own (its `public_url` behind a proxy)."""
    origin = request.header("Origin")
    host = (request.header("Host") or "").strip().lower()
    own = {f"http://{host}", f"https://{host}", *also}
    if origin is not None and origin.strip().lower() not in own:
        return f"Origin {origin!r} is not this API's own"
    site = (request.header("Sec-Fetch-Site") or "").strip().lower()
    if site in _REFUSED_FETCH_SITES:
        return f"Sec-Fetch-Site is {site}"
    return None


def media_type(request: Request) -> str:
    """The request body's media type, lower case, without parameters ('' when not given)."""
    return (request.header("Content-Type") or "").split(";", 1)[0].strip().lower()


def bearer_matches(request: Request, token: Secret) -> bool:
    import hashlib
    import hmac

    scheme, _, given = (request.header("Authorization") or "").partition(" ")
    presented = hashlib.sha256(given.strip().encode("latin-1")).digest()
    expected = hashlib.sha256(token.reveal().encode()).digest()
    return hmac.compare_digest(presented, expected) and scheme.lower() == "bearer"
