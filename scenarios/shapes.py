"""Request shapes: what the probing page's JavaScript sends.

Two shapes cover the two CORS paths: a simple request the browser sends without
asking, and a preflighted one that needs the server's OPTIONS approval first.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Protocol
from urllib.parse import urlsplit

from harness.model.cors import needs_preflight
from harness.model.results import Shape

__all__ = [
    "CALL_PREFIX",
    "PREFLIGHT_JSON",
    "SIMPLE_GET",
    "TOKEN_GET",
    "call_shapes",
    "default_shapes",
]

CALL_PREFIX = "call:"
"""Shape names of the frontend's own calls (``--har``) and of API operations
(``--openapi``) start with this; the rest of the name is the call, as a reader names it."""

_PROBE_VALUE = "corsproof-probe"
"""The value of every header a call shape sends: the name is what CORS judges."""

SIMPLE_GET = "simple-get"
"""Shape id of the simple, never-preflighted GET."""
PREFLIGHT_JSON = "preflight-json"
"""Shape id of the preflighted request (or its safe stand-in)."""
TOKEN_GET = "token-get"  # noqa: S105 - a shape name, not a secret
"""Shape id of the GET that carries the user's own credential headers (``--header``)."""

_PROBE_BEARER = "Bearer corsproof-probe"
"""A dummy credential: it makes the request preflighted without carrying a real secret."""


def default_shapes(*, unsafe: bool, lab: bool, token: bool = False) -> list[Shape]:
    """The shapes every probe plan uses.

    With ``token`` (the user gave ``--header`` credentials) a third shape sends them the
    way a token-based frontend does: a GET with the header and no cookies. From the
    legitimate origins it proves the frontend works; from attacker origins it only
    shows what the server would allow, since no browser attaches a token by itself.

    The preflighted shape is a JSON POST only with ``unsafe`` (the user accepts
    state-changing requests) or ``lab`` (the target is corsproof's own lab server).
    Otherwise a GET with non-safelisted headers stands in: it still forces a
    preflight, but cannot change server state.
    """
    simple = Shape(
        name=SIMPLE_GET,
        method="GET",
        preflighted=False,
        description=(
            "A plain GET with no custom headers: a simple request, sent without a preflight."
        ),
    )
    if unsafe or lab:
        preflight = Shape(
            name=PREFLIGHT_JSON,
            method="POST",
            headers=(
                ("Content-Type", "application/json"),
                ("Authorization", _PROBE_BEARER),
            ),
            body='{"corsproof":"probe"}',
            preflighted=True,
            description=(
                "A JSON POST with an Authorization header: both force a preflight "
                "that the server must approve."
            ),
        )
    else:
        preflight = Shape(
            name=PREFLIGHT_JSON,
            method="GET",
            # Authorization alone forces a preflight. A made-up header would too, but
            # real allowlists do not name it, and the frontend would look broken.
            headers=(("Authorization", _PROBE_BEARER),),
            preflighted=True,
            safe_substitute=True,
            description=(
                "A GET with an Authorization header stands in for a JSON POST because "
                "--unsafe was not given; the header still forces a preflight."
            ),
        )
    shapes = [simple, preflight]
    if token:
        shapes.append(
            Shape(
                name=TOKEN_GET,
                method="GET",
                preflighted=True,
                token=True,
                description=(
                    "A GET with the user's own credential headers (--header), without "
                    "cookies: how a token-based frontend calls the API."
                ),
            )
        )
    return shapes


class CallLike(Protocol):
    """A request some frontend makes or an API description declares
    (:class:`harness.inputs.calls.Call`); only names, never values."""

    @property
    def method(self) -> str: ...
    @property
    def url(self) -> str: ...
    @property
    def header_names(self) -> tuple[str, ...]: ...
    @property
    def content_type(self) -> str | None: ...
    @property
    def preflighted(self) -> bool: ...
    @property
    def state_changing(self) -> bool: ...


def _call_name(call: CallLike, method: str) -> str:
    parts = urlsplit(call.url)
    path = parts.path or "/"
    with_headers = f" with {', '.join(call.header_names)}" if call.header_names else ""
    return f"{CALL_PREFIX}{method} {path}{with_headers}"


def call_shape(call: CallLike, *, unsafe: bool) -> Shape | None:
    """The probe shape that reproduces ``call``, or None when a catalogue shape already
    sends the same request (a plain GET).

    Header values are a fixed dummy: CORS judges header names. Without ``unsafe`` a
    state-changing call is sent as GET with the same headers, the safe stand-in of
    :func:`default_shapes`: its preflight still names every header, but not the method.
    """
    if call.method in ("GET", "HEAD") and not call.header_names and not call.content_type:
        return None
    stand_in = call.state_changing and not unsafe
    method = "GET" if stand_in else call.method
    headers = [(name, _PROBE_VALUE) for name in call.header_names if name.lower() != "content-type"]
    body = None
    if not stand_in and call.method not in ("GET", "HEAD"):
        ctype = call.content_type or "text/plain"
        headers.append(("Content-Type", ctype))
        body = '{"corsproof":"probe"}' if ctype.endswith("json") else "corsproof=probe"
    note = (
        " Sent as GET with the same headers because --unsafe was not given: the preflight "
        f"checks the headers, not {call.method}."
        if stand_in
        else ""
    )
    return Shape(
        name=_call_name(call, call.method),
        method=method,
        headers=tuple(headers),
        body=body,
        preflighted=needs_preflight(method, headers),
        safe_substitute=stand_in,
        description=f"The call {call.method} {urlsplit(call.url).path or '/'} as recorded or "
        f"declared.{note}",
    )


def call_shapes(calls: Iterable[CallLike], *, unsafe: bool) -> tuple[tuple[str, Shape], ...]:
    """(target URL, shape) for every call that needs a shape of its own, first of each
    name per target kept."""
    seen: dict[tuple[str, str], Shape] = {}
    for call in calls:
        shape = call_shape(call, unsafe=unsafe)
        if shape is not None:
            seen.setdefault((call.url, shape.name), shape)
    return tuple((url, shape) for (url, _), shape in seen.items())


def shapes_for(
    target: str, base: Sequence[Shape], extra: Sequence[tuple[str, Shape]]
) -> list[Shape]:
    """The catalogue's shapes, then the calls' own for ``target``."""
    return [*base, *(shape for url, shape in extra if url == target)]
