"""The system browsers corsproof looks for, and the Debian packages that provide them.

This is the one table of system paths. ``engines.playwright.resolve``, :func:`remote_executable`,
the noxfile, ``.ci/run`` (through ``python3 -m harness.engines.paths apt-missing``)
and the tests all read it. It imports nothing but the standard library, so the
noxfile and a clean CI machine can use it before anything is installed.

A path that exists is not always a browser: on Ubuntu, ``chromium-browser`` and
``firefox`` are transitional packages whose ``/usr/bin`` entries only start a snap,
which Playwright cannot drive (the snap's confinement hides the profile and the
pipes Playwright hands it). Those are skipped, with the reason.
"""

from __future__ import annotations

import os
import shutil
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # only for the annotation: this module must import no more than stdlib
    from harness.config import RemoteEndpoint

SYSTEM_BINARIES: dict[str, tuple[str, ...]] = {
    # Debian 12 (corsproof's reference machine) first.
    "chromium": ("/usr/bin/chromium", "/usr/bin/chromium-browser"),
    "firefox": ("/usr/bin/firefox-esr", "/usr/bin/firefox"),
    # WebKitGTK's WebDriver; it starts the MiniBrowser it was built with (under Xvfb).
    "webkit": ("/usr/bin/WebKitWebDriver",),
}
"""Engine -> system executables, in the order they are tried."""


def remote_executable(remote: RemoteEndpoint) -> str:
    """The browser to start on a browser machine; empty = the server's own default.

    ``?executable=PATH`` wins; otherwise what a browser machine set up like
    corsproof's reference machine (Debian 12) has. WebKitWebDriver starts the
    MiniBrowser it was built with, so WebKit's default is the server's own.
    """
    if remote.executable is not None:
        return remote.executable
    if remote.engine.value == "webkit":
        return ""
    return SYSTEM_BINARIES[remote.engine.value][0]


APT_PACKAGES: dict[str, tuple[str, ...]] = {
    "chromium": ("chromium",),
    "firefox": ("firefox-esr",),
    "webkit": ("webkit2gtk-driver", "xvfb"),
}
"""Engine -> the Debian packages that provide it."""


def snap_shim(path: str) -> bool:
    """True when ``path`` only hands over to a snap (Ubuntu's transitional packages)."""
    try:
        if os.path.realpath(path).startswith("/snap/"):
            return True
        with open(path, "rb") as fp:
            head = fp.read(8192)
    except OSError:
        return False
    return head.startswith(b"#!") and b"/snap/" in head


def minibrowser() -> str | None:
    """WebKitGTK's MiniBrowser, which WebKitWebDriver drives."""
    for lib in sorted(Path("/usr/lib").glob("*/webkit2gtk-4.*/MiniBrowser")):
        return str(lib)
    return None


def find(engine: str) -> tuple[str | None, str]:
    """(executable, why) for the system build of ``engine``; executable None when unusable.

    For WebKit the executable is WebKitWebDriver, and MiniBrowser and Xvfb must exist too.
    """
    skipped: list[str] = []
    for path in SYSTEM_BINARIES[engine]:
        if not Path(path).exists():
            continue
        if snap_shim(path):
            skipped.append(f"{path} only starts a snap, which Playwright cannot drive")
            continue
        if engine == "webkit":
            if minibrowser() is None:
                return None, f"{path} is installed but WebKitGTK's MiniBrowser is not"
            if shutil.which("Xvfb") is None:
                return None, f"{path} is installed but Xvfb is not"
        return path, f"the system build at {path}"
    if skipped:
        return None, "; ".join(skipped)
    return None, f"no system build ({', '.join(SYSTEM_BINARIES[engine])} not found)"


def missing_engines() -> list[str]:
    """Engines without a usable system build."""
    return [engine for engine in SYSTEM_BINARIES if find(engine)[0] is None]


def apt_missing() -> list[str]:
    """The Debian packages that would provide the missing engines."""
    return sorted({p for e in missing_engines() for p in APT_PACKAGES[e]})


def main(argv: Sequence[str]) -> int:
    """``apt-missing``: print the packages to install, one a line (for ``.ci/run``)."""
    if list(argv) != ["apt-missing"]:
        sys.stderr.write("usage: python3 -m harness.engines.paths apt-missing\n")
        return 2
    for package in apt_missing():
        sys.stdout.write(package + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
