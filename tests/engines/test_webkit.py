"""WebKit (WebKitGTK's WebDriver driving MiniBrowser): the engine session and real verdicts.

Every expectation is what WebKitGTK 2.50.6 was measured to do on Debian 12, not
what the headers suggest; where WebKit differs from Chromium or Firefox the
comment says so. ``lab_webkit`` runs the lab once, in both cookie profiles, with
most origin classes disabled so that it stays near a minute.
"""

from __future__ import annotations

import ast
import asyncio
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from conftest import HAVE_WEBKIT, LabRun, assert_witnesses_agree, lab_run

from harness.cli import build_parser, config_from_args
from harness.engines import playwright as browsers
from harness.engines import webkit as webkit_package
from harness.engines.paths import minibrowser
from harness.engines.playwright import SessionSetup
from harness.engines.webkit import webkit_session
from harness.engines.webkit.session import (
    OWNER_ENV,
    WebKitSession,
    _playwright_cookie,
    _webdriver_cookie,
)
from harness.engines.webkit.xvfb import Xvfb, display_usable
from harness.model.errors import NavigationError, ScriptError
from harness.model.results import CookiePolicy, Engine
from harness.serve.lab import Lab
from harness.serve.stack import Harness
from scenarios.plan import make_plan

needs_webkit = pytest.mark.skipif(
    not (HAVE_WEBKIT and minibrowser()),
    reason="WebKit needs /usr/bin/WebKitWebDriver, MiniBrowser and Xvfb "
    "(apt-get install webkit2gtk-driver xvfb)",
)
needs_xvfb = pytest.mark.skipif(shutil.which("Xvfb") is None, reason="Xvfb is not installed")

ATTACKER = "https://corsproof-attacker.test"
LEGIT = "https://app.example.com"
SIBLING = "https://evil.example.com"
KEPT_CLASSES = {"unrelated", "sibling-subdomain", "null", "special-char"}
ALL_CLASSES = [
    "unrelated",
    "post-domain",
    "pre-domain",
    "unescaped-dot",
    "substring",
    "sibling-subdomain",
    "deeper-subdomain",
    "scheme-downgrade",
    "other-port",
    "localhost",
    "user-content",
    "special-char",
    "null",
    "custom",
]
SPECIAL_CHARS = [
    "_",
    "`",
    "}",
    "{",
    "!",
    "$",
    "+",
    "~",
    "&",
    "'",
    "(",
    ")",
    "*",
    ",",
    ";",
    "=",
    '"',
]


def _our_browser_processes() -> set[int]:
    """Live processes that WebKit sessions of this test process started (zombies aside)."""
    marker = f"{OWNER_ENV}={os.getpid()}".encode()
    found = set()
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            if marker not in (proc / "environ").read_bytes().split(b"\0"):
                continue
            state = (proc / "stat").read_text().rsplit(")", 1)[1].split()[0]
        except OSError:
            continue
        if state != "Z":
            found.add(int(proc.name))
    return found


# -- no browser needed ------------------------------------------------------


def test_playwright_cookie_becomes_a_webdriver_cookie() -> None:
    host_only = _webdriver_cookie(
        {
            "name": "s",
            "value": "v",
            "domain": "api.example.com",
            "path": "/",
            "secure": True,
            "httpOnly": True,
            "sameSite": "None",
            "expires": -1,
        }
    )
    # WebDriver turns any cookie with a domain into a domain cookie, so a host-only
    # Playwright cookie must lose its domain.
    assert host_only == {
        "name": "s",
        "value": "v",
        "path": "/",
        "secure": True,
        "httpOnly": True,
        "sameSite": "None",
    }
    domain = _webdriver_cookie(
        {"name": "d", "value": "1", "domain": ".example.com", "sameSite": "lax", "expires": 2e9}
    )
    assert domain["domain"] == ".example.com"
    assert domain["sameSite"] == "Lax"
    assert domain["expiry"] == 2000000000
    back = _playwright_cookie({"name": "a", "value": "b", "domain": "x.test", "expiry": 5})
    assert back == {"name": "a", "value": "b", "domain": "x.test", "expires": 5}


WEBKIT_PACKAGE = Path(str(webkit_package.__file__)).parent


def _webkit_imports(module: str) -> set[str]:
    """The modules of the WebKit package that ``module`` imports, at the top or in a function."""
    tree = ast.parse((WEBKIT_PACKAGE / f"{module}.py").read_text("utf-8"))
    prefix = "harness.engines.webkit."
    found = set()
    for node in ast.walk(tree):
        names: list[str] = []
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = "harness.engines.webkit" if node.level else ""
            base = ".".join(p for p in (base, node.module or "") if p)
            # "from harness.engines.webkit import remote" names the module in names.
            names = [base, *(f"{base}.{a.name}" for a in node.names)]
        found |= {n.removeprefix(prefix).split(".")[0] for n in names if n.startswith(prefix)}
    return found - {module}


