"""Finding and driving real browsers.

An :class:`EngineSession` is one running browser for one cookie profile. By default
it keeps one shared context (the victim's one jar) whose long-lived pages navigate
from origin to origin; with ``--isolate-origins`` it opens one fresh context per
origin (:meth:`EngineSession.open_origin`). The :class:`OriginPage` it returns runs
batches of probes inside the page.

Measured facts this module relies on are written down in ``docs/engines.md``.
Never call ``route`` on a probing context: Playwright would answer CORS preflights
itself and a blocked request would look readable.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
import shutil
import socket
import tempfile
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import urlsplit

from harness.config import (
    CONNECT_ENDPOINT,
    LAUNCH_OPTIONS_HEADER,
    EngineChoice,
    LaunchAdjuster,
    RemoteEndpoint,
    is_loopback,
)
from harness.engines.paths import find as find_system
from harness.engines.paths import minibrowser, remote_executable
from harness.model.errors import (
    BrowserGone,
    EngineMissing,
    LaunchError,
    NavigationError,
    ScriptError,
    first_line,
)
from harness.model.results import BrowserInfo, CookiePolicy, Engine, base_url, user_agent_tag

CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-default-apps",
    "--no-first-run",
    "--disable-features=HttpsUpgrades,LocalNetworkAccessChecks,HttpsFirstBalancedModeAutoEnable",
]

SHARED_PROCESS_ARGS = ["--disable-site-isolation-trials"]
SHARED_PROCESS_FEATURES = "IsolateOrigins,site-per-process"
"""Chromium, shared contexts only: one renderer for pages of many sites instead of a
process swap on every cross-site navigation. CORS, cookies and ORB are enforced in
the network service, not the renderer; the isolation differential test compares
these verdicts with ``--isolate-origins`` (site isolation on). docs/engines.md."""

SHARED_PROCESS_PREFS: dict[str, Any] = {"fission.autostart": False}
"""Firefox, shared contexts only: Fission off, so navigating a page to another site
does not move it to a new content process (measured: docs/engines.md)."""


def chromium_args(*, shared: bool) -> list[str]:
    """Chromium's command line: :data:`CHROMIUM_ARGS`, plus site isolation off when shared.

    Chromium honours only the last ``--disable-features``, so the lists are merged.
    """
    if not shared:
        return list(CHROMIUM_ARGS)
    out = []
    for arg in CHROMIUM_ARGS:
        if arg.startswith("--disable-features="):
            arg = f"{arg},{SHARED_PROCESS_FEATURES}"
        out.append(arg)
    return [*out, *SHARED_PROCESS_ARGS]


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
    """``system``, ``playwright``, ``explicit`` or ``remote``."""
    driver: str = ""
    """For WebKitGTK: the WebKitWebDriver path."""
    remote: RemoteEndpoint | None = None
    """Set when the engine runs on another machine; ``executable`` is then a label."""
    why: str = ""
    """Why this build was picked (``--browser-source``), for the report and the terminal."""
    adjust: LaunchAdjuster | None = field(default=None, compare=False, repr=False)
    """The embedder's own launch options, merged in (:attr:`EngineChoice.adjust`)."""

    def launch_options(self, options: dict[str, Any]) -> dict[str, Any]:
        """``options`` as the embedder's :class:`LaunchAdjuster` changes them, if any."""
        return options if self.adjust is None else self.adjust.launch(self.engine, options)

    def connect_options(self, options: dict[str, Any]) -> dict[str, Any]:
        """``BrowserType.connect`` options as the embedder's adjuster changes them, if any."""
        return options if self.adjust is None else self.adjust.connect(self.engine, options)


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


async def start_playwright() -> tuple[Any, Any]:
    """Start Playwright's driver in a session of its own; returns (context manager, api).

    Ctrl-C in a terminal signals the whole foreground process group. In ours, the
    driver (and every browser it launched) would die at once, and the run would
    record that as a browser crash before it could stop cleanly. In its own session
    only corsproof sees the signal and closes the browsers itself; the driver still
    exits when corsproof does, because its stdin pipe closes.
    """
    from playwright.async_api import async_playwright

    spawn = asyncio.create_subprocess_exec

    async def own_session(*args: Any, **kwargs: Any) -> Any:
        kwargs.setdefault("start_new_session", True)
        return await spawn(*args, **kwargs)

    manager = async_playwright()
    # Playwright spawns the driver with asyncio.create_subprocess_exec and offers no
    # option for it; the wrapper is in place only while the driver starts.
    asyncio.create_subprocess_exec = own_session
    try:
        api = await manager.start()
    finally:
        asyncio.create_subprocess_exec = spawn
    return manager, api


