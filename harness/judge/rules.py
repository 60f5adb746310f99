"""The rule catalogue: every finding corsproof can emit, with a stable id.

Rule ids are part of the ``report.json`` contract (people suppress and grep by
them), so they never change meaning. Each rule carries a summary, remediation
text and configuration snippets for the common CORS stacks, so a report can say
how to fix what it found without the reader leaving the page.

This module is pure data plus two small helpers; it imports only the standard
library and :mod:`harness.model.results`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from harness.model.results import Engine, Severity

VULNERABILITY = "vulnerability"
FUNCTIONAL = "functional"
HYGIENE = "hygiene"
CATEGORIES = (VULNERABILITY, FUNCTIONAL, HYGIENE)
"""The three kinds of finding: attacker can read, the app is broken, or tidy-up."""

STACKS = ("starlette", "flask", "django", "express", "nginx")
"""Stacks every snippet map may cover, in display order."""


@dataclass(frozen=True)
class Rule:
    """One kind of finding.

    ``severity`` is the worst severity the rule can reach; the verdict engine
    may lower it per finding (for instance a read without cookies).
    """

    id: str
    title: str
    severity: Severity
    category: str
    summary: str
    remediation: str
    snippets: Mapping[str, str] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready metadata, as stored under ``rules`` in ``report.json``."""
        return {
            "id": self.id,
            "title": self.title,
            "severity": self.severity.value,
            "category": self.category,
            "summary": self.summary,
            "remediation": self.remediation,
            "snippets": {k: self.snippets[k] for k in STACKS if k in self.snippets},
        }


MAX_AGE_CAPS: Mapping[Engine, tuple[int, str]] = MappingProxyType(
    {
        Engine.CHROMIUM: (
            7200,
            "Chromium services/network/cors/preflight_result.cc (kMaxTimeToLive, 2 hours)",
        ),
        Engine.FIREFOX: (
            86400,
            "Firefox netwerk/protocol/http/nsCORSListenerProxy.cpp (preflight cache cap, 24 hours)",
        ),
        Engine.WEBKIT: (
            600,
            "WebKit Source/WebCore/loader/CrossOriginPreflightResultCache.cpp "
            "(maxPreflightCacheTimeout, 600 seconds)",
        ),
    }
)
"""Per engine: the longest preflight cache lifetime it honours, and where that is defined."""


# ---------------------------------------------------------------------------
# Snippets. The allowlist one is the fix for every "an attacker can read" rule:
# an exact list of origins, compared as whole strings, never a regex or a
# prefix/suffix test, never a reflection of whatever Origin arrived.

_ALLOWLIST: Mapping[str, str] = {
    "starlette": """\
from fastapi.middleware.cors import CORSMiddleware  # same class as starlette.middleware.cors

app.add_middleware(
    CORSMiddleware,
    # Exact origins only. Never ["*"] together with allow_credentials=True
    # (Starlette then echoes back whatever Origin arrives), and avoid
    # allow_origin_regex unless it is anchored and its dots are escaped.
    allow_origins=["https://app.example.com"],
    allow_credentials=True,
    allow_methods=["GET", "POST"],
    allow_headers=["Authorization", "Content-Type"],
    expose_headers=["X-Request-Id"],
    max_age=600,
)
""",
    "flask": """\
from flask_cors import CORS

# Plain strings are compared exactly; strings that look like regexes are
# matched with re.match, so do not put patterns here unless anchored (^...$)
# with escaped dots.
CORS(
    app,
    origins=["https://app.example.com"],
    supports_credentials=True,
    methods=["GET", "POST"],
    allow_headers=["Authorization", "Content-Type"],
    expose_headers=["X-Request-Id"],
    max_age=600,
)
""",
    "django": """\
# settings.py (django-cors-headers)
INSTALLED_APPS += ["corsheaders"]
# As high as possible, and above CommonMiddleware and any auth middleware.
MIDDLEWARE.insert(0, "corsheaders.middleware.CorsMiddleware")

CORS_ALLOWED_ORIGINS = ["https://app.example.com"]  # exact scheme://host[:port]
CORS_ALLOW_CREDENTIALS = True
CORS_ALLOW_METHODS = ["GET", "POST"]
CORS_ALLOW_HEADERS = ["authorization", "content-type"]
CORS_EXPOSE_HEADERS = ["x-request-id"]
CORS_PREFLIGHT_MAX_AGE = 600
# Do not set CORS_ALLOW_ALL_ORIGINS = True, and avoid CORS_ALLOWED_ORIGIN_REGEXES.
""",
    "express": """\
const cors = require("cors");

app.use(
  cors({
    // An array of strings is compared exactly. Never origin: true (reflects
    // every Origin) and no unanchored RegExp entries.
    origin: ["https://app.example.com"],
    credentials: true,
    methods: ["GET", "POST"],
    allowedHeaders: ["Authorization", "Content-Type"],
    exposedHeaders: ["X-Request-Id"],
    maxAge: 600,
  })
);
""",
    "nginx": """\
# http {} context: exact origins map to themselves, anything else to "".
map $http_origin $cors_origin {
    default                    "";
    "https://app.example.com"  $http_origin;
}

location /api/ {
    # nginx drops add_header lines whose value is empty, so unknown origins get
    # no ACAO. "always" keeps the headers on 4xx/5xx responses too.
    add_header Access-Control-Allow-Origin      $cors_origin always;
    add_header Access-Control-Allow-Credentials "true" always;
    add_header Access-Control-Expose-Headers    "X-Request-Id" always;
    add_header Vary                             Origin always;

    if ($request_method = OPTIONS) {
        # add_header inside "if" replaces the outer ones, hence the repetition.
        add_header Access-Control-Allow-Origin      $cors_origin always;
        add_header Access-Control-Allow-Credentials "true" always;
        add_header Access-Control-Allow-Methods     "GET, POST" always;
        add_header Access-Control-Allow-Headers     "Authorization, Content-Type" always;
        add_header Access-Control-Max-Age           600 always;
        add_header Vary                             Origin always;
        return 204;
    }
    proxy_pass http://backend;
}
""",
}

