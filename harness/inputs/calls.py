"""One request a frontend makes, or an API description says is made: :class:`Call`.

OpenAPI documents (:mod:`harness.inputs.openapi`) and HAR recordings
(:mod:`harness.inputs.har`) both come down to these records, from which the probe
plan builds request shapes. A call keeps what matters to CORS and nothing secret:
the method, the endpoint, the *names* of the headers page JavaScript sets, the media
type of the body, and the credentials mode. Header values, cookies, bodies and
recorded query strings never enter it.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from harness.model.cors import SAFELISTED_HEADERS, needs_preflight
from harness.model.errors import ConfigError

CREDENTIALS_MODES = ("include", "same-origin", "omit")
"""The fetch ``credentials`` modes a call can have."""
APIS = ("fetch", "xhr")
"""The page APIs a call can come from."""

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
"""Methods that do not change server state (RFC 9110 section 9.2.1, less TRACE)."""

_BROWSER_HEADERS = frozenset(
    {
        # The Fetch standard's forbidden request headers: page JavaScript cannot set
        # them, so they never shape a CORS request.
        "accept-charset",
        "accept-encoding",
        "access-control-request-headers",
        "access-control-request-method",
        "access-control-request-private-network",
        "connection",
        "content-length",
        "cookie",
        "cookie2",
        "date",
        "dnt",
        "expect",
        "host",
        "keep-alive",
        "origin",
        "referer",
        "set-cookie",
        "te",
        "trailer",
        "transfer-encoding",
        "upgrade",
        "via",
        # Set by the browser itself on every request (or by its cache), so a recording
        # shows them although the frontend never asked for them.
        "user-agent",
        "cache-control",
        "pragma",
        "priority",
        "purpose",
        "upgrade-insecure-requests",
        "if-none-match",
        "if-modified-since",
        "x-client-data",
    }
)
_BROWSER_PREFIXES = ("sec-", "proxy-", ":")
"""``sec-*`` and ``proxy-*`` are forbidden; ``:authority`` and friends are HTTP/2
pseudo-headers that DevTools lists among the request headers."""

_HEADER_NAME = re.compile(r"^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$")
_ACRONYMS = {"csrf": "CSRF", "xsrf": "XSRF"}
"""Words title case would spell wrong in the header names frontends commonly send."""


def is_header_name(name: str) -> bool:
    """Whether ``name`` is a valid HTTP field name (an RFC 9110 token)."""
    return bool(_HEADER_NAME.match(name))


def canonical_header_name(name: str) -> str:
    """The name as written, or title case when written all lower case (HTTP/2 does that).

    ``x-csrf-token`` becomes ``X-CSRF-Token``; ``X-Api-Key`` stays as it is.
    """
    if name != name.lower():
        return name
    return "-".join(_ACRONYMS.get(part, part.capitalize()) for part in name.split("-"))


def cors_header_names(names: Iterable[str]) -> tuple[str, ...]:
    """The names among ``names`` that shape a CORS request, canonical, sorted, unique.

    Dropped: forbidden request headers and those the browser adds by itself (page
    JavaScript did not set them), the safelisted ``Accept``, ``Accept-Language`` and
    ``Content-Language`` (they never force a preflight, and without values there is
    nothing to tell apart), ``Content-Type`` (a call's ``content_type``), and
    anything that is not a valid header name.
    """
    seen: dict[str, str] = {}
    for name in names:
        lower = name.lower()
        if (
            not is_header_name(name)
            or lower in _BROWSER_HEADERS
            or lower in SAFELISTED_HEADERS
            or lower.startswith(_BROWSER_PREFIXES)
        ):
            continue
        seen.setdefault(lower, canonical_header_name(name))
    return tuple(seen[key] for key in sorted(seen))


def media_type(value: str | None) -> str | None:
    """``type/subtype`` of a Content-Type value, lower case, without parameters.

    None for a missing, malformed or wildcard value. Only the media type is ever
    kept: parameters can carry anything.
    """
    if not value:
        return None
    kind = value.split(";", 1)[0].strip().lower()
    main, slash, sub = kind.partition("/")
    if not slash or not is_header_name(main) or not is_header_name(sub) or "*" in kind:
        return None
    return kind


@dataclass(frozen=True, slots=True)
class Call:
    """One request a frontend makes or an API description declares.

    ``header_names`` is normalized on construction with :func:`cors_header_names`,
    and ``method`` is upper-cased, so equal calls compare equal however they were
    written down.
    """

    method: str
    url: str
    """The absolute endpoint URL, without fragment."""
    header_names: tuple[str, ...] = ()
    """Names of the request headers page JavaScript sets; never their values."""
    content_type: str | None = None
    """The media type of the body (``application/json``), without parameters."""
    credentials: str = "include"
    """The fetch credentials mode: ``include``, ``same-origin`` or ``omit``."""
    api: str = "fetch"
    """``fetch`` or ``xhr``."""
    origin: str | None = None
    """The frontend origin that made the call; None when a description declared it."""
    source: str = ""
    """Where the call was found, e.g. ``frontend.har: entry 12``."""

    def __post_init__(self) -> None:
        object.__setattr__(self, "method", self.method.upper())
        object.__setattr__(self, "header_names", cors_header_names(self.header_names))
        if self.credentials not in CREDENTIALS_MODES:
            raise ValueError(f"credentials must be one of {CREDENTIALS_MODES}")
        if self.api not in APIS:
            raise ValueError(f"api must be one of {APIS}")

    @property
    def preflighted(self) -> bool:
        """Whether a browser preflights this call (Fetch standard, CORS-safelisting)."""
        headers = [(name, "") for name in self.header_names]
        if self.content_type:
            headers.append(("Content-Type", self.content_type))
        return needs_preflight(self.method, headers)

    @property
    def state_changing(self) -> bool:
        """Whether the method may change server state (not GET, HEAD or OPTIONS)."""
        return self.method not in SAFE_METHODS

    @property
    def label(self) -> str:
        """The call as findings name it.

        ``POST /api/items as application/json with X-CSRF-Token from https://app.example.com``
        """
        path = urlsplit(self.url).path or "/"
        text = f"{self.method} {path}"
        if self.content_type:
            text += f" as {self.content_type}"
        if self.header_names:
            text += f" with {', '.join(self.header_names)}"
        if self.origin:
            text += f" from {self.origin}"
        return text

    def to_dict(self) -> dict[str, Any]:
        """The call as report.json holds it."""
        return {
            "label": self.label,
            "method": self.method,
            "url": self.url,
            "header_names": list(self.header_names),
            "content_type": self.content_type,
            "credentials": self.credentials,
            "api": self.api,
            "origin": self.origin,
            "source": self.source,
            "preflighted": self.preflighted,
            "state_changing": self.state_changing,
        }


def read_capped(path: Path, label: str, limit: int) -> bytes:
    """The bytes of an input file (OpenAPI document, HAR), at most ``limit`` of them;
    ConfigError of one line naming ``label`` when it is missing, unreadable or larger."""
    try:
        with path.open("rb") as handle:
            data = handle.read(limit + 1)
    except FileNotFoundError:
        raise ConfigError(f"{label}: no such file") from None
    except OSError as exc:
        raise ConfigError(
            f"{label}: cannot read it: {exc.strerror or type(exc).__name__}"
        ) from None
    if len(data) > limit:
        raise ConfigError(f"{label}: larger than {limit // (1024 * 1024)} MiB")
    return data
