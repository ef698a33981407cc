"""Ack-link tokens: a genuine one names its incident and link until it expires; anything
altered, cut or signed with another key is only ever "invalid"."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest

from watchdog.common.ack_links import AckClaim, TokenProblem, ack_url, make_token, verify

KEY = b"0123456789abcdef0123456789abcdef"
NOW = datetime(2026, 12, 1, 3, 0, tzinfo=UTC)


def test_a_genuine_token_names_incident_and_link_until_it_expires() -> None:
    token = make_token(KEY, "inc-20261201-web-1", "n1", NOW + timedelta(hours=1))
    claim = verify(KEY, token, NOW)
    assert claim == AckClaim("inc-20261201-web-1", "n1", NOW + timedelta(hours=1))
    assert verify(KEY, token, NOW + timedelta(hours=1)) is TokenProblem.EXPIRED


def test_link_lives_a_day_under_the_public_url() -> None:
    url = ack_url("https://wd.example/", KEY, "inc-1", "n1", NOW)
    assert url.startswith("https://wd.example/ack/")
    claim = verify(KEY, url.rsplit("/", 1)[1], NOW + timedelta(hours=23))
    assert isinstance(claim, AckClaim) and claim.incident_id == "inc-1"
    assert verify(KEY, url.rsplit("/", 1)[1], NOW + timedelta(hours=24)) is TokenProblem.EXPIRED


def test_an_incident_id_with_colons_survives() -> None:
    claim = verify(KEY, make_token(KEY, "a:b:c", "n1", NOW + timedelta(hours=1)), NOW)
    assert isinstance(claim, AckClaim) and claim.incident_id == "a:b:c"


@pytest.mark.parametrize(
    "mangle",
    [
        lambda t: t[:-1] + ("A" if t[-1] != "A" else "B"),
        lambda t: ("A" if t[0] != "A" else "B") + t[1:],
        lambda t: t.split(".")[0],
        lambda t: t + ".x",
        lambda t: "",
        lambda t: "!!!.???",
        lambda t: "x" * 5000,
    ],
)
def test_altered_tokens_are_invalid(mangle: Callable[[str], str]) -> None:
    token = make_token(KEY, "inc-1", "n1", NOW + timedelta(hours=1))
    assert verify(KEY, mangle(token), NOW) is TokenProblem.INVALID


def test_a_token_of_another_key_is_invalid_even_when_expired() -> None:
    token = make_token(b"another-key-another-key-another-k", "inc-1", "n1", NOW - timedelta(hours=1))
    assert verify(KEY, token, NOW) is TokenProblem.INVALID