BROWSER_SOURCES = ("auto", "system", "playwright")
"""``--browser-source``: where an engine's browser comes from when no path is named."""


def resolve(choice: EngineChoice, source: str = "auto") -> ResolvedEngine:
    """Find an executable for the engine (:func:`_resolve`), keeping ``choice.adjust``."""
    resolved = _resolve(choice, source)
    return resolved if choice.adjust is None else replace(resolved, adjust=choice.adjust)


def _resolve(choice: EngineChoice, source: str = "auto") -> ResolvedEngine:
    """Find an executable for the engine; raises :class:`EngineMissing` with an install hint.

    ``source`` is ``system`` (only the system build, :mod:`harness.system_browsers`),
    ``playwright`` (only Playwright's own build, from ``python -m playwright install``)
    or ``auto``: the system build when there is a usable one (the builds corsproof's
    engine facts were measured on), else Playwright's. ``ResolvedEngine.why`` says
    which was picked and why. A path named with ``--browser`` or a ``--remote``
    engine is taken as given.
    """
    engine = choice.engine
    if choice.remote is not None:
        # Nothing to find here: the browser machine has it (or says it has not when
        # the session starts).
        where = remote_executable(choice.remote) or "the server's default browser"
        return ResolvedEngine(
            engine, f"{where} at {choice.remote.display}", "remote", remote=choice.remote
        )
    if choice.path:
        driver = ""
        if engine is Engine.WEBKIT:
            driver = shutil.which("WebKitWebDriver") or "/usr/bin/WebKitWebDriver"
        return ResolvedEngine(engine, choice.path, "explicit", driver, why="named with --browser")
    system, system_why = (None, "") if source == "playwright" else find_system(engine.value)
    if system is not None:
        why = f"--browser-source {source}: {system_why}"
        if engine is Engine.WEBKIT:
            mini = minibrowser() or ""
            return ResolvedEngine(engine, mini, "system", system, why=why)
        return ResolvedEngine(engine, system, "system", why=why)
    managed = None if source == "system" else _playwright_executable(engine)
    if managed:
        why = (
            "--browser-source playwright"
            if source == "playwright"
            else (f"--browser-source auto: {system_why}, so Playwright's own build")
        )
        return ResolvedEngine(engine, managed, "playwright", why=f"{why} ({managed})")
    if source == "system":
        raise EngineMissing(
            f"{engine.value} not found: {system_why} (--browser-source system); "
            f"{INSTALL_HINTS[engine]}"
        )
    if source == "playwright":
        raise EngineMissing(
            f"{engine.value} not found: no Playwright-managed build (--browser-source "
            f"playwright); install it with `python -m playwright install --with-deps "
            f"{engine.value}`"
        )
    raise EngineMissing(
        f"{engine.value} not found ({system_why}; no Playwright-managed build either): "
        f"{INSTALL_HINTS[engine]}"
    )


def reachable_proxy_url(proxy_url: str, browser_host: str) -> str:
    """The proxy URL as a browser on ``browser_host`` must be given it.

    A wildcard bind (``0.0.0.0``) is no address a browser can connect to; the
    address of the local interface on the route to the browser machine is.
    """
    parts = urlsplit(proxy_url)
    host = parts.hostname or ""
    if host not in ("0.0.0.0", "::", ""):
        return proxy_url
    if is_loopback(browser_host):
        address = "127.0.0.1"
    else:
        family = socket.AF_INET6 if ":" in browser_host else socket.AF_INET
        probe = socket.socket(family, socket.SOCK_DGRAM)
        try:
            # A UDP "connect" sends nothing; it only picks the route and source address.
            probe.connect((browser_host.strip("[]"), 9))
            address = probe.getsockname()[0]
        except OSError as exc:
            raise LaunchError(
                f"no route to the browser machine {browser_host}: {exc.strerror or exc}"
            ) from None
        finally:
            probe.close()
    return base_url(parts.scheme, address, parts.port or 0)