_NO_CREDENTIALS: Mapping[str, str] = {
    "starlette": """\
app.add_middleware(
    CORSMiddleware,
    allow_origins=["https://app.example.com"],
    allow_credentials=False,  # the default; nothing here needs cookies
    allow_methods=["GET", "POST"],
    allow_headers=["Content-Type"],
)
""",
    "flask": """\
CORS(app, origins=["https://app.example.com"], supports_credentials=False)
""",
    "django": """\
CORS_ALLOWED_ORIGINS = ["https://app.example.com"]
CORS_ALLOW_CREDENTIALS = False  # the default
""",
    "express": """\
app.use(cors({ origin: ["https://app.example.com"] }));  // credentials defaults to false
""",
    "nginx": """\
# Remove the line below: the API does not need cookies or HTTP auth.
# add_header Access-Control-Allow-Credentials "true" always;
""",
}

_WILDCARD_CREDENTIALS: Mapping[str, str] = {
    "starlette": """\
# Either a public API without credentials ...
app.add_middleware(CORSMiddleware, allow_origins=["*"], allow_credentials=False)
# ... or an exact allowlist with credentials (not both "*" and credentials):
app.add_middleware(
    CORSMiddleware,
    allow_origins=["https://app.example.com"],
    allow_credentials=True,
)
""",
    "flask": """\
# Public, no credentials:
CORS(app, origins="*", supports_credentials=False)
# Or credentialed, exact allowlist:
CORS(app, origins=["https://app.example.com"], supports_credentials=True)
""",
    "django": """\
# Public, no credentials:
CORS_ALLOW_ALL_ORIGINS = True
CORS_ALLOW_CREDENTIALS = False
# Or credentialed, exact allowlist:
CORS_ALLOWED_ORIGINS = ["https://app.example.com"]
CORS_ALLOW_CREDENTIALS = True
""",
    "express": """\
// Public, no credentials:
app.use(cors({ origin: "*" }));
// Or credentialed, exact allowlist:
app.use(cors({ origin: ["https://app.example.com"], credentials: true }));
""",
    "nginx": """\
# "*" is never accepted for credentialed requests. Use the $cors_origin map
# (exact origins) when sending Access-Control-Allow-Credentials:
add_header Access-Control-Allow-Origin      $cors_origin always;
add_header Access-Control-Allow-Credentials "true" always;
add_header Vary                             Origin always;
""",
}

_MAX_AGE: Mapping[str, str] = {
    "starlette": "app.add_middleware(CORSMiddleware, allow_origins=[...], max_age=600)\n",
    "flask": "CORS(app, origins=[...], max_age=600)\n",
    "django": (
        "# django-cors-headers defaults to 86400, above Chromium's and WebKit's caps.\n"
        "CORS_PREFLIGHT_MAX_AGE = 600\n"
    ),
    "express": "app.use(cors({ origin: [...], maxAge: 600 }));\n",
    "nginx": "add_header Access-Control-Max-Age 600 always;  # in the OPTIONS branch\n",
}

