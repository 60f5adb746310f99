"""The header-only scanner model and its disagreements with real browsers."""

from __future__ import annotations

from dataclasses import replace

from harness.judge.headercheck import (
    Disagreement,
    HeaderFinding,
    compare,
    disagreements,
    header_scan,
    header_verdict,
    loose_credentials,
)
from harness.judge.verdicts import judge
from harness.model.cors import strict_allow_origin, strict_credentials
from harness.model.results import (
    CookiePolicy,
    Credentials,
    Engine,
    Evidence,
    Finding,
    HttpExchange,
    Observation,
    Outcome,
    Role,
    Severity,
    Via,
)

TARGET = "https://api.example.com/me"
LEGIT = "https://app.example.com"
EVIL = "https://evil.example.net"
SPECIAL = "https://app.example.com_.evil.net"


def ex(
    headers: list[tuple[str, str]],
    status: int | None = 200,
    method: str = "GET",
    request: tuple[tuple[str, str], ...] = (),
) -> HttpExchange:
    return HttpExchange(method, TARGET, request, status, tuple(headers))


def ev(
    origin: str,
    headers: list[tuple[str, str]],
    *,
    shape: str = "simple-get",
    creds: Credentials = Credentials.OMIT,
    status: int | None = 200,
    preflight: HttpExchange | None = None,
) -> Evidence:
    key = f"{origin}|{shape}|{creds.value}"
    return Evidence(key, TARGET, origin, shape, creds, preflight, ex(headers, status))


def ob(
    origin: str,
    klass: str,
    *,
    engine: Engine = Engine.CHROMIUM,
    policy: CookiePolicy = CookiePolicy.DEFAULT,
    creds: Credentials = Credentials.INCLUDE,
    outcome: Outcome = Outcome.READABLE,
    status: int | None = 200,
    cookie_sent: bool | None = True,
    shape: str = "simple-get",
    victim_data: bool | None = True,
) -> Observation:
    """One probe; by default a read of the victim's data with the cookie, as the wire saw."""
    role = Role.LEGITIMATE if klass == "legitimate" else Role.ATTACKER
    return Observation(
        id=f"{engine.value}-{policy.value}-{origin}-{shape}-{creds.value}",
        engine=engine,
        cookie_policy=policy,
        target=TARGET,
        origin=origin,
        origin_class=klass,
        role=role,
        via=Via.PAGE,
        page_origin=origin,
        shape=shape,
        method="GET" if shape == "simple-get" else "POST",
        api="fetch",
        credentials=creds,
        outcome=outcome,
        status=status if outcome is Outcome.READABLE else None,
        body_hash="h" if outcome is Outcome.READABLE else None,
        cookie_sent=cookie_sent,
        victim_data=victim_data if creds is Credentials.INCLUDE else False,
    )


REFLECT_CREDS = [
    ("Access-Control-Allow-Origin", EVIL),
    ("Access-Control-Allow-Credentials", "true"),
    ("Vary", "Origin"),
]


# --------------------------------------------------------------------------- single verdicts


def test_reflection_with_credentials_is_critical() -> None:
    v = header_verdict(ev(EVIL, REFLECT_CREDS))
    assert v.vulnerable and v.severity is Severity.CRITICAL
    assert v.reason == "Access-Control-Allow-Origin grants this origin, with credentials"


def test_reflection_without_credentials_is_medium() -> None:
    v = header_verdict(ev(EVIL, [("Access-Control-Allow-Origin", EVIL)]))
    assert v.vulnerable and v.severity is Severity.MEDIUM


def test_null_origin() -> None:
    v = header_verdict(
        ev(
            "null",
            [("Access-Control-Allow-Origin", "null"), ("Access-Control-Allow-Credentials", "true")],
        )
    )
    assert v.vulnerable and v.severity is Severity.CRITICAL and "null" in v.reason
    # "null" granted to a real origin is not a reflection of it.
    assert not header_verdict(ev(EVIL, [("Access-Control-Allow-Origin", "null")])).vulnerable


def test_wildcard_with_credentials_reported_critical() -> None:
    v = header_verdict(
        ev(
            EVIL,
            [("Access-Control-Allow-Origin", "*"), ("Access-Control-Allow-Credentials", "true")],
        )
    )
    assert v.vulnerable and v.severity is Severity.CRITICAL and "wildcard" in v.reason


def test_wildcard_alone_is_low() -> None:
    v = header_verdict(ev(EVIL, [("Access-Control-Allow-Origin", "*")]))
    assert v.severity is Severity.LOW


def test_no_grant_or_no_response() -> None:
    assert not header_verdict(ev(EVIL, [])).vulnerable
    assert not header_verdict(ev(EVIL, [("Access-Control-Allow-Origin", LEGIT)])).vulnerable
    assert not header_verdict(ev(EVIL, REFLECT_CREDS, status=None)).vulnerable
    missing = Evidence("k", TARGET, EVIL, "simple-get", Credentials.OMIT, None, None)
    assert header_verdict(missing).severity is None