class OriginPage(Protocol):
    """A page that has (or tried to get) one origin, ready to run probe batches."""

    async def navigate(self, url: str, timeout: float) -> str:
        """Load ``url``; returns ``location.origin``. Raises NavigationError."""

    async def evaluate(self, expression: str, arg: Any, timeout: float) -> Any:
        """Evaluate a function expression with one JSON argument inside the page."""

    async def cors_reasons(self) -> Mapping[str, str]:
        """Engine CORS error reasons seen so far, by probe id (where the engine offers them)."""

    async def close(self, *, reset_jar: bool = True) -> None:
        """Dispose of the page and its context, or hand a reused page back.

        ``reset_jar`` False: no target can have changed the cookie jar while this
        origin probed (the wire saw no ``Set-Cookie``), so a reused browser or context
        keeps its jar as it is instead of putting the victim's back.
        """


class EngineSession(Protocol):
    """One running browser for one cookie profile."""

    info: BrowserInfo
    cookie_policy: CookiePolicy
    user_agent_tag: str

    async def open_origin(self, slot: int | None = None) -> OriginPage:
        """A page with the victim's session, ready to navigate to one origin.

        ``slot`` None: a fresh isolated context of its own (``--isolate-origins``).
        Otherwise a long-lived page of the shared context numbered ``slot``; closing
        it hands it back for the next origin, unless it broke.
        """

    async def close(self) -> None:
        """Shut the browser down."""


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
    login_urls: Sequence[str] = ()
    proxy_url: str = ""
    accept_downloads: bool = False
    isolate_origins: bool = False
    """One fresh context per origin, with the engines' process isolation as shipped."""


REMOTE_CONNECT_TIMEOUT = 45.0
"""Seconds for the browser server to answer and launch the browser (Firefox: 5-9 s)."""

UNSAFE_PROBE_PATH = "/nonexistent/corsproof-checks-run-server-unsafe"
"""An executable path no machine has: a server that honours it fails naming it."""

COOKIE_CONTROLS_PAGE = "chrome://settings/cookies"
"""A page of the default profile that may set profile preferences (``settingsPrivate``)."""

COOKIE_CONTROLS_SCRIPT = (
    "new Promise((done, fail) => {"
    " const sp = chrome.settingsPrivate;"
    " sp.setPref('profile.cookie_controls_mode', 0, '', () =>"
    "  sp.getPref('profile.cookie_controls_mode', p => done(p.value)));"
    " setTimeout(() => fail(new Error('settingsPrivate did not answer')), 5000); })"
)
"""Sets Chrome's "third-party cookies" setting to "allow" (0) and reads it back."""


def _camel_keys(options: Mapping[str, Any]) -> dict[str, Any]:
    """Launch options as a browser server reads them from its header: ``executablePath``,
    not ``executable_path`` (values, such as a preferences dict, are kept as they are)."""
    return {re.sub(r"_([a-z])", lambda m: m.group(1).upper(), k): v for k, v in options.items()}


def _remote_failure(engine: Engine, remote: RemoteEndpoint, exc: BaseException) -> str:
    """One line for a browser server that could not give us the browser."""
    line = f"{engine.value} at {remote.display}: {first_line(exc)}"
    # "Connection.init" errors come from the server's own launch: it was reached.
    if "Connection.init" in str(exc) and "executable doesn't exist" in str(exc).lower():
        line += " (is the browser installed at that path on the browser machine?)"
    return line


async def _check_unsafe_server(
    browser_type: Any, remote: RemoteEndpoint, resolved: ResolvedEngine | None = None
) -> None:
    """Raise unless the server applies corsproof's executable path, arguments and prefs.

    ``playwright run-server`` without ``--unsafe`` silently drops them (measured with
    1.63: it launches its own browser, without the flags corsproof relies on). Asking
    it to launch a path that exists nowhere tells the two apart in about 0.1 s: a
    server that honours the path fails naming it.
    """
    engine = browser_type.name
    options: dict[str, Any] = {
        CONNECT_ENDPOINT: remote.url,
        "headers": {LAUNCH_OPTIONS_HEADER: json.dumps({"executablePath": UNSAFE_PROBE_PATH})},
        "timeout": REMOTE_CONNECT_TIMEOUT * 1000,
    }
    if resolved is not None:
        options = resolved.connect_options(options)
    try:
        stray = await browser_type.connect(**options)
    except Exception as exc:
        if UNSAFE_PROBE_PATH in str(exc):
            return
        if "Connection.init" not in str(exc):
            # Not reached at all (refused, DNS, TLS, version mismatch, not a server).
            raise LaunchError(f"{engine} at {remote.display}: {first_line(exc)}") from None
    else:
        with contextlib.suppress(Exception):
            await stray.close()
    raise LaunchError(
        f"{engine} at {remote.display}: the browser server ignores corsproof's launch "
        "options (executable, arguments, preferences); start it with "
        "`playwright run-server --unsafe`"
    )


