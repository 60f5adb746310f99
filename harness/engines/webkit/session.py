"""WebKit through WebKitGTK's WebDriver (``WebKitWebDriver`` driving ``MiniBrowser``).

The session gets its WebDriver sessions from a
:class:`~harness.engines.webkit.driver.DriverFactory`: WebKitWebDriver started
here, or an endpoint on another machine (:mod:`harness.engines.webkit.remote`).
Selenium is blocking, so every driver call runs in a worker thread (a pool per
session, so that busy browsers never starve asyncio's default executor).
All facts below were measured with WebKitGTK 2.50.6 on Debian 12 (with the lab;
``tests/test_webkit.py`` re-checks them) and belong in ``docs/engines.md``:

* MiniBrowser needs an X display (``--headless`` hangs), so each session whose
  browser runs on this machine runs its own :class:`~harness.engines.webkit.xvfb.Xvfb`.
* Only MiniBrowser's ``--proxy=`` argument gives pages an exact origin through the
  harness proxy; the WebDriver ``proxy`` capability makes WebKit speak TLS to the
  proxy, and a PAC file leaves pages at origin ``null``.
* One WebDriver session serves one command at a time, and every window of a
  session shares one cookie jar and network session. Each origin therefore gets
  its own WebDriver session (its own MiniBrowser with an ephemeral network
  session): isolated like a fresh Playwright context, and origins still run side
  by side.
* Cookie profiles: ``default`` enables Intelligent Tracking Prevention, which in
  WebKit blocks every third-party cookie (Safari's shipped behaviour);
  ``permissive`` is WebKitGTK's library default (ITP off), which sends
  ``SameSite=None`` cookies on cross-site requests.
* The WebKitGTK driver has no ``get_log``, and MiniBrowser in automation mode does
  not write console messages anywhere we can read, so no engine CORS reasons are
  available: :meth:`WebKitOriginPage.cors_reasons` returns ``{}``.

Never intercept requests here: any interception changes what CORS does.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import json
import os
import threading
from collections.abc import Awaitable, Callable, Iterable, Mapping
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import urlsplit

from harness.engines.playwright import (
    _INVALID_URL_MARKERS,
    OriginPage,
    ResolvedEngine,
    SessionSetup,
    without_value,
)
from harness.engines.webkit.driver import Driver, DriverFactory
from harness.engines.webkit.xvfb import Xvfb
from harness.model.errors import BrowserGone, LaunchError, NavigationError, ScriptError, first_line
from harness.model.results import BrowserInfo, CookiePolicy, Engine, user_agent_tag

COOKIE_SETTER_PATH = "/__corsproof_cookie_setter"
"""A first-party URL on the cookie's host; WebDriver only adds cookies for the current
document's domain. Whatever the host answers (usually 404) is fine."""

START_TIMEOUT = 60.0
"""Seconds for a WebDriver session to come up (slow on a loaded machine)."""

DRIVER_ENV = {
    # Xvfb offers no accessibility bus, GPU compositing or DMA-BUF; these stop GTK
    # and WebKit from looking for them. None of them changes networking or CORS.
    "NO_AT_BRIDGE": "1",
    "GTK_A11Y": "none",
    "WEBKIT_DISABLE_COMPOSITING_MODE": "1",
    "WEBKIT_DISABLE_DMABUF_RENDERER": "1",
}

OWNER_ENV = "CORSPROOF_OWNER"
"""Set to corsproof's pid in the environment of every browser process it starts."""

COOKIE_PROFILE_ARGS: dict[CookiePolicy, tuple[str, ...]] = {
    # Safari ships with ITP, which blocks all third-party cookies; with it on,
    # WebKitGTK sent no cookie cross-site and none from null-origin frames, but all
    # of them from a same-site sibling (measured with the lab).
    CookiePolicy.DEFAULT: ("--enable-itp",),
    # WebKitGTK's own default: ITP off. Cross-site requests carry SameSite=None
    # cookies. "always" also lets third-party responses set cookies; it does not
    # change what is sent (measured: never/no-third-party/always sent the same).
    CookiePolicy.PERMISSIVE: ("--cookies-policy=always",),
}

