"""Shared-context pages: reused from origin to origin, replaced when they break, and
the victim's jar put back when a target changed it (real Chromium, no network)."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from conftest import needs_chromium

from harness.config import EngineChoice
from harness.engines import playwright as browsers
from harness.engines.playwright import PlaywrightSession, SessionSetup
from harness.model.results import CookiePolicy, Engine

pytestmark = [pytest.mark.browser]

VICTIM = {
    "name": "sid",
    "value": "victim-session",
    "domain": "api.example.com",
    "path": "/",
    "secure": True,
    "httpOnly": True,
    "sameSite": "None",
}


async def _session() -> tuple[Any, PlaywrightSession]:
    manager, pw = await browsers.start_playwright()
    resolved = browsers.resolve(EngineChoice(Engine.CHROMIUM), "system")
    # Nothing here leaves the page: the proxy is never asked.
    setup = SessionSetup(cookies=[VICTIM], proxy_url="http://127.0.0.1:9")
    session = PlaywrightSession(pw, resolved, CookiePolicy.DEFAULT, setup)
    await session.start()
    return manager, session


def _jar(cookies: list[dict[str, Any]]) -> set[tuple[str, str, str]]:
    return {(c["name"], c["domain"], c["value"]) for c in cookies}


@needs_chromium
def test_shared_pages_are_reused_replaced_and_keep_the_victims_jar() -> None:
    async def go() -> None:
        manager, session = await _session()
        try:
            first = await session.open_origin(0)
            assert isinstance(first, browsers.PlaywrightOriginPage)
            context = first._context
            # A target logs the victim out and plants a cookie of its own.
            await context.clear_cookies(name="sid")
            await context.add_cookies(
                [{"name": "stray", "value": "x", "domain": "api.example.com", "path": "/"}]
            )
            await first.close()
            assert _jar(await context.cookies()) == {("sid", "api.example.com", "victim-session")}
            assert session.jar_restores == 1

            again = await session.open_origin(0)
            assert again is first  # handed back, not closed
            with pytest.raises(TimeoutError):
                await again.evaluate("() => new Promise(() => {})", None, 0.5)
            assert not again.healthy
            await again.close()
            fresh = await session.open_origin(0)
            assert fresh is not first
            assert fresh._context is context  # the same shared context, a new page
            assert first._page.is_closed()

            # Another slot is another context; no slot is a context of its own.
            other = await session.open_origin(1)
            alone = await session.open_origin()
            assert isinstance(other, browsers.PlaywrightOriginPage)
            assert isinstance(alone, browsers.PlaywrightOriginPage)
            assert len({id(p._context) for p in (fresh, other, alone)}) == 3
            await alone.close()
            assert alone._page.is_closed()
            assert session.alive()
        finally:
            await session.close()
            await manager.__aexit__(None, None, None)

    asyncio.run(go())