async def _allow_third_party_cookies(browser: Any) -> None:
    """Set the browser's default profile to allow third-party cookies, as Chrome ships.

    Contexts from ``new_context()`` are incognito-like and block third-party cookies
    unless the profile they derive from says otherwise. Locally that is a Preferences
    file; a server-launched browser has none of ours, so the preference is set at
    run time from a settings page of the default profile (measured; docs/engines.md).
    Raises when it cannot be done.
    """
    session = await browser.new_browser_cdp_session()
    target_id = ""
    try:
        created = await session.send("Target.createTarget", {"url": COOKIE_CONTROLS_PAGE})
        target_id = created["targetId"]
        # Playwright exposes no default context for a connected browser, so the page
        # is driven over the (unflattened) target session of this CDP session.
        attached = await session.send(
            "Target.attachToTarget", {"targetId": target_id, "flatten": False}
        )
        replies: dict[int, asyncio.Future[dict[str, Any]]] = {}

        def on_message(event: Mapping[str, Any]) -> None:
            message = json.loads(event.get("message") or "{}")
            future = replies.get(message.get("id", -1))
            if future is not None and not future.done():
                future.set_result(message)

        session.on("Target.receivedMessageFromTarget", on_message)
        last = ""
        # The first tries may land in about:blank before the settings page commits.
        for attempt in range(1, 21):
            replies[attempt] = asyncio.get_running_loop().create_future()
            await session.send(
                "Target.sendMessageToTarget",
                {
                    "sessionId": attached["sessionId"],
                    "message": json.dumps(
                        {
                            "id": attempt,
                            "method": "Runtime.evaluate",
                            "params": {
                                "expression": COOKIE_CONTROLS_SCRIPT,
                                "awaitPromise": True,
                                "returnByValue": True,
                            },
                        }
                    ),
                },
            )
            reply = await asyncio.wait_for(replies[attempt], 10)
            result = reply.get("result") or {}
            if (result.get("result") or {}).get("value") == 0 and not result.get(
                "exceptionDetails"
            ):
                return
            details = result.get("exceptionDetails") or reply.get("error") or {}
            last = str(
                (details.get("exception") or {}).get("description")
                or details.get("text")
                or details.get("message")
                or result
            ).splitlines()[0]
            await asyncio.sleep(0.25)
        raise LaunchError(f"the setting did not take: {last[:200]}")
    finally:
        if target_id:
            with contextlib.suppress(Exception):
                await session.send("Target.closeTarget", {"targetId": target_id})
        with contextlib.suppress(Exception):
            await session.detach()


