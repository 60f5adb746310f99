"""Sample run reports for the reporter tests, built through harness.model.results.

Imported by tests/test_report_*.py (pytest puts tests/ on sys.path). ``realistic``
is a two-engine, two-cookie-policy run with every kind of finding; ``hostile``
carries markup, script URLs, control characters and CDATA terminators in every
field that comes from the target.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from harness.model.results import (
    BrowserInfo,
    CookiePolicy,
    Credentials,
    Engine,
    Evidence,
    Finding,
    HeaderVerdict,
    HttpExchange,
    Observation,
    Outcome,
    Role,
    RunReport,
    Severity,
    ToolError,
    Via,
)

SCHEMAS = Path(__file__).parent / "schemas"

ME = "https://api.example.test/v1/me"
PUBLIC = "https://api.example.test/v1/public"
APP = "https://app.example.test"
EVIL = "https://evil.example"
POST_DOMAIN = "https://api.example.test.evil.example"

RULES: dict[str, Any] = {
    "reflected-origin-credentials": {
        "id": "reflected-origin-credentials",
        "title": "Any origin is reflected with credentials",
        "severity": "critical",
        "category": "vulnerability",
        "summary": "The server echoes any Origin into Access-Control-Allow-Origin and allows "
        "credentials, so any website can read a signed-in user's data.",
        "remediation": "Compare the Origin against an exact allow-list before echoing it.",
        "snippets": {
            "starlette": "CORSMiddleware(app, allow_origins=['https://app.example.test'], "
            "allow_credentials=True)",
            "express": "app.use(cors({ origin: ['https://app.example.test'], credentials: true }))",
            "nginx": "if ($http_origin = 'https://app.example.test') { ... }",
        },
    },
    "wildcard-credentials": {
        "id": "wildcard-credentials",
        "title": "Wildcard origin together with credentials",
        "severity": "low",
        "category": "hygiene",
        "summary": "ACAO * with ACAC true: browsers refuse it, so it is broken, not exploitable.",
        "remediation": "Drop Access-Control-Allow-Credentials or name the origins.",
        "snippets": {"flask": "CORS(app, origins=['https://app.example.test'])"},
    },
    "legit-origin-blocked": {
        "id": "legit-origin-blocked",
        "title": "The application's own origin cannot read the API",
        "severity": "medium",
        "category": "functional",
        "summary": "A legitimate origin is blocked.",
        "remediation": "Add the origin to the allow-list.",
        "snippets": {},
    },
    "vary-origin-missing": {
        "id": "vary-origin-missing",
        "title": "Vary: Origin missing on a reflected ACAO",
        "severity": "info",
        "category": "hygiene",
        "summary": "Caches may serve one origin's CORS headers to another.",
        "remediation": "Send Vary: Origin.",
        "snippets": {"django": "patch_vary_headers(response, ['Origin'])"},
    },
}


def _obs(
    n: int,
    engine: Engine,
    policy: CookiePolicy,
    target: str,
    origin: str,
    klass: str,
    role: Role,
    creds: Credentials,
    outcome: Outcome,
    **kw: Any,
) -> Observation:
    return Observation(
        id=f"p{n:03d}",
        engine=engine,
        cookie_policy=policy,
        target=target,
        origin=origin,
        origin_class=klass,
        role=role,
        via=kw.pop("via", Via.PAGE),
        page_origin=kw.pop("page_origin", origin),
        shape="simple-get",
        method="GET",
        api="fetch",
        credentials=creds,
        outcome=outcome,
        **kw,
    )


def realistic(*, partial: bool = False, errors: bool = False) -> dict[str, Any]:
    """A plausible two-target run in Chromium and Firefox, as ``to_dict`` gives it."""
    probes: list[Observation] = []
    n = 0
    for engine in (Engine.CHROMIUM, Engine.FIREFOX):
        for policy in (CookiePolicy.DEFAULT, CookiePolicy.PERMISSIVE):
            for creds in (Credentials.OMIT, Credentials.INCLUDE):
                n += 1
                probes.append(
                    _obs(
                        n,
                        engine,
                        policy,
                        ME,
                        APP,
                        "legitimate",
                        Role.LEGITIMATE,
                        creds,
                        Outcome.READABLE,
                        status=200,
                        body_length=512,
                        body_hash="sha256:aa",
                        cookie_sent=creds is Credentials.INCLUDE,
                        victim_data=creds is Credentials.INCLUDE,
                        elapsed_ms=41.5,
                    )
                )
                n += 1
                # Reflected origin: readable everywhere except Firefox's default
                # profile with credentials (its cookie partitioning drops the cookie).
                readable = not (
                    engine is Engine.FIREFOX
                    and policy is CookiePolicy.DEFAULT
                    and creds is Credentials.INCLUDE
                )
                probes.append(
                    _obs(
                        n,
                        engine,
                        policy,
                        ME,
                        EVIL,
                        "arbitrary",
                        Role.ATTACKER,
                        creds,
                        Outcome.READABLE if readable else Outcome.BLOCKED,
                        status=200,
                        body_length=512 if readable else None,
                        block_reason=None if readable else "cookie not sent: 401 without ACAO",
                        cookie_sent=creds is Credentials.INCLUDE and readable,
                        victim_data=creds is Credentials.INCLUDE and readable,
                        elapsed_ms=55.0,
                    )
                )
                n += 1
                probes.append(
                    _obs(
                        n,
                        engine,
                        policy,
                        ME,
                        "null",
                        "null-sandbox",
                        Role.ATTACKER,
                        creds,
                        Outcome.BLOCKED,
                        via=Via.SANDBOX_SRCDOC,
                        page_origin="null",
                        status=200,
                        block_reason="ACAO missing",
                    )
                )
                n += 1
                probes.append(
                    _obs(
                        n,
                        engine,
                        policy,
                        ME,
                        POST_DOMAIN,
                        "post-domain",
                        Role.ATTACKER,
                        creds,
                        Outcome.NOT_PRODUCIBLE if engine is Engine.FIREFOX else Outcome.ERROR,
                        page_origin=None,
                        error="net::ERR_NAME_NOT_RESOLVED" if engine is Engine.CHROMIUM else None,
                    )
                )
                n += 1
                probes.append(
                    _obs(
                        n,
                        engine,
                        policy,
                        PUBLIC,
                        EVIL,
                        "arbitrary",
                        Role.ATTACKER,
                        creds,
                        Outcome.READABLE if creds is Credentials.OMIT else Outcome.BLOCKED,
                        status=200,
                        block_reason=None
                        if creds is Credentials.OMIT
                        else "ACAO * not allowed with credentials",
                    )
                )
    evidence = (
        Evidence(
            key="ev-me-evil-include",
            target=ME,
            origin=EVIL,
            shape="simple-get",
            credentials=Credentials.INCLUDE,
            preflight=HttpExchange(
                method="OPTIONS",
                url=ME,
                request_headers=(
                    ("Host", "api.example.test"),
                    ("Origin", EVIL),
                    ("Access-Control-Request-Method", "GET"),
                    ("Access-Control-Request-Headers", "authorization"),
                ),
                status=204,
                response_headers=(
                    ("Access-Control-Allow-Origin", EVIL),
                    ("Access-Control-Allow-Credentials", "true"),
                    ("Access-Control-Allow-Headers", "authorization"),
                ),
            ),
            actual=HttpExchange(
                method="GET",
                url=ME,
                request_headers=(
                    ("Origin", EVIL),
                    ("Cookie", "session=[REDACTED]"),
                    ("Authorization", "Bearer [REDACTED]"),
                ),
                status=200,
                response_headers=(
                    ("Access-Control-Allow-Origin", EVIL),
                    ("Access-Control-Allow-Credentials", "true"),
                    ("Content-Type", "application/json"),
                ),
            ),
        ),
        Evidence(
            key="ev-public-evil-include",
            target=PUBLIC,
            origin=EVIL,
            shape="simple-get",
            credentials=Credentials.INCLUDE,
            preflight=None,
            actual=HttpExchange(
                method="GET",
                url=PUBLIC,
                request_headers=(("Origin", EVIL),),
                status=200,
                response_headers=(
                    ("Access-Control-Allow-Origin", "*"),
                    ("Access-Control-Allow-Credentials", "true"),
                ),
            ),
        ),
    )
    reflect_ids = tuple(p.id for p in probes if p.origin == EVIL and p.target == ME and p.readable)
    findings = (
        Finding(
            rule="wildcard-credentials",
            severity=Severity.LOW,
            title="Wildcard origin with credentials (browsers refuse it)",
            target=PUBLIC,
            origins=(EVIL,),
            engines=(),
            probes=tuple(p.id for p in probes if p.target == PUBLIC),
            category="hygiene",
            detail="Every engine blocked the credentialed read.",
            header_check=HeaderVerdict(True, Severity.CRITICAL, "ACAO * with ACAC true"),
            evidence=("ev-public-evil-include",),
        ),
        Finding(
            rule="reflected-origin-credentials",
            severity=Severity.CRITICAL,
            title="Any origin can read /v1/me with the user's cookies",
            target=ME,
            origins=(EVIL,),
            engines=(Engine.CHROMIUM, Engine.FIREFOX),
            probes=reflect_ids,
            detail="The server reflected https://evil.example with credentials.",
            classes=("arbitrary",),
            cookie_policies=(CookiePolicy.DEFAULT, CookiePolicy.PERMISSIVE),
            header_check=HeaderVerdict(True, Severity.CRITICAL, "reflected ACAO with ACAC"),
            evidence=("ev-me-evil-include", "ev-missing"),
        ),
        Finding(
            rule="vary-origin-missing",
            severity=Severity.INFO,
            title="Vary: Origin missing",
            target=ME,
            origins=(EVIL,),
            engines=(Engine.CHROMIUM, Engine.FIREFOX),
            probes=reflect_ids[:1],
            category="hygiene",
        ),
    )
    report = RunReport(
        run_id="20250101T120000Z-abc123",
        started="2025-01-01T12:00:00+00:00",
        finished=None if partial else "2025-01-01T12:03:25.500000+00:00",
        targets=(ME, PUBLIC),
        browsers=(
            BrowserInfo(
                Engine.CHROMIUM, "131.0.6778.33", "playwright", "/opt/ms-playwright/chrome"
            ),
            BrowserInfo(Engine.FIREFOX, "128.5.0esr", "system", "/usr/bin/firefox-esr"),
        ),
        probes=tuple(probes),
        findings=findings,
        evidence=evidence,
        partial=partial,
        errors=(ToolError("launch", "webkit could not start: missing libicu"),) if errors else (),
        notes=("WebKit skipped: not installed.",),
        config={
            "engines": ["chromium", "firefox"],
            "cookie_policies": ["default", "permissive"],
            "unsafe": False,
        },
        rules=RULES,
    ).to_dict()
    report["header_only"] = [
        {"target": ME, "origin": "null", "severity": "high", "reason": "ACAO: null accepted"},
        {"target": PUBLIC, "origin": EVIL, "severity": "critical", "reason": "ACAO * + ACAC"},
    ]
    report["disagreements"] = [
        {
            "target": PUBLIC,
            "origin": EVIL,
            "kind": "header-overstates",
            "header_says": "critical: * with credentials",
            "browsers_say": "blocked in every engine",
        }
    ]
    report["pages"] = {
        "p002": "<!doctype html><script>fetch('https://api.example.test/v1/me',"
        "{credentials:'include'}).then(r=>r.text()).then(report)</script>",
        "orphan-page": '<html><body onload="x()">orphan</body></html>',
    }
    report["baseline"] = {
        "changes": [
            {
                "target": ME,
                "origin": EVIL,
                "engine": "firefox",
                "before": "blocked",
                "after": "readable",
            }
        ]
    }
    return report


def clean_run() -> dict[str, Any]:
    """A finished run with no findings at all."""
    probes = (
        _obs(
            1,
            Engine.CHROMIUM,
            CookiePolicy.DEFAULT,
            ME,
            APP,
            "legitimate",
            Role.LEGITIMATE,
            Credentials.INCLUDE,
            Outcome.READABLE,
            status=200,
        ),
        _obs(
            2,
            Engine.CHROMIUM,
            CookiePolicy.DEFAULT,
            ME,
            EVIL,
            "arbitrary",
            Role.ATTACKER,
            Credentials.INCLUDE,
            Outcome.BLOCKED,
            status=200,
            block_reason="ACAO missing",
        ),
    )
    return RunReport(
        run_id="clean",
        started="2025-01-01T12:00:00Z",
        finished="2025-01-01T12:00:09Z",
        targets=(ME,),
        browsers=(BrowserInfo(Engine.CHROMIUM, "131.0", "playwright"),),
        probes=probes,
    ).to_dict()


XSS = "<script>alert(1)</script>"
ATTR = '"><img src=x onerror=alert(1)>'
JS_URL = "javascript:alert(1)"
CONTROL = "ctl\x00\x01\x07\x08\x0b\x0c\x1b[31m\x7f\x9b|end"
CDATA = "]]><![CDATA[<b>x</b>]]>"
PIPE = "a|b`c`*d*_e_[f](g)<h>&amp;"


def hostile(*, partial: bool = True) -> dict[str, Any]:
    """Every target-controlled field holds an injection payload."""
    target = f"https://h.example/{XSS}?q={ATTR}&x={CONTROL}{CDATA}"
    origin = JS_URL
    probes = (
        _obs(
            1,
            Engine.CHROMIUM,
            CookiePolicy.DEFAULT,
            target,
            origin,
            f"cls{XSS}",
            Role.ATTACKER,
            Credentials.INCLUDE,
            Outcome.READABLE,
            status=200,
            page_origin=ATTR,
            readable_headers=(XSS, CONTROL),
            block_reason=None,
        ),
        _obs(
            2,
            Engine.FIREFOX,
            CookiePolicy.DEFAULT,
            target,
            f"{EVIL}/{ATTR}",
            ATTR,
            Role.ATTACKER,
            Credentials.OMIT,
            Outcome.ERROR,
            error=f"{XSS}{CONTROL}{CDATA}",
        ),
    )
    exchange = HttpExchange(
        method="GET",
        url=target,
        request_headers=(
            ("Origin", origin),
            ("X-Evil", f"'; rm -rf / #{ATTR}{CONTROL}"),
            ("Authorization", "Bearer [REDACTED]"),
        ),
        status=200,
        response_headers=(("Access-Control-Allow-Origin", ATTR), ("X-Ctl", CONTROL + CDATA)),
        error=XSS,
    )
    rules = {
        f"rule{XSS}": {
            "id": f"rule{XSS}",
            "title": f"title {ATTR}",
            "severity": "high",
            "category": "vulnerability",
            "summary": f"summary {XSS} {PIPE}",
            "remediation": f"remediation {JS_URL} {CDATA}",
            "snippets": {f"stack{XSS}": f"</code></pre>{XSS}```{CONTROL}"},
        }
    }
    report = RunReport(
        run_id=f"run{ATTR}",
        started="not a time",
        finished=None,
        targets=(target,),
        browsers=(BrowserInfo(Engine.CHROMIUM, ATTR, f"src{XSS}", f"/bin/{CONTROL}"),),
        probes=probes,
        findings=(
            Finding(
                rule=f"rule{XSS}",
                severity=Severity.HIGH,
                title=f"{XSS} {PIPE}",
                target=target,
                origins=(origin, ATTR),
                engines=(Engine.CHROMIUM,),
                probes=("p001",),
                detail=f"{CONTROL} {CDATA} {PIPE}",
                classes=(XSS,),
                header_check=HeaderVerdict(False, None, f"{XSS}{CONTROL}"),
                evidence=("ev1",),
            ),
        ),
        evidence=(Evidence("ev1", target, origin, "s", Credentials.INCLUDE, exchange, exchange),),
        partial=partial,
        errors=(ToolError(f"kind{XSS}", f"{ATTR}{CONTROL}{CDATA}"),),
        notes=(f"note {XSS} {JS_URL}",),
        config={f"key{XSS}": [ATTR, CONTROL]},
        rules=rules,
    ).to_dict()
    report["header_only"] = [{"target": target, "origin": ATTR, "severity": XSS, "reason": CDATA}]
    report["disagreements"] = [
        {
            "target": target,
            "origin": JS_URL,
            "kind": XSS,
            "header_says": ATTR,
            "browsers_say": f"{CONTROL}{PIPE}",
        }
    ]
    report["pages"] = {"p001": f"<html>{XSS}<a href='{JS_URL}'>x</a></html>", ATTR: XSS}
    report["baseline"] = {
        "changes": [
            {"target": target, "origin": XSS, "engine": ATTR, "before": CDATA, "after": CONTROL}
        ]
    }
    return report


def big_report(n_targets: int = 20, n_origins: int = 125) -> dict[str, Any]:
    """A synthetic run of n_targets x n_origins x 2 engines x 2 credentials x 2 shapes probes.

    Every 6th origin is readable by the attacker (3,280 attacker reads, more than the
    log cap), every 9th not producible in Firefox; one finding per target cites 20
    exchange records.
    """
    probes: list[dict[str, Any]] = []
    evidence: list[dict[str, Any]] = []
    findings: list[dict[str, Any]] = []
    for t in range(n_targets):
        target = f"https://api.big.test/t{t}/private"
        keys: list[str] = []
        ids: list[str] = []
        for o in range(n_origins):
            origin = APP if o == 0 else f"https://o{o}.attacker{t}.test"
            role = "legitimate" if o == 0 else "attacker"
            for engine in ("chromium", "firefox"):
                for creds in ("omit", "include"):
                    for shape in ("simple-get", "preflight-json"):
                        if o == 0 or o % 6 == 0:
                            outcome = "readable"
                        elif o % 9 == 0 and engine == "firefox":
                            outcome = "not-producible"
                        else:
                            outcome = "blocked"
                        pid = f"p-{t}-{o}-{engine}-{creds}-{shape}"
                        probes.append(
                            {
                                "id": pid,
                                "engine": engine,
                                "cookie_policy": "default",
                                "target": target,
                                "origin": origin,
                                "origin_class": "legitimate" if o == 0 else f"class{o % 7}",
                                "role": role,
                                "via": "page",
                                "page_origin": origin,
                                "shape": shape,
                                "method": "GET" if shape == "simple-get" else "POST",
                                "api": "fetch",
                                "credentials": creds,
                                "outcome": outcome,
                                "status": 200 if outcome == "readable" else None,
                                "readable": outcome == "readable",
                                "cookie_sent": creds == "include",
                                "block_reason": "MissingAllowOriginHeader; no ACAO"
                                if outcome == "blocked"
                                else None,
                                "error": None,
                            }
                        )
                        if role == "attacker" and outcome == "readable":
                            ids.append(pid)
            if role == "attacker" and o % 6 == 0:
                key = f"{target} | {origin} | simple-get | include"
                keys.append(key)
                evidence.append(
                    {
                        "key": key,
                        "target": target,
                        "origin": origin,
                        "shape": "simple-get",
                        "credentials": "include",
                        "preflight": None,
                        "actual": {
                            "method": "GET",
                            "url": target,
                            "request_headers": [["Origin", origin]],
                            "status": 200,
                            "response_headers": [["access-control-allow-origin", origin]],
                            "error": None,
                        },
                    }
                )
        findings.append(
            {
                "rule": "any-origin-read",
                "severity": "critical",
                "title": "Any origin can read responses",
                "category": "vulnerability",
                "target": target,
                "origins": sorted({p["origin"] for p in probes if p["id"] in set(ids)}),
                "engines": ["chromium", "firefox"],
                "cookie_policies": ["default"],
                "probes": ids,
                "evidence": keys,
            }
        )
    return {
        "schema_version": 1,
        "tool": "corsproof",
        "run_id": "big",
        "targets": sorted({p["target"] for p in probes}),
        "browsers": [{"engine": "chromium"}, {"engine": "firefox"}],
        "findings": findings,
        "probes": probes,
        "evidence": evidence,
    }
