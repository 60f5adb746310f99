"""Verdicts are pure functions of observations and evidence: tested without a browser.

Fixtures come from a tiny simulated server (its CORS configuration) and a tiny
simulated browser that applies the CORS checks strictly, including Firefox's
Total Cookie Protection under the default cookie profile. That keeps each case
short and makes observation and evidence agree the way a real run would.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field, replace

from hypothesis import given, settings
from hypothesis import strategies as st

from harness.judge.headercheck import disagreements, header_scan
from harness.judge.story import Standing, policy_line, says, stories
from harness.judge.verdicts import judge
from harness.judge.victim import with_victim_data
from harness.model.results import (
    CookiePolicy,
    Credentials,
    Engine,
    Evidence,
    Finding,
    HttpExchange,
    Observation,
    Outcome,
    Reach,
    Role,
    Severity,
    Via,
)

TARGET = "https://api.example.com/me"
LEGIT = "https://app.example.com"
EVIL = "https://evil.example.net"

CHROMIUM, FIREFOX, WEBKIT = Engine.CHROMIUM, Engine.FIREFOX, Engine.WEBKIT
DEFAULT, PERMISSIVE = CookiePolicy.DEFAULT, CookiePolicy.PERMISSIVE
INCLUDE, OMIT = Credentials.INCLUDE, Credentials.OMIT

# (origin, class); the legitimate origin is same-site with the target.
ATTACKERS: list[tuple[str, str]] = [
    (EVIL, "unrelated"),
    ("null", "null"),
    ("http://app.example.com", "scheme-downgrade"),
    ("https://x.example.com", "sibling-subdomain"),
    ("https://a.b.example.com", "deeper-subdomain"),
    ("https://usercontent.example.com", "user-content"),
    ("http://localhost:3000", "localhost"),
    ("https://app.example.com.evil.net", "post-domain"),
    ("https://evilexample.com", "pre-domain"),
    ("https://appxexample.com", "unescaped-dot"),
    ("https://notexample.com.evil.net", "substring"),
    ("https://app.example.com_.evil.net", "special-char"),
    ("https://app.example.com:8443", "other-port"),
    ("https://partner.example.org", "custom"),
]
SAME_SITE = {
    LEGIT,
    "https://x.example.com",
    "https://a.b.example.com",
    "https://usercontent.example.com",
    "https://app.example.com:8443",
}
CROSS_SITE = [(o, k) for o, k in ATTACKERS if o not in SAME_SITE]


@dataclass
class Server:
    """A CORS configuration: what headers the target answers with."""

    allow: Callable[[str, bool], str | None] = lambda o, cookie: o if o == LEGIT else None
    credentials: bool = True
    vary: bool = True
    max_age: str | None = "600"
    methods: str = "GET, POST"
    allow_headers: str = "Authorization, Content-Type"
    expose: str | None = "X-Request-Id"
    cors_on_errors: bool = True
    auth_required: bool = True
    extra: list[tuple[str, str]] = field(default_factory=list)

    def _cors(self, origin: str, cookie: bool) -> list[tuple[str, str]]:
        acao = self.allow(origin, cookie)
        out: list[tuple[str, str]] = []
        if acao is not None:
            out.append(("Access-Control-Allow-Origin", acao))
            if self.credentials:
                out.append(("Access-Control-Allow-Credentials", "true"))
        if self.vary:
            out.append(("Vary", "Origin"))
        return out

    def respond(
        self, origin: str, shape: str, creds: Credentials, cookie: bool
    ) -> tuple[HttpExchange | None, HttpExchange]:
        preflight = None
        if shape == "preflight-json":
            asked = "authorization, content-type" if creds is INCLUDE else "content-type"
            headers = self._cors(origin, False)
            if any(k == "Access-Control-Allow-Origin" for k, _ in headers):
                headers += [
                    ("Access-Control-Allow-Methods", self.methods),
                    ("Access-Control-Allow-Headers", self.allow_headers),
                ]
                if self.max_age is not None:
                    headers.append(("Access-Control-Max-Age", self.max_age))
            preflight = HttpExchange(
                "OPTIONS",
                TARGET,
                (
                    ("Origin", origin),
                    ("Access-Control-Request-Method", "POST"),
                    ("Access-Control-Request-Headers", asked),
                ),
                204,
                tuple(headers),
            )
        status = 401 if self.auth_required and not cookie else 200
        headers = [] if status >= 400 and not self.cors_on_errors else self._cors(origin, cookie)
        if self.expose and any(k == "Access-Control-Allow-Origin" for k, _ in headers):
            headers.append(("Access-Control-Expose-Headers", self.expose))
        headers += self.extra
        method = "POST" if shape == "preflight-json" else "GET"
        actual = HttpExchange(method, TARGET, (("Origin", origin),), status, tuple(headers))
        return preflight, actual


def _single(ex: HttpExchange, name: str) -> str | None:
    values = [v for k, v in ex.response_headers if k.lower() == name.lower()]
    return values[0] if len(values) == 1 else None


def _passes(ex: HttpExchange, origin: str, creds: Credentials) -> bool:
    """The browser's strict CORS check."""
    acao = _single(ex, "Access-Control-Allow-Origin")
    if creds is INCLUDE:
        return acao == origin and _single(ex, "Access-Control-Allow-Credentials") == "true"
    return acao in ("*", origin)