class PlaywrightOriginPage:
    """An :class:`OriginPage` over a Playwright page.

    Either the only page of a context of its own (closing it closes the context), or
    a long-lived page of a shared context (``release`` set): closing hands it back
    to ``release`` for the next origin while it is healthy, and closes only the page
    once a timeout, a crash or an unexpected error has made it suspect.
    """

    def __init__(
        self,
        context: Any,
        page: Any,
        cdp: Any | None,
        *,
        engine: Engine | None = None,
        release: Callable[[PlaywrightOriginPage, bool], Awaitable[None]] | None = None,
    ) -> None:
        self._context = context
        self._page = page
        self._cdp = cdp
        self._release = release
        self.healthy = True
        """False once the page timed out, crashed or failed unexpectedly: not reused."""
        self.uses = 0
        """Origins this page has served (a shared page is replaced after MAX_PAGE_USES)."""
        self._reasons: dict[str, str] = {}
        self._net_errors: dict[str, str] = {}
        self._urls: dict[str, str] = {}
        self._blocked_cookies: dict[str, str] = {}
        self._crashed = False
        page.on("crash", self._on_crash)
        """CDP request id -> the cookies Chromium withheld from it, with its reasons."""
        if cdp is not None:
            cdp.on("Network.requestWillBeSent", self._on_request)
            cdp.on("Network.requestWillBeSentExtraInfo", self._on_extra_info)
            cdp.on("Network.loadingFailed", self._on_failed)
        if engine is Engine.FIREFOX:
            # Firefox reports each CORS failure as a page error over WebDriver BiDi
            # (log.entryAdded), naming the URL with its fragment and the reason.
            page.on("pageerror", self._on_page_error)

    def _on_crash(self, _page: Any) -> None:
        self._crashed = True
        self.healthy = False

    def forget_origin(self) -> None:
        """Drop what the engine said about the last origin's probes (a reused page)."""
        self._reasons.clear()
        self._net_errors.clear()
        self._urls.clear()
        self._blocked_cookies.clear()

    def _on_page_error(self, error: Any) -> None:
        found = parse_firefox_cors_error(str(error))
        if found is None or len(self._reasons) + len(self._net_errors) >= 100000:
            return
        probe, reason = found
        if reason == FIREFOX_NETWORK_FAILURE:
            # Not a verdict either way: Firefox adds this line after a specific reason,
            # and also writes it alone for requests that were plainly CORS-blocked
            # (measured: credentialed probes of a wildcard policy), so it cannot mark
            # a network failure. The server evidence decides those probes.
            return
        self._reasons.setdefault(probe, f"firefox: {reason}")

    def _on_request(self, params: Mapping[str, Any]) -> None:
        # Each probe URL carries "#corsproof=<probe id>"; the fragment never reaches
        # the server, but CDP reports it, so a failure maps to exactly one probe.
        fragment = str((params.get("request") or {}).get("urlFragment") or "")
        if params.get("type") == "Preflight":
            return  # a preflight never carries cookies; its cookie list says nothing
        if fragment.startswith(PROBE_FRAGMENT) and len(self._urls) < 50000:
            self._urls[str(params.get("requestId"))] = fragment[len(PROBE_FRAGMENT) :]

    def _on_extra_info(self, params: Mapping[str, Any]) -> None:
        # Chromium lists every cookie it considered, with why it was blocked. Only the
        # names and reasons are kept: the event also carries the values.
        blocked = []
        for item in params.get("associatedCookies") or []:
            reasons = [str(r) for r in item.get("blockedReasons") or []]
            if set(reasons) & _NOT_FOR_THIS_URL:
                continue  # a cookie of another host or path: never meant for this request
            name = str((item.get("cookie") or {}).get("name") or "")[:128]
            if reasons and name:
                blocked.append(f"{name} withheld by chromium: {', '.join(reasons)[:200]}")
        if blocked and len(self._blocked_cookies) < 50000:
            self._blocked_cookies[str(params.get("requestId"))] = "; ".join(blocked[:8])

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
        self.uses += 1
        try:
            await self._page.goto(url, wait_until="load", timeout=timeout * 1000)
        except Exception as exc:
            self._raise_if_gone(exc)
            text = first_line(exc, limit=500)
            low = text.lower()
            invalid = any(m in low for m in _INVALID_URL_MARKERS)
            # A refused or failed navigation leaves a page that can go on to the next
            # origin (Firefox refuses a dozen catalogue hosts outright); one that hung
            # until the timeout may still be busy, so it is not reused.
            if type(exc).__name__ == "TimeoutError":
                self.healthy = False
            raise NavigationError(text, invalid=invalid) from None
        return str(await self.evaluate("() => location.origin", None, timeout))

    async def evaluate(self, expression: str, arg: Any, timeout: float) -> Any:
        try:
            return await asyncio.wait_for(self._page.evaluate(expression, arg), timeout)
        except TimeoutError:
            self.healthy = False
            raise
        except Exception as exc:
            self.healthy = False
            self._raise_if_gone(exc)
            raise ScriptError(first_line(exc, limit=500)) from None

    def _raise_if_gone(self, exc: BaseException) -> None:
        """Playwright's errors, translated once: a dead page or browser is BrowserGone.

        Told by the state Playwright keeps (a closed page, a disconnected browser, a
        crash event), never by the message text.
        """
        browser = self._context.browser
        if self._crashed or self._page.is_closed() or (browser and not browser.is_connected()):
            why = "the page crashed" if self._crashed else "the browser is gone"
            raise BrowserGone(f"{why}: {first_line(exc)}") from None

    async def cors_reasons(self) -> Mapping[str, str]:
        return dict(self._reasons)

    async def cookie_reasons(self) -> Mapping[str, str]:
        """Why Chromium withheld cookies from each probe's request, by probe id."""
        out: dict[str, str] = {}
        for request_id, why in self._blocked_cookies.items():
            probe = self._urls.get(request_id)
            if probe is not None:
                out[probe] = why
        return out

    async def net_errors(self) -> Mapping[str, str]:
        """Network failures that were not CORS blocks, by probe id (Chromium only)."""
        return {k: v for k, v in self._net_errors.items() if k not in self._reasons}

    async def close(self, *, reset_jar: bool = True) -> None:
        if self._release is None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._context.close(), 10)
            return
        if self.healthy and not self._page.is_closed():
            self.forget_origin()
            await self._release(self, reset_jar)
            return
        await self.discard()

    async def discard(self) -> None:
        """Close this page for good (its shared context goes on)."""
        with contextlib.suppress(Exception):
            await asyncio.wait_for(self._page.close(), 10)