COOKIE_PROFILE_NOTES = {
    CookiePolicy.DEFAULT: "WebKit default profile: Intelligent Tracking Prevention on "
    "(MiniBrowser --enable-itp), as Safari ships: no third-party cookies.",
    CookiePolicy.PERMISSIVE: "WebKit permissive profile: WebKitGTK defaults, ITP off "
    "(MiniBrowser --cookies-policy=always): third-party SameSite=None cookies are sent.",
}


T = TypeVar("T")


class _Threads:
    """Runs blocking Selenium calls off the event loop, like :func:`asyncio.to_thread`.

    Each call gets a daemon thread of its own. A WebDriver call can block for good
    (a MiniBrowser launch whose wait the runner gave up on, while the session closes
    and takes Xvfb with it); a pool thread would then keep the process from exiting
    after the run has written its reports (measured: the bench hung at exit under a
    load average of 20). Origins, not threads, bound how many calls run at once.
    """

    async def run(self, fn: Callable[..., T], *args: Any) -> T:
        loop = asyncio.get_running_loop()
        future: asyncio.Future[T] = loop.create_future()

        def settle(outcome: Callable[[], None]) -> None:
            if not future.done():
                outcome()

        def work() -> None:
            try:
                result = fn(*args)
            except BaseException as exc:
                answer = functools.partial(settle, functools.partial(future.set_exception, exc))
            else:
                answer = functools.partial(settle, functools.partial(future.set_result, result))
            with contextlib.suppress(RuntimeError):  # the loop is gone: nobody waits
                loop.call_soon_threadsafe(answer)

        threading.Thread(target=work, name="corsproof-webkit", daemon=True).start()
        return await future

    def shutdown(self) -> None:
        """Nothing to release: each call's thread ends with the call."""


def _cookie_host(cookie: Mapping[str, Any]) -> tuple[str, str]:
    """(scheme, host) of a first-party page that may set ``cookie``."""
    if cookie.get("url"):
        parts = urlsplit(str(cookie["url"]))
        return parts.scheme or "https", parts.hostname or ""
    host = str(cookie.get("domain", "")).lstrip(".")
    # A Secure cookie can only be set from https; others come from http so that
    # plain-http targets without a TLS listener still get theirs.
    return ("https" if cookie.get("secure", True) else "http"), host


def _webdriver_cookie(cookie: Mapping[str, Any]) -> dict[str, Any]:
    """A Playwright-shaped cookie as a WebDriver cookie."""
    out: dict[str, Any] = {
        "name": str(cookie["name"]),
        "value": str(cookie["value"]),
        "path": str(cookie.get("path") or "/"),
        "secure": bool(cookie.get("secure", False)),
        "httpOnly": bool(cookie.get("httpOnly", False)),
    }
    domain = str(cookie.get("domain") or "")
    # Playwright spells a domain cookie ".example.com" and a host-only cookie
    # "api.example.com"; WebDriver makes any cookie with a domain a domain cookie,
    # so host-only cookies go without one.
    if domain.startswith("."):
        out["domain"] = domain
    same_site = cookie.get("sameSite")
    if same_site:
        out["sameSite"] = str(same_site).capitalize()
    expires = cookie.get("expires")
    if isinstance(expires, int | float) and expires > 0:
        out["expiry"] = int(expires)
    return out


def _playwright_cookie(cookie: Mapping[str, Any]) -> dict[str, Any]:
    """A cookie from WebDriver's ``get_cookies`` in the shape SessionSetup uses."""
    out = {
        k: cookie[k]
        for k in ("name", "value", "domain", "path", "secure", "httpOnly")
        if k in cookie
    }
    if cookie.get("sameSite"):
        out["sameSite"] = cookie["sameSite"]
    if cookie.get("expiry"):
        out["expires"] = cookie["expiry"]
    return out


def _cookie_key(cookie: Mapping[str, Any]) -> tuple[str, str, str]:
    return (str(cookie["name"]), str(cookie.get("domain", "")), str(cookie.get("path", "/")))


