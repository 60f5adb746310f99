"""Records intern the strings that repeat between them (a big run's memory, issue 16)."""

from __future__ import annotations

import dataclasses

from builders import observation

from harness.model.results import (
    Credentials,
    Evidence,
    HttpExchange,
    observation_from_dict,
    observation_to_dict,
)


def fresh(text: str) -> str:
    """An equal string that is a new object, as an engine or a parser hands it over."""
    return text.encode().decode()


def test_observations_share_repeated_strings_but_not_ids() -> None:
    a = observation(id=fresh("p-1"), origin=fresh("https://evil.test"), block_reason=fresh("no"))
    b = observation(id=fresh("p-1"), origin=fresh("https://evil.test"), block_reason=fresh("no"))
    assert a == b
    assert a.origin is b.origin and a.block_reason is b.block_reason
    assert a.id is not b.id
    # Copies and read-back records share them too.
    c = dataclasses.replace(a, origin=fresh("https://evil.test"))
    assert c.origin is a.origin
    assert observation_from_dict(observation_to_dict(a)).origin is a.origin


def test_exchanges_and_evidence_share_header_strings() -> None:
    def exchange() -> HttpExchange:
        return HttpExchange(
            fresh("GET"),
            fresh("https://api.example.com/x"),
            ((fresh("Origin"), fresh("https://evil.test")), (fresh("Accept"), fresh("*/*"))),
            200,
            ((fresh("Vary"), fresh("Origin")),),
            cookies=(fresh("session"),),
        )

    x, y = exchange(), exchange()
    assert x == y
    assert x.url is y.url and x.cookies[0] is y.cookies[0]
    pairs = zip(x.request_headers, y.request_headers, strict=True)
    assert all(a is b for p, q in pairs for a, b in zip(p, q, strict=True))
    assert x.response_headers[0][1] is y.response_headers[0][1]
    # Equal pairs are one tuple, across exchanges.
    assert x.request_headers[0] is y.request_headers[0]
    e1, e2 = (
        Evidence(fresh("k"), fresh("t"), fresh("o"), fresh("s"), Credentials.OMIT, None, x)
        for _ in range(2)
    )
    assert e1.key is e2.key and e1.origin is e2.origin


def test_odd_values_are_kept_as_given() -> None:
    odd = HttpExchange("GET", "u", [("a", "b")], None, (("x",), ("k", 5)))  # type: ignore[arg-type]
    assert odd.request_headers == [("a", "b")]
    assert odd.response_headers == (("x",), ("k", 5))
    assert observation(error=None, page_origin=None).error is None