def _preflight_passes(ex: HttpExchange, origin: str, creds: Credentials) -> bool:
    if not _passes(ex, origin, creds):
        return False
    allowed = {
        h.strip().lower() for h in (_single(ex, "Access-Control-Allow-Headers") or "").split(",")
    }
    asked = dict(ex.request_headers)["Access-Control-Request-Headers"].split(", ")
    return all(h in allowed or h == "content-type" for h in asked)


def probe(
    server: Server,
    origin: str,
    klass: str,
    engine: Engine,
    policy: CookiePolicy,
    shape: str,
    creds: Credentials,
    *,
    producible: bool = True,
) -> Observation:
    """Simulate one probe in one browser."""
    role = Role.LEGITIMATE if klass == "legitimate" else Role.ATTACKER
    pid = f"{engine.value}-{policy.value}-{klass}-{origin}-{shape}-{creds.value}"
    base = Observation(
        id=pid,
        engine=engine,
        cookie_policy=policy,
        target=TARGET,
        origin=origin,
        origin_class=klass,
        role=role,
        via=Via.PAGE,
        page_origin=origin,
        shape=shape,
        method="POST" if shape == "preflight-json" else "GET",
        api="fetch",
        credentials=creds,
        outcome=Outcome.BLOCKED,
        preflighted=shape == "preflight-json",
    )
    if not producible:
        return replace(base, outcome=Outcome.NOT_PRODUCIBLE)
    # Firefox partitions third-party cookies by default (Total Cookie Protection).
    cookie = creds is INCLUDE and (
        policy is PERMISSIVE or engine is not FIREFOX or origin in SAME_SITE
    )
    preflight, actual = server.respond(origin, shape, creds, cookie)
    if preflight is not None and not _preflight_passes(preflight, origin, creds):
        # The wire saw only the preflight: the request itself never left the browser.
        return replace(base, block_reason="preflight refused", cookie_sent=False, victim_data=False)
    body = "secret" if cookie and server.auth_required else f"public-{actual.status}"
    # What the wire witness records of the actual request, readable or not.
    wire = {"cookie_sent": cookie, "wire_status": actual.status, "wire_body_hash": body}
    if not _passes(actual, origin, creds):
        return replace(base, block_reason="CORS check failed", status=actual.status, **wire)
    return replace(base, outcome=Outcome.READABLE, status=actual.status, body_hash=body, **wire)


def run(
    server: Server,
    *,
    engines: Sequence[Engine] = (CHROMIUM, FIREFOX),
    policies: Sequence[CookiePolicy] = (DEFAULT, PERMISSIVE),
    attackers: Iterable[tuple[str, str]] = ATTACKERS,
    shapes: Sequence[str] = ("simple-get", "preflight-json"),
    unproducible: Callable[[str, Engine], bool] = lambda klass, engine: klass == "special-char",
) -> tuple[list[Observation], list[Evidence]]:
    """All probes of a small run, plus the Python replay evidence."""
    origins = [(LEGIT, "legitimate"), *attackers]
    obs: list[Observation] = []
    evs: list[Evidence] = []
    for origin, klass in origins:
        for shape in shapes:
            for creds in (INCLUDE, OMIT):
                # The replay carries the test session's cookie for credentialed requests.
                preflight, actual = server.respond(origin, shape, creds, creds is INCLUDE)
                key = f"{origin}|{shape}|{creds.value}"
                evs.append(Evidence(key, TARGET, origin, shape, creds, preflight, actual))
                for engine in engines:
                    for policy in policies:
                        obs.append(
                            probe(
                                server,
                                origin,
                                klass,
                                engine,
                                policy,
                                shape,
                                creds,
                                producible=not unproducible(klass, engine),
                            )
                        )
    return with_victim_data(obs), evs