MAX_PAGE_USES = 200
"""Origins one shared page serves before it is replaced: a bound on whatever a page
accumulates (engine event listeners, renderer memory), far above one catalogue."""


@dataclass
class _SharedContext:
    """One long-lived context of a session and its idle pages."""

    context: Any
    idle: list[PlaywrightOriginPage]


class PlaywrightSession:
    """Chromium or Firefox through Playwright (Firefox over WebDriver BiDi)."""

    def __init__(
        self,
        pw: Any,
        resolved: ResolvedEngine,
        cookie_policy: CookiePolicy,
        setup: SessionSetup,
    ) -> None:
        self.resolved = resolved
        self.cookie_policy = cookie_policy
        self.remote = resolved.remote
        if self.remote is not None:
            setup = replace(setup, proxy_url=reachable_proxy_url(setup.proxy_url, self.remote.host))
        self.setup = setup
        self.note = ""
        """How a remote session was made, for the report's notes."""
        self._pw = pw
        self._browser: Any = None
        self._persistent: Any = None
        self._profile_dir: str | None = None
        self._state: Any = None
        self._shared: dict[int, _SharedContext] = {}
        self._shared_lock = asyncio.Lock()
        self.jar_restores = 0
        """Times a target changed the victim's cookies in a shared context and the jar
        was put back (the run says so: probes in flight then saw the changed jar)."""
        self.user_agent_tag = user_agent_tag(resolved.engine, cookie_policy)
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
            first = first_line(exc)
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
        if self.remote is not None:
            await self._connect(self.remote)
        elif engine is Engine.CHROMIUM:
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
            kwargs: dict[str, Any] = {
                "headless": True,
                "args": chromium_args(shared=not self.setup.isolate_origins),
            }
            if self.resolved.source != "playwright":
                kwargs["executable_path"] = self.resolved.executable
            self._persistent = await self._pw.chromium.launch_persistent_context(
                self._profile_dir, **self.resolved.launch_options(kwargs)
            )
            self._browser = self._persistent.browser
            if self._browser is None:
                raise LaunchError("chromium: persistent launch gave no browser handle")
        elif engine is Engine.FIREFOX:
            fkw: dict[str, Any] = {"headless": True, "firefox_user_prefs": self._firefox_prefs()}
            if self.resolved.source != "playwright":
                fkw["channel"] = "moz-firefox"
                fkw["executable_path"] = self.resolved.executable
            self._browser = await self._pw.firefox.launch(**self.resolved.launch_options(fkw))
        elif self.resolved.source == "playwright":
            # Playwright's own WebKit build (a user's laptop): labelled as such in the
            # report; it is neither Safari nor the WebKitGTK corsproof tests here.
            self._browser = await self._pw.webkit.launch(
                **self.resolved.launch_options({"headless": True})
            )
        else:
            raise LaunchError(f"{engine.value} is not driven through Playwright")

    def _firefox_prefs(self) -> dict[str, Any]:
        prefs = dict(FIREFOX_PREFS)
        if not self.setup.isolate_origins:
            prefs.update(SHARED_PROCESS_PREFS)
        if self.cookie_policy is CookiePolicy.PERMISSIVE:
            prefs["network.cookie.cookieBehavior"] = 0
        return prefs

    async def _connect(self, remote: RemoteEndpoint) -> None:
        """Connect to a Playwright browser server, which launches the browser for us.

        The server takes the launch options from a header; it drops the executable
        path, arguments and preferences unless it runs with ``--unsafe``
        (measured; docs/engines.md), which :func:`_check_unsafe_server` detects.
        """
        engine = self.resolved.engine
        options: dict[str, Any] = {"headless": True}
        executable = remote_executable(remote)
        if engine is Engine.CHROMIUM:
            options["args"] = chromium_args(shared=not self.setup.isolate_origins)
            if executable:
                options["executable_path"] = executable
        elif engine is Engine.FIREFOX:
            options["firefox_user_prefs"] = self._firefox_prefs()
            if executable:
                options["channel"] = "moz-firefox"
                options["executable_path"] = executable
        else:
            raise LaunchError(f"{engine.value}: a Playwright browser server cannot run it here")
        options = self.resolved.launch_options(options)
        browser_type = getattr(self._pw, engine.value)
        await _check_unsafe_server(browser_type, remote, self.resolved)
        connect = self.resolved.connect_options(
            {
                CONNECT_ENDPOINT: remote.url,
                "headers": {LAUNCH_OPTIONS_HEADER: json.dumps(_camel_keys(options))},
                "timeout": REMOTE_CONNECT_TIMEOUT * 1000,
            }
        )
        try:
            self._browser = await browser_type.connect(**connect)
        except Exception as exc:
            raise LaunchError(_remote_failure(engine, remote, exc)) from None
        where = f"{engine.value} ran on a Playwright browser server ({remote.display})"
        if engine is not Engine.CHROMIUM:
            self.note = f"{where} with corsproof's launch options."
            return
        try:
            await _allow_third_party_cookies(self._browser)
        except Exception as exc:
            # Never a silent difference: this browser is not default Chrome.
            self.note = (
                f"WARNING: {where}, where its third-party cookie setting could not be "
                f"changed ({first_line(exc)[:160]}). Its contexts block third-party "
                "cookies like an incognito window, so its credentialed cross-site "
                "verdicts are NOT those of default Chrome."
            )
        else:
            self.note = (
                f"{where}; third-party cookies allowed in its profile as in default Chrome "
                "(chrome://settings, measured: docs/engines.md)."
            )

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
            for url in self.setup.login_urls:
                # Visited first-party, so the app sets its own cookies as it would
                # for a user who logged in.
                await page.goto(url, wait_until="load", timeout=30000)
            self._state = await ctx.storage_state()
        finally:
            await ctx.close()

    @property
    def session_cookies(self) -> tuple[dict[str, Any], ...]:
        """The victim's cookies in this browser, attributes only (never the values)."""
        state = self._state if isinstance(self._state, dict) else {}
        return tuple(without_value(c) for c in state.get("cookies") or [])

    def alive(self) -> bool:
        """The browser still answers (a hung or crashed page does not make it dead)."""
        return self._browser is not None and bool(self._browser.is_connected())

    async def open_origin(self, slot: int | None = None) -> OriginPage:
        try:
            if slot is None:
                context = await self._new_context()
                page, cdp = await self._new_page(context)
                return PlaywrightOriginPage(context, page, cdp, engine=self.resolved.engine)
            shared = await self._shared_context(slot)
            while shared.idle:
                reused = shared.idle.pop()
                if reused.healthy and reused.uses < MAX_PAGE_USES:
                    return reused
                await reused.discard()
            page, cdp = await self._new_page(shared.context)
        except Exception as exc:
            # A browser that cannot give a new context or page is of no more use: the
            # run replaces it, whatever Playwright said.
            raise BrowserGone(
                f"{self.resolved.engine.value} could not open a page: {first_line(exc)}"
            ) from None

        async def release(done: PlaywrightOriginPage, reset_jar: bool) -> None:
            if reset_jar:
                await self._restore_jar(shared.context)
            shared.idle.append(done)

        return PlaywrightOriginPage(
            shared.context, page, cdp, engine=self.resolved.engine, release=release
        )

    async def _new_context(self) -> Any:
        opts = self._context_options()
        if self._state is not None:
            opts["storage_state"] = self._state
        return await self._browser.new_context(**opts)

    async def _new_page(self, context: Any) -> tuple[Any, Any | None]:
        page = await context.new_page()
        cdp = None
        if self.resolved.engine is Engine.CHROMIUM:
            cdp = await context.new_cdp_session(page)
            await cdp.send("Network.enable")
        return page, cdp

    async def _shared_context(self, slot: int) -> _SharedContext:
        async with self._shared_lock:
            shared = self._shared.get(slot)
            if shared is None:
                shared = self._shared[slot] = _SharedContext(await self._new_context(), [])
            return shared

    def _victim_jar(self) -> list[dict[str, Any]]:
        state = self._state if isinstance(self._state, dict) else {}
        return [dict(c) for c in state.get("cookies") or []]

    async def _restore_jar(self, context: Any) -> None:
        """Give the shared context back the victim's jar if a target changed it.

        A fresh context per origin starts from the victim's cookies and nothing else;
        a shared one keeps whatever the targets set or deleted while an origin probed.
        Put back, the next origin finds the jar a fresh context would have. The
        victim's cookies are written over first and strays removed after, so a page
        probing at the same moment never sees the session missing.
        """
        try:
            jar = await asyncio.wait_for(context.cookies(), 10)
        except Exception:
            return  # the page that asks next finds out whether the context is gone
        victim = self._victim_jar()
        want = {_jar_key(c): c.get("value") for c in victim}
        have = {_jar_key(c): c.get("value") for c in jar}
        if want == have:
            return
        self.jar_restores += 1
        with contextlib.suppress(Exception):
            if victim:
                await context.add_cookies(victim)
            for name, domain, path in set(have) - set(want):
                await context.clear_cookies(name=name, domain=domain, path=path)

    async def close(self) -> None:
        self._shared.clear()
        with contextlib.suppress(Exception):
            if self._persistent is not None:
                await asyncio.wait_for(self._persistent.close(), 15)
            elif self._browser is not None:
                await asyncio.wait_for(self._browser.close(), 15)
        if self._profile_dir:
            shutil.rmtree(self._profile_dir, ignore_errors=True)