_VARY: Mapping[str, str] = {
    "starlette": """\
# CORSMiddleware adds Vary: Origin itself when allow_origins is a list. If a
# handler or another middleware sets Access-Control-Allow-Origin by hand:
response.headers.add_vary_header("Origin")
""",
    "flask": """\
# Flask-CORS sends Vary: Origin by default (vary_header=True). Hand-written code:
response.vary.add("Origin")
""",
    "django": """\
# django-cors-headers patches Vary itself. Hand-written code:
from django.utils.cache import patch_vary_headers

patch_vary_headers(response, ["Origin"])
""",
    "express": """\
// The cors package adds Vary: Origin unless origin is "*". Hand-written code:
res.vary("Origin");
""",
    "nginx": "add_header Vary Origin always;  # on every response of the location\n",
}

_METHODS: Mapping[str, str] = {
    "starlette": (
        'app.add_middleware(CORSMiddleware, allow_origins=[...], allow_methods=["GET", "POST"])\n'
    ),
    "flask": 'CORS(app, origins=[...], methods=["GET", "POST"])\n',
    "django": 'CORS_ALLOW_METHODS = ["GET", "POST"]\n',
    "express": 'app.use(cors({ origin: [...], methods: ["GET", "POST"] }));\n',
    "nginx": 'add_header Access-Control-Allow-Methods "GET, POST" always;\n',
}

_HEADERS: Mapping[str, str] = {
    "starlette": (
        "app.add_middleware(\n"
        "    CORSMiddleware,\n"
        "    allow_origins=[...],\n"
        '    allow_headers=["Authorization", "Content-Type"],\n'
        ")\n"
    ),
    "flask": 'CORS(app, origins=[...], allow_headers=["Authorization", "Content-Type"])\n',
    "django": 'CORS_ALLOW_HEADERS = ["authorization", "content-type"]\n',
    "express": (
        'app.use(cors({ origin: [...], allowedHeaders: ["Authorization", "Content-Type"] }));\n'
    ),
    "nginx": 'add_header Access-Control-Allow-Headers "Authorization, Content-Type" always;\n',
}

_EXPOSE: Mapping[str, str] = {
    "starlette": (
        'app.add_middleware(CORSMiddleware, allow_origins=[...], expose_headers=["X-Request-Id"])\n'
    ),
    "flask": 'CORS(app, origins=[...], expose_headers=["X-Request-Id"])\n',
    "django": 'CORS_EXPOSE_HEADERS = ["x-request-id"]\n',
    "express": 'app.use(cors({ origin: [...], exposedHeaders: ["X-Request-Id"] }));\n',
    "nginx": 'add_header Access-Control-Expose-Headers "X-Request-Id" always;\n',
}

_ERRORS: Mapping[str, str] = {
    "starlette": """\
# Add CORSMiddleware last so it is the outermost user middleware and wraps
# authentication; raise HTTPException(401) instead of returning a bare response
# from an outer middleware. (Unhandled 500s are produced by
# ServerErrorMiddleware outside CORSMiddleware: handle exceptions in an
# exception handler if the frontend must read them.)
app.add_middleware(AuthMiddleware)
app.add_middleware(CORSMiddleware, allow_origins=["https://app.example.com"],
                   allow_credentials=True)
""",
    "flask": """\
# Flask-CORS also decorates error responses (intercept_exceptions=True is the
# default); register it on the app, not only on selected routes.
CORS(app, origins=["https://app.example.com"], supports_credentials=True)
""",
    "django": """\
# CorsMiddleware must come before any middleware that can answer 401/403 itself.
MIDDLEWARE = [
    "corsheaders.middleware.CorsMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    # ... authentication after CORS
]
""",
    "express": """\
// Register cors before authentication and routes so 401s carry CORS headers.
app.use(cors({ origin: ["https://app.example.com"], credentials: true }));
app.use(requireAuth);
app.use("/api", apiRouter);
""",
    "nginx": """\
# Without "always", nginx adds headers only to 2xx/3xx responses.
add_header Access-Control-Allow-Origin      $cors_origin always;
add_header Access-Control-Allow-Credentials "true" always;
add_header Vary                             Origin always;
""",
}


