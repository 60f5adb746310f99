"""WebKitGTK's MiniBrowser through WebKitWebDriver, locally under Xvfb or remotely.

Imports point one way: ``driver`` (a WebDriver session, the factory protocol,
the local factory) depends on no other module here; ``remote`` (the factory for
a WebDriver endpoint) and ``session`` (the engine session, given a factory)
depend on ``driver``; :func:`webkit_session` here picks the factory.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from harness.engines.playwright import ResolvedEngine, SessionSetup
    from harness.engines.webkit.session import WebKitSession
    from harness.model.results import CookiePolicy


def webkit_session(
    resolved: ResolvedEngine, cookie_policy: CookiePolicy, setup: SessionSetup, **kwargs: Any
) -> WebKitSession:
    """The WebKit session for ``resolved``: local (own Xvfb) or on a remote endpoint.

    Keyword arguments go to :class:`~harness.engines.webkit.session.WebKitSession` unchanged.
    """
    # Imported here, not at the top: importing any module of this package runs this
    # file first, and e.g. the remote factory must not drag in the session with it.
    from harness.engines.webkit.driver import DriverFactory, LocalDriverFactory
    from harness.engines.webkit.remote import RemoteDriverFactory
    from harness.engines.webkit.session import WebKitSession

    factory: DriverFactory
    if resolved.remote is not None:
        factory = RemoteDriverFactory(resolved.remote)
    else:
        factory = LocalDriverFactory(resolved.executable, resolved.driver)
    return WebKitSession(resolved, cookie_policy, setup, factory, **kwargs)