class WebKitOriginPage:
    """An :class:`OriginPage` over a WebDriver session that serves one origin at a time.

    On close the session goes back to ``release`` (which may reuse it for another
    origin after resetting it) unless a command timed out or the driver stopped
    answering; then it is quit.
    """

    def __init__(
        self,
        drv: Driver,
        threads: _Threads | None = None,
        on_close: Callable[[Driver], None] | None = None,
        release: Callable[[Driver], None] | None = None,
    ) -> None:
        self._drv = drv
        self._threads = threads or _Threads()
        self._on_close = on_close
        self._release = release
        self._closed = False
        self._healthy = True

    async def navigate(self, url: str, timeout: float) -> str:
        try:
            return await self._threads.run(self._navigate, url, timeout)
        except NavigationError as exc:
            if "timed out" in str(exc):
                self._healthy = False
            raise

    def _navigate(self, url: str, timeout: float) -> str:
        from selenium.common.exceptions import InvalidArgumentException, TimeoutException

        driver = self._drv.driver
        # WebKitWebDriver reports success when nothing was loaded, in two ways
        # (measured): a URL WebKit will not parse ("https://exa mple.com/") gets a new
        # blank error document, while a connection that fails leaves the old document
        # in place. A marker on the old document tells the two apart.
        before: Any = None
        with contextlib.suppress(Exception):
            before = driver.execute_script("window.__corsproof_stay = true; return location.href")
        try:
            driver.set_page_load_timeout(timeout)
            driver.get(url)
        except InvalidArgumentException as exc:
            # WebKitWebDriver parses the URL before WebKit sees it: a refusal here is
            # the engine refusing the URL itself.
            raise NavigationError(first_line(exc), invalid=True) from None
        except TimeoutException:
            raise NavigationError(f"page load timed out after {timeout:.0f}s") from None
        except Exception as exc:
            text = first_line(exc)
            low = text.lower()
            raise NavigationError(
                text, invalid=any(m in low for m in _INVALID_URL_MARKERS)
            ) from None
        try:
            origin, stayed, href = driver.execute_script(
                "return [location.origin, window.__corsproof_stay === true, location.href]"
            )
        except Exception as exc:
            raise NavigationError(f"page loaded but cannot be read: {first_line(exc)}") from None
        if not url.startswith("about:"):
            if stayed and href == before:
                raise NavigationError(f"webkit could not load {url}: no response")
            if not stayed and href == "about:blank":
                raise NavigationError(f"webkit refused the URL {url}", invalid=True)
        return str(origin)

    async def evaluate(self, expression: str, arg: Any, timeout: float) -> Any:
        # The thread cannot be cancelled; if the driver itself hangs, close() ends it.
        try:
            return await asyncio.wait_for(
                self._threads.run(self._evaluate, expression, arg, timeout), timeout + 15
            )
        except (TimeoutError, BrowserGone):
            self._healthy = False
            raise

    def _evaluate(self, expression: str, arg: Any, timeout: float) -> Any:
        from selenium.common.exceptions import JavascriptException, TimeoutException

        # Starting inside then() turns a synchronous throw into a rejection, so every
        # failure comes back through done() instead of as a driver error.
        script = (
            "const done = arguments[arguments.length - 1]; const arg = arguments[0];"
            "Promise.resolve().then(() => (" + expression + ")(arg))"
            ".then(done, e => done({__corsproof_error: String(e)}));"
        )
        driver = self._drv.driver
        try:
            driver.set_script_timeout(timeout)
            result = driver.execute_async_script(script, arg)
        except TimeoutException:
            raise TimeoutError(f"script did not finish within {timeout:.0f}s") from None
        except JavascriptException as exc:
            raise ScriptError(first_line(exc)) from None
        except Exception as exc:
            # Any other driver failure means the MiniBrowser (or its driver) is gone:
            # the runner restarts the browser and marks the origin's probes lost.
            raise BrowserGone(f"webkit stopped answering: {first_line(exc)}") from None
        if isinstance(result, dict) and set(result) == {"__corsproof_error"}:
            raise ScriptError(str(result["__corsproof_error"])[:500])
        return result

    async def cors_reasons(self) -> Mapping[str, str]:
        # Measured: the WebKitGTK driver has no log endpoint and MiniBrowser in
        # automation mode prints no console messages, so WebKit's own reason
        # ("Origin X is not allowed by Access-Control-Allow-Origin") is not available.
        return {}

    async def close(self, *, reset_jar: bool = True) -> None:
        if self._closed:
            return
        self._closed = True
        if self._release is not None and self._healthy:
            self._drv.jar_dirty = reset_jar
            await self._threads.run(self._release, self._drv)
            return
        if self._on_close is not None:
            self._on_close(self._drv)
        await self._threads.run(self._drv.quit)


