"""The built-in lab: an API whose CORS policy is chosen by path prefix.

With no ``--target`` corsproof runs against this app. Each path prefix
(``/reflect/...``, ``/suffix/...``) is one CORS policy, correct or broken in one
well-known way, so a single server demonstrates every misconfiguration class.
Browsers reach it as ``https://api.example.com`` through corsproof's proxy, so
nothing here looks at the ``Host`` header except to log it.

The lab is also the test bed: its request log (:meth:`Lab.log`) is the
server-side ground truth for "did the browser actually send this request",
which is why every request is recorded before it is answered and why only
cookie *names*, never values, enter the log.

CORS is implemented by hand in a pure ASGI middleware, not with Starlette's
``CORSMiddleware``, because the broken policies have to be broken on purpose.
"""

from __future__ import annotations

import collections
import dataclasses
import hmac
import itertools
import re
import secrets
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from types import MappingProxyType
from urllib.parse import urlsplit

from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, JSONResponse, Response
from starlette.datastructures import Headers, MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

LAB_HOST = "api.example.com"
"""The name browsers use for the lab; the proxy maps it to the loopback port."""
LAB_ORIGIN = "https://api.example.com"
LEGIT_ORIGIN = "https://app.example.com"
"""The lab's legitimate frontend origin."""
SECOND_LEGIT_ORIGIN = "https://admin.example.com"
"""The second legitimate frontend of the ``no-vary`` policy, which needs two to matter."""
SESSION_COOKIE = "lab_session"
LOG_LIMIT = 100_000
"""Entries kept in the request log; the oldest are dropped first."""

STANDARD_METHODS = "GET, POST"
STANDARD_HEADERS = "Authorization, Content-Type"
STANDARD_EXPOSE = "X-Request-Id"
STANDARD_MAX_AGE = "600"
EXCESSIVE_MAX_AGE = "2592000"
OVERBROAD_METHODS = "GET, POST, PUT, PATCH, DELETE, OPTIONS, TRACE"
OVERBROAD_HEADERS = (
    "Authorization, Content-Type, X-Api-Key, X-Forwarded-For, X-Requested-With, Cookie, *"
)
OVERBROAD_EXPOSE = "*, Set-Cookie, X-Internal-Token, X-Request-Id"

_RESERVED_PREFIXES = frozenset({"login", "login-lax", "__lab"})
_LAB_ROUTES = frozenset({"/login", "/login-lax", "/__lab/log"})


@dataclass(frozen=True)
class LabRequest:
    """One request as the lab received it. Holds no secret: cookie names only."""

    time: float
    method: str
    path: str
    policy: str | None
    """The policy prefix of the path, or None outside any policy."""
    origin: str | None
    cookies: tuple[str, ...]
    """Names of the cookies sent, in order; values are never recorded."""
    has_authorization: bool
    acr_method: str | None
    """``Access-Control-Request-Method``, present on preflights."""
    acr_headers: str | None
    """``Access-Control-Request-Headers`` as sent."""
    host: str | None
    user_agent: str = ""
    """Lets tests and the runner tell which engine and cookie profile sent it."""

    @property
    def is_preflight(self) -> bool:
        """An OPTIONS request carrying ``Access-Control-Request-Method``."""
        return self.method == "OPTIONS" and self.acr_method is not None


@dataclass(frozen=True)
class Policy:
    """One CORS policy the lab serves under ``/{name}/``."""

    name: str
    summary: str
    correct: bool
    """True only for a configuration corsproof should raise no finding about."""
    catches: tuple[str, ...]
    """Origin class ids (scenarios/origins.toml) or rule ids this policy exists to demonstrate."""
    trusted_examples: tuple[str, ...] = ()
    """Non-legitimate origins this policy answers with a matching Allow-Origin."""


@dataclass(frozen=True)
class _Exchange:
    """What a CORS behaviour may look at besides the origin."""

    method: str
    path: str
    status: int
    """The response status; 204 for preflights."""
    legit_origins: tuple[str, ...]


Headerlist = list[tuple[str, str]]
CorsFunction = Callable[[str | None, bool, _Exchange], Headerlist]
OriginCheck = Callable[[str, tuple[str, ...]], bool]


