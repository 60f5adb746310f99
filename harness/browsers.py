"""Finding and driving real browsers.

An :class:`EngineSession` is one running browser for one cookie profile. It opens
one fresh, isolated context per origin (:meth:`EngineSession.open_origin`), and
the :class:`OriginPage` it returns runs batches of probes inside the page.

Measured facts this module relies on are written down in ``docs/engines.md``.
Never call ``route`` on a probing context: Playwright would answer CORS preflights
itself and a blocked request would look readable.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import shutil
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from harness.config import EngineChoice
from harness.errors import LaunchError
from harness.models import BrowserInfo, CookiePolicy, Engine

CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-default-apps",
    "--no-first-run",
    "--disable-features=HttpsUpgrades,LocalNetworkAccessChecks,HttpsFirstBalancedModeAutoEnable",
]

FIREFOX_PREFS: dict[str, Any] = {
    # Without these Firefox upgrades http:// pages and http origins cannot be tested.
    "dom.security.https_first": False,
    "dom.security.https_first_schemeless": False,
    "dom.security.https_first_pbm": False,
    "network.lna.blocking": False,
    # Loopback names (localhost, 127.0.0.1) must go through the harness proxy too,
    # or localhost attacker origins cannot be produced.
    "network.proxy.allow_hijacking_localhost": True,
    "network.captive-portal-service.enabled": False,
    "network.connectivity-service.enabled": False,
    "browser.safebrowsing.malware.enabled": False,
    "browser.safebrowsing.phishing.enabled": False,
}

PROBE_FRAGMENT = "#corsproof="
"""Appended to each probe URL so engine events can be tied to one probe."""

INSTALL_HINTS = {
    Engine.CHROMIUM: "install it with `apt-get install chromium` (Debian) or "
    "`python -m playwright install chromium`, or pass --browser chromium=/path/to/chrome",
    Engine.FIREFOX: "install it with `apt-get install firefox-esr` (Debian) or "
    "`python -m playwright install firefox`, or pass --browser firefox=/path/to/firefox",
    Engine.WEBKIT: "install it with `apt-get install webkit2gtk-driver xvfb` (Debian), "
    "or `python -m playwright install webkit`",
}


@dataclass(frozen=True)
class ResolvedEngine:
    """An engine mapped to a concrete executable."""

    engine: Engine
    executable: str
    source: str
    """``system``, ``playwright`` or ``explicit``."""
    driver: str = ""
    """For WebKitGTK: the WebKitWebDriver path."""


class EngineMissing(LaunchError):
    """The engine is not installed; the message says how to get it."""


def _playwright_executable(engine: Engine) -> str | None:
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:  # pragma: no cover - playwright is a dependency
        return None
    # Only the path is wanted; reading it starts the driver but no browser.
    try:
        with sync_playwright() as p:
            path = getattr(p, engine.value).executable_path
    except Exception:
        return None
    return path if path and Path(path).exists() else None


def _minibrowser() -> str | None:
    for lib in sorted(Path("/usr/lib").glob("*/webkit2gtk-4.*/MiniBrowser")):
        return str(lib)
    return None


def resolve(choice: EngineChoice) -> ResolvedEngine:
    """Find an executable for the engine; raises :class:`EngineMissing` with an install hint."""
    engine = choice.engine
    if choice.path:
        if engine is Engine.WEBKIT:
            driver = shutil.which("WebKitWebDriver") or "/usr/bin/WebKitWebDriver"
            return ResolvedEngine(engine, choice.path, "explicit", driver)
        return ResolvedEngine(engine, choice.path, "explicit")
    if engine is Engine.CHROMIUM:
        for cand in ("/usr/bin/chromium", "/usr/bin/chromium-browser"):
            if Path(cand).exists():
                return ResolvedEngine(engine, cand, "system")
    elif engine is Engine.FIREFOX:
        for cand in ("/usr/bin/firefox-esr", "/usr/bin/firefox"):
            if Path(cand).exists():
                return ResolvedEngine(engine, cand, "system")
    elif engine is Engine.WEBKIT:
        found = shutil.which("WebKitWebDriver")
        mini = _minibrowser()
        if found and mini and shutil.which("Xvfb"):
            return ResolvedEngine(engine, mini, "system", found)
    managed = _playwright_executable(engine)
    if managed:
        return ResolvedEngine(engine, managed, "playwright")
    raise EngineMissing(f"{engine.value} not found: {INSTALL_HINTS[engine]}")


class OriginPage(Protocol):
    """A page that has (or tried to get) one origin, ready to run probe batches."""

    async def navigate(self, url: str, timeout: float) -> str:
        """Load ``url``; returns ``location.origin``. Raises NavigationError."""

    async def evaluate(self, expression: str, arg: Any, timeout: float) -> Any:
        """Evaluate a function expression with one JSON argument inside the page."""

    async def cors_reasons(self) -> Mapping[str, str]:
        """Engine CORS error reasons seen so far, by probe id (where the engine offers them)."""

    async def close(self) -> None:
        """Dispose of the page and its context."""


class EngineSession(Protocol):
    """One running browser for one cookie profile."""

    info: BrowserInfo
    cookie_policy: CookiePolicy
    user_agent_tag: str

    async def open_origin(self) -> OriginPage:
        """A fresh isolated context with the victim's session, and a blank page."""

    async def close(self) -> None:
        """Shut the browser down."""


