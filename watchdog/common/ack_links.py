"""Signed ack links: `{public_url}/ack/TOKEN` acknowledges one incident, until it expires, once.

A token is `PAYLOAD.SIGNATURE`, both base64url without padding. The payload is
`v1:INCIDENT:LINK:EXPIRES` (LINK is the id of the notification that carried the link, so
every page has its own link and a re-send after an unclear outcome carries the same one;
EXPIRES is Unix seconds); the signature is HMAC-SHA256 of the payload under the key from
`ack_key_file`. `verify` checks the signature in constant time before it reads anything
else, so an altered token is only ever "invalid". Single use is the caller's part: the
daemon records each used LINK durably (watchdog.storage.state.StateStore.use_ack_link).

`hashlib` and `hmac` are imported when a token is made or checked, not with this module:
they load OpenSSL's libcrypto (about 3.7 MB of the daemon's resident memory), which a
daemon without `public_url` never needs.
"""

from __future__ import annotations

import base64
import binascii
import enum
from dataclasses import dataclass
from datetime import datetime, timedelta

VERSION = "v1"
LIFETIME = timedelta(hours=24)
"""How long a link acknowledges: a page is answered within hours or it is escalated anyway."""
PATH_PREFIX = "/ack/"
MIN_KEY_BYTES = 32
_MAX_TOKEN_CHARS = 1024


@dataclass(frozen=True)
class AckClaim:
    """What a valid token says: which incident, which link, until when."""

    incident_id: str
    link_id: str
    expires: datetime


class TokenProblem(enum.Enum):
    INVALID = "invalid"
    EXPIRED = "expired"


class LinkOutcome(enum.Enum):
    """What using a valid link did."""

    ACKNOWLEDGED = "acknowledged"
    USED = "used"
    """This very link acknowledged before: a replay, refused."""
    NOT_OPEN = "not_open"
    """The incident is resolved (or unknown): nothing left to acknowledge."""


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _sign(key: bytes, payload: bytes) -> bytes:
    import hashlib
    import hmac

    return hmac.new(key, payload, hashlib.sha256).digest()


def make_token(key: bytes, incident_id: str, link_id: str, expires: datetime) -> str:
    if ":" in link_id:
        raise ValueError("a link id has no colon")
    payload = f"{VERSION}:{incident_id}:{link_id}:{int(expires.timestamp())}".encode()
    return f"{_b64(payload)}.{_b64(_sign(key, payload))}"


def ack_url(public_url: str, key: bytes, incident_id: str, link_id: str, now: datetime) -> str:
    """The link a page carries, valid for `LIFETIME` from `now`."""
    return public_url.rstrip("/") + PATH_PREFIX + make_token(key, incident_id, link_id, now + LIFETIME)


def verify(key: bytes, token: str, now: datetime) -> AckClaim | TokenProblem:
    """The claim of a genuine, unexpired token; else why not (never a traceback on garbage)."""
    if len(token) > _MAX_TOKEN_CHARS or token.count(".") != 1:
        return TokenProblem.INVALID
    payload_part, signature_part = token.split(".")
    try:
        payload, signature = _unb64(payload_part), _unb64(signature_part)
    except (binascii.Error, ValueError):
        return TokenProblem.INVALID
    import hmac

    if not hmac.compare_digest(_sign(key, payload), signature):
        return TokenProblem.INVALID
    version, _, rest = payload.decode("utf-8", "replace").partition(":")
    parts = rest.rsplit(":", 2)
    if version != VERSION or len(parts) != 3 or not parts[2].isdigit():
        return TokenProblem.INVALID
    incident_id, link_id, expires_text = parts
    expires = datetime.fromtimestamp(int(expires_text), tz=now.tzinfo)
    if now >= expires:
        return TokenProblem.EXPIRED
    return AckClaim(incident_id=incident_id, link_id=link_id, expires=expires)
