"""The tool's own failures, kept apart from findings about the target.

Each error carries one line for the user; the CLI prints it and exits with
:data:`EXIT_TOOL_ERROR`. Nothing here is about the target's CORS policy.
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


class BudgetExceeded(CorsproofError):
    """The run used up its ``--budget``."""

    kind = "budget"
