"""Request shapes: what the probing page's JavaScript sends.

Two shapes cover the two CORS paths: a simple request the browser sends without
asking, and a preflighted one that needs the server's OPTIONS approval first.
"""

from __future__ import annotations

from harness.model.results import Shape

__all__ = ["PREFLIGHT_JSON", "SIMPLE_GET", "TOKEN_GET", "default_shapes"]

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