def _class_rule(
    rule_id: str, title: str, summary: str, remediation: str, severity: Severity = Severity.CRITICAL
) -> Rule:
    return Rule(rule_id, title, severity, VULNERABILITY, summary, remediation, _ALLOWLIST)


_ALLOWLIST_FIX = (
    "Compare the Origin header against an exact list of scheme://host[:port] strings and "
    "send Access-Control-Allow-Origin only for a match, with Vary: Origin."
)

_RULE_LIST: tuple[Rule, ...] = (
    _class_rule(
        "any-origin-read",
        "Any origin can read responses",
        "A page on an unrelated site could read the response from its own JavaScript. The "
        "server reflects whatever Origin it receives (or accepts almost anything), so every "
        "website a user visits can fetch this endpoint and read the result, with the user's "
        "cookies when credentials are allowed.",
        "Stop reflecting the Origin header. " + _ALLOWLIST_FIX,
    ),
    _class_rule(
        "null-origin-trusted",
        "The null origin is trusted",
        "Access-Control-Allow-Origin: null is granted. Any site can obtain the opaque "
        "origin through a sandboxed iframe, a data: URL or a redirect, so trusting 'null' "
        "trusts everyone.",
        "Remove 'null' from the allowlist; local files and sandboxed frames must not be "
        "trusted. " + _ALLOWLIST_FIX,
    ),
    _class_rule(
        "http-origin-trusted",
        "An http:// origin is trusted by an https target",
        "An origin on plain http can read this https endpoint. Anyone on the user's network "
        "path can inject script into that http page and use it to read the secure API.",
        "Allow only https:// origins for an https service. " + _ALLOWLIST_FIX,
    ),
    _class_rule(
        "subdomain-trusted",
        "Arbitrary subdomains are trusted",
        "Sibling or deeper subdomains can read the response. Any subdomain that is taken "
        "over, hosts user content or has an XSS becomes a way to read this API.",
        "List the exact subdomains that need access instead of a *.example.com pattern. "
        + _ALLOWLIST_FIX,
    ),
    _class_rule(
        "user-content-trusted",
        "A user-content origin is trusted",
        "An origin where users can publish their own HTML or script (a user-content or "
        "upload domain) can read the response, so any user of that service can read this API.",
        "Never allow origins that serve user-controlled content. " + _ALLOWLIST_FIX,
    ),
    _class_rule(
        "localhost-trusted",
        "localhost origins are trusted",
        "http://localhost (or 127.0.0.1) can read the response. Any program on the user's "
        "machine that serves a page on a local port, and any local dev server with an XSS, "
        "can read this API. Acceptable in a development environment, not in production.",
        "Allow localhost only in development configuration, never in production.",
    ),
    _class_rule(
        "post-domain-bypass",
        "Origin check accepts the trusted domain as a prefix",
        "An origin that starts with the trusted host and continues with an attacker's domain "
        "(https://app.example.com.attacker.net) can read the response: the check is a prefix "
        "match or an unanchored regex.",
        "Compare whole origins for equality, or anchor the regex at both ends. " + _ALLOWLIST_FIX,
    ),
    _class_rule(
        "pre-domain-bypass",
        "Origin check accepts the trusted domain as a suffix",
        "An origin that merely ends with the trusted name (https://attackerexample.com) can "
        "read the response: the check is endswith() without a leading dot boundary.",
        "Compare whole origins, or require the match to start at a label boundary. "
        + _ALLOWLIST_FIX,
    ),
    _class_rule(
        "unescaped-dot-bypass",
        "Origin regex has an unescaped dot",
        "An origin where a dot of the trusted name is replaced by another character "
        "(https://appXexample.com) can read the response: a regex uses '.' unescaped, which "
        "matches any character, and the attacker registers that domain.",
        "Escape dots in origin regexes (re.escape) or use exact string comparison. "
        + _ALLOWLIST_FIX,
    ),
    _class_rule(
        "substring-bypass",
        "Origin check is a substring test",
        "An origin that merely contains the trusted name somewhere can read the response: the "
        "check is 'in' / indexOf / an unanchored search.",
        "Replace substring tests with equality against a list. " + _ALLOWLIST_FIX,
    ),
    _class_rule(
        "special-char-bypass",
        "Origin parser is fooled by special characters",
        "An origin containing characters such as '_', '`', '}' or '!' after the trusted name "
        "was readable in a real browser: the server's own URL parsing disagrees with the "
        "browser's. Only the engines that could produce such an origin are affected.",
        "Do not parse the Origin header to extract a host; compare the whole string with an "
        "exact list. " + _ALLOWLIST_FIX,
    ),
    _class_rule(
        "other-port-trusted",
        "Other ports of the trusted host are trusted",
        "The trusted host on a different port can read the response. Another service on that "
        "port (often less hardened: admin panels, dev servers) then shares this API's trust.",
        "Include the port in the comparison (compare full origins). " + _ALLOWLIST_FIX,
    ),
    _class_rule(
        "custom-origin-trusted",
        "A user-supplied attacker origin is trusted",
        "An origin from the custom origin list (marked as an attacker) could read the response.",
        "Remove that origin from the allowlist unless it really belongs to the application. "
        + _ALLOWLIST_FIX,
    ),
    Rule(
        "legit-origin-blocked",
        "A legitimate origin is blocked",
        Severity.MEDIUM,
        FUNCTIONAL,
        "A request the application's own frontend makes was blocked by the browser: the "
        "preflight was refused, or the response lacked a matching Access-Control-Allow-Origin "
        "or Access-Control-Allow-Credentials. The frontend breaks for real users.",
        "Add the frontend's exact origin to the allowlist, allow the methods and request "
        "headers it sends, and allow credentials if it sends cookies or Authorization.",
        _ALLOWLIST,
    ),
    Rule(
        "wildcard-with-credentials",
        "Access-Control-Allow-Origin: * on a credentialed response",
        Severity.MEDIUM,
        FUNCTIONAL,
        "The server answers '*' on a response that needs credentials. Browsers refuse to "
        "expose a credentialed response under '*', so this leaks nothing, but the frontend's "
        "credentialed requests fail. Header-only scanners often report this as critical; "
        "it is a functional bug, not a vulnerability.",
        "Either drop credentials (a public API) or replace '*' with an exact allowlist and "
        "send Access-Control-Allow-Credentials: true.",
        _WILDCARD_CREDENTIALS,
    ),
    Rule(
        "credentials-unneeded",
        "Credentials allowed but never needed",
        Severity.LOW,
        HYGIENE,
        "Access-Control-Allow-Credentials: true is sent, yet the legitimate origin got the "
        "same successful response with and without credentials. Allowing credentials widens "
        "what any future origin mistake exposes for no benefit.",
        "Stop sending Access-Control-Allow-Credentials unless the frontend needs cookies or "
        "HTTP authentication.",
        _NO_CREDENTIALS,
    ),
    Rule(
        "max-age-missing",
        "Preflight responses have no Access-Control-Max-Age",
        Severity.LOW,
        HYGIENE,
        "Without Access-Control-Max-Age browsers cache a preflight for only 5 seconds, so "
        "almost every non-simple request costs an extra OPTIONS round trip.",
        "Send Access-Control-Max-Age on preflight responses; 600 seconds is honoured by "
        "every engine.",
        _MAX_AGE,
    ),
    Rule(
        "max-age-excessive",
        "Access-Control-Max-Age above what browsers honour",
        Severity.LOW,
        HYGIENE,
        "The preflight asks to be cached longer than some engines allow; they silently clamp "
        "it. The value misleads whoever reads the config and delays policy changes in the "
        "engines that do honour it.",
        "Use a value every engine honours (WebKit caps at 600 seconds, Chromium at 7200).",
        _MAX_AGE,
    ),
    Rule(
        "vary-origin-missing",
        "Origin-dependent CORS headers without Vary: Origin",
        Severity.MEDIUM,
        HYGIENE,
        "Access-Control-Allow-Origin depends on the request's Origin, but the response does "
        "not say Vary: Origin. A shared or browser cache may serve one origin's answer to "
        "another: a legitimate user gets a response without CORS headers (broken app), or "
        "an origin-specific grant is replayed to a different origin.",
        "Add Vary: Origin to every response whose CORS headers depend on Origin, including "
        "the ones that grant nothing.",
        _VARY,
    ),
    Rule(
        "allow-methods-overbroad",
        "Access-Control-Allow-Methods is broader than needed",
        Severity.LOW,
        HYGIENE,
        "The preflight allows '*' or methods the frontend never used. Every allowed method is "
        "one more state-changing request an allowed origin (or a future mistake in the origin "
        "check) can make.",
        "List only the methods the frontend uses.",
        _METHODS,
    ),
    Rule(
        "allow-headers-overbroad",
        "Access-Control-Allow-Headers is broader than needed",
        Severity.LOW,
        HYGIENE,
        "The preflight allows '*' or request headers the frontend never sent.",
        "List only the request headers the frontend sends.",
        _HEADERS,
    ),
    Rule(
        "expose-headers-overbroad",
        "Access-Control-Expose-Headers exposes too much",
        Severity.LOW,
        HYGIENE,
        "The response exposes '*' or headers that look sensitive (Authorization, Set-Cookie, "
        "or names with token, secret, session, internal) to cross-origin JavaScript.",
        "Expose only the headers the frontend reads, and none that carry credentials.",
        _EXPOSE,
    ),
    Rule(
        "token-read-cross-origin",
        "A page holding the token could read responses from another origin",
        Severity.LOW,
        HYGIENE,
        "Attacker origins could read what the API answers to a request that carries the "
        "user's token (corsproof supplied the token to find out). Browsers never attach a "
        "bearer token by themselves, so no other site can use this to read the user's data "
        "through CORS: it only matters if the token reaches another origin's script.",
        "Allow only the frontend's exact origins; a token-based API needs no "
        "Access-Control-Allow-Credentials. " + _ALLOWLIST_FIX,
        _NO_CREDENTIALS,
    ),
    Rule(
        "errors-without-cors",
        "Error responses lack CORS headers",
        Severity.LOW,
        FUNCTIONAL,
        "The legitimate origin's error responses (401, 403, 5xx) carry no "
        "Access-Control-Allow-Origin, so the frontend sees an opaque network error instead "
        "of the status and cannot, for example, send the user to log in.",
        "Apply the CORS layer outside authentication and error handling so every response, "
        "including errors, carries the CORS headers.",
        _ERRORS,
    ),
    Rule(
        "readable-beyond-policy",
        "Readable by an origin outside the declared readable_by",
        Severity.HIGH,
        VULNERABILITY,
        "The config file lists the origins that may read this endpoint (readable_by), and "
        "a page on another origin could read it in a real browser: with the victim's "
        "session (high), or only without it (low; declare public = true if anonymous "
        "reads are intended).",
        "Make the server's allowlist the readable_by list, or widen readable_by if the "
        "reader is legitimate. " + _ALLOWLIST_FIX,
        _ALLOWLIST,
    ),
    Rule(
        "reader-falls-short",
        "A declared reader cannot read with the session",
        Severity.MEDIUM,
        FUNCTIONAL,
        "An origin the config file lists in readable_by could not read this endpoint with "
        "the victim's session in a real browser: the browser refused the answer, or the "
        "cookie did not go (third-party cookie blocking, SameSite) so the answer was "
        "anonymous.",
        "Allow the origin with credentials on the server; where the cookie is what is "
        "missing, serve the API on the frontend's site or set the cookie SameSite=None; "
        "Secure (and expect engines that block third-party cookies to still refuse).",
        _ALLOWLIST,
    ),
)

