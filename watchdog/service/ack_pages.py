"""The pages an ack link opens: a confirmation with one button, and what came of pressing it.

Self-contained HTML (inline style, no script, no external assets: the page must work on a
phone behind any proxy and leak nothing to third parties), sent with `Cache-Control:
no-store`, `Referrer-Policy: same-origin` (the URL is the credential: it never leaves for
another site; `no-referrer` would make browsers send `Origin: null` with the form post,
which the cross-site guard rightly refuses) and a CSP that allows nothing but the form post
to this very URL. Opening the link (GET) never changes anything;
only the POST of its form acknowledges.
"""

from __future__ import annotations

import html

from watchdog.common.ack_links import AckClaim, LinkOutcome, TokenProblem
from watchdog.service.http_server import Response

HEADERS = {
    "Cache-Control": "no-store",
    "Referrer-Policy": "same-origin",
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Content-Security-Policy": (
        "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'"
    ),
}
_STYLE = (
    "body{font-family:system-ui,sans-serif;max-width:32rem;margin:2rem auto;padding:0 1rem;color:#222}"
    "button{font-size:1.2rem;padding:.6rem 1.4rem;border:0;border-radius:.3rem;background:#b3261e;color:#fff}"
    "input{font-size:1rem;padding:.3rem;margin:.4rem 0 1rem}"
)


def _page(status: int, title: str, body: str) -> Response:
    text = (
        '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width,initial-scale=1">'
        f"<title>{html.escape(title)}</title><style>{_STYLE}</style></head>"
        f"<body><h1>{html.escape(title)}</h1>{body}</body></html>\n"
    )
    return Response(status, text.encode(), "text/html; charset=utf-8", HEADERS)


def confirm(claim: AckClaim) -> Response:
    incident = html.escape(claim.incident_id)
    expires = html.escape(claim.expires.isoformat(timespec="minutes"))
    return _page(
        200,
        "Acknowledge this incident?",
        f"<p>Incident <code>{incident}</code>. Acknowledging stops its reminders and escalation; "
        "the resolve message still comes when the check is OK again.</p>"
        '<form method="post"><label for="by">Your name (optional)</label><br>'
        '<input id="by" name="by" maxlength="80" autocomplete="name"><br>'
        '<button type="submit">Acknowledge</button></form>'
        f"<p><small>This link works once, until {expires}.</small></p>",
    )


def outcome(claim: AckClaim, result: LinkOutcome, by: str) -> Response:
    incident = html.escape(claim.incident_id)
    if result is LinkOutcome.ACKNOWLEDGED:
        return _page(200, "Acknowledged", f"<p>Incident <code>{incident}</code> acknowledged by {html.escape(by)}.</p>")
    if result is LinkOutcome.USED:
        return _page(
            409, "Link already used", f"<p>This link already acknowledged incident <code>{incident}</code>.</p>"
        )
    return _page(
        410, "Nothing to acknowledge", f"<p>Incident <code>{incident}</code> is resolved or no longer known.</p>"
    )


def refused(problem: TokenProblem) -> Response:
    if problem is TokenProblem.EXPIRED:
        return _page(
            410,
            "Link expired",
            "<p>This ack link has expired. Acknowledge with <code>shop-watchdog ack ID</code>, "
            "or use the link of a newer message.</p>",
        )
    return _page(
        403, "Invalid link", "<p>This ack link is not valid: it was altered, cut short, or signed with another key.</p>"
    )