@dataclass(frozen=True)
class _Cors:
    """A CORS behaviour: ``(origin, is_preflight, exchange) -> response headers``.

    The policies differ only in these knobs, so one callable with parameters
    keeps each policy's deviation from the correct one visible in a single line.
    """

    trusts: OriginCheck | None
    """Origin predicate; None means no CORS headers at all."""
    wildcard: bool = False
    credentials: bool = True
    vary: bool = True
    max_age: str | None = STANDARD_MAX_AGE
    methods: str = STANDARD_METHODS
    allow_headers: str = STANDARD_HEADERS
    expose: str = STANDARD_EXPOSE
    bare_errors: bool = False
    """Send nothing CORS-related on responses with status >= 400."""

    def __call__(self, origin: str | None, is_preflight: bool, exchange: _Exchange) -> Headerlist:
        if self.trusts is None or (self.bare_errors and exchange.status >= 400):
            return []
        out: Headerlist = []
        if self.wildcard:
            out.append(("Access-Control-Allow-Origin", "*"))
        elif origin is not None and self.trusts(origin, exchange.legit_origins):
            out.append(("Access-Control-Allow-Origin", origin))
        if out and self.credentials:
            out.append(("Access-Control-Allow-Credentials", "true"))
        if out and is_preflight:
            out.append(("Access-Control-Allow-Methods", self.methods))
            out.append(("Access-Control-Allow-Headers", self.allow_headers))
            if self.max_age is not None:
                out.append(("Access-Control-Max-Age", self.max_age))
        elif out:
            out.append(("Access-Control-Expose-Headers", self.expose))
        # A wildcard answer is the same for every origin, so only the echoing
        # policies need Vary, and they need it on refusals too or a cache can
        # replay a refusal (or a grant) to a different origin.
        if self.vary and not self.wildcard:
            out.append(("Vary", "Origin"))
        return out


@dataclass(frozen=True)
class _Behaviour:
    cors: CorsFunction
    private_needs_auth: bool = True


def _exact(origin: str, legit: tuple[str, ...]) -> bool:
    return origin in legit


def _never(origin: str, legit: tuple[str, ...]) -> bool:
    return False


def _plus(extra: Callable[[str], bool]) -> OriginCheck:
    def check(origin: str, legit: tuple[str, ...]) -> bool:
        return origin in legit or extra(origin)

    return check


def _suffix(origin: str, legit: tuple[str, ...]) -> bool:
    # The classic endswith() check with no leading dot.
    return origin.endswith("example.com")


def _prefix(origin: str, legit: tuple[str, ...]) -> bool:
    return origin.startswith(LEGIT_ORIGIN)


def _unescaped_dot(origin: str, legit: tuple[str, ...]) -> bool:
    # Deliberately unescaped: "." matches any character.
    return re.match(r"^https://app.example.com$", origin) is not None


def _substring(origin: str, legit: tuple[str, ...]) -> bool:
    # The operands the wrong way round: the origin is looked up *in* the
    # trusted string, so any truncation of it passes.
    return bool(origin) and origin in LEGIT_ORIGIN


def _any_subdomain(origin: str, legit: tuple[str, ...]) -> bool:
    return re.fullmatch(r"https://([a-z0-9-]+\.)*example\.com", origin) is not None


def _port_agnostic(origin: str, legit: tuple[str, ...]) -> bool:
    try:
        parts = urlsplit(origin)
        return parts.scheme == "https" and parts.hostname == "app.example.com"
    except ValueError:
        return False


def _special_char(origin: str, legit: tuple[str, ...]) -> bool:
    # Meant to allow a ":port" suffix; the lookahead only rules out hostname
    # characters, so "_", "!", "}", "`" and ":8443" all slip through.
    return re.match(r"^https://app\.example\.com(?![a-z0-9.\-])", origin) is not None


def _two_legit(origin: str, legit: tuple[str, ...]) -> bool:
    return origin in legit or origin == SECOND_LEGIT_ORIGIN


_GITHUB_IO = re.compile(r"https://[a-z0-9-]+\.github\.io")
_LOOPBACK_HTTP = re.compile(r"http://(localhost|127\.0\.0\.1)(:[0-9]{1,5})?")


