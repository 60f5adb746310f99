"""Unit tests of the lab server and the background-server helper (no browser).

These pin the exact headers each lab policy sends, so that verdict tests
elsewhere can rely on what the lab *says*; whether a browser then lets page
JavaScript read the response is measured by the browser tests, not here.
"""

from __future__ import annotations

import socket
import ssl
import statistics
import time
import warnings
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import trustme

with warnings.catch_warnings():
    # Starlette 1.x nags that its test client wants httpx2; httpx is what we ship.
    warnings.simplefilter("ignore")
    from starlette.testclient import TestClient

from harness.model.errors import LaunchError
from harness.serve.lab import (
    LAB_ORIGIN,
    LEGIT_ORIGIN,
    POLICIES,
    SECOND_LEGIT_ORIGIN,
    SESSION_COOKIE,
    Lab,
)
from harness.serve.servers import BackgroundServer

EVIL = "https://evil.test"
NULL = "null"

# Every non-legitimate origin some policy trusts, plus the usual suspects.
PROBE_ORIGINS = sorted(
    {LEGIT_ORIGIN, EVIL, NULL, SECOND_LEGIT_ORIGIN}
    | {o for p in POLICIES.values() for o in p.trusted_examples}
)

_EXACT = {LEGIT_ORIGIN}
# Written out by hand rather than derived from the lab's predicates, so a
# change in a predicate shows up as a failing row here.
GRANTED: dict[str, set[str] | str | None] = {
    "allowlist": _EXACT,
    "wildcard": "*",
    "wildcard-credentials": "*",
    "reflect": set(PROBE_ORIGINS),
    "null": {LEGIT_ORIGIN, NULL},
    "no-cors": None,
    "missing-allow-headers": _EXACT,
    "suffix": {
        LEGIT_ORIGIN,
        SECOND_LEGIT_ORIGIN,
        "https://evilexample.com",
        "https://appxexample.com",
        "https://evil.example.com",
        "https://a.b.example.com",
        "https://example.com",
        "http://app.example.com",
    },
    "prefix": {
        LEGIT_ORIGIN,
        "https://app.example.com.evil.test",
        "https://app.example.com:8443",
        "https://app.example.com_.evil.test",
        "https://app.example.com}.evil.test",
    },
    "unescaped-dot": {LEGIT_ORIGIN, "https://appxexample.com"},
    "substring": {LEGIT_ORIGIN, "https://app.example.co"},
    "trusted-http": {LEGIT_ORIGIN, "http://app.example.com"},
    "user-content": {LEGIT_ORIGIN, "https://corsproof-attacker.github.io"},
    "any-subdomain": {
        LEGIT_ORIGIN,
        SECOND_LEGIT_ORIGIN,
        "https://evil.example.com",
        "https://a.b.example.com",
        "https://example.com",
    },
    "localhost": {LEGIT_ORIGIN, "http://localhost:3000", "http://127.0.0.1:8080"},
    "port-agnostic": {LEGIT_ORIGIN, "https://app.example.com:8443"},
    "special-char": {
        LEGIT_ORIGIN,
        "https://app.example.com_.evil.test",
        "https://app.example.com}.evil.test",
        "https://app.example.com:8443",
    },
    "no-vary": {LEGIT_ORIGIN, SECOND_LEGIT_ORIGIN},
    "max-age-missing": _EXACT,
    "max-age-excessive": _EXACT,
    "overbroad": _EXACT,
    "errors-without-cors": _EXACT,
    "credentials-unneeded": _EXACT,
}
NO_CREDENTIALS = {"wildcard", "no-cors"}
NO_VARY = {"wildcard", "wildcard-credentials", "no-cors", "no-vary"}
MAX_AGE = {"max-age-missing": None, "max-age-excessive": "2592000"}
METHODS = {"overbroad": "GET, POST, PUT, PATCH, DELETE, OPTIONS, TRACE"}
ALLOW_HEADERS = {
    "missing-allow-headers": "Content-Type",
    "overbroad": (
        "Authorization, Content-Type, X-Api-Key, X-Forwarded-For, X-Requested-With, Cookie, *"
    ),
}
EXPOSE = {"overbroad": "*, Set-Cookie, X-Internal-Token, X-Request-Id"}


@pytest.fixture
def lab() -> Lab:
    return Lab()


