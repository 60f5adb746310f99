"""The victim's session: which cookies the browsers and the replay carry, per target.

The user's (``--cookie``, ``--login-url``, ``--storage-state``) or, for lab runs
without one, the lab's own session cookie. Whether it went with a probe is measured
by the wire witness (:mod:`harness.run.witness`), never assumed from this.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any
from urllib.parse import urlsplit

from harness.config import RunConfig
from harness.engines.playwright import cookie_for_playwright


def user_session(config: RunConfig) -> bool:
    """True when the user supplied the victim's session; the lab's own is then not added."""
    return bool(config.cookies or config.login_urls or config.storage_state)


def cookie_header(config: RunConfig, targets: Sequence[str], lab: Any | None) -> dict[str, str]:
    """Per target host, the Cookie header the replay sends: the user's cookies, or the lab's."""
    out: dict[str, str] = {}
    for target in targets:
        host = urlsplit(target).hostname or ""
        pairs = [f"{c.name}={c.value}" for c in config.cookies if (c.domain or host) in host]
        if lab is not None and not user_session(config):
            pairs.append(f"{lab.session_cookie_name}={lab.session_value}")
        if pairs:
            out[host] = "; ".join(pairs)
    return out


def playwright_cookies(
    config: RunConfig, targets: Sequence[str], lab: Any | None
) -> list[dict[str, Any]]:
    """The victim's cookies as Playwright sets them (SameSite and Secure defaulted as a
    browser would store a cookie set over that scheme), one per (name, domain, path)."""
    cookies = []
    for target in targets:
        parts = urlsplit(target)
        host = parts.hostname or ""
        secure_target = parts.scheme == "https"
        for c in config.cookies:
            secure = c.secure if c.secure is not None else secure_target
            same_site = c.same_site or ("None" if secure else "Lax")
            cookies.append(
                cookie_for_playwright(
                    c.name,
                    c.value,
                    host=host,
                    secure=secure,
                    same_site=same_site,
                    path=c.path,
                    domain=c.domain,
                    http_only=c.http_only,
                )
            )
        if lab is not None and not user_session(config):
            cookies.append(
                cookie_for_playwright(
                    lab.session_cookie_name,
                    lab.session_value,
                    host=host,
                    secure=True,
                    same_site="None",
                    http_only=True,
                )
            )
    unique = {(c["name"], c["domain"], c["path"]): c for c in cookies}
    return list(unique.values())


def target_pages(targets: Iterable[str]) -> list[tuple[str, str]]:
    """(scheme, host) of each target, where its responses could have set cookies."""
    pages = []
    for target in targets:
        parts = urlsplit(target)
        if parts.hostname:
            pages.append((parts.scheme, parts.hostname))
    return pages