def rules(findings: Sequence[Finding]) -> list[str]:
    return [f.rule for f in findings]


def only(findings: Sequence[Finding], rule: str) -> Finding:
    matching = [f for f in findings if f.rule == rule]
    assert len(matching) == 1, rules(findings)
    return matching[0]


def reflect(origin: str, cookie: bool) -> str | None:
    return origin


# --------------------------------------------------------------------------- correct configs


def test_exact_allowlist_with_credentials_is_clean() -> None:
    obs, evs = run(Server(), engines=tuple(Engine))
    assert judge(obs, evs, engines_run=tuple(Engine)) == []


def test_public_wildcard_api_without_credentials_is_clean() -> None:
    server = Server(
        allow=lambda o, c: "*", credentials=False, auth_required=False, allow_headers="Content-Type"
    )
    obs, evs = run(server)
    # Legitimate credentialed probes are blocked under "*": expected, not a finding.
    assert any(o.role is Role.LEGITIMATE and o.outcome is Outcome.BLOCKED for o in obs)
    assert judge(obs, evs) == []


# --------------------------------------------------------------------------- attacker reads


def test_reflection_folds_every_class_into_any_origin_read() -> None:
    obs, evs = run(Server(allow=reflect), attackers=CROSS_SITE)
    findings = judge(obs, evs)
    vulns = [f for f in findings if f.category == "vulnerability"]
    assert rules(vulns) == ["any-origin-read"]
    f = vulns[0]
    assert f.severity is Severity.CRITICAL
    assert "null" in f.origins and "https://app.example.com.evil.net" in f.origins
    assert {"null", "post-domain", "unrelated", "localhost"} <= set(f.classes)
    assert "special-char" not in f.classes  # not producible anywhere in this run
    assert "special-char" not in f.classes

    assert "null-origin-trusted" in f.detail and "post-domain-bypass" in f.detail
    # Chromium sends the cross-site cookie by default; Firefox's TCP does not.
    assert f.engines == (CHROMIUM,)
    assert "Exploitable in a default browser: from any website in chromium." in f.detail
    # Allowed third-party cookies, Firefox sends the cookie and the read carries it.
    assert "firefox: read the victim's data with the cookie from cross-site origins" in f.detail
    assert "firefox: readable with credentials, but the session cookie was not sent" in f.detail
    reach = {(e.engine, e.cookie_policy): e.reach for e in f.exposure}
    assert reach == {
        (CHROMIUM, DEFAULT): Reach.CROSS_SITE,
        (CHROMIUM, PERMISSIVE): Reach.CROSS_SITE,
        (FIREFOX, DEFAULT): Reach.NONE,
        (FIREFOX, PERMISSIVE): Reach.CROSS_SITE,
    }
    assert f.probes and set(f.evidence) <= {e.key for e in evs}
    assert f.cookie_policies == (DEFAULT, PERMISSIVE)
    assert f.header_check is not None and f.header_check.vulnerable


def test_same_site_reads_in_firefox_are_exploitable_from_same_site_origins_only() -> None:
    # Firefox sends the cookie to same-site requests only: a sibling subdomain reads the
    # victim's data, no other website does. Who can exploit sets the severity.
    obs, evs = run(Server(allow=reflect), engines=(FIREFOX,))
    f = only(judge(obs, evs), "any-origin-read")
    assert f.severity is Severity.HIGH and f.engines == (FIREFOX,)
    default = next(e for e in f.exposure if e.cookie_policy is DEFAULT)
    assert default.reach is Reach.SAME_SITE
    assert set(default.origins) == SAME_SITE - {LEGIT}
    assert "only from same-site origins in firefox" in f.detail


