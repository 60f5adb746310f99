"""The Fetch standard's CORS check, as an explainer."""

from __future__ import annotations

from harness.model.cors import cors_check, explain_block, needs_preflight, preflight_check
from harness.model.results import HttpExchange

ORIGIN = "https://app.example.com"


def ex(*headers: tuple[str, str], status: int = 200) -> HttpExchange:
    return HttpExchange("GET", "https://api.example.com/x", (), status, tuple(headers))


def test_needs_preflight() -> None:
    assert not needs_preflight("GET", [])
    assert not needs_preflight("POST", [("Content-Type", "text/plain")])
    assert needs_preflight("POST", [("Content-Type", "application/json")])
    assert needs_preflight("GET", [("Authorization", "Bearer x")])
    assert needs_preflight("DELETE", [])


def test_cors_check_exact_match_rules() -> None:
    assert cors_check(ex(), ORIGIN, credentials=False) == "no Access-Control-Allow-Origin header"
    assert cors_check(ex(("Access-Control-Allow-Origin", "*")), ORIGIN, credentials=False) is None
    star = ex(("Access-Control-Allow-Origin", "*"))
    assert "cannot be used with credentials" in (cors_check(star, ORIGIN, credentials=True) or "")
    assert (
        cors_check(ex(("Access-Control-Allow-Origin", ORIGIN)), ORIGIN, credentials=False) is None
    )
    assert "Allow-Credentials is missing" in (
        cors_check(ex(("Access-Control-Allow-Origin", ORIGIN)), ORIGIN, credentials=True) or ""
    )
    ok = ex(("Access-Control-Allow-Origin", ORIGIN), ("Access-Control-Allow-Credentials", "true"))
    assert cors_check(ok, ORIGIN, credentials=True) is None


def test_cors_check_is_strict_where_scanners_are_loose() -> None:
    dup = ex(("Access-Control-Allow-Origin", ORIGIN), ("Access-Control-Allow-Origin", ORIGIN))
    assert "several values" in (cors_check(dup, ORIGIN, credentials=False) or "")
    listed = ex(("Access-Control-Allow-Origin", f"{ORIGIN}, https://x.test"))
    assert "several values" in (cors_check(listed, ORIGIN, credentials=False) or "")
    caps = ex(("Access-Control-Allow-Origin", ORIGIN), ("Access-Control-Allow-Credentials", "TRUE"))
    assert "exactly 'true'" in (cors_check(caps, ORIGIN, credentials=True) or "")
    spaced = ex(("Access-Control-Allow-Origin", ORIGIN + " "))
    # HTTP trims surrounding whitespace; Chromium was measured to accept it (hostile corpus).
    assert cors_check(spaced, ORIGIN, credentials=False) is None


def test_preflight_checks_methods_and_headers() -> None:
    pre = ex(
        ("Access-Control-Allow-Origin", ORIGIN),
        ("Access-Control-Allow-Credentials", "true"),
        ("Access-Control-Allow-Methods", "GET, POST"),
        ("Access-Control-Allow-Headers", "Content-Type"),
        status=204,
    )
    hdrs = [("Content-Type", "application/json"), ("Authorization", "Bearer x")]
    reason = preflight_check(pre, ORIGIN, credentials=True, method="POST", headers=hdrs)
    assert reason is not None and "authorization" in reason
    assert "PUT" in (preflight_check(pre, ORIGIN, credentials=True, method="PUT", headers=[]) or "")
    star = ex(
        ("Access-Control-Allow-Origin", "*"), ("Access-Control-Allow-Headers", "*"), status=204
    )
    # '*' never covers Authorization.
    assert "authorization" in (
        preflight_check(star, ORIGIN, credentials=False, method="GET", headers=hdrs) or ""
    )
    assert (
        preflight_check(ex(status=401), ORIGIN, credentials=False, method="PUT", headers=[]) or ""
    ).startswith("preflight answered 401, not a 2xx status")


def test_explain_block_prefers_the_preflight() -> None:
    pre = ex(status=403)
    actual = ex(("Access-Control-Allow-Origin", ORIGIN))
    why = explain_block(
        ORIGIN, credentials=False, method="PUT", headers=[], preflight=pre, actual=actual
    )
    assert why is not None and why.startswith("preflight answered 403")
    assert (
        explain_block(
            ORIGIN, credentials=False, method="GET", headers=[], preflight=None, actual=actual
        )
        is None
    )