def test_malformed_headers_read_loosely_like_scanners() -> None:
    odd = [
        ("access-control-allow-origin", f"  {EVIL.upper()} "),
        ("ACCESS-CONTROL-ALLOW-CREDENTIALS", "TRUE "),
    ]
    v = header_verdict(ev(EVIL, odd))
    assert v.vulnerable and v.severity is Severity.CRITICAL
    dup = [
        ("Access-Control-Allow-Origin", LEGIT),
        ("Access-Control-Allow-Origin", EVIL),
        ("Access-Control-Allow-Credentials", "true"),
        ("Access-Control-Allow-Credentials", "true"),
    ]
    assert header_verdict(ev(EVIL, dup)).severity is Severity.CRITICAL
    listed = [("Access-Control-Allow-Origin", f"{LEGIT}, {EVIL}")]
    assert header_verdict(ev(EVIL, listed)).vulnerable


def test_browsers_are_strict_where_scanners_are_loose() -> None:
    odd = ex(
        [
            ("Access-Control-Allow-Origin", f"{LEGIT}, {EVIL}"),
            ("Access-Control-Allow-Credentials", "TRUE"),
        ]
    )
    assert loose_credentials(odd) and not strict_credentials(odd)
    assert strict_allow_origin(odd) is None
    dup = ex([("Access-Control-Allow-Origin", EVIL), ("Access-Control-Allow-Origin", EVIL)])
    assert strict_allow_origin(dup) is None
    ok = ex(
        [("access-control-allow-origin", f" {EVIL} "), ("Access-Control-Allow-Credentials", "true")]
    )
    assert strict_allow_origin(ok) == EVIL and strict_credentials(ok)


# --------------------------------------------------------------------------- scan


def test_header_scan_skips_legit_and_prefers_a_scanner_like_request() -> None:
    evidence = [
        ev(
            LEGIT,
            [("Access-Control-Allow-Origin", LEGIT), ("Access-Control-Allow-Credentials", "true")],
        ),
        # With cookies the server reflects; the scanner sends none and sees "*".
        ev(EVIL, REFLECT_CREDS, creds=Credentials.INCLUDE),
        ev(EVIL, [("Access-Control-Allow-Origin", "*")]),
        ev("null", [("Access-Control-Allow-Origin", "null")], shape="preflight-json"),
    ]
    found = header_scan(evidence, legit_origins=[LEGIT])
    assert found == [
        HeaderFinding(
            TARGET,
            "null",
            Severity.MEDIUM,
            "Access-Control-Allow-Origin grants the null origin",
            "null|preflight-json|omit",
        ),
        HeaderFinding(
            TARGET,
            EVIL,
            Severity.LOW,
            "wildcard Access-Control-Allow-Origin",
            f"{EVIL}|simple-get|omit",
        ),
    ]


# --------------------------------------------------------------------------- disagreements


def test_wildcard_with_credentials_is_a_header_false_positive() -> None:
    star = [("Access-Control-Allow-Origin", "*"), ("Access-Control-Allow-Credentials", "true")]
    evidence = [ev(o, star, creds=c) for o in (LEGIT, EVIL) for c in Credentials]
    observations = [
        ob(LEGIT, "legitimate", outcome=Outcome.BLOCKED),
        ob(LEGIT, "legitimate", creds=Credentials.OMIT),
        ob(EVIL, "unrelated", outcome=Outcome.BLOCKED),
        ob(EVIL, "unrelated", creds=Credentials.OMIT),
    ]
    findings = judge(observations, evidence)
    assert [f.rule for f in findings] == ["wildcard-with-credentials"]
    scan = header_scan(evidence, legit_origins=[LEGIT])
    assert [h.severity for h in scan] == [Severity.CRITICAL]
    (d,) = disagreements(findings, scan, observations=observations)
    assert d.kind == "header-false-positive" and d.origin == EVIL
    assert "browsers refuse" in d.explanation


def test_unproducible_special_char_origin_is_a_header_false_positive() -> None:
    reflect = [
        ("Access-Control-Allow-Origin", SPECIAL),
        ("Access-Control-Allow-Credentials", "true"),
        ("Vary", "Origin"),
    ]
    evidence = [ev(SPECIAL, reflect, creds=c) for c in Credentials]
    observations = [
        ob(SPECIAL, "special-char", engine=e, outcome=Outcome.NOT_PRODUCIBLE) for e in Engine
    ]
    findings = judge(observations, evidence)
    assert findings == []
    scan = header_scan(evidence, legit_origins=[LEGIT])
    (d,) = disagreements(findings, scan, observations=observations)
    assert d.kind == "header-false-positive"
    assert "no engine" in d.explanation