def test_firefox_only_reflection_is_high_not_critical() -> None:
    obs, evs = run(Server(allow=reflect), engines=(FIREFOX,), attackers=CROSS_SITE)
    f = only(judge(obs, evs), "any-origin-read")
    assert f.severity is Severity.HIGH
    assert f.engines == (FIREFOX,)
    assert "Exploitable in a default browser: no." in f.detail
    assert "What the server allows" in f.detail


def test_permissive_only_run_is_high() -> None:
    obs, evs = run(Server(allow=reflect), engines=(CHROMIUM,), policies=(PERMISSIVE,))
    assert only(judge(obs, evs), "any-origin-read").severity is Severity.HIGH


def test_cookie_not_sent_in_default_chromium_is_high() -> None:
    obs, evs = run(Server(allow=reflect), engines=(CHROMIUM,), policies=(DEFAULT,))
    # Pretend Chromium had third-party cookies blocked: no cookie, but a 200 anyway.
    obs = [replace(o, cookie_sent=False) if o.credentials is INCLUDE else o for o in obs]
    assert only(judge(obs, evs), "any-origin-read").severity is Severity.HIGH


def test_reflection_without_credentials_is_medium() -> None:
    server = Server(allow=reflect, credentials=False, auth_required=False)
    obs, evs = run(server)
    f = only(judge(obs, evs), "any-origin-read")
    assert f.severity is Severity.MEDIUM
    assert f.engines == (CHROMIUM, FIREFOX)


def test_unknown_cookie_state_is_never_counted_as_sent() -> None:
    obs, evs = run(Server(allow=reflect), engines=(CHROMIUM,), policies=(DEFAULT,))
    obs = [replace(o, cookie_sent=None, victim_data=None) for o in obs]
    f = only(judge(obs, evs), "any-origin-read")
    # The server allows credentialed reads (measured); exploitability is unknown, not assumed.
    assert f.severity is Severity.HIGH
    assert [e.reach for e in f.exposure] == [Reach.UNKNOWN]
    assert "Exploitable in a default browser: no." in f.detail
    assert "Unknown in: chromium" in f.detail


def test_anonymous_answer_read_with_the_cookie_is_not_exploitable() -> None:
    # The cookie went, but the server answered what it answers anyone: nothing stolen.
    server = Server(allow=reflect, auth_required=False)
    obs, evs = run(server, engines=(CHROMIUM,), policies=(DEFAULT,), attackers=CROSS_SITE)
    f = only(judge(obs, evs), "any-origin-read")
    assert f.severity is Severity.HIGH
    assert [e.reach for e in f.exposure] == [Reach.NONE]
    assert "the answer was the anonymous one" in f.detail


CLASS_CASES = [
    ("null", "null-origin-trusted"),
    ("sibling-subdomain", "subdomain-trusted"),
    ("deeper-subdomain", "subdomain-trusted"),
    ("user-content", "user-content-trusted"),
    ("localhost", "localhost-trusted"),
    ("post-domain", "post-domain-bypass"),
    ("pre-domain", "pre-domain-bypass"),
    ("unescaped-dot", "unescaped-dot-bypass"),
    ("substring", "substring-bypass"),
    ("other-port", "other-port-trusted"),
    ("custom", "custom-origin-trusted"),
    ("scheme-downgrade", "http-origin-trusted"),
]


def _trusting(klass: str) -> Server:
    trusted = {o for o, k in ATTACKERS if k == klass} | {LEGIT}
    return Server(allow=lambda o, c: o if o in trusted else None)


def test_each_class_rule_fires_alone() -> None:
    for klass, rule in CLASS_CASES:
        obs, evs = run(_trusting(klass))
        findings = judge(obs, evs)
        vulns = [f for f in findings if f.category == "vulnerability"]
        assert rules(vulns) == [rule], (klass, rules(findings))
        assert vulns[0].classes == (klass,)
        assert [f for f in findings if f.category != "vulnerability"] == [], klass


def test_subdomain_rule_lists_every_subdomain_origin() -> None:
    trusted = {LEGIT, "https://x.example.com", "https://a.b.example.com"}
    obs, evs = run(Server(allow=lambda o, c: o if o in trusted else None))
    f = only(judge(obs, evs), "subdomain-trusted")
    assert f.origins == ("https://a.b.example.com", "https://x.example.com")
    assert f.classes == ("deeper-subdomain", "sibling-subdomain")
    # Same-site subdomains get cookies even in Firefox; only they can read, so high.
    assert f.engines == (CHROMIUM, FIREFOX) and f.severity is Severity.HIGH
    assert {e.reach for e in f.exposure} == {Reach.SAME_SITE}