def test_webkit_modules_import_one_way() -> None:
    modules = sorted(p.stem for p in WEBKIT_PACKAGE.glob("*.py") if p.stem != "__init__")
    graph = {m: _webkit_imports(m) for m in modules}
    assert {"driver", "remote", "session"} <= set(graph)
    assert graph["driver"] == set(), "driver.py is the bottom: it imports no sibling"
    assert "session" not in graph["remote"] and "remote" not in graph["session"]
    done: set[str] = set()

    def visit(module: str, path: tuple[str, ...]) -> None:
        assert module not in path, f"import cycle: {' -> '.join((*path, module))}"
        if module not in done:
            for dep in sorted(graph.get(module, ())):
                visit(dep, (*path, module))
            done.add(module)

    for module in modules:
        visit(module, ())


def test_importing_the_remote_factory_loads_no_session() -> None:
    # A fresh interpreter: this one has imported everything already.
    code = (
        "import sys, harness.engines.webkit.remote\n"
        "print(' '.join(sorted(m for m in sys.modules if m.startswith('harness.engines.webkit'))))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code],
        cwd=WEBKIT_PACKAGE.parents[2],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    assert "harness.engines.webkit.driver" in out
    assert "harness.engines.webkit.session" not in out, out


@needs_xvfb
def test_xvfb_starts_on_distinct_free_displays_and_stops() -> None:
    with Xvfb() as one, Xvfb() as two:
        assert one.display != two.display
        assert int(one.display[1:]) >= 90
        assert display_usable(one.display) and display_usable(two.display)
        env = one.env({"WAYLAND_DISPLAY": "wayland-0"})
        assert env["DISPLAY"] == one.display and "WAYLAND_DISPLAY" not in env
    assert not display_usable(one.display)
    assert not one.running


# -- the session API, with the harness's proxy and page server ---------------


@pytest.fixture(scope="module")
def harness_proxy(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Harness, Lab]]:
    """The run's servers (page server, lab, proxy) without any browser."""
    lab = Lab()
    out = tmp_path_factory.mktemp("wk-harness")
    ns = build_parser().parse_args(
        ["verify", "--out", str(out), "--run-id", "x", "--format", "json", "--browser", "webkit"]
    )
    config = config_from_args(ns)
    harness = Harness(config, make_plan(config, lab.target_urls()), lab=lab)
    harness.start()
    try:
        yield harness, lab
    finally:
        harness.stop()


def _session(harness: Harness, lab: Lab, policy: CookiePolicy) -> WebKitSession:
    resolved = browsers.ResolvedEngine(
        Engine.WEBKIT, minibrowser() or "", "system", "/usr/bin/WebKitWebDriver"
    )
    tag = f"corsproof (webkit-{policy.value})"
    cookie = browsers.cookie_for_playwright(
        lab.session_cookie_name,
        lab.session_value,
        host="api.example.com",
        secure=True,
        same_site="None",
        http_only=True,
    )
    setup = SessionSetup(cookies=[cookie], proxy_url=harness.proxy.listener(tag))
    return webkit_session(resolved, policy, setup)