class NavigationError(Exception):
    """The page could not be loaded; ``invalid`` is True when the URL itself was refused."""

    def __init__(self, message: str, *, invalid: bool = False) -> None:
        super().__init__(message)
        self.invalid = invalid


_INVALID_URL_MARKERS = (
    "invalid url",
    "cannot navigate to invalid url",
    "ns_error_malformed_uri",
    "err_invalid_url",
    "malformed",
)


@dataclass
class SessionSetup:
    """How to give every context the victim's session."""

    cookies: Sequence[Mapping[str, Any]] = ()
    storage_state: str | None = None
    login_url: str | None = None
    proxy_url: str = ""
    accept_downloads: bool = False


class PlaywrightOriginPage:
    """An :class:`OriginPage` over a Playwright context."""

    def __init__(self, context: Any, page: Any, cdp: Any | None) -> None:
        self._context = context
        self._page = page
        self._cdp = cdp
        self._reasons: dict[str, str] = {}
        self._net_errors: dict[str, str] = {}
        self._urls: dict[str, str] = {}
        if cdp is not None:
            cdp.on("Network.requestWillBeSent", self._on_request)
            cdp.on("Network.loadingFailed", self._on_failed)

    def _on_request(self, params: Mapping[str, Any]) -> None:
        # Each probe URL carries "#corsproof=<probe id>"; the fragment never reaches
        # the server, but CDP reports it, so a failure maps to exactly one probe.
        fragment = str((params.get("request") or {}).get("urlFragment") or "")
        if fragment.startswith(PROBE_FRAGMENT) and len(self._urls) < 50000:
            self._urls[str(params.get("requestId"))] = fragment[len(PROBE_FRAGMENT) :]

    def _on_failed(self, params: Mapping[str, Any]) -> None:
        probe = self._urls.get(str(params.get("requestId")))
        if probe is None or len(self._reasons) >= 50000:
            return
        status = params.get("corsErrorStatus")
        if status:
            err = status.get("corsError", "")
            param = status.get("failedParameter", "")
            self._reasons[probe] = f"{err} ({param})" if param else str(err)
        elif params.get("errorText") and not params.get("canceled"):
            self._net_errors[probe] = str(params["errorText"])[:200]

    async def navigate(self, url: str, timeout: float) -> str:
        try:
            await self._page.goto(url, wait_until="load", timeout=timeout * 1000)
        except Exception as exc:
            text = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            low = text.lower()
            raise NavigationError(
                text, invalid=any(m in low for m in _INVALID_URL_MARKERS)
            ) from None
        return str(await self._page.evaluate("() => location.origin"))

    async def evaluate(self, expression: str, arg: Any, timeout: float) -> Any:
        return await asyncio.wait_for(self._page.evaluate(expression, arg), timeout)

    async def cors_reasons(self) -> Mapping[str, str]:
        return dict(self._reasons)

    async def net_errors(self) -> Mapping[str, str]:
        """Network failures that were not CORS blocks, by probe id (Chromium only)."""
        return dict(self._net_errors)

    async def close(self) -> None:
        with contextlib.suppress(Exception):
            await asyncio.wait_for(self._context.close(), 10)