def test_http_origin_only_matters_for_https_targets() -> None:
    obs, evs = run(_trusting("scheme-downgrade"))
    http = "http://api.example.com/me"
    obs = [replace(o, target=http) for o in obs]
    evs = [replace(e, target=http) for e in evs]
    assert judge(obs, evs) == []


def test_localhost_is_info_in_dev() -> None:
    obs, evs = run(_trusting("localhost"))
    assert only(judge(obs, evs), "localhost-trusted").severity is Severity.CRITICAL
    dev = only(judge(obs, evs, env="dev"), "localhost-trusted")
    assert dev.severity is Severity.INFO and "env=dev" in dev.detail


def test_localhost_does_not_raise_folded_severity_in_dev() -> None:
    server = Server(
        allow=lambda o, c: o if o in (EVIL, "http://localhost:3000", LEGIT) else None,
        credentials=False,
        auth_required=False,
    )
    obs, evs = run(server)
    assert only(judge(obs, evs, env="dev"), "any-origin-read").severity is Severity.MEDIUM


def test_special_char_readable_in_one_engine_only() -> None:
    server = _trusting("special-char")
    obs, evs = run(
        server,
        engines=(CHROMIUM, WEBKIT),
        unproducible=lambda k, e: k == "special-char" and e is not WEBKIT,
    )
    f = only(judge(obs, evs), "special-char-bypass")
    assert f.engines == (WEBKIT,)
    assert "not producible in chromium" in f.detail


def test_special_char_unproducible_everywhere_is_no_finding() -> None:
    obs, evs = run(_trusting("special-char"))
    assert judge(obs, evs) == []


def test_errors_and_unproducible_are_never_reads() -> None:
    obs, evs = run(Server(allow=reflect))
    obs = [replace(o, outcome=Outcome.ERROR) if o.role is Role.ATTACKER else o for o in obs]
    assert [f for f in judge(obs, evs) if f.category == "vulnerability"] == []


def test_public_wildcard_read_by_attacker_is_not_a_finding_but_reflection_is() -> None:
    star = Server(
        allow=lambda o, c: "*", credentials=False, auth_required=False, allow_headers="Content-Type"
    )
    obs, evs = run(star, attackers=[(EVIL, "unrelated")])
    assert judge(obs, evs) == []


# --------------------------------------------------------------------------- functional


def test_legit_origin_blocked_names_failing_shapes() -> None:
    # The preflight does not allow Authorization, so credentialed JSON posts fail.
    obs, evs = run(Server(allow_headers="Content-Type"))
    f = only(judge(obs, evs), "legit-origin-blocked")
    assert f.category == "functional"
    assert f.origins == (LEGIT,)
    assert "preflight-json with credentials=include" in f.detail
    assert "authorization" in f.detail
    assert "simple-get" not in f.detail
    assert f.header_check is not None and not f.header_check.vulnerable


def test_legit_origin_missing_from_allowlist() -> None:
    obs, evs = run(Server(allow=lambda o, c: None), attackers=[])
    f = only(judge(obs, evs), "legit-origin-blocked")
    assert "lacks Access-Control-Allow-Origin" in f.detail
    assert f.engines == (CHROMIUM, FIREFOX)


def test_malformed_acac_blocks_legit() -> None:
    server = Server(credentials=False, extra=[("Access-Control-Allow-Credentials", "TRUE ")])
    obs, evs = run(server, attackers=[], shapes=("simple-get",))
    f = only(judge(obs, evs), "legit-origin-blocked")
    assert "exactly 'true'" in f.detail


def test_wildcard_with_credentials_is_functional() -> None:
    server = Server(allow=lambda o, c: "*", credentials=True, allow_headers="Content-Type")
    obs, evs = run(server)
    findings = judge(obs, evs)
    f = only(findings, "wildcard-with-credentials")
    assert f.category == "functional" and f.severity is Severity.MEDIUM
    assert "legit-origin-blocked" not in rules(findings)
    assert [x for x in findings if x.category == "vulnerability"] == []
    # Header-only scanners call this critical.
    assert f.header_check is not None and f.header_check.severity is Severity.CRITICAL