_BEHAVIOURS: dict[str, _Behaviour] = {
    "allowlist": _Behaviour(_Cors(_exact)),
    "wildcard": _Behaviour(_Cors(_never, wildcard=True, credentials=False)),
    "wildcard-credentials": _Behaviour(_Cors(_never, wildcard=True)),
    "reflect": _Behaviour(_Cors(lambda origin, legit: True)),
    "null": _Behaviour(_Cors(_plus(lambda o: o == "null"))),
    "no-cors": _Behaviour(_Cors(None)),
    "missing-allow-headers": _Behaviour(_Cors(_exact, allow_headers="Content-Type")),
    "suffix": _Behaviour(_Cors(_suffix)),
    "prefix": _Behaviour(_Cors(_prefix)),
    "unescaped-dot": _Behaviour(_Cors(_unescaped_dot)),
    "substring": _Behaviour(_Cors(_substring)),
    "trusted-http": _Behaviour(_Cors(_plus(lambda o: o == "http://app.example.com"))),
    "user-content": _Behaviour(_Cors(_plus(lambda o: _GITHUB_IO.fullmatch(o) is not None))),
    "any-subdomain": _Behaviour(_Cors(_any_subdomain)),
    "localhost": _Behaviour(_Cors(_plus(lambda o: _LOOPBACK_HTTP.fullmatch(o) is not None))),
    "port-agnostic": _Behaviour(_Cors(_port_agnostic)),
    "special-char": _Behaviour(_Cors(_special_char)),
    "no-vary": _Behaviour(_Cors(_two_legit, vary=False)),
    "max-age-missing": _Behaviour(_Cors(_exact, max_age=None)),
    "max-age-excessive": _Behaviour(_Cors(_exact, max_age=EXCESSIVE_MAX_AGE)),
    "overbroad": _Behaviour(
        _Cors(
            _exact,
            methods=OVERBROAD_METHODS,
            allow_headers=OVERBROAD_HEADERS,
            expose=OVERBROAD_EXPOSE,
        )
    ),
    "errors-without-cors": _Behaviour(_Cors(_exact, bare_errors=True)),
    "credentials-unneeded": _Behaviour(_Cors(_exact), private_needs_auth=False),
}


def _policy(
    name: str, summary: str, correct: bool, catches: tuple[str, ...], trusted: tuple[str, ...] = ()
) -> tuple[str, Policy]:
    return name, Policy(name, summary, correct, catches, trusted)


