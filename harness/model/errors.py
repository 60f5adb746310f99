"""Every error corsproof raises, in one documented tree.

Two families, kept apart from findings about the target:

* :class:`CorsproofError`, the tool's own failures. Each carries one line for the
  user; the CLI prints it and exits with :data:`EXIT_TOOL_ERROR`::

      CorsproofError        base; ``kind`` names it in report.json's ``errors``
      +-- ConfigError       bad command-line input or configuration
      +-- LaunchError       a browser or a harness server did not start
      |   +-- EngineMissing the engine is not installed (the line says how to get it)
      +-- TargetError       the target cannot be reached, or its certificate is not trusted
      +-- BrowserGone       a browser crashed or stopped answering while probing

* :class:`ProbeError`, one page or probe that could not be measured. The run goes
  on; the probes concerned say why::

      ProbeError
      +-- NavigationError   the probe page did not load (``invalid``: the engine refused the URL)
      +-- ScriptError       the probe script threw in the page

:class:`OriginError` (a :class:`ValueError`) is a string that is not an origin; the
CLI turns one from the user into a :class:`ConfigError`.

The engines translate their drivers' exceptions into these once, at their boundary
(``harness/engines``); nothing downstream looks at message text.
"""

from __future__ import annotations

EXIT_CLEAN = 0
"""No finding at or above ``--fail-on``."""
EXIT_FINDINGS = 1
"""At least one finding at or above ``--fail-on``."""
EXIT_TOOL_ERROR = 2
"""corsproof itself failed: bad input, a browser that would not start, an unreachable target."""
EXIT_INTERRUPTED = 130
"""Ctrl-C or SIGTERM; the partial report is still written."""


class CorsproofError(Exception):
    """Base of the tool's own failures; ``str(exc)`` is the one line shown to the user."""

    kind = "error"


class ConfigError(CorsproofError):
    """Bad command-line input or configuration file."""

    kind = "config"


class LaunchError(CorsproofError):
    """A browser or one of the harness servers could not be started."""

    kind = "launch"


class TargetError(CorsproofError):
    """The target cannot be reached, or its TLS certificate is not trusted."""

    kind = "target"


class EngineMissing(LaunchError):
    """The engine is not installed; the message says how to get it."""

    kind = "browser-missing"


class BrowserGone(CorsproofError):
    """A browser crashed, was closed or stopped answering in the middle of probing."""

    kind = "browser-lost"


class ProbeError(Exception):
    """One page or probe could not be measured; the run goes on."""


class NavigationError(ProbeError):
    """The page could not be loaded; ``invalid`` is True when the URL itself was refused."""

    def __init__(self, message: str, *, invalid: bool = False) -> None:
        super().__init__(message)
        self.invalid = invalid


class ScriptError(ProbeError):
    """The evaluated expression threw or its promise rejected."""


class OriginError(ValueError):
    """An origin string that is not ``null`` and not scheme://host[:port]."""


_API_PREFIXES = ("BrowserType.", "Connection.", "CDPSession.", "Page.", "BrowserContext.")
"""Playwright starts messages with the API method ("BrowserType.connect: ..."): noise."""


def first_line(exc: BaseException, *, named: bool = False, limit: int = 200) -> str:
    """The first line an exception says, for a one-line report of it.

    Walks ``__cause__``/``__context__`` to the first exception with a message (httpx
    often wraps the useful OS error in an empty one); reads Selenium's ``msg``; drops a
    Playwright API-method prefix. ``named`` puts the exception's class name first.
    """
    seen: BaseException | None = exc
    for _ in range(6):
        if seen is None:
            break
        text = str(getattr(seen, "msg", None) or seen).strip()
        if text:
            line = text.splitlines()[0]
            if line.startswith(_API_PREFIXES):
                line = line.split(": ", 1)[-1]
            return (f"{type(seen).__name__}: {line}" if named else line)[:limit]
        seen = seen.__cause__ or seen.__context__
    return type(exc).__name__