@pytest.fixture
def client(lab: Lab) -> Iterator[TestClient]:
    with TestClient(lab.app, base_url=LAB_ORIGIN) as c:
        yield c


def _expected_acao(policy: str, origin: str) -> str | None:
    granted = GRANTED[policy]
    if granted == "*":
        return "*"
    if granted is None:
        return None
    assert isinstance(granted, set)
    return origin if origin in granted else None


def test_tables_cover_every_policy() -> None:
    assert set(GRANTED) == set(POLICIES)
    assert [p for p in POLICIES.values() if p.correct] == [
        POLICIES["allowlist"],
        POLICIES["wildcard"],
    ]
    for name, policy in POLICIES.items():
        assert policy.name == name
        assert policy.summary and "\n" not in policy.summary
        assert policy.correct or policy.catches, name
        for origin in policy.trusted_examples:
            assert _expected_acao(name, origin) == origin, (name, origin)


@pytest.mark.parametrize("policy", list(POLICIES))
@pytest.mark.parametrize("origin", PROBE_ORIGINS)
def test_actual_response_headers(client: TestClient, policy: str, origin: str) -> None:
    r = client.get(f"/{policy}/public", headers={"Origin": origin})
    assert r.status_code == 200
    acao = _expected_acao(policy, origin)
    assert r.headers.get("access-control-allow-origin") == acao
    wants_acac = acao is not None and policy not in NO_CREDENTIALS
    assert r.headers.get("access-control-allow-credentials") == ("true" if wants_acac else None)
    assert r.headers.get("vary") == (None if policy in NO_VARY else "Origin")
    expose = EXPOSE.get(policy, "X-Request-Id") if acao else None
    assert r.headers.get("access-control-expose-headers") == expose
    # Actual responses never carry preflight-only headers.
    assert "access-control-max-age" not in r.headers
    assert "access-control-allow-methods" not in r.headers
    assert r.headers["x-request-id"]


@pytest.mark.parametrize("policy", list(POLICIES))
@pytest.mark.parametrize("origin", [LEGIT_ORIGIN, EVIL, NULL])
def test_preflight_headers(client: TestClient, policy: str, origin: str) -> None:
    r = client.options(
        f"/{policy}/private",
        headers={
            "Origin": origin,
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "authorization,content-type",
        },
    )
    # Preflights never need the session, whatever the policy.
    assert r.status_code == 204
    assert r.content == b""
    acao = _expected_acao(policy, origin)
    assert r.headers.get("access-control-allow-origin") == acao
    wants_acac = acao is not None and policy not in NO_CREDENTIALS
    assert r.headers.get("access-control-allow-credentials") == ("true" if wants_acac else None)
    assert r.headers.get("vary") == (None if policy in NO_VARY else "Origin")
    if acao is None:
        assert "access-control-max-age" not in r.headers
        assert "access-control-allow-methods" not in r.headers
        assert "access-control-allow-headers" not in r.headers
        return
    assert r.headers.get("access-control-max-age") == MAX_AGE.get(policy, "600")
    assert r.headers["access-control-allow-methods"] == METHODS.get(policy, "GET, POST")
    assert r.headers["access-control-allow-headers"] == ALLOW_HEADERS.get(
        policy, "Authorization, Content-Type"
    )
    assert "access-control-expose-headers" not in r.headers


@pytest.mark.parametrize("policy", list(POLICIES))
@pytest.mark.parametrize(("path", "status"), [("private", 401), ("missing", 404), ("boom", 500)])
def test_error_responses_keep_cors(client: TestClient, policy: str, path: str, status: int) -> None:
    r = client.get(f"/{policy}/{path}", headers={"Origin": LEGIT_ORIGIN})
    if policy == "credentials-unneeded" and path == "private":
        assert r.status_code == 200
        return
    assert r.status_code == status
    bare = policy in {"errors-without-cors", "no-cors"}
    assert r.headers.get("access-control-allow-origin") == (
        None if bare else _expected_acao(policy, LEGIT_ORIGIN)
    )
    if bare:
        assert not [h for h in r.headers if h.startswith("access-control-")]
        assert "vary" not in r.headers
    elif policy not in NO_VARY:
        assert r.headers["vary"] == "Origin"