class PlaywrightSession:
    """Chromium or Firefox through Playwright (Firefox over WebDriver BiDi)."""

    def __init__(
        self,
        pw: Any,
        resolved: ResolvedEngine,
        cookie_policy: CookiePolicy,
        setup: SessionSetup,
        *,
        insecure_targets: bool = True,
    ) -> None:
        self.resolved = resolved
        self.cookie_policy = cookie_policy
        self.setup = setup
        self._pw = pw
        self._browser: Any = None
        self._persistent: Any = None
        self._profile_dir: str | None = None
        self._state: Any = None
        self.user_agent_tag = f"corsproof ({resolved.engine.value}-{cookie_policy.value})"
        self._ua: str | None = None
        self.info = BrowserInfo(resolved.engine, "", resolved.source, resolved.executable)

    async def start(self, timeout: float = 60.0) -> None:
        """Launch the browser and prepare the victim's session state."""
        try:
            await asyncio.wait_for(self._launch(), timeout)
        except TimeoutError:
            raise LaunchError(
                f"{self.resolved.engine.value} did not start within {timeout:.0f}s"
            ) from None
        except LaunchError:
            raise
        except Exception as exc:
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise LaunchError(f"{self.resolved.engine.value} failed to start: {first}") from None
        self.info = BrowserInfo(
            self.resolved.engine,
            str(self._browser.version),
            self.resolved.source,
            self.resolved.executable,
        )
        await self._prepare_state()

    async def _launch(self) -> None:
        engine = self.resolved.engine
        if engine is Engine.CHROMIUM:
            # A context from new_context() is an incognito profile that blocks
            # third-party cookies, which no default Chrome does. Contexts created
            # inside a browser launched on a profile whose Preferences allow them
            # inherit that setting (measured; docs/engines.md).
            self._profile_dir = tempfile.mkdtemp(prefix="corsproof-chromium-")
            default = Path(self._profile_dir, "Default")
            default.mkdir()
            (default / "Preferences").write_text(
                json.dumps(
                    {"profile": {"cookie_controls_mode": 0, "block_third_party_cookies": False}}
                )
            )
            kwargs: dict[str, Any] = {"headless": True, "args": CHROMIUM_ARGS}
            if self.resolved.source != "playwright":
                kwargs["executable_path"] = self.resolved.executable
            self._persistent = await self._pw.chromium.launch_persistent_context(
                self._profile_dir, **kwargs
            )
            self._browser = self._persistent.browser
            if self._browser is None:
                raise LaunchError("chromium: persistent launch gave no browser handle")
        elif engine is Engine.FIREFOX:
            prefs = dict(FIREFOX_PREFS)
            if self.cookie_policy is CookiePolicy.PERMISSIVE:
                prefs["network.cookie.cookieBehavior"] = 0
            fkw: dict[str, Any] = {"headless": True, "firefox_user_prefs": prefs}
            if self.resolved.source != "playwright":
                fkw["channel"] = "moz-firefox"
                fkw["executable_path"] = self.resolved.executable
            self._browser = await self._pw.firefox.launch(**fkw)
        elif self.resolved.source == "playwright":
            # Playwright's own WebKit build (a user's laptop): labelled as such in the
            # report; it is neither Safari nor the WebKitGTK corsproof tests here.
            self._browser = await self._pw.webkit.launch(headless=True)
        else:
            raise LaunchError(f"{engine.value} is not driven through Playwright")

    def _context_options(self) -> dict[str, Any]:
        opts: dict[str, Any] = {
            "ignore_https_errors": True,
            "proxy": {"server": self.setup.proxy_url, "bypass": ""},
            "service_workers": "block",
        }
        if self._ua:
            opts["user_agent"] = f"{self._ua} {self.user_agent_tag}"
        return opts

    async def _prepare_state(self) -> None:
        ctx = await self._browser.new_context(**self._context_options())
        try:
            page = await ctx.new_page()
            self._ua = str(await page.evaluate("() => navigator.userAgent"))
            if self.setup.storage_state:
                state = json.loads(Path(self.setup.storage_state).read_text("utf-8"))
                if state.get("cookies"):
                    await ctx.add_cookies(state["cookies"])
            if self.setup.cookies:
                await ctx.add_cookies([dict(c) for c in self.setup.cookies])
            if self.setup.login_url:
                # Visited first-party, so the app sets its own cookies as it would
                # for a user who logged in.
                await page.goto(self.setup.login_url, wait_until="load", timeout=30000)
            self._state = await ctx.storage_state()
        finally:
            await ctx.close()

    async def open_origin(self) -> OriginPage:
        opts = self._context_options()
        if self._state is not None:
            opts["storage_state"] = self._state
        context = await self._browser.new_context(**opts)
        page = await context.new_page()
        cdp = None
        if self.resolved.engine is Engine.CHROMIUM:
            cdp = await context.new_cdp_session(page)
            await cdp.send("Network.enable")
        return PlaywrightOriginPage(context, page, cdp)

    async def close(self) -> None:
        with contextlib.suppress(Exception):
            if self._persistent is not None:
                await asyncio.wait_for(self._persistent.close(), 15)
            elif self._browser is not None:
                await asyncio.wait_for(self._browser.close(), 15)
        if self._profile_dir:
            shutil.rmtree(self._profile_dir, ignore_errors=True)


def cookie_for_playwright(
    name: str,
    value: str,
    *,
    host: str,
    secure: bool,
    same_site: str,
    path: str = "/",
    domain: str | None = None,
    http_only: bool = False,
) -> dict[str, Any]:
    """A cookie dict in the shape ``BrowserContext.add_cookies`` accepts."""
    cookie: dict[str, Any] = {
        "name": name,
        "value": value,
        "path": path,
        "secure": secure,
        "httpOnly": http_only,
        "sameSite": same_site,
    }
    cookie["domain"] = f".{domain}" if domain else host
    return cookie


def environment_ok() -> bool:
    """True when a display or Xvfb is available for engines that need one."""
    return bool(os.environ.get("DISPLAY")) or shutil.which("Xvfb") is not None