def test_wildcard_on_resource_needing_credentials_without_acac() -> None:
    # "*" and the resource answers 401 anonymously: credentials are needed but impossible.
    server = Server(allow=lambda o, c: "*", credentials=False, allow_headers="Content-Type")
    obs, evs = run(server, attackers=[], shapes=("simple-get",))
    assert "wildcard-with-credentials" in rules(judge(obs, evs))


def test_errors_without_cors_replaces_legit_blocked() -> None:
    obs, evs = run(Server(cors_on_errors=False))
    findings = judge(obs, evs)
    f = only(findings, "errors-without-cors")
    assert "legit-origin-blocked" not in rules(findings)
    assert "HTTP 401" in f.detail
    assert f.origins == (LEGIT,)


# --------------------------------------------------------------------------- hygiene


def test_credentials_unneeded() -> None:
    obs, evs = run(Server(auth_required=False))
    f = only(judge(obs, evs), "credentials-unneeded")
    assert f.category == "hygiene"


def test_max_age_missing() -> None:
    obs, evs = run(Server(max_age=None))
    assert "max-age-missing" in rules(judge(obs, evs))


def test_max_age_invalid_counts_as_missing() -> None:
    obs, evs = run(Server(max_age="ten minutes"))
    f = only(judge(obs, evs), "max-age-missing")
    assert "ten minutes" in f.detail


def test_max_age_excessive_names_capping_engines() -> None:
    obs, evs = run(Server(max_age="86400"), engines=(CHROMIUM, WEBKIT))
    f = only(judge(obs, evs, engines_run=(CHROMIUM, WEBKIT)), "max-age-excessive")
    assert f.engines == (CHROMIUM, WEBKIT)
    assert "7200" in f.detail and "600" in f.detail and "preflight_result.cc" in f.detail


def test_max_age_within_caps_of_engines_that_ran() -> None:
    obs, evs = run(Server(max_age="86400"), engines=(FIREFOX,))
    assert judge(obs, evs, engines_run=(FIREFOX,)) == []
    obs, evs = run(Server(max_age="7200"), engines=(CHROMIUM,))
    assert judge(obs, evs, engines_run=(CHROMIUM,)) == []
    # engines_run defaults to the engines seen in the observations.
    obs, evs = run(Server(max_age="7200"), engines=(CHROMIUM, WEBKIT))
    assert only(judge(obs, evs), "max-age-excessive").engines == (WEBKIT,)


def test_vary_origin_missing() -> None:
    obs, evs = run(Server(vary=False))
    f = only(judge(obs, evs), "vary-origin-missing")
    assert f.severity is Severity.MEDIUM
    assert LEGIT in f.detail


def test_vary_star_and_token_lists_count() -> None:
    for vary in ("*", "Accept-Encoding, ORIGIN"):
        obs, evs = run(Server(vary=False, extra=[("Vary", vary)]))
        assert judge(obs, evs) == [], vary


def test_constant_wildcard_needs_no_vary() -> None:
    server = Server(
        allow=lambda o, c: "*",
        credentials=False,
        auth_required=False,
        vary=False,
        allow_headers="Content-Type",
    )
    obs, evs = run(server)
    assert judge(obs, evs) == []


def test_overbroad_methods_headers_and_expose() -> None:
    cases = [
        (Server(methods="GET, POST, PUT, DELETE"), "allow-methods-overbroad", "DELETE"),
        (Server(methods="*"), "allow-methods-overbroad", "*"),
        (Server(allow_headers="*, Authorization"), "allow-headers-overbroad", "*"),
        (
            Server(allow_headers="Authorization, Content-Type, X-Admin"),
            "allow-headers-overbroad",
            "x-admin",
        ),
        (Server(expose="*"), "expose-headers-overbroad", "*"),
        (
            Server(expose="X-Request-Id, Set-Cookie, X-Session-Token"),
            "expose-headers-overbroad",
            "set-cookie",
        ),
    ]
    for server, rule, word in cases:
        obs, evs = run(server)
        findings = judge(obs, evs)
        assert rules(findings) == [rule], (rule, rules(findings))
        assert word in findings[0].detail
        assert findings[0].severity is Severity.LOW