POLICIES: Mapping[str, Policy] = MappingProxyType(
    dict(
        [
            _policy(
                "allowlist",
                "Exact allowlist of the legitimate origins, credentials, Vary: Origin, "
                "Max-Age 600, only GET/POST and Authorization/Content-Type; CORS on errors too.",
                True,
                (),
            ),
            _policy(
                "wildcard",
                "Allow-Origin * without credentials: correct for public data; /private "
                "still needs a session, so a credential-less read only sees the 401.",
                True,
                (),
            ),
            _policy(
                "wildcard-credentials",
                "Allow-Origin * plus Allow-Credentials: true; browsers refuse credentialed "
                "reads, so it is broken for the frontend and misleading to scanners.",
                False,
                ("wildcard-with-credentials",),
            ),
            _policy(
                "reflect",
                "Echoes any Origin, null included, with credentials.",
                False,
                ("unrelated", "null", "any-origin-read"),
                ("https://corsproof-attacker.test", "https://evil.test", "null"),
            ),
            _policy(
                "null",
                "Allowlist plus the opaque origin null, with credentials.",
                False,
                ("null",),
                ("null",),
            ),
            _policy(
                "no-cors",
                "No CORS headers at all: the legitimate frontend cannot read anything.",
                False,
                ("legit-origin-blocked",),
            ),
            _policy(
                "missing-allow-headers",
                "Allowlist with credentials, but preflights allow only Content-Type, so "
                "the frontend's Authorization-bearing request fails its preflight.",
                False,
                ("legit-origin-blocked",),
            ),
            _policy(
                "suffix",
                'Trusts any origin ending in "example.com" (no leading dot, any scheme).',
                False,
                ("pre-domain", "sibling-subdomain", "deeper-subdomain", "scheme-downgrade"),
                (
                    "https://evilexample.com",
                    "https://evil.example.com",
                    "https://example.com",
                    "http://app.example.com",
                ),
            ),
            _policy(
                "prefix",
                'Trusts any origin starting with "https://app.example.com".',
                False,
                ("post-domain", "other-port", "special-char"),
                (
                    "https://app.example.com.evil.test",
                    "https://app.example.com:8443",
                    "https://app.example.com_.evil.test",
                ),
            ),
            _policy(
                "unescaped-dot",
                r'Regex "^https://app.example.com$" with unescaped dots.',
                False,
                ("unescaped-dot",),
                ("https://appxexample.com",),
            ),
            _policy(
                "substring",
                'Tests origin in "https://app.example.com": any truncation passes.',
                False,
                ("substring",),
                ("https://app.example.co",),
            ),
            _policy(
                "trusted-http",
                "Allowlist plus http://app.example.com, which any network attacker can serve.",
                False,
                ("scheme-downgrade",),
                ("http://app.example.com",),
            ),
            _policy(
                "user-content",
                "Allowlist plus any https://<name>.github.io, a host anyone can publish on.",
                False,
                ("user-content",),
                ("https://corsproof-attacker.github.io",),
            ),
            _policy(
                "any-subdomain",
                "Trusts https://example.com and every https subdomain of it, at any depth.",
                False,
                ("sibling-subdomain", "deeper-subdomain"),
                ("https://evil.example.com", "https://a.b.example.com", "https://example.com"),
            ),
            _policy(
                "localhost",
                "Allowlist plus http://localhost and http://127.0.0.1 on any port.",
                False,
                ("localhost",),
                ("http://localhost:3000", "http://127.0.0.1:8080"),
            ),
            _policy(
                "port-agnostic",
                "Trusts https://app.example.com on any port (compares only scheme and host).",
                False,
                ("other-port",),
                ("https://app.example.com:8443",),
            ),
            _policy(
                "special-char",
                r'Regex "^https://app\.example\.com(?![a-z0-9.\-])", meant to allow a port, '
                'also admits "_", "!", "}", "`" and any port after the host.',
                False,
                ("special-char", "other-port"),
                (
                    "https://app.example.com_.evil.test",
                    "https://app.example.com}.evil.test",
                    "https://app.example.com:8443",
                ),
            ),
            _policy(
                "no-vary",
                "Correct allowlist of app.example.com and admin.example.com but no "
                "Vary: Origin, so caches can serve one origin's grant to the other.",
                False,
                ("vary-origin-missing",),
            ),
            _policy(
                "max-age-missing",
                "Correct, but preflights carry no Access-Control-Max-Age.",
                False,
                ("max-age-missing",),
            ),
            _policy(
                "max-age-excessive",
                "Correct, but preflights are cacheable for 30 days (Max-Age 2592000).",
                False,
                ("max-age-excessive",),
            ),
            _policy(
                "overbroad",
                "Correct origin allowlist with credentials, but Allow-Methods lists "
                "PUT/PATCH/DELETE/TRACE, Allow-Headers adds X-Api-Key, X-Forwarded-For, "
                "Cookie and *, and Expose-Headers is *, Set-Cookie, X-Internal-Token. "
                "Explicit lists keep it working (with credentials * is literal) while over-broad.",
                False,
                ("allow-methods-overbroad", "allow-headers-overbroad", "expose-headers-overbroad"),
            ),
            _policy(
                "errors-without-cors",
                "Correct on success, but 401/404/500 responses carry no CORS headers.",
                False,
                ("errors-without-cors",),
            ),
            _policy(
                "credentials-unneeded",
                "Allowlist with Allow-Credentials: true although /private serves public "
                "data without any session.",
                False,
                ("credentials-unneeded",),
            ),
        ]
    )
)

if set(POLICIES) != set(_BEHAVIOURS) or _RESERVED_PREFIXES & set(POLICIES):
    raise AssertionError("lab policy tables are out of sync")


def _cookie_names(header: str | None) -> tuple[str, ...]:
    if not header:
        return ()
    names = (part.partition("=")[0].strip() for part in header.split(";"))
    return tuple(name for name in names if name)