RULES: Mapping[str, Rule] = MappingProxyType({r.id: r for r in _RULE_LIST})
"""Rule id -> rule, in catalogue order."""

CLASS_RULES: Mapping[str, str] = MappingProxyType(
    {
        "unrelated": "any-origin-read",
        "null": "null-origin-trusted",
        "scheme-downgrade": "http-origin-trusted",
        "sibling-subdomain": "subdomain-trusted",
        "deeper-subdomain": "subdomain-trusted",
        "user-content": "user-content-trusted",
        "localhost": "localhost-trusted",
        "post-domain": "post-domain-bypass",
        "pre-domain": "pre-domain-bypass",
        "unescaped-dot": "unescaped-dot-bypass",
        "substring": "substring-bypass",
        "special-char": "special-char-bypass",
        "other-port": "other-port-trusted",
        "custom": "custom-origin-trusted",
    }
)
"""Attacker origin class -> the rule a read from that class fires."""

FALLBACK_CLASS_RULE = "custom-origin-trusted"
"""Rule for an attacker origin whose class is not in :data:`CLASS_RULES`."""


def rule_for_class(origin_class: str) -> str:
    """The rule id a read by an attacker origin of this class fires."""
    return CLASS_RULES.get(origin_class, FALLBACK_CLASS_RULE)


def rules_for_report(ids: Iterable[str]) -> dict[str, dict[str, Any]]:
    """JSON-ready metadata for the given rule ids, in catalogue order; unknown ids are skipped."""
    wanted = set(ids)
    return {r.id: r.to_dict() for r in _RULE_LIST if r.id in wanted}
