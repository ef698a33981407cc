"""The status page at `GET /`: one HTML file, its script and its style sheet, served from the
package (watchdog/service/static/), with no external asset and no build step.

The page reads `/api/v1/status` and acknowledges through `/api/v1/incidents/ID/ack` with
fetch() from the API's own origin, so its writes pass the cross-site rules of
watchdog.service.http_policy like any other client's. The Content-Security-Policy lets the
page load only from its own origin: no inline script or style, no frame, no form target.
"""

from __future__ import annotations

from pathlib import Path

from watchdog.service.http_server import Response

CONTENT_SECURITY_POLICY = (
    "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self' data:; "
    "base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
)

HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-cache",
}

ASSETS = {
    "status.html": "text/html; charset=utf-8",
    "status.js": "text/javascript; charset=utf-8",
    "status.css": "text/css; charset=utf-8",
}


STATIC = Path(__file__).resolve().parent / "static"
"""The page's files, beside this module in the installed package (package data; a plain
path rather than importlib.resources, whose import costs an idle daemon ~1.4 MB)."""


def asset(name: str) -> Response:
    """One of the page's files (a name of ASSETS), read from the installed package."""
    body = (STATIC / name).read_bytes()
    return Response(200, body, ASSETS[name], HEADERS)
