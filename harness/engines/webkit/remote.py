"""WebKit on another machine: a WebDriver endpoint instead of a local WebKitWebDriver.

The endpoint is a Selenium Grid, or a ``WebKitWebDriver --port=P --host=all``
started on the browser machine (itself a WebDriver endpoint, as a Grid node is).
:class:`RemoteDriverFactory` is the
:class:`~harness.engines.webkit.driver.DriverFactory` that
:class:`~harness.engines.webkit.session.WebKitSession` is given for it; the
session is the same as locally in every respect but what the factory tells it:
no local Xvfb (the display is the browser machine's business), the proxy at an
address the browser machine can reach, and at most ``sessions`` WebDriver
sessions at once (the session queues its origins on that many slots).
MiniBrowser gets the same arguments as locally, so the proxy, ``--automation``
and the cookie profiles behave the same (measured with a local WebKitWebDriver
endpoint: ``tests/test_remote.py``).

Of the WebKit package this module imports :mod:`harness.engines.webkit.driver`
only, never the session.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from harness.config import RemoteEndpoint
from harness.engines.paths import remote_executable
from harness.engines.playwright import reachable_proxy_url
from harness.engines.webkit.driver import Driver
from harness.model.errors import LaunchError, first_line

REMOTE_COMMAND_TIMEOUT = 120
"""Seconds one command to a remote WebDriver endpoint may take (a page load is 30 s)."""


class RemoteDriverFactory:
    """WebDriver sessions on the endpoint ``remote`` (``--remote webkit=URL``).

    A WebDriver endpoint serves a fixed number of sessions (WebKitWebDriver
    itself: one, "Maximum number of active sessions" beyond it, measured), so
    :attr:`max_sessions` is the endpoint's ``?sessions=N``.
    """

    needs_display = False

    def __init__(self, remote: RemoteEndpoint) -> None:
        self.remote = remote
        self.binary_location = remote_executable(remote)
        self.note = f"WebKit ran on the WebDriver endpoint {remote.display}."
        self.max_sessions: int | None = remote.sessions

    def proxy_url(self, proxy_url: str) -> str:
        """A wildcard-bound proxy as the address on the route to the browser machine."""
        return reachable_proxy_url(proxy_url, self.remote.host)

    def launch(self, opts: Any, env: Mapping[str, str]) -> Driver:
        """A session on the endpoint; ``env`` is not used (the endpoint has its own)."""
        return remote_driver(self.remote, opts)


def remote_driver(remote: RemoteEndpoint, opts: Any) -> Driver:
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
    return Driver(driver, None)


def _why(exc: BaseException) -> str:
    """One short line: urllib3 wraps a refused connection in a paragraph of repr()."""
    text = first_line(exc)
    if "Failed to establish a new connection" in text or "Max retries exceeded" in text:
        found = re.search(r"\[Errno -?\d+\] ([^\"')]+)", text)
        return f"cannot connect to the WebDriver endpoint ({found.group(1) if found else text})"
    return f"WebDriver session failed: {text}"
