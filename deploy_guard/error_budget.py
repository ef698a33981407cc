"""The error budget (Google SRE's error-budget policy): no normal release while the shop's
availability over the last `window` is under the `objective`.

Each `status_urls` entry is a watchdog's `/api/v1/status`; the gate asks it with
`?availability=WINDOW`, and the daemon answers with its status document plus the shop's
availability over that window from its own check history (watchdog.common.status_document's
`Availability`). The HTTP conventions are the incident gate's: all URLs at once through
`in_parallel`, the whole gate bounded by `timeout`, answers up to 4 MiB, no proxy for
loopback. A watchdog below the objective blocks (`error_budget_exhausted`); one that gives
no usable answer is `on_unreachable`'s business (`error_budget_unreachable`); one that has
watched nothing in the window yet cannot judge, and is told as a note, not a block.
"""

from __future__ import annotations

import functools
import urllib.parse
from dataclasses import dataclass
from typing import Any

from deploy_guard.incident_gate import Fetch, GateResult, StatusUnavailable, http_get
from deploy_guard.parallel import in_parallel
from deploy_guard.policy import ErrorBudgetConfig
from deploy_guard.release_windows import Reason
from watchdog.common.configtools import format_seconds
from watchdog.common.status_document import Availability, NotAStatusDocument, read_status


@dataclass(frozen=True)
class BudgetAnswer:
    """What one watchdog said about its availability, or why it could not say."""

    url: str
    availability: Availability | None = None
    error: str | None = None

    def as_json(self) -> dict[str, Any]:
        if self.availability is None:
            return {"url": self.url, "error_budget": {"error": self.error}}
        figures = {key: self.availability[key] for key in ("window", "availability", "good_seconds", "total_seconds")}
        return {"url": self.url, "error_budget": figures}


def availability_url(status_url: str, window: float) -> str:
    """`status_url` asking for the availability over `window` as well."""
    parts = urllib.parse.urlsplit(status_url)
    query = urllib.parse.parse_qsl(parts.query, keep_blank_values=True)
    query = [(k, v) for k, v in query if k != "availability"] + [("availability", format_seconds(window))]
    return urllib.parse.urlunsplit(parts._replace(query=urllib.parse.urlencode(query)))


def read_availability(url: str, body: bytes) -> BudgetAnswer:
    """One watchdog's answer; StatusUnavailable when it holds no readable availability."""
    try:
        document = read_status(body).document
    except NotAStatusDocument as exc:
        raise StatusUnavailable(str(exc)) from exc
    found = document.get("availability")
    if found is None:
        raise StatusUnavailable("the status document has no readable availability (a watchdog too old for it?)")
    ratio = found["availability"]
    if ratio is not None and not 0 <= ratio <= 1:
        raise StatusUnavailable(f"availability {ratio!r} is not a share from 0 to 1")
    return BudgetAnswer(url, found)


def _ask_all(config: ErrorBudgetConfig, fetch: Fetch) -> list[BudgetAnswer]:
    def ask(url: str) -> BudgetAnswer:
        try:
            return read_availability(url, fetch(availability_url(url, config.window), config.timeout))
        except StatusUnavailable as exc:
            return BudgetAnswer(url, error=str(exc))

    timeout = config.timeout
    answers = in_parallel({url: functools.partial(ask, url) for url in config.status_urls}, timeout)
    return [answers[url] or BudgetAnswer(url, error=f"no answer within {timeout:g}s") for url in config.status_urls]


def _percent(share: float) -> str:
    return f"{share * 100:.3f}".rstrip("0").rstrip(".") + "%"


def _exhausted(config: ErrorBudgetConfig, answer: BudgetAnswer, found: Availability, share: float) -> Reason:
    allowed_bad = (1 - config.objective / 100) * found["total_seconds"]
    spent = found["total_seconds"] - found["good_seconds"]
    return Reason(
        "error_budget_exhausted",
        f"availability {_percent(share)} over the last {found['window']} at {answer.url} is under the objective "
        f"{config.objective:g}%: {format_seconds(round(spent))} of failure against a budget of "
        f"{format_seconds(round(allowed_bad))}; only hotfixes ship until it recovers",
        f"error_budget.objective: {config.objective:g}%",
    )


def check_error_budget(config: ErrorBudgetConfig, fetch: Fetch = http_get) -> GateResult[BudgetAnswer]:
    """Block while any watchdog's availability over the window is under the objective."""
    answers = _ask_all(config, fetch)
    reasons: list[Reason] = []
    notes: list[str] = []
    for answer in answers:
        found = answer.availability
        if found is None:
            text = f"error budget: availability at {answer.url} unknown: {answer.error}"
            if config.on_unreachable == "block":
                reasons.append(
                    Reason(
                        "error_budget_unreachable",
                        f"{text} (on_unreachable: block); point error_budget.status_urls at your shop's watchdog "
                        "(its /api/v1/status), or set error_budget.on_unreachable: allow",
                        "error_budget.on_unreachable: block",
                    )
                )
            else:
                notes.append(text + " (on_unreachable: allow)")
            continue
        share = found["availability"]
        if share is None:
            notes.append(f"error budget: {answer.url} has no check history in the last {found['window']} yet")
        elif round(share * 100, 9) < config.objective:  # 99.9 % of a week is not under 99.9 % by a float's error
            reasons.append(_exhausted(config, answer, found, share))
    return GateResult(tuple(reasons), tuple(notes), tuple(answers))
