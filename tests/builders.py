"""A complete :class:`Observation` with defaults, for tests that vary a few fields.

Imported by test modules (pytest puts tests/ on sys.path). The default is one
credentialed ``fetch`` GET from a sandboxed ``null`` page in default Chromium.
"""

from __future__ import annotations

from typing import Any

from harness.model.results import (
    CookiePolicy,
    Credentials,
    Engine,
    Observation,
    Outcome,
    Role,
    Via,
)


def observation(**overrides: Any) -> Observation:
    """An observation with every required field set; ``overrides`` replace fields."""
    fields: dict[str, Any] = dict(
        id="p1",
        engine=Engine.CHROMIUM,
        cookie_policy=CookiePolicy.DEFAULT,
        target="https://api.example.com/x",
        origin="null",
        origin_class="null",
        role=Role.ATTACKER,
        via=Via.SANDBOX_SRCDOC,
        page_origin="null",
        shape="simple-get",
        method="GET",
        api="fetch",
        credentials=Credentials.INCLUDE,
        outcome=Outcome.READABLE,
    )
    fields.update(overrides)
    return Observation(**fields)