_NOT_FOR_THIS_URL = frozenset({"DomainMismatch", "NotOnPath"})
"""Chromium's blocked reasons for cookies that do not belong to the request's URL at all."""

FIREFOX_NETWORK_FAILURE = "CORS request did not succeed"
"""Firefox's catch-all reason; not specific enough to call a block or a failure."""

_FIREFOX_CORS_ERROR = re.compile(
    r"disallows reading the remote resource at (?P<url>\S+?)\.? \(Reason: (?P<reason>.*?)\)\."
    r"(?: Status code: (?P<status>\S+?)\.?)?$",
    re.DOTALL,
)


def parse_firefox_cors_error(text: str) -> tuple[str, str] | None:
    """(probe id, reason) from Firefox's "Cross-Origin Request Blocked" page error.

    Firefox words it (measured, ESR 153): ``The Same Origin Policy disallows reading
    the remote resource at https://api.example.com/p#corsproof=<id>. (Reason: CORS
    header 'Access-Control-Allow-Origin' missing). Status code: 401.`` Only probe
    URLs carry the fragment; anything else is ignored. The reason may quote the
    target's header values, so it is clipped; reports escape it like all target data.
    """
    found = _FIREFOX_CORS_ERROR.search(text[:4000])
    if found is None:
        return None
    url = found.group("url")
    at = url.find(PROBE_FRAGMENT)
    if at < 0:
        return None
    probe = url[at + len(PROBE_FRAGMENT) :]
    if not probe or not all(c.isalnum() or c == "-" for c in probe):
        return None
    reason = found.group("reason").strip()[:240]
    status = found.group("status")
    if status and status != "(null)" and reason != FIREFOX_NETWORK_FAILURE:
        reason = f"{reason}; status {status[:8]}"
    return probe, reason


def _jar_key(cookie: Mapping[str, Any]) -> tuple[str, str, str]:
    return (str(cookie.get("name")), str(cookie.get("domain")), str(cookie.get("path")))


def without_value(cookie: Mapping[str, Any]) -> dict[str, Any]:
    """A cookie's name and attributes, without its value, for witnessing and explaining."""
    return {k: cookie[k] for k in ("name", "domain", "path", "sameSite", "secure") if k in cookie}


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
