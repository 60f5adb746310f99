"""WebDriver sessions for WebKit, and where they come from.

A :class:`Driver` is one WebDriver session (one MiniBrowser). A
:class:`DriverFactory` opens them and tells
:class:`~harness.engines.webkit.session.WebKitSession` what it needs to know
about where the browser runs: whether a local X display is needed, the
MiniBrowser path, the proxy address the browser can reach, a note for the
report, and how many sessions may run at once. :class:`LocalDriverFactory`
starts WebKitWebDriver on this machine;
:class:`~harness.engines.webkit.remote.RemoteDriverFactory` talks to an endpoint
on another one.

This module imports nothing else of the WebKit package: the session and the
remote factory both depend on it, never the other way round.
"""

from __future__ import annotations

import contextlib
import os
import signal
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Protocol

from harness.model.errors import LaunchError, first_line

DEFAULT_DRIVER = "/usr/bin/WebKitWebDriver"
"""WebKitWebDriver as Debian's ``webkit2gtk-driver`` installs it."""


class Driver:
    """One WebDriver session, with the process group of its driver so none can linger.

    ``service`` is the local WebKitWebDriver service, or None for a session on a
    remote endpoint (there is then no local process to end).
    """

    def __init__(self, driver: Any, service: Any) -> None:
        self.driver = driver
        self.service = service
        proc = getattr(service, "process", None)
        self.pid: int | None = proc.pid if proc is not None else None
        self.uses = 0
        """Origins this browser has served."""
        self.jar_dirty = True
        """A target may have changed its cookies since they were last set (unknown: yes)."""

    def quit(self) -> None:
        """End the WebDriver session, then whatever of its process group is still alive."""
        try:
            with contextlib.suppress(Exception):
                self.driver.quit()
        finally:
            _kill_group(self.pid)


class DriverFactory(Protocol):
    """Where WebKit runs: opens WebDriver sessions and describes the browser's machine."""

    @property
    def needs_display(self) -> bool:
        """True when MiniBrowser runs here and the session must give it an Xvfb."""

    @property
    def binary_location(self) -> str:
        """MiniBrowser's path on the browser machine; empty leaves it to the driver."""

    @property
    def note(self) -> str:
        """Where the browser ran, for the report's notes; empty when nothing to say."""

    @property
    def max_sessions(self) -> int | None:
        """WebDriver sessions that may be open at once; None for no limit."""

    def proxy_url(self, proxy_url: str) -> str:
        """The harness proxy's URL as the browser machine can reach it; raises LaunchError."""

    def launch(self, opts: Any, env: Mapping[str, str]) -> Driver:
        """A new WebDriver session with WebKitGTK ``opts``; raises LaunchError.

        ``env`` is the environment for a driver process on this machine (the
        session's display); a factory whose browser runs elsewhere ignores it.
        """


class LocalDriverFactory:
    """WebKitWebDriver started here, one process (group) per WebDriver session."""

    needs_display = True
    note = ""
    max_sessions: int | None = None

    def __init__(self, executable: str, driver_path: str = "") -> None:
        self.binary_location = executable
        self.driver_path = driver_path or DEFAULT_DRIVER

    def proxy_url(self, proxy_url: str) -> str:
        """The proxy listens on this machine, so the browser reaches it as it is."""
        return proxy_url

    def launch(self, opts: Any, env: Mapping[str, str]) -> Driver:
        """Start WebKitWebDriver with ``env`` and open a session on it; raises LaunchError."""
        from selenium import webdriver
        from selenium.webdriver.webkitgtk.service import Service

        service = Service(
            self.driver_path,
            env=dict(env),
            # Its own process group: quitting can then end every process it started.
            popen_kw={"start_new_session": True},
        )
        try:
            driver = webdriver.WebKitGTK(service=service, options=opts)
        except Exception as exc:
            proc = getattr(service, "process", None)
            _kill_group(proc.pid if proc is not None else None)
            raise LaunchError(f"webkit: WebDriver session failed: {first_line(exc)}") from None
        return Driver(driver, service)


def _kill_group(pid: int | None) -> None:
    """End WebKitWebDriver and everything it started (MiniBrowser, web/network processes).

    The driver runs in its own session, so its process group holds exactly the
    processes of this WebDriver session.
    """
    if not pid:
        return
    for sig, pause in ((signal.SIGTERM, 1.0), (signal.SIGKILL, 0.0)):
        # After a clean quit only zombies remain (already dead, waiting for init to
        # reap them); signalling and waiting for those would cost a second per origin.
        if not _live_members(pid):
            return
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(pid, sig)
        deadline = time.monotonic() + pause
        while time.monotonic() < deadline and _live_members(pid):
            time.sleep(0.05)


def _live_members(pgid: int) -> list[int]:
    """Processes of a process group that are not zombies (Linux /proc)."""
    live = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            # "pid (comm) state ppid pgrp ..."; comm may contain spaces and parens.
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        if len(fields) > 2 and fields[2] == str(pgid) and fields[0] != "Z":
            live.append(int(entry.name))
    return live