class _SlotPage:
    """An origin page that takes one of the browser machine's session slots when first used.

    A WebDriver endpoint serves a fixed number of sessions (WebKitWebDriver itself:
    one, "Maximum number of active sessions" beyond it, measured). The runner opens
    more origins than that at once, and gives ``open_origin`` 30 s; waiting for a
    slot there would time out, so the wait happens in :meth:`navigate` (or a first
    :meth:`evaluate`), which is not bounded, and the slot is given back on :meth:`close`.
    """

    def __init__(
        self, slots: asyncio.Semaphore, open_page: Callable[[], Awaitable[OriginPage]]
    ) -> None:
        self._slots = slots
        self._open_page = open_page
        self._inner: OriginPage | None = None
        self._holds = False
        self._closed = False

    async def _page(self) -> OriginPage:
        if self._inner is None:
            if self._closed:
                raise LaunchError("webkit: the page was closed before it was used")
            await self._slots.acquire()
            self._holds = True
            # The slot is ours until close(), even when opening fails (close releases it).
            self._inner = await self._open_page()
        return self._inner

    async def navigate(self, url: str, timeout: float) -> str:
        return await (await self._page()).navigate(url, timeout)

    async def evaluate(self, expression: str, arg: Any, timeout: float) -> Any:
        return await (await self._page()).evaluate(expression, arg, timeout)

    async def cors_reasons(self) -> Mapping[str, str]:
        return {} if self._inner is None else await self._inner.cors_reasons()

    async def close(self, *, reset_jar: bool = True) -> None:
        if self._closed:
            return
        self._closed = True
        try:
            if self._inner is not None:
                await self._inner.close(reset_jar=reset_jar)
        finally:
            if self._holds:
                self._holds = False
                self._slots.release()

    def __getattr__(self, name: str) -> Any:
        # Anything else the runner asks of a WebKit page, once there is one.
        inner = self.__dict__.get("_inner")
        if inner is None:
            raise AttributeError(name)
        return getattr(inner, name)