def test_errors_without_cors_is_correct_on_success(client: TestClient) -> None:
    r = client.get("/errors-without-cors/public", headers={"Origin": LEGIT_ORIGIN})
    assert r.headers["access-control-allow-origin"] == LEGIT_ORIGIN
    assert r.headers["vary"] == "Origin"


def test_overbroad_exposes_an_internal_header(client: TestClient) -> None:
    r = client.get("/overbroad/public", headers={"Origin": LEGIT_ORIGIN})
    assert r.headers["x-internal-token"]
    assert "x-internal-token" not in client.get("/allowlist/public").headers


def test_unknown_policy_is_404_without_cors(client: TestClient) -> None:
    for method, path in [
        ("GET", "/nope/private"),
        ("GET", "/nope/public"),
        ("OPTIONS", "/nope/private"),
        ("GET", "/reflect"),
        ("GET", "/"),
    ]:
        r = client.request(
            method,
            path,
            headers={"Origin": LEGIT_ORIGIN, "Access-Control-Request-Method": "GET"},
        )
        assert r.status_code == 404, path
        assert not [h for h in r.headers if h.startswith("access-control-")], path
        assert "vary" not in r.headers


def test_private_requires_session_cookie_or_bearer(lab: Lab, client: TestClient) -> None:
    want = {"policy": "reflect", "secret": lab.secret_for("reflect")}
    r = client.get("/reflect/private")
    assert (r.status_code, r.json()) == (401, {"error": "login required"})

    r = client.get("/reflect/private", headers={"Cookie": f"{SESSION_COOKIE}={lab.session_value}"})
    assert (r.status_code, r.json()) == (200, want)

    bearer = {"Authorization": f"Bearer {lab.session_value}"}
    r = client.get("/reflect/private", headers=bearer)
    assert (r.status_code, r.json()) == (200, want)

    for method in ["POST", "PUT", "PATCH", "DELETE", "OPTIONS"]:
        r = client.request(method, "/reflect/private", headers=bearer)
        assert r.status_code == 200, method
        assert client.request(method, "/reflect/private").status_code == 401, method

    for bad in [
        {"Cookie": f"{SESSION_COOKIE}=wrong"},
        {"Cookie": f"other={lab.session_value}"},
        {"Authorization": "Bearer wrong"},
        {"Authorization": f"Basic {lab.session_value}"},
    ]:
        assert client.get("/reflect/private", headers=bad).status_code == 401, bad


def test_secrets_differ_per_policy_and_instance(lab: Lab) -> None:
    other = Lab()
    assert lab.session_value != other.session_value
    assert len({lab.secret_for(p) for p in POLICIES}) == len(POLICIES)
    assert lab.secret_for("reflect") != other.secret_for("reflect")
    assert Lab(session_value="fixed").session_value == "fixed"
    with pytest.raises(KeyError):
        lab.secret_for("nope")


def test_credentials_unneeded_serves_public_data_without_session(client: TestClient) -> None:
    r = client.get("/credentials-unneeded/private", headers={"Origin": LEGIT_ORIGIN})
    assert r.status_code == 200
    assert "secret" not in r.json()
    assert r.headers["access-control-allow-credentials"] == "true"


def test_wildcard_private_still_needs_auth(client: TestClient) -> None:
    r = client.get("/wildcard/private", headers={"Origin": EVIL})
    assert r.status_code == 401
    assert r.headers["access-control-allow-origin"] == "*"


@pytest.mark.parametrize(("path", "same_site"), [("/login", "None"), ("/login-lax", "Lax")])
def test_login_sets_session_cookie(lab: Lab, path: str, same_site: str) -> None:
    with TestClient(lab.app, base_url=LAB_ORIGIN) as c:
        r = c.get(path)
        assert r.status_code == 200
        assert r.headers["content-type"].startswith("text/html")
        assert r.headers["set-cookie"] == (
            f"{SESSION_COOKIE}={lab.session_value}; Path=/; Secure; HttpOnly; SameSite={same_site}"
        )
        # The client keeps the cookie (https base URL), so /private now works.
        assert c.get("/allowlist/private").status_code == 200


