"""The Fetch standard's CORS checks, as a pure explainer of why a browser blocked a read.

The browser's own verdict is the ground truth; this module only turns the server's
headers into a sentence ("Access-Control-Allow-Origin '*' cannot be used with
credentials") for the report. It follows https://fetch.spec.whatwg.org/#cors-check
and #cors-preflight-fetch, including the strict byte match that header-only
scanners usually skip.
"""

from __future__ import annotations

from collections.abc import Sequence

from harness.model.results import HttpExchange

SAFELISTED_METHODS = frozenset({"GET", "HEAD", "POST"})
"""Methods that never need a preflight nor listing in Access-Control-Allow-Methods."""
SAFELISTED_HEADERS = frozenset({"accept", "accept-language", "content-language", "content-type"})
"""Request headers the Fetch standard safelists (content-type only for the three
simple types); allowing them explicitly is harmless."""
_SIMPLE_CONTENT_TYPES = frozenset(
    {"application/x-www-form-urlencoded", "multipart/form-data", "text/plain"}
)

MAX_REDIRECTS = 20
"""Browsers give up after 20 redirects (Fetch standard, HTTP-redirect fetch)."""


def needs_preflight(method: str, headers: Sequence[tuple[str, str]]) -> bool:
    """Whether a cors-mode request with these author headers is preflighted."""
    if method.upper() not in SAFELISTED_METHODS:
        return True
    return bool(unsafe_header_names(headers))


def unsafe_header_names(headers: Sequence[tuple[str, str]]) -> list[str]:
    """Author headers that are not CORS-safelisted, lower-cased and sorted."""
    out = []
    for name, value in headers:
        lower = name.lower()
        if lower in SAFELISTED_HEADERS and lower != "content-type":
            continue
        if lower == "content-type" and value.split(";")[0].strip().lower() in _SIMPLE_CONTENT_TYPES:
            continue
        out.append(lower)
    return sorted(set(out))


def _values(exchange: HttpExchange, name: str) -> list[str]:
    return [v for k, v in exchange.response_headers if k.lower() == name.lower()]


def strict_allow_origin(exchange: HttpExchange) -> str | None:
    """The single ACAO value a browser would use, or None when absent, repeated or a list.

    Surrounding whitespace is trimmed, as HTTP header parsing does (Chromium was
    measured to accept ``Access-Control-Allow-Origin: https://app.example.com ``).
    """
    values = [v.strip() for v in _values(exchange, "access-control-allow-origin")]
    if len(values) != 1 or "," in values[0] or not values[0]:
        return None
    return values[0]


def strict_credentials(exchange: HttpExchange) -> bool:
    """True only for one ACAC header whose value is exactly ``true`` (case-sensitive)."""
    values = [v.strip() for v in _values(exchange, "access-control-allow-credentials")]
    return values == ["true"]


def cors_check(exchange: HttpExchange, origin: str, *, credentials: bool) -> str | None:
    """None when the response passes the CORS check, else the reason it fails."""
    acao = _values(exchange, "access-control-allow-origin")
    if not acao:
        return "no Access-Control-Allow-Origin header"
    value = strict_allow_origin(exchange)
    if value is None:
        return "Access-Control-Allow-Origin has several values; browsers accept exactly one"
    if value == "*" and not credentials:
        return None
    if value == "*":
        return "Access-Control-Allow-Origin '*' cannot be used with credentials"
    if value != origin:
        return f"Access-Control-Allow-Origin {value!r} does not match the page origin {origin!r}"
    if not credentials:
        return None
    acac = _values(exchange, "access-control-allow-credentials")
    if not acac:
        return "credentials were sent but Access-Control-Allow-Credentials is missing"
    if not strict_credentials(exchange):
        return f"Access-Control-Allow-Credentials must be exactly 'true', got {', '.join(acac)!r}"
    return None


def preflight_check(
    exchange: HttpExchange,
    origin: str,
    *,
    credentials: bool,
    method: str,
    headers: Sequence[tuple[str, str]],
) -> str | None:
    """None when the preflight allows the request, else the reason it does not."""
    if exchange.status is None:
        return f"preflight failed: {exchange.error or 'no response'}"
    if not 200 <= exchange.status <= 299:
        return (
            f"preflight answered {exchange.status}, not a 2xx status (OPTIONS carries no "
            "cookies; authentication must not apply to it)"
        )
    reason = cors_check(exchange, origin, credentials=credentials)
    if reason:
        return f"preflight: {reason}"
    methods = _tokens(_values(exchange, "access-control-allow-methods"))
    wildcard = "*" in methods and not credentials
    if method.upper() not in SAFELISTED_METHODS and method not in methods and not wildcard:
        return f"preflight: method {method} is not in Access-Control-Allow-Methods"
    allowed = {m.lower() for m in _tokens(_values(exchange, "access-control-allow-headers"))}
    for name in unsafe_header_names(headers):
        if name in allowed:
            continue
        # '*' never covers Authorization, and covers nothing with credentials.
        if "*" in allowed and not credentials and name != "authorization":
            continue
        return f"preflight: request header {name!r} is not in Access-Control-Allow-Headers"
    return None


def explain_block(
    origin: str,
    *,
    credentials: bool,
    method: str,
    headers: Sequence[tuple[str, str]],
    preflight: HttpExchange | None,
    actual: HttpExchange | None,
) -> str | None:
    """Why the Fetch standard blocks this request, from the server's answers, or None."""
    if preflight is not None and needs_preflight(method, headers):
        reason = preflight_check(
            preflight, origin, credentials=credentials, method=method, headers=headers
        )
        if reason:
            return reason
    if actual is None:
        return None
    if actual.status is None:
        return None
    return cors_check(actual, origin, credentials=credentials)


def _tokens(values: Sequence[str]) -> list[str]:
    out: list[str] = []
    for value in values:
        out.extend(t.strip() for t in value.split(",") if t.strip())
    return out
