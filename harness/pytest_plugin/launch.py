"""A test suite's launch options merged into corsproof's: pure, and the one place it is done.

pytest-playwright users set launch options in their suite (``--headed``,
``--browser-channel``, a ``browser_type_launch_args`` or ``connect_options`` fixture
in a conftest). corsproof's probing browsers take them too, except where corsproof's
own launch settings are what makes the measurement true: Chromium's profile (it
allows third-party cookies, as default Chrome does), the features and Firefox
preferences corsproof switches off, and the proxy every probe goes through. There
corsproof's value wins and :func:`merge_launch` says so, one line per conflict; the
plugin turns each line into a pytest warning.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from harness.config import ENDPOINT_KEYS, LAUNCH_OPTIONS_HEADER
from harness.model.results import Engine

REFUSED_CHROMIUM_FLAGS: Mapping[str, str] = {
    "--disable-web-security": "it turns the same-origin policy off, so every probe would read",
    "--user-data-dir": "corsproof launches Chromium on a profile of its own, whose preferences "
    "allow third-party cookies as default Chrome does",
    "--incognito": "an incognito profile blocks third-party cookies, which default Chrome does not",
    "--proxy-server": "every probe goes through corsproof's proxy, which witnesses what was sent",
    "--proxy-pac-url": "every probe goes through corsproof's proxy, which witnesses what was sent",
    "--proxy-bypass-list": "every probe goes through corsproof's proxy, which witnesses what "
    "was sent",
    "--no-proxy-server": "every probe goes through corsproof's proxy, which witnesses what "
    "was sent",
}
"""Chromium switches a test suite may not give the probing browser, and why."""

REFUSED_FIREFOX_PREFS: Mapping[str, str] = {
    "content.cors.disable": "it turns CORS off, so every probe would read",
    "network.cookie.cookieBehavior": "corsproof's cookie profiles set it (default: as shipped; "
    "permissive: third-party cookies allowed)",
}
"""Firefox preferences a test suite may not set in the probing browser, and why."""

REFUSED_FIREFOX_PREFIXES: Mapping[str, str] = {
    "network.proxy.": "every probe goes through corsproof's proxy, which witnesses what was sent",
}

_PROXY_WHY = "every probe goes through corsproof's proxy (set on each probing context)"


@dataclass(frozen=True)
class Merged:
    """Launch (or connect) options after the merge, and one line per conflict."""

    options: dict[str, Any]
    conflicts: tuple[str, ...] = ()


def _switch(arg: str) -> str:
    return arg.split("=", 1)[0]


def _features(arg: str) -> list[str]:
    return [f.strip() for f in arg.split("=", 1)[1].split(",") if f.strip()] if "=" in arg else []


def merge_chromium_args(ours: Sequence[str], theirs: Sequence[str]) -> tuple[list[str], list[str]]:
    """Chromium's command line: corsproof's switches, then the suite's (merged args, conflicts).

    Chromium honours only the last ``--disable-features``, so the suite's features join
    corsproof's one switch; an ``--enable-features`` that names a feature corsproof
    disables loses that feature. Switches in :data:`REFUSED_CHROMIUM_FLAGS` are dropped.
    """
    out = list(ours)
    conflicts: list[str] = []
    disabled_at = next((i for i, a in enumerate(out) if a.startswith("--disable-features=")), None)
    disabled = _features(out[disabled_at]) if disabled_at is not None else []
    for arg in theirs:
        switch = _switch(arg)
        if switch in REFUSED_CHROMIUM_FLAGS:
            conflicts.append(
                f"browser_type_launch_args args: {arg!r} is not used, because "
                f"{REFUSED_CHROMIUM_FLAGS[switch]}"
            )
            continue
        if switch == "--disable-features":
            new = [f for f in _features(arg) if f not in disabled]
            disabled += new
            if disabled_at is None:
                disabled_at = len(out)
                out.append("")
            continue
        if switch == "--enable-features":
            wanted = _features(arg)
            kept = [f for f in wanted if f not in disabled]
            lost = [f for f in wanted if f in disabled]
            if lost:
                conflicts.append(
                    f"browser_type_launch_args args: --enable-features {','.join(lost)} is not "
                    "used: corsproof keeps it disabled (it would change what the probes measure)"
                )
            if kept:
                out.append(f"--enable-features={','.join(kept)}")
            continue
        if arg not in out:
            out.append(arg)
    if disabled_at is not None:
        out[disabled_at] = f"--disable-features={','.join(disabled)}"
    return out, conflicts


def merge_firefox_prefs(
    ours: Mapping[str, Any], theirs: Mapping[str, Any]
) -> tuple[dict[str, Any], list[str]]:
    """Firefox preferences: the suite's added to corsproof's, which win (merged, conflicts)."""
    out = dict(ours)
    conflicts: list[str] = []
    for key, value in theirs.items():
        why = REFUSED_FIREFOX_PREFS.get(key) or next(
            (w for p, w in REFUSED_FIREFOX_PREFIXES.items() if key.startswith(p)), None
        )
        if key in ours:
            if ours[key] != value:
                conflicts.append(
                    f"firefox_user_prefs {key}={value!r} is not used: corsproof sets "
                    f"{ours[key]!r}" + (f", because {why}" if why else "")
                )
            continue
        if why is not None:
            conflicts.append(f"firefox_user_prefs {key}={value!r} is not used, because {why}")
            continue
        out[key] = value
    return out, conflicts


def merge_launch(engine: Engine, ours: Mapping[str, Any], theirs: Mapping[str, Any]) -> Merged:
    """corsproof's launch options for ``engine`` with a test suite's merged in.

    ``ours`` are the keyword arguments corsproof launches with (``headless``, ``args``,
    ``executable_path``, ``channel``, ``firefox_user_prefs``); ``theirs`` pytest-playwright's
    ``browser_type_launch_args``. The suite's ``headless`` (``--headed``), ``slow_mo``,
    ``env``, ``timeout`` and the rest are taken as given. Its ``channel`` picks the
    browser build, so corsproof's ``executable_path`` goes (Firefox keeps corsproof's
    channel unless the suite's is a ``moz-firefox`` one). Its ``proxy`` is never used,
    and its ``args`` and ``firefox_user_prefs`` are merged by
    :func:`merge_chromium_args` and :func:`merge_firefox_prefs`. Pure.
    """
    out = dict(ours)
    conflicts: list[str] = []
    for key, value in theirs.items():
        if key == "args" and engine is Engine.CHROMIUM:
            out["args"], lost = merge_chromium_args(out.get("args") or [], list(value or []))
            conflicts += lost
        elif key == "args":
            have = list(out.get("args") or [])
            out["args"] = [*have, *(a for a in value or [] if a not in have)]
        elif key == "firefox_user_prefs":
            if engine is Engine.FIREFOX:
                out[key], lost = merge_firefox_prefs(out.get(key) or {}, value or {})
                conflicts += lost
            # Other engines take no Firefox preferences (Playwright would refuse the key).
        elif key == "proxy":
            if value:
                conflicts.append(
                    f"browser_type_launch_args proxy is not used, because {_PROXY_WHY}"
                )
        elif key == "channel":
            if not value or value == out.get("channel"):
                continue
            if engine is Engine.FIREFOX and not str(value).startswith("moz-firefox"):
                conflicts.append(
                    f"browser channel {value!r} is not a Firefox channel; corsproof keeps "
                    f"{out.get('channel') or 'its own Firefox build'}"
                )
                continue
            out["channel"] = value
            if "executable_path" not in theirs:
                out.pop("executable_path", None)
        elif key == "executable_path":
            if value:
                out[key] = value
        elif key == "headless" or key not in out:
            out[key] = value
        elif out[key] != value:
            conflicts.append(
                f"browser_type_launch_args {key}={value!r} is not used: corsproof sets {out[key]!r}"
            )
    return Merged(out, tuple(conflicts))


def merge_connect(ours: Mapping[str, Any], theirs: Mapping[str, Any]) -> Merged:
    """``BrowserType.connect`` options: corsproof's, with a suite's ``connect_options``.

    The endpoint is corsproof's (made from the suite's ``endpoint`` or ``ws_endpoint``),
    and so is the launch-options header, which carries corsproof's merged launch options. The
    suite's other headers (a token for the browser server, say), ``timeout``,
    ``slow_mo`` and ``expose_network`` are taken. Pure.
    """
    out = dict(ours)
    conflicts: list[str] = []
    headers = dict(ours.get("headers") or {})
    for name, value in dict(theirs.get("headers") or {}).items():
        if name.lower() == LAUNCH_OPTIONS_HEADER:
            conflicts.append(
                f"connect_options header {name} is not used: corsproof sends its own launch "
                "options (give yours in browser_type_launch_args, they are merged)"
            )
            continue
        headers[name] = value
    if headers:
        out["headers"] = headers
    for key, value in theirs.items():
        if key not in (*ENDPOINT_KEYS, "headers"):
            out[key] = value
    return Merged(out, tuple(conflicts))


class SuiteLaunch:
    """A :class:`harness.config.LaunchAdjuster` from a test suite's options.

    Each merge's conflicts are kept (once each) for the plugin to warn about; the
    engines call it from corsproof's own thread, so the list is locked.
    """

    def __init__(
        self, launch: Mapping[str, Any] | None = None, connect: Mapping[str, Any] | None = None
    ) -> None:
        self._launch = dict(launch or {})
        self._connect = dict(connect or {})
        self._lock = threading.Lock()
        self._conflicts: list[str] = []

    def _keep(self, merged: Merged) -> dict[str, Any]:
        with self._lock:
            self._conflicts += [c for c in merged.conflicts if c not in self._conflicts]
        return merged.options

    def launch(self, engine: Engine, options: dict[str, Any]) -> dict[str, Any]:
        """corsproof's launch options for ``engine`` with the suite's merged in."""
        return self._keep(merge_launch(engine, options, self._launch))

    def connect(self, engine: Engine, options: dict[str, Any]) -> dict[str, Any]:
        """corsproof's connect options with the suite's ``connect_options`` merged in."""
        return self._keep(merge_connect(options, self._connect))

    def conflicts(self) -> list[str]:
        """Every conflict seen so far, in order, each once."""
        with self._lock:
            return list(self._conflicts)