class Lab:
    """The lab app with its secrets and request log; one instance per run or test."""

    def __init__(
        self,
        *,
        session_value: str | None = None,
        legit_origins: Sequence[str] = (LEGIT_ORIGIN,),
    ) -> None:
        self.session_value: str = session_value or secrets.token_urlsafe(24)
        self.session_cookie_name: str = SESSION_COOKIE
        self.legit_origins: tuple[str, ...] = tuple(legit_origins)
        self._secrets = {name: secrets.token_urlsafe(18) for name in POLICIES}
        self._internal_token = secrets.token_urlsafe(12)
        self._lock = threading.Lock()
        self._log: collections.deque[LabRequest] = collections.deque(maxlen=LOG_LIMIT)
        self._logged = 0
        self._behaviour_of: dict[str, str] = {name: name for name in POLICIES}
        self._request_ids = itertools.count(1)
        self.app: FastAPI = self._build_app()

    # -- public API -------------------------------------------------------

    def secret_for(self, policy: str) -> str:
        """The per-policy secret ``/{policy}/private`` returns to an authenticated caller."""
        try:
            return self._secrets[policy]
        except KeyError:
            raise KeyError(f"unknown lab policy {policy!r}") from None

    def log(self) -> list[LabRequest]:
        """A snapshot of the request log, oldest first."""
        with self._lock:
            return list(self._log)

    def log_since(self, cursor: int) -> tuple[list[LabRequest], int]:
        """Entries logged after ``cursor`` (a count from a previous call) and the new cursor.

        Readers that poll often use this instead of :meth:`log`, so each entry is
        looked at once even when the log is long.
        """
        with self._lock:
            new = min(self._logged - cursor, len(self._log))
            items = list(self._log)[len(self._log) - new :] if new > 0 else []
            return items, self._logged

    def clear_log(self) -> None:
        """Forget every logged request."""
        with self._lock:
            self._log.clear()

    def set_policy(self, name: str, behaviour: str) -> None:
        """Make the ``name`` prefix behave like policy ``behaviour`` (drift tests).

        ``set_policy("allowlist", "reflect")`` turns the allowlist into a
        reflector; ``set_policy(name, name)`` restores it. The path, the log's
        ``policy`` field and the secret stay those of ``name``.
        """
        if name not in POLICIES:
            raise KeyError(f"unknown lab policy {name!r}")
        if behaviour not in _BEHAVIOURS:
            raise KeyError(f"unknown lab behaviour {behaviour!r}")
        with self._lock:
            self._behaviour_of[name] = behaviour

    def behaviour_of(self, name: str) -> str:
        """Which policy's behaviour the ``name`` prefix currently has."""
        with self._lock:
            return self._behaviour_of[name]

    def target_urls(self, base: str = LAB_ORIGIN) -> list[str]:
        """One URL per policy, in table order: ``/{policy}/private`` (wildcard: ``/public``)."""
        base = base.rstrip("/")
        # The wildcard policy is the correct setup for *public* data, so corsproof is
        # pointed at its public endpoint; every other policy guards a secret.
        return [
            f"{base}/{name}/public" if name == "wildcard" else f"{base}/{name}/private"
            for name in POLICIES
        ]

    def is_authenticated(self, cookie: str | None, authorization: str | None) -> bool:
        """True when the session cookie or a bearer token carries the session value."""
        expected = self.session_value.encode()
        if cookie:
            for part in cookie.split(";"):
                key, _, value = part.strip().partition("=")
                if key == SESSION_COOKIE and hmac.compare_digest(value.encode(), expected):
                    return True
        if authorization:
            scheme, _, token = authorization.partition(" ")
            if scheme.lower() == "bearer" and hmac.compare_digest(token.strip().encode(), expected):
                return True
        return False

    # -- internals --------------------------------------------------------

    def _record(self, entry: LabRequest) -> None:
        with self._lock:
            self._log.append(entry)
            self._logged += 1

    def _behaviour(self, policy: str) -> _Behaviour:
        with self._lock:
            return _BEHAVIOURS[self._behaviour_of[policy]]

    def _next_request_id(self) -> str:
        return f"lab-{next(self._request_ids)}"

    def _login_response(self, same_site: str) -> HTMLResponse:
        page = (
            "<!doctype html><meta charset=utf-8><title>lab login</title>"
            f"<p>Logged in to the corsproof lab (SameSite={same_site}).</p>"
        )
        response = HTMLResponse(page)
        # Written by hand so the attribute set is exactly what the docs promise.
        response.headers.append(
            "Set-Cookie",
            f"{SESSION_COOKIE}={self.session_value}; "
            f"Path=/; Secure; HttpOnly; SameSite={same_site}",
        )
        response.headers["Cache-Control"] = "no-store"
        return response

    def _build_app(self) -> FastAPI:
        app = FastAPI(title="corsproof lab", docs_url=None, redoc_url=None, openapi_url=None)
        lab = self

        # Handlers are async: none of them blocks, and a sync one would cost every
        # probe a hop through AnyIO's thread pool (measured: docs/performance.md).
        @app.get("/login")
        async def login() -> HTMLResponse:
            return lab._login_response("None")

        @app.get("/login-lax")
        async def login_lax() -> HTMLResponse:
            return lab._login_response("Lax")

        @app.get("/__lab/log")
        async def lab_log() -> JSONResponse:
            return JSONResponse([dataclasses.asdict(e) for e in lab.log()])

        @app.api_route(
            "/{policy}/private", methods=["GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]
        )
        async def private(policy: str, request: Request) -> Response:
            if policy not in POLICIES:
                return _not_found()
            if not lab._behaviour(policy).private_needs_auth:
                return JSONResponse({"policy": policy, "data": "public"})
            if not lab.is_authenticated(
                request.headers.get("cookie"), request.headers.get("authorization")
            ):
                return JSONResponse({"error": "login required"}, status_code=401)
            return JSONResponse({"policy": policy, "secret": lab.secret_for(policy)})

        @app.get("/{policy}/public")
        async def public(policy: str) -> Response:
            if policy not in POLICIES:
                return _not_found()
            return JSONResponse({"policy": policy, "data": "public"})

        @app.get("/{policy}/missing")
        async def missing(policy: str) -> Response:
            return _not_found()

        @app.get("/{policy}/boom")
        async def boom(policy: str) -> Response:
            if policy not in POLICIES:
                return _not_found()
            # Returned rather than raised: an exception would escape past the
            # CORS middleware to Starlette's error handler, and the point of
            # this endpoint is to show which policies keep CORS on a 500.
            return JSONResponse({"error": "internal error"}, status_code=500)

        app.add_middleware(_LabMiddleware, lab=self)
        return app


def _not_found() -> JSONResponse:
    return JSONResponse({"error": "not found"}, status_code=404)


class _LabMiddleware:
    """Logs every request, answers preflights and adds each policy's CORS headers."""

    def __init__(self, app: ASGIApp, lab: Lab) -> None:
        self.app = app
        self.lab = lab

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        lab = self.lab
        headers = Headers(scope=scope)
        method: str = scope["method"]
        path: str = scope["path"]
        first = path.lstrip("/").partition("/")[0]
        policy = first if first in POLICIES and path.count("/") >= 2 else None
        origin = headers.get("origin")
        acr_method = headers.get("access-control-request-method")
        if not path.startswith("/__lab/"):
            lab._record(
                LabRequest(
                    time=time.time(),
                    method=method,
                    path=path,
                    policy=policy,
                    origin=origin,
                    cookies=_cookie_names(headers.get("cookie")),
                    has_authorization="authorization" in headers,
                    acr_method=acr_method,
                    acr_headers=headers.get("access-control-request-headers"),
                    host=headers.get("host"),
                    user_agent=(headers.get("user-agent") or "")[:300],
                )
            )
        if policy is None:
            if path in _LAB_ROUTES:
                await self.app(scope, receive, send)
            else:
                # Outside every policy nothing is CORS-enabled, whatever the method.
                await _not_found()(scope, receive, send)
            return

        cors = lab._behaviour(policy).cors
        request_id = lab._next_request_id()
        if method == "OPTIONS" and acr_method is not None:
            # Preflights never need a session: browsers never send credentials
            # on them, so requiring one would break every legitimate client.
            exchange = _Exchange(method, path, 204, lab.legit_origins)
            preflight = Response(status_code=204)
            preflight.headers["X-Request-Id"] = request_id
            for key, value in cors(origin, True, exchange):
                preflight.headers.append(key, value)
            await preflight(scope, receive, send)
            return

        async def send_with_cors(message: Message) -> None:
            if message["type"] == "http.response.start":
                exchange = _Exchange(method, path, message["status"], lab.legit_origins)
                out = MutableHeaders(scope=message)
                out["X-Request-Id"] = request_id
                if lab.behaviour_of(policy) == "overbroad":
                    # Something for "Expose-Headers: X-Internal-Token" to leak.
                    out["X-Internal-Token"] = lab._internal_token
                for key, value in cors(origin, False, exchange):
                    out.append(key, value)
            await send(message)

        await self.app(scope, receive, send_with_cors)