# --------------------------------------------------------------------------- ordering


def test_output_sorted_by_severity_then_rule() -> None:
    obs, evs = run(Server(allow=reflect, vary=False, max_age=None, methods="GET, POST, PUT"))
    findings = judge(obs, evs)
    keys = [(-f.severity.rank, f.rule, f.target) for f in findings]
    assert keys == sorted(keys)
    assert findings[0].rule == "any-origin-read"
    assert {"vary-origin-missing", "max-age-missing", "allow-methods-overbroad"} <= set(
        rules(findings)
    )


def test_shuffled_input_gives_same_findings() -> None:
    obs, evs = run(Server(allow=reflect, vary=False), engines=tuple(Engine))
    expected = judge(obs, evs)
    rng = random.Random(7)
    for _ in range(5):
        o2, e2 = obs[:], evs[:]
        rng.shuffle(o2)
        rng.shuffle(e2)
        assert judge(o2, e2) == expected


def test_empty_input() -> None:
    assert judge([], []) == []


# --------------------------------------------------------------------------- property


_origins = st.sampled_from([LEGIT, EVIL, "null", "http://localhost:3000", "https://x.example.com"])
_header_names = st.sampled_from(
    [
        "Access-Control-Allow-Origin",
        "access-control-allow-credentials",
        "Vary",
        "Access-Control-Max-Age",
        "Access-Control-Allow-Methods",
        "Access-Control-Allow-Headers",
        "Access-Control-Expose-Headers",
        "X-Other",
    ]
)
_header_values = st.one_of(
    _origins,
    st.sampled_from(["*", "true", "TRUE ", "", ",", "-1", "99999999999999", "Origin", "a,b"]),
    st.text(max_size=8),
)
_exchange = st.builds(
    HttpExchange,
    method=st.sampled_from(["GET", "POST", "OPTIONS"]),
    url=st.just(TARGET),
    request_headers=st.lists(
        st.tuples(
            st.sampled_from(
                ["Origin", "Access-Control-Request-Method", "Access-Control-Request-Headers"]
            ),
            _header_values,
        ),
        max_size=3,
    ).map(tuple),
    status=st.one_of(st.none(), st.sampled_from([200, 204, 301, 401, 403, 500])),
    response_headers=st.lists(st.tuples(_header_names, _header_values), max_size=6).map(tuple),
)
_evidence = st.builds(
    Evidence,
    key=st.text(min_size=1, max_size=4),
    target=st.sampled_from([TARGET, "http://plain.example/x"]),
    origin=_origins,
    shape=st.sampled_from(["simple-get", "preflight-json"]),
    credentials=st.sampled_from(list(Credentials)),
    preflight=st.one_of(st.none(), _exchange),
    actual=st.one_of(st.none(), _exchange),
)
_observation = st.builds(
    Observation,
    id=st.text(min_size=1, max_size=4),
    engine=st.sampled_from(list(Engine)),
    cookie_policy=st.sampled_from(list(CookiePolicy)),
    target=st.sampled_from([TARGET, "http://plain.example/x"]),
    origin=_origins,
    origin_class=st.sampled_from(
        [
            "legitimate",
            "unrelated",
            "null",
            "localhost",
            "scheme-downgrade",
            "special-char",
            "weird",
        ]
    ),
    role=st.sampled_from(list(Role)),
    via=st.just(Via.PAGE),
    page_origin=st.none(),
    shape=st.sampled_from(["simple-get", "preflight-json"]),
    method=st.sampled_from(["GET", "POST", "PUT", ""]),
    api=st.just("fetch"),
    credentials=st.sampled_from(list(Credentials)),
    outcome=st.sampled_from(list(Outcome)),
    status=st.one_of(st.none(), st.sampled_from([200, 204, 401, 500])),
    body_hash=st.one_of(st.none(), st.sampled_from(["a", "b"])),
    cookie_sent=st.one_of(st.none(), st.booleans()),
)