@pytest.mark.browser
@pytest.mark.slow
@needs_webkit
def test_session_api(harness_proxy: tuple[Harness, Lab]) -> None:
    harness, lab = harness_proxy

    async def go() -> dict[str, Any]:
        session = _session(harness, lab, CookiePolicy.PERMISSIVE)
        seen: dict[str, Any] = {}
        await session.start()
        try:
            seen["info"] = session.info
            seen["note"] = session.note
            page = await session.open_origin()
            try:
                seen["origin"] = await page.navigate(f"{ATTACKER}/__corsproof/probe", 20)
                seen["sum"] = await page.evaluate("([a, b]) => a + b", [2, 3], 10)
                seen["ua"] = await page.evaluate("() => navigator.userAgent", None, 10)
                seen["fetch"] = await page.evaluate(
                    "(u) => fetch(u, {credentials: 'include', cache: 'no-store'})"
                    ".then(r => r.status)",
                    "https://api.example.com/reflect/private",
                    20,
                )
                # Mixed content: from an https page WebKit refuses a plain-http
                # loopback URL that the same fetch from an http page reaches.
                loopback = f"{harness.proxy.url}/"
                no_cors = (
                    "(u) => fetch(u, {mode: 'no-cors', cache: 'no-store'})"
                    ".then(() => 'response', e => e.name)"
                )
                seen["mixed"] = await page.evaluate(no_cors, loopback, 20)
                with pytest.raises(ScriptError, match="boom"):
                    await page.evaluate("() => { throw new Error('boom') }", None, 10)
                with pytest.raises(ScriptError, match="nope"):
                    await page.evaluate("() => Promise.reject(new Error('nope'))", None, 10)
                with pytest.raises(TimeoutError):
                    await page.evaluate("() => new Promise(() => {})", None, 2)
                assert await page.cors_reasons() == {}
                await page.navigate("http://app.example.com/__corsproof/probe", 20)
                seen["plain"] = await page.evaluate(no_cors, loopback, 20)
            finally:
                await page.close()
            # Each origin is a new MiniBrowser, so the refused-URL checks get their own.
            refused = await session.open_origin()
            try:
                for url in ("https://exa mple.com/", "https://app.example.com|.evil.test/"):
                    with pytest.raises(NavigationError) as info:
                        await refused.navigate(url, 20)
                    assert info.value.invalid, url
                # A connection the proxy refuses is not a refused URL.
                with pytest.raises(NavigationError) as info:
                    await refused.navigate("https://nowhere.corsproof-attacker.test:4444/", 20)
                assert not info.value.invalid
                seen["special"] = {
                    ch: await refused.navigate(
                        f"https://app.example.com{ch}.evil.test/__corsproof/probe", 20
                    )
                    for ch in SPECIAL_CHARS
                }
            finally:
                await refused.close()
        finally:
            await session.close()
        return seen

    seen = asyncio.run(go())
    assert seen["info"].engine is Engine.WEBKIT
    assert seen["info"].version[:1].isdigit()
    assert "ITP off" in seen["note"]
    assert seen["origin"] == ATTACKER
    assert seen["sum"] == 5
    assert seen["ua"].endswith(" corsproof (webkit-permissive)")
    assert "AppleWebKit/" in seen["ua"]
    assert seen["fetch"] == 200  # the replayed first-party cookie went cross-site
    assert seen["mixed"] == "TypeError"
    assert seen["plain"] == "response"
    # WebKit accepts every one of these hosts in a URL (location.origin is exact);
    # for ';' it shows an error page there without connecting, which the runner
    # detects (probe script absent, proxy never asked). Chromium and Firefox refuse
    # more of them (docs/engines.md).
    assert seen["special"] == {ch: f"https://app.example.com{ch}.evil.test" for ch in SPECIAL_CHARS}
    assert _our_browser_processes() == set(), "browser processes left behind"


# -- real verdicts from a lab run --------------------------------------------


@pytest.fixture(scope="module")
def lab_webkit(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LabRun]:
    """The lab in WebKit, both cookie profiles, two origins per kept class."""
    if not (HAVE_WEBKIT and minibrowser()):
        pytest.skip("WebKit needs WebKitWebDriver, MiniBrowser and Xvfb")
    out: Path = tmp_path_factory.mktemp("lab-webkit")
    disabled = [a for c in ALL_CLASSES if c not in KEPT_CLASSES for a in ("--disable-class", c)]
    run = lab_run(
        out, "--browser", "webkit", "--cookie-policy", "both", "--per-class", "2", *disabled
    )
    assert _our_browser_processes() == set(), "browser processes left behind"
    yield run


def _probes(run: LabRun, **match: Any) -> list[dict[str, Any]]:
    found = run.probes(engine="webkit", credentials="include", shape="simple-get", **match)
    assert found, f"no probe matched {match}"
    return found


@pytest.mark.browser
@pytest.mark.slow
def test_webkit_ran_cleanly(lab_webkit: LabRun) -> None:
    data = lab_webkit.data
    assert [b["engine"] for b in data["browsers"]] == ["webkit"]
    assert data["browsers"][0]["version"][:1].isdigit()
    assert data["errors"] == []
    assert [(p["id"], p["error"]) for p in data["probes"] if p["outcome"] == "error"] == []
    for p in data["probes"]:
        if p["via"] == "page":
            assert p["page_origin"] == p["origin"], p


@pytest.mark.browser
@pytest.mark.slow
def test_the_wire_and_the_lab_log_agree_on_every_cookie_in_webkit(lab_webkit: LabRun) -> None:
    assert_witnesses_agree(lab_webkit)