def test_log_records_names_never_values(lab: Lab, client: TestClient) -> None:
    client.options(
        "/reflect/private",
        headers={
            "Origin": EVIL,
            "Access-Control-Request-Method": "PUT",
            "Access-Control-Request-Headers": "authorization",
        },
    )
    client.put(
        "/reflect/private",
        headers={
            "Origin": EVIL,
            "Cookie": f"{SESSION_COOKIE}={lab.session_value}; theme=dark",
            "Authorization": f"Bearer {lab.session_value}",
        },
    )
    client.get("/login")
    client.get("/__lab/log")

    entries = lab.log()
    assert [(e.method, e.path, e.policy) for e in entries] == [
        ("OPTIONS", "/reflect/private", "reflect"),
        ("PUT", "/reflect/private", "reflect"),
        ("GET", "/login", None),
    ]
    pre, put, login = entries
    assert pre.is_preflight and not put.is_preflight
    assert (pre.origin, pre.acr_method, pre.acr_headers) == (EVIL, "PUT", "authorization")
    assert pre.cookies == () and not pre.has_authorization
    assert put.cookies == (SESSION_COOKIE, "theme")
    assert put.has_authorization
    assert put.host == "api.example.com"
    assert login.origin is None
    assert all(e.time > 0 for e in entries)
    assert lab.session_value not in repr(entries)
    assert "dark" not in repr(entries)

    served = client.get("/__lab/log").json()
    assert [e["path"] for e in served] == [e.path for e in entries]
    assert lab.session_value not in str(served)

    lab.clear_log()
    assert lab.log() == []


def test_log_entry_precedes_response(lab: Lab, client: TestClient) -> None:
    # The log is ground truth for "the browser sent it"; a request that fails
    # on the way out must still be there.
    client.get("/allowlist/boom")
    assert [e.path for e in lab.log()] == ["/allowlist/boom"]


def test_set_policy_swaps_behaviour(lab: Lab, client: TestClient) -> None:
    def acao(origin: str) -> str | None:
        r = client.get("/allowlist/public", headers={"Origin": origin})
        value: str | None = r.headers.get("access-control-allow-origin")
        return value

    assert acao(EVIL) is None
    lab.set_policy("allowlist", "reflect")
    assert lab.behaviour_of("allowlist") == "reflect"
    assert acao(EVIL) == EVIL
    # Path, secret and log stay those of the prefix.
    r = client.get("/allowlist/private", headers={"Authorization": f"Bearer {lab.session_value}"})
    assert r.json() == {"policy": "allowlist", "secret": lab.secret_for("allowlist")}
    assert lab.log()[-1].policy == "allowlist"

    lab.set_policy("allowlist", "credentials-unneeded")
    assert client.get("/allowlist/private").status_code == 200
    lab.set_policy("allowlist", "allowlist")
    assert acao(EVIL) is None
    assert client.get("/allowlist/private").status_code == 401
    with pytest.raises(KeyError):
        lab.set_policy("allowlist", "nope")
    with pytest.raises(KeyError):
        lab.set_policy("nope", "reflect")


def test_target_urls(lab: Lab) -> None:
    urls = lab.target_urls()
    assert urls[0] == f"{LAB_ORIGIN}/allowlist/private"
    assert len(urls) == len(POLICIES)
    assert lab.target_urls("https://127.0.0.1:9/")[1] == "https://127.0.0.1:9/wildcard/public"


def test_custom_legit_origins() -> None:
    lab = Lab(legit_origins=("https://frontend.test",))
    with TestClient(lab.app, base_url=LAB_ORIGIN) as c:
        r = c.get("/allowlist/public", headers={"Origin": "https://frontend.test"})
        assert r.headers["access-control-allow-origin"] == "https://frontend.test"
        r = c.get("/allowlist/public", headers={"Origin": LEGIT_ORIGIN})
        assert "access-control-allow-origin" not in r.headers


# -- BackgroundServer ------------------------------------------------------


@pytest.fixture(scope="module")
def ca() -> trustme.CA:
    return trustme.CA()


@pytest.fixture(scope="module")
def cert_files(ca: trustme.CA, tmp_path_factory: pytest.TempPathFactory) -> tuple[str, str]:
    cert = ca.issue_cert("api.example.com", "127.0.0.1")
    d = tmp_path_factory.mktemp("tls")
    pem = d / "cert.pem"
    cert.private_key_and_cert_chain_pem.write_to_path(str(pem))
    # One file holds key and chain; uvicorn reads the key from the same file.
    return str(pem), str(pem)


