"""WebKit on another machine: a WebDriver endpoint instead of a local WebKitWebDriver.

The endpoint is a Selenium Grid, or a ``WebKitWebDriver --port=P --host=all``
started on the browser machine (itself a WebDriver endpoint, as a Grid node is).
The session is :class:`~harness.engines.webkit.session.WebKitSession` in every respect but two:
no local Xvfb (the display is the browser machine's business) and
``WebKitSession._launch`` opens each WebDriver session through
:func:`remote_driver`. MiniBrowser gets the same arguments as locally, so the
proxy, ``--automation`` and the cookie profiles behave the same (measured with a
local WebKitWebDriver endpoint: ``tests/test_remote.py``).
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Mapping
from typing import Any

from harness.config import RemoteEndpoint
from harness.engines.playwright import OriginPage, ResolvedEngine, SessionSetup
from harness.engines.webkit.session import WebKitSession, _Driver
from harness.model.errors import LaunchError, first_line
from harness.model.results import CookiePolicy

REMOTE_COMMAND_TIMEOUT = 120
"""Seconds one command to a remote WebDriver endpoint may take (a page load is 30 s)."""


def remote_driver(remote: RemoteEndpoint, opts: Any) -> _Driver:
    """A WebDriver session on ``remote`` with WebKitGTK ``opts``; raises LaunchError.

    There is no local process: quitting the driver ends the remote session and the
    MiniBrowser it started.
    """
    from selenium import webdriver
    from selenium.webdriver.remote.client_config import ClientConfig
    from selenium.webdriver.remote.remote_connection import RemoteConnection

    config = ClientConfig(remote_server_addr=remote.url, timeout=REMOTE_COMMAND_TIMEOUT)
    try:
        driver = webdriver.Remote(
            command_executor=RemoteConnection(client_config=config), options=opts
        )
    except Exception as exc:
        raise LaunchError(f"webkit at {remote.display}: {_why(exc)}") from None
    return _Driver(driver, None)


def _why(exc: BaseException) -> str:
    """One short line: urllib3 wraps a refused connection in a paragraph of repr()."""
    text = first_line(exc)
    if "Failed to establish a new connection" in text or "Max retries exceeded" in text:
        found = re.search(r"\[Errno -?\d+\] ([^\"')]+)", text)
        return f"cannot connect to the WebDriver endpoint ({found.group(1) if found else text})"
    return f"WebDriver session failed: {text}"


class _SlotPage:
    """An origin page that takes one of the endpoint's session slots when it is first used.

    A WebDriver endpoint serves a fixed number of sessions (WebKitWebDriver itself:
    one, "Maximum number of active sessions" beyond it, measured). The runner opens
    more origins than that at once, and gives ``open_origin`` 30 s; waiting for a
    slot there would time out, so the wait happens in :meth:`navigate`, which is
    not bounded, and the slot is given back on :meth:`close`.
    """

    def __init__(self, session: RemoteWebKitSession) -> None:
        self._session = session
        self._inner: OriginPage | None = None
        self._holds = False
        self._closed = False

    async def _page(self) -> OriginPage:
        if self._inner is None:
            if self._closed:
                raise LaunchError("webkit: the page was closed before it was used")
            await self._session.slots.acquire()
            self._holds = True
            # The slot is ours until close(), even when opening fails (close releases it).
            self._inner = await WebKitSession.open_origin(self._session)
        return self._inner

    async def navigate(self, url: str, timeout: float) -> str:
        return await (await self._page()).navigate(url, timeout)

    async def evaluate(self, expression: str, arg: Any, timeout: float) -> Any:
        return await (await self._page()).evaluate(expression, arg, timeout)

    async def cors_reasons(self) -> Mapping[str, str]:
        return {} if self._inner is None else await self._inner.cors_reasons()

    async def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        try:
            if self._inner is not None:
                await self._inner.close()
        finally:
            if self._holds:
                self._holds = False
                self._session.slots.release()

    def __getattr__(self, name: str) -> Any:
        # Anything else the runner asks of a WebKit page, once there is one.
        inner = self.__dict__.get("_inner")
        if inner is None:
            raise AttributeError(name)
        return getattr(inner, name)


class RemoteWebKitSession(WebKitSession):
    """WebKit on a remote WebDriver endpoint (``resolved.remote``).

    At most ``remote.sessions`` origins hold a WebDriver session at once; idle
    browsers kept for reuse belong to a finished origin's slot.
    """

    def __init__(
        self,
        resolved: ResolvedEngine,
        cookie_policy: CookiePolicy,
        setup: SessionSetup,
        **kwargs: Any,
    ) -> None:
        if resolved.remote is None:
            raise ValueError("RemoteWebKitSession needs a remote endpoint")
        super().__init__(resolved, cookie_policy, setup, **kwargs)
        self.slots = asyncio.Semaphore(resolved.remote.sessions)
        """One per WebDriver session the endpoint serves at once."""
        self.note = f"{self.note} WebKit ran on the WebDriver endpoint {resolved.remote.display}."

    async def open_origin(self) -> OriginPage:
        page: OriginPage = _SlotPage(self)
        return page

    def _start(self) -> None:
        # No local Xvfb: the display is the browser machine's business.
        self._learn_browser()


def webkit_session(
    resolved: ResolvedEngine, cookie_policy: CookiePolicy, setup: SessionSetup, **kwargs: Any
) -> WebKitSession:
    """The WebKit session for ``resolved``: local (own Xvfb) or on a remote endpoint.

    Keyword arguments go to :class:`~harness.engines.webkit.session.WebKitSession` unchanged.
    """
    if resolved.remote is not None:
        return RemoteWebKitSession(resolved, cookie_policy, setup, **kwargs)
    return WebKitSession(resolved, cookie_policy, setup, **kwargs)