class WebKitSession:
    """WebKitGTK through Selenium: WebDriver sessions that serve one origin at a time.

    ``factory`` opens the WebDriver sessions and says where the browser runs:
    with MiniBrowser on this machine the session runs one Xvfb for it; with a
    limit on sessions (a remote endpoint) origins queue for a slot.

    ``start()`` prepares the victim's cookies once (from ``setup``). Every
    :meth:`open_origin` takes an idle MiniBrowser (or launches one), resets its
    cookie jar on every cookie and target host, replays the victim's cookies
    first-party and leaves it on ``about:blank``. Launching a MiniBrowser per
    origin cost 0.7-2.3 s; a reset costs one navigation per host.
    """

    MAX_USES = 40
    """Origins one MiniBrowser serves before it is retired, so no state piles up."""

    def __init__(
        self,
        resolved: ResolvedEngine,
        cookie_policy: CookiePolicy,
        setup: SessionSetup,
        factory: DriverFactory,
        *,
        reset_hosts: Iterable[tuple[str, str]] = (),
    ) -> None:
        self.resolved = resolved
        self.cookie_policy = cookie_policy
        self.setup = setup
        self.factory = factory
        """Where the browser runs; opens every WebDriver session of this session."""
        self.user_agent_tag = user_agent_tag(resolved.engine, cookie_policy)
        self.note = " ".join(n for n in (COOKIE_PROFILE_NOTES[cookie_policy], factory.note) if n)
        """How this cookie profile was made (and where it ran), for the report's notes."""
        self.info = BrowserInfo(Engine.WEBKIT, "", resolved.source, resolved.executable)
        self._xvfb: Xvfb | None = None
        self._env: dict[str, str] = {}
        self._ua = ""
        self._cookies: list[dict[str, Any]] = []
        self._live: set[Driver] = set()
        self._idle: list[Driver] = []
        self._reset_hosts = sorted(set(reset_hosts))
        """(scheme, host) of every target: responses there may have set cookies."""
        self._lock = threading.Lock()
        self._closed = False
        self._threads = _Threads()
        limit = factory.max_sessions
        self._slots = asyncio.Semaphore(limit) if limit is not None else None
        """One per WebDriver session the browser machine serves at once; idle browsers
        kept for reuse belong to a finished origin's slot."""

    # -- lifecycle -------------------------------------------------------

    @property
    def session_cookies(self) -> tuple[dict[str, Any], ...]:
        """The victim's cookies in this browser, attributes only (never the values)."""
        return tuple(without_value(c) for c in self._cookies)

    async def start(self, timeout: float = START_TIMEOUT) -> None:
        """Start Xvfb if needed, learn the browser version and UA, gather the victim's cookies."""
        try:
            await asyncio.wait_for(self._threads.run(self._start), timeout * 2)
        except TimeoutError:
            await self.close()
            raise LaunchError(f"webkit did not start within {timeout * 2:.0f}s") from None
        except LaunchError:
            await self.close()
            raise
        except Exception as exc:
            await self.close()
            raise LaunchError(f"webkit failed to start: {first_line(exc)}") from None

    def _start(self) -> None:
        # A browser on another machine has a display there: none is started here.
        if self.factory.needs_display:
            xvfb = Xvfb().start()
            if self._closed:  # start() timed out and close() already ran
                xvfb.stop()
                raise LaunchError("webkit session is closed")
            self._xvfb = xvfb
            self._env = self._xvfb.env()
            self._env.update(DRIVER_ENV)
            # Inherited by MiniBrowser and its web and network processes, so that a
            # leftover can be traced to the corsproof process that started it.
            self._env[OWNER_ENV] = str(os.getpid())
        self._learn_browser()

    def _learn_browser(self) -> None:
        """Version, UA and the victim's cookies, from one untagged WebDriver session."""
        drv = self._launch(tagged=False)
        try:
            driver = drv.driver
            version = str(driver.capabilities.get("browserVersion") or "")
            driver.get("about:blank")
            ua = str(driver.execute_script("return navigator.userAgent"))
            self._ua = ua
            self._cookies = self._gather_cookies(driver)
        finally:
            drv.quit()
        self.info = BrowserInfo(
            Engine.WEBKIT,
            version or _version_from_ua(ua),
            self.resolved.source,
            self.resolved.executable,
        )

    def _gather_cookies(self, driver: Any) -> list[dict[str, Any]]:
        """The victim's cookies (Playwright-shaped), checked by setting them once here."""
        wanted: list[Mapping[str, Any]] = []
        if self.setup.storage_state:
            try:
                state = json.loads(Path(self.setup.storage_state).read_text("utf-8"))
            except (OSError, ValueError) as exc:
                raise LaunchError(f"storage state {self.setup.storage_state}: {exc}") from None
            wanted += list(state.get("cookies") or [])
        wanted += list(self.setup.cookies)
        _set_cookies(driver, wanted)
        found = {_cookie_key(c): dict(c) for c in wanted}
        for url in self.setup.login_urls:
            # Visited first-party, so the app sets its own cookies as it would for a
            # user who logged in. WebDriver lists only the current page's cookies.
            driver.set_page_load_timeout(30)
            driver.get(url)
            for c in driver.get_cookies():
                pw = _playwright_cookie(c)
                found[_cookie_key(pw)] = pw
        return list(found.values())

    def _launch(self, *, tagged: bool = True) -> Driver:
        """A new WebDriver session (a new MiniBrowser), from the factory."""
        from selenium.webdriver.webkitgtk.options import Options

        if self._closed:
            raise LaunchError("webkit session is closed")
        opts = Options()
        # Empty (a remote endpoint's own default) is Options' own "not set".
        opts.binary_location = self.factory.binary_location
        opts.accept_insecure_certs = True
        opts.add_argument("--automation")
        # Loopback hosts (http://localhost:3000 pages) go through this proxy too,
        # without an --ignore-host list (measured).
        opts.add_argument(f"--proxy={self.factory.proxy_url(self.setup.proxy_url)}")
        for arg in COOKIE_PROFILE_ARGS[self.cookie_policy]:
            opts.add_argument(arg)
        if tagged and self._ua:
            # The lab and the proxy tell engine and profile apart by this suffix.
            opts.add_argument(f"--user-agent={self._ua} {self.user_agent_tag}")
        drv = self.factory.launch(opts, self._env)
        with self._lock:
            closed = self._closed
            if not closed:
                self._live.add(drv)
        if closed:
            # close() ran while this browser was starting (a start timeout): it would
            # otherwise be left running.
            drv.quit()
            raise LaunchError("webkit session is closed")
        return drv

    # -- EngineSession ---------------------------------------------------

    async def open_origin(self, slot: int | None = None) -> OriginPage:
        """A page for one origin; with limited sessions it takes its slot on first use.

        WebKitGTK has no contexts to share: each MiniBrowser is one WebDriver session
        with one jar. Reused browsers (the default) already navigate from origin to
        origin, with the jar reset to the victim's between origins, so ``slot`` (which
        shared context) changes nothing here.
        """
        if self._slots is None:
            return await self._open_page()
        page: OriginPage = _SlotPage(self._slots, self._open_page)
        return page

    async def _open_page(self) -> OriginPage:
        drv = await self._threads.run(self._open)
        page: OriginPage = WebKitOriginPage(drv, self._threads, self._forget, self._release)
        return page

    def _open(self) -> Driver:
        with self._lock:
            drv = self._idle.pop() if self._idle else None
        reused = drv is not None
        if drv is None:
            drv = self._launch()
        try:
            # A reused browser may hold cookies the targets set while another origin
            # probed; clearing them on each host gives the next origin the jar a
            # fresh browser would have: the victim's cookies and nothing else. When
            # the wire saw no Set-Cookie meanwhile, the jar is still the victim's.
            if not reused or drv.jar_dirty:
                _set_cookies(drv.driver, self._cookies, clear=self._reset_hosts if reused else ())
            drv.driver.get("about:blank")
        except BaseException:
            self._forget(drv)
            drv.quit()
            raise
        drv.uses += 1
        return drv

    def _release(self, drv: Driver) -> None:
        """Take back a browser whose origin is done; keep it for the next origin if healthy."""
        keep = not self._closed and drv.uses < self.MAX_USES
        if keep:
            try:
                # Leaving the page stops whatever it still had in flight.
                drv.driver.set_page_load_timeout(10)
                drv.driver.get("about:blank")
            except Exception:
                keep = False
        with self._lock:
            if keep and not self._closed:
                self._idle.append(drv)
                return
        self._forget(drv)
        drv.quit()

    def _forget(self, drv: Driver) -> None:
        with self._lock:
            self._live.discard(drv)
            if drv in self._idle:
                self._idle.remove(drv)

    async def close(self) -> None:
        self._closed = True
        with self._lock:
            live, self._live = list(self._live), set()
            self._idle.clear()
        await asyncio.gather(*(self._threads.run(d.quit) for d in live))
        xvfb, self._xvfb = self._xvfb, None
        if xvfb is not None:
            await self._threads.run(xvfb.stop)
        self._threads.shutdown()