def _verify_context(ca: trustme.CA) -> ssl.SSLContext:
    ctx = ssl.create_default_context()
    ca.configure_trust(ctx)
    return ctx


def _port_is_free(port: int) -> bool:
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


def test_background_server_tls(ca: trustme.CA, cert_files: tuple[str, str]) -> None:
    lab = Lab()
    certfile, keyfile = cert_files
    server = BackgroundServer(lab.app, ssl_certfile=certfile, ssl_keyfile=keyfile, name="lab")
    try:
        server.start()
        assert server.url == f"https://127.0.0.1:{server.port}"
        with httpx.Client(verify=_verify_context(ca)) as c:
            r = c.get(
                f"{server.url}/allowlist/private",
                headers={"Origin": LEGIT_ORIGIN, "Cookie": f"{SESSION_COOKIE}={lab.session_value}"},
            )
        assert r.status_code == 200
        assert r.json()["secret"] == lab.secret_for("allowlist")
        assert r.headers["access-control-allow-origin"] == LEGIT_ORIGIN
        assert lab.log()[-1].host == f"127.0.0.1:{server.port}"
    finally:
        server.stop()
    assert not server.running
    assert _port_is_free(server.port)
    server.stop()  # idempotent


def test_background_server_context_manager_frees_port() -> None:
    with BackgroundServer(Lab().app) as server:
        port = server.port
        assert server.url == f"http://127.0.0.1:{port}"
        assert httpx.get(f"{server.url}/allowlist/public").status_code == 200
        assert not _port_is_free(port)
    assert _port_is_free(port)


def test_background_server_stops_quickly_with_idle_keepalive() -> None:
    server = BackgroundServer(Lab().app)
    server.start()
    try:
        client = httpx.Client()
        client.get(f"{server.url}/allowlist/public")  # leaves a keep-alive connection open
    finally:
        began = time.monotonic()
        server.stop()
        elapsed = time.monotonic() - began
    client.close()
    assert elapsed < 2.0


def test_background_server_stop_before_start_is_safe() -> None:
    server = BackgroundServer(Lab().app)
    server.stop()
    with pytest.raises(RuntimeError):
        _ = server.port


def test_background_server_port_in_use_is_launch_error() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        server = BackgroundServer(Lab().app, port=taken.getsockname()[1], name="lab")
        with pytest.raises(LaunchError, match=r"^lab: cannot listen on 127\.0\.0\.1:\d+: "):
            server.start()
        server.stop()


def test_background_server_bad_certificate_is_launch_error(tmp_path: Path) -> None:
    bogus = tmp_path / "bogus.pem"
    bogus.write_text("not a certificate\n")
    server = BackgroundServer(
        Lab().app, ssl_certfile=str(bogus), ssl_keyfile=str(bogus), name="lab"
    )
    with pytest.raises(LaunchError, match=r"^lab: cannot load TLS certificate") as info:
        server.start()
    server.stop()
    assert "\n" not in str(info.value)


def test_responses_are_not_delayed_by_nagle() -> None:
    # With Nagle on, uvicorn's separate head/body writes meet the client's
    # delayed ACK and every keep-alive response takes ~40 ms on loopback.
    with BackgroundServer(Lab().app) as server, httpx.Client(base_url=server.url) as c:
        c.get("/allowlist/public")
        times = []
        for _ in range(15):
            began = time.perf_counter()
            c.get("/allowlist/public")
            times.append(time.perf_counter() - began)
    assert statistics.median(times) < 0.025


@pytest.mark.parametrize(
    "host",
    ["app.example.com_.evil.test", "app.example.com`.evil.test", "app.example.com}.evil.test"],
)
def test_odd_host_headers_are_accepted_and_logged_verbatim(host: str) -> None:
    lab = Lab()
    with BackgroundServer(lab.app) as server:
        with socket.create_connection(("127.0.0.1", server.port), timeout=5) as s:
            s.sendall(
                b"GET /allowlist/public HTTP/1.1\r\nHost: "
                + host.encode()
                + b"\r\nConnection: close\r\n\r\n"
            )
            data = b""
            while chunk := s.recv(65536):
                data += chunk
        assert data.startswith(b"HTTP/1.1 200 ")
    assert lab.log()[-1].host == host