def test_firefox_tcp_makes_scanner_overstate() -> None:
    evidence = [ev(EVIL, REFLECT_CREDS, creds=c) for c in Credentials]
    observations = [
        ob(EVIL, "unrelated", engine=Engine.FIREFOX, status=401, cookie_sent=False),
        ob(EVIL, "unrelated", engine=Engine.FIREFOX, policy=CookiePolicy.PERMISSIVE),
    ]
    findings = judge(observations, evidence)
    (f,) = findings
    assert f.severity is Severity.HIGH
    assert f.header_check is not None and f.header_check.severity is Severity.CRITICAL
    (d,) = disagreements(findings, header_scan(evidence, legit_origins=[]))
    assert d == Disagreement(
        "header-overstated",
        TARGET,
        EVIL,
        "any-origin-read",
        Severity.HIGH,
        Severity.CRITICAL,
        d.explanation,
    )
    assert "Total Cookie Protection" in d.explanation


def test_agreement_produces_nothing() -> None:
    evidence = [ev(EVIL, REFLECT_CREDS, creds=c) for c in Credentials]
    findings = judge([ob(EVIL, "unrelated")], evidence)
    assert findings[0].severity is Severity.CRITICAL
    assert disagreements(findings, header_scan(evidence, legit_origins=[])) == []


def test_cookie_dependent_reflection_is_understated_by_scanner() -> None:
    evidence = [
        ev(EVIL, REFLECT_CREDS, creds=Credentials.INCLUDE),
        ev(EVIL, [("Access-Control-Allow-Origin", "*")]),
    ]
    findings = judge([ob(EVIL, "unrelated")], evidence)
    (d,) = disagreements(findings, header_scan(evidence, legit_origins=[]))
    assert d.kind == "header-understated" and d.header_severity is Severity.LOW


def test_preflight_only_read_is_a_header_miss() -> None:
    granted = [("Access-Control-Allow-Origin", EVIL), ("Access-Control-Allow-Credentials", "true")]
    evidence = [
        ev(EVIL, [], creds=Credentials.OMIT),
        ev(
            EVIL,
            granted,
            shape="preflight-json",
            creds=Credentials.INCLUDE,
            preflight=ex(
                [
                    *granted,
                    ("Access-Control-Allow-Methods", "POST"),
                    ("Access-Control-Max-Age", "600"),
                ],
                204,
                "OPTIONS",
            ),
        ),
    ]
    findings = judge([ob(EVIL, "unrelated", shape="preflight-json")], evidence)
    scan = header_scan(evidence, legit_origins=[])
    assert scan == []
    kinds = {(d.kind, d.rule) for d in disagreements(findings, scan)}
    assert ("header-miss", "any-origin-read") in kinds


def test_legit_blocked_is_a_header_miss_and_compare_says_why() -> None:
    preflight = ex(
        [
            ("Access-Control-Allow-Origin", LEGIT),
            ("Access-Control-Allow-Credentials", "true"),
            ("Access-Control-Allow-Methods", "GET"),
        ],
        204,
        "OPTIONS",
        (("Access-Control-Request-Method", "PUT"),),
    )
    granted = [
        ("Access-Control-Allow-Origin", LEGIT),
        ("Access-Control-Allow-Credentials", "true"),
        ("Vary", "Origin"),
    ]
    evidence = [
        ev(LEGIT, granted, shape="preflight-json", creds=Credentials.INCLUDE, preflight=preflight)
    ]
    observations = [
        replace(
            ob(LEGIT, "legitimate", shape="preflight-json", outcome=Outcome.BLOCKED), method="PUT"
        )
    ]
    findings = judge(observations, evidence)
    f = next(x for x in findings if x.rule == "legit-origin-blocked")
    assert "method PUT is not in Access-Control-Allow-Methods" in f.detail
    verdict = compare(f, {e.key: e for e in evidence})
    assert not verdict.vulnerable and "preflight" in verdict.reason
    (d,) = [d for d in disagreements(findings, []) if d.rule == "legit-origin-blocked"]
    assert d.kind == "header-miss" and d.origin == LEGIT


def test_compare_without_evidence() -> None:
    f = Finding("any-origin-read", Severity.HIGH, "t", TARGET, (EVIL,), (), ())
    assert compare(f, {}).reason == "no server evidence for this finding"


def test_disagreements_are_sorted() -> None:
    hs = [
        HeaderFinding("https://b/", EVIL, Severity.HIGH, "origin reflected"),
        HeaderFinding("https://a/", EVIL, Severity.HIGH, "origin reflected"),
    ]
    out = disagreements([], hs)
    assert [d.target for d in out] == ["https://a/", "https://b/"]