def test_every_lab_request_carries_the_profile_tag(lab_webkit: LabRun) -> None:
    tags = {
        e.user_agent.rsplit(" corsproof (", 1)[-1]
        for e in lab_webkit.log
        # The replayer's own evidence requests carry no browser UA.
        if e.origin is not None and "AppleWebKit/" in (e.user_agent or "")
    }
    assert tags == {"webkit-default)", "webkit-permissive)"}


@pytest.mark.browser
@pytest.mark.slow
def test_reflect_cookies_per_profile(lab_webkit: LabRun) -> None:
    # default = ITP on (as Safari ships): no cookie cross-site, so the attacker reads
    # the 401. Like Firefox's Total Cookie Protection; unlike Chromium's default.
    default = _probes(lab_webkit, policy="reflect", origin=ATTACKER, cookie_policy="default")
    assert all(p["readable"] and p["status"] == 401 for p in default)
    assert all(p["cookie_sent"] is False for p in default)
    # permissive = WebKitGTK's own default (ITP off): the SameSite=None cookie goes
    # cross-site and the attacker reads the secret.
    permissive = _probes(lab_webkit, policy="reflect", origin=ATTACKER, cookie_policy="permissive")
    assert all(p["readable"] and p["status"] == 200 for p in permissive)
    assert all(p["cookie_sent"] is True for p in permissive)
    secret = _probes(lab_webkit, policy="reflect", origin=LEGIT, cookie_policy="default")
    assert {p["body_hash"] for p in permissive} == {secret[0]["body_hash"]}
    # The lab's own log agrees.
    sent = {
        (e.user_agent.rsplit("corsproof (", 1)[-1], "lab_session" in e.cookies)
        for e in lab_webkit.log
        if e.path == "/reflect/private" and e.origin == ATTACKER and e.method == "GET"
    }
    assert ("webkit-default)", True) not in sent
    assert ("webkit-permissive)", True) in sent


@pytest.mark.browser
@pytest.mark.slow
def test_sibling_subdomain_gets_cookies_even_with_itp(lab_webkit: LabRun) -> None:
    for policy in ("default", "permissive"):
        probes = _probes(lab_webkit, policy="any-subdomain", origin=SIBLING, cookie_policy=policy)
        assert all(p["readable"] and p["cookie_sent"] is True for p in probes), policy


@pytest.mark.browser
@pytest.mark.slow
def test_allowlist_readable_only_from_the_allowlisted_origin(lab_webkit: LabRun) -> None:
    readable = {
        p["origin"] for p in lab_webkit.probes(policy="allowlist", engine="webkit") if p["readable"]
    }
    assert readable == {LEGIT}
    assert lab_webkit.findings("allowlist") == set()


@pytest.mark.browser
@pytest.mark.slow
def test_wildcard_credentials_never_readable_with_credentials(lab_webkit: LabRun) -> None:
    probes = lab_webkit.probes(
        policy="wildcard-credentials", engine="webkit", credentials="include"
    )
    assert probes and not any(p["readable"] for p in probes)
    anonymous = lab_webkit.probes(
        policy="wildcard-credentials", engine="webkit", credentials="omit", shape="simple-get"
    )
    assert anonymous and all(p["readable"] for p in anonymous)


@pytest.mark.browser
@pytest.mark.slow
@pytest.mark.parametrize("via", ["sandbox-srcdoc", "data-iframe", "redirect"])
def test_null_is_produced_every_way(lab_webkit: LabRun, via: str) -> None:
    for policy, cookie in (("default", False), ("permissive", True)):
        probes = _probes(lab_webkit, policy="null", origin="null", via=via, cookie_policy=policy)
        assert all(p["readable"] for p in probes), (via, policy)
        # ITP treats the opaque-origin frame as third-party: no cookie by default,
        # as Firefox does; with ITP off the cookie goes and the secret is read.
        assert all(p["cookie_sent"] is cookie for p in probes), (via, policy)
        assert all(p["status"] == (200 if cookie else 401) for p in probes), (via, policy)
    assert any(e.origin == "null" and e.path == "/null/private" for e in lab_webkit.log)
    assert not lab_webkit.probes(policy="allowlist", origin="null", via=via, readable=True)


@pytest.mark.browser
@pytest.mark.slow
def test_special_char_hosts_are_producible_in_webkit(lab_webkit: LabRun) -> None:
    special = [p for p in lab_webkit.data["probes"] if p["origin_class"] == "special-char"]
    assert special
    assert not [p for p in special if p["outcome"] == "not-producible"]
    assert all(p["page_origin"] == p["origin"] for p in special)
    assert "special-char-bypass" in lab_webkit.findings("special-char")