@settings(max_examples=150, deadline=None)
@given(
    obs=st.lists(_observation, max_size=12),
    evs=st.lists(_evidence, max_size=8),
    env=st.sampled_from(["prod", "dev"]),
    seed=st.integers(0, 2**16),
)
def test_judge_never_raises_and_is_order_independent(
    obs: list[Observation], evs: list[Evidence], env: str, seed: int
) -> None:
    first = judge(obs, evs, env=env)
    rng = random.Random(seed)
    o2, e2 = obs[:], evs[:]
    rng.shuffle(o2)
    rng.shuffle(e2)
    assert judge(o2, e2, env=env) == first
    for f in first:
        assert f.probes == tuple(sorted(f.probes))
        assert f.header_check is not None


# --------------------------------------------------------------------------- one story


def _on_http(
    obs: list[Observation], evs: list[Evidence]
) -> tuple[list[Observation], list[Evidence]]:
    http = "http://api.example.com/me"
    return [replace(o, target=http) for o in obs], [replace(e, target=http) for e in evs]


def test_reflecting_http_target_folds_its_http_origin_into_any_origin_read() -> None:
    """A server that trusts every origin trusts its http one too: one finding names all."""
    obs, evs = _on_http(*run(Server(allow=reflect), attackers=CROSS_SITE))
    readers = {o.origin for o in obs if o.role is Role.ATTACKER and o.readable}
    assert "http://app.example.com" in readers
    f = only(judge(obs, evs), "any-origin-read")
    assert set(f.origins) == readers
    assert "http-origin-trusted" in f.detail  # folded in, said so
    told = stories(obs, evs)
    assert told[(f.target, "http://app.example.com")].standing is Standing.FINDING


def test_http_origin_alone_on_http_target_reads_without_a_finding_and_says_why() -> None:
    obs, evs = _on_http(*run(_trusting("scheme-downgrade")))
    assert judge(obs, evs) == []
    key = ("http://api.example.com/me", "http://app.example.com")
    told = stories(obs, evs)[key]
    assert told.readable and told.standing is Standing.HTTP_TARGET
    # The comparison with a header-only scanner states the read and why it is none.
    scan = header_scan(evs, legit_origins=[LEGIT])
    (d,) = [
        d for d in disagreements([], scan, observations=obs, evidence=evs) if d.origin == key[1]
    ]
    assert d.kind == "header-false-positive"
    assert d.explanation.startswith("browsers could read it, but it is no vulnerability: an http")
    assert "no engine confirmed" not in d.explanation


def test_every_read_origin_has_one_standing_and_findings_name_exactly_the_counted() -> None:
    server = Server(allow=lambda o, c: o if o != "https://partner.example.org" else "*")
    obs, evs = run(server)
    told = stories(obs, evs)
    findings = judge(obs, evs)
    named = {(f.target, o) for f in findings if f.category == "vulnerability" for o in f.origins}
    counted = {k for k, s in told.items() if s.standing is Standing.FINDING}
    assert named == counted
    partner = told[(TARGET, "https://partner.example.org")]
    # Read anonymously under "*": a public answer, not a finding.
    assert partner.standing is Standing.PUBLIC and partner.readable
    assert says(partner) == "read only the public answer in Chromium and Firefox"


def test_says_names_profiles_only_where_an_engine_differs() -> None:
    obs, evs = run(Server(allow=reflect), attackers=[(EVIL, "unrelated")])
    text = says(stories(obs, evs)[(TARGET, EVIL)])
    assert text == (
        "read the victim's data with the session cookie in Chromium and Firefox (permissive "
        "cookies); read only an anonymous answer (HTTP 401) in Firefox (default cookies)"
    )


def test_policy_line_names_the_classes_that_read_and_how_far_the_cookie_went() -> None:
    def subdomains_http_null(origin: str, cookie: bool) -> str | None:
        ok = origin.endswith(".example.com") or origin in ("null", "http://app.example.com")
        return origin if ok or origin == LEGIT else None

    obs, evs = run(Server(allow=subdomains_http_null))
    line = policy_line(list(stories(obs, evs).values()), [LEGIT])
    assert line == (
        "trusts every *.example.com, user-content hosts, over http too, and null; the victim's "
        "cookie travels cross-site in Chromium and only same-site in Firefox (default browsers)"
    )  # null is cross-site; Firefox's Total Cookie Protection keeps the cookie same-site
    obs, evs = run(Server())
    assert policy_line(list(stories(obs, evs).values()), [LEGIT]) == (
        f"trusts only the app's own origin (none of {len(ATTACKERS)} attacker origin(s) read)"
    )