def _set_cookies(
    driver: Any,
    cookies: Iterable[Mapping[str, Any]],
    *,
    clear: Iterable[tuple[str, str]] = (),
) -> None:
    """Add cookies first-party: visit each cookie's host, then add its cookies there.

    With ``clear``, every cookie of those (scheme, host) pages and of the cookies'
    own hosts is deleted first: WebDriver's "delete all cookies" only reaches the
    cookies of the current document, so each host is visited.
    """
    by_page: dict[tuple[str, str], list[Mapping[str, Any]]] = {}
    for cookie in cookies:
        scheme, host = _cookie_host(cookie)
        if host:
            by_page.setdefault((scheme, host), []).append(cookie)
    wipe = set(clear)
    if wipe:
        wipe |= set(by_page)
        for page in sorted(wipe):
            by_page.setdefault(page, [])
    for (scheme, host), group in by_page.items():
        url = f"{scheme}://{host}{COOKIE_SETTER_PATH}"
        try:
            driver.set_page_load_timeout(30)
            driver.get(url)
        except Exception as exc:
            raise LaunchError(
                f"webkit: cannot open {url} to set cookies: {first_line(exc)}"
            ) from None
        if (scheme, host) in wipe:
            try:
                driver.delete_all_cookies()
            except Exception as exc:
                raise LaunchError(
                    f"webkit: cannot clear cookies on {host}: {first_line(exc)}"
                ) from None
        for cookie in group:
            try:
                driver.add_cookie(_webdriver_cookie(cookie))
            except Exception as exc:
                raise LaunchError(
                    f"webkit: cookie {cookie.get('name')!r} for {host} refused: {first_line(exc)}"
                ) from None


def _version_from_ua(ua: str) -> str:
    """``Version/18.0`` from a WebKit UA when the driver does not report one."""
    for part in ua.split():
        if part.startswith("Version/"):
            return part.split("/", 1)[1]
    return ""
