"""Telling a CORS block from a failure, from the page's result and the wire's record."""

from __future__ import annotations

from typing import Any

from harness.model.results import (
    CookiePolicy,
    Credentials,
    Engine,
    Evidence,
    HttpExchange,
    Origin,
    OriginVariant,
    Outcome,
    ProbeSpec,
    Role,
    Shape,
)
from harness.run.classify import classify

TARGET = "https://api.example.com/me"
SPEC = ProbeSpec(
    "p1",
    TARGET,
    OriginVariant(Origin.parse("https://evil.test"), "unrelated", Role.ATTACKER, "", ""),
    Shape("simple-get", "GET"),
    Credentials.INCLUDE,
)
FAILED = {"page_origin": "https://evil.test", "resolved": False, "error": "Failed to fetch"}


def judged(raw: dict[str, Any], actual: HttpExchange | None, **kw: Any) -> Any:
    ev = Evidence("k", TARGET, "https://evil.test", "simple-get", Credentials.INCLUDE, None, actual)
    return classify(
        SPEC,
        raw,
        engine=Engine.CHROMIUM,
        cookie_policy=CookiePolicy.DEFAULT,
        probe_id="p1-chd",
        evidence=ev if actual is not None else None,
        **kw,
    )


def _answer(status: int, *headers: tuple[str, str]) -> HttpExchange:
    return HttpExchange("GET", TARGET, (), status, headers, source="wire")


def test_an_answer_the_page_could_not_read_is_blocked_and_explained() -> None:
    obs = judged(FAILED, _answer(200))
    assert obs.outcome is Outcome.BLOCKED
    assert "Access-Control-Allow-Origin" in (obs.block_reason or "")


def test_nothing_at_the_wire_and_no_engine_reason_is_an_error() -> None:
    obs = judged(FAILED, None)
    assert obs.outcome is Outcome.ERROR


def test_the_engines_network_error_wins_over_headers() -> None:
    obs = judged(FAILED, _answer(200), engine_error="net::ERR_CONNECTION_RESET")
    assert obs.outcome is Outcome.ERROR and "RESET" in (obs.error or "")


def test_a_redirect_chain_the_browser_gave_up_on_is_an_error() -> None:
    hop = _answer(302, ("Location", "/loop"), ("Access-Control-Allow-Origin", "https://evil.test"))
    obs = judged(FAILED, hop, redirects=20)
    assert obs.outcome is Outcome.ERROR and "redirects" in (obs.error or "")
    # A short chain that ends on a redirect the browser would not follow is a CORS block.
    assert judged(FAILED, _answer(302, ("Location", "/x")), redirects=1).outcome is Outcome.BLOCKED


def test_a_read_is_readable() -> None:
    raw = {**FAILED, "resolved": True, "status": 200, "body_read": True, "body_length": 3}
    obs = judged(raw, _answer(200), cookie_sent=True)
    assert obs.outcome is Outcome.READABLE and obs.cookie_sent is True and obs.body_length == 3
