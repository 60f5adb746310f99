"""Turn what the page reported into an :class:`~harness.model.results.Observation`.

Page JavaScript cannot tell a CORS block from a network failure: both reject with a
bare ``TypeError``. The engine's own reason (Chromium's ``corsErrorStatus``, Firefox's
"Cross-Origin Request Blocked" page errors) and the server's answer to the same request
sent from Python settle it: if the server answered, the browser blocked the read; if it
did not, the probe is an error.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from harness.model.cors import MAX_REDIRECTS, explain_block
from harness.model.results import (
    CookiePolicy,
    Engine,
    Evidence,
    Observation,
    Outcome,
    ProbeSpec,
)


def classify(
    spec: ProbeSpec,
    raw: Mapping[str, Any],
    *,
    engine: Engine,
    cookie_policy: CookiePolicy,
    probe_id: str,
    evidence: Evidence | None,
    engine_reason: str | None = None,
    engine_error: str | None = None,
    cookie_sent: bool | None = None,
    timeout_ms: int = 0,
    redirects: int = 0,
) -> Observation:
    """One page result, judged. ``raw`` is the object the in-page runner returned.

    ``redirects`` is how many redirect hops of this probe the wire witness saw."""
    origin = spec.variant.origin.serialize()
    headers = list(spec.headers)
    common: dict[str, Any] = {
        "id": probe_id,
        "engine": engine,
        "cookie_policy": cookie_policy,
        "target": spec.target,
        "origin": origin,
        "origin_class": spec.variant.klass,
        "role": spec.variant.role,
        "via": spec.variant.via,
        "page_origin": _str_or_none(raw.get("page_origin")),
        "shape": spec.shape.name,
        "method": spec.shape.method,
        "api": spec.api,
        "credentials": spec.credentials,
        "preflighted": spec.shape.preflighted,
        "elapsed_ms": _float_or_none(raw.get("elapsed_ms")),
        "cookie_sent": cookie_sent,
    }
    status = _int_or_none(raw.get("status"))
    error = _clip(raw.get("error"))
    if raw.get("resolved"):
        names = raw.get("headers") or []
        common["readable_headers"] = tuple(str(n)[:128] for n in names[:64])
        if raw.get("body_read"):
            return Observation(
                **common,
                outcome=Outcome.READABLE,
                status=status,
                body_length=_int_or_none(raw.get("body_length")),
                body_hash=_str_or_none(raw.get("body_hash")),
            )
        return Observation(
            **common,
            outcome=Outcome.ERROR,
            status=status,
            error=f"status was readable but the body failed: {error or 'unknown error'}",
        )
    # First: the page aborted the request itself, so whatever the engine says about
    # the failure is about that abort.
    if raw.get("timed_out"):
        return Observation(
            **common,
            outcome=Outcome.ERROR,
            error=f"timeout: no response within {timeout_ms} ms",
        )
    if engine_error and not engine_reason:
        # The engine says the request itself failed (reset, redirect loop, truncated
        # body): whatever the server's headers say, that is not a CORS verdict.
        return Observation(
            **common,
            outcome=Outcome.ERROR,
            status=status,
            error=f"{engine_error}" + (f" ({error})" if error else ""),
        )
    last = evidence.actual if evidence is not None else None
    if last is not None and last.status in REDIRECTS and redirects >= MAX_REDIRECTS:
        # The wire saw the whole chain: the browser gave up on it, no CORS check failed.
        return Observation(
            **common,
            outcome=Outcome.ERROR,
            error=f"too many redirects: the browser stopped after {redirects} (seen at the wire)",
        )
    answered = evidence is not None and _server_answered(evidence, spec.shape.preflighted)
    explanation = None
    if evidence is not None:
        explanation = explain_block(
            origin,
            credentials=spec.credentials.value == "include",
            method=spec.shape.method,
            headers=headers,
            preflight=evidence.preflight,
            actual=evidence.actual,
        )
    if engine_reason or answered:
        parts = [p for p in (engine_reason, explanation) if p]
        if not parts:
            parts = ["the browser withheld the response although its CORS headers look valid"]
        return Observation(**common, outcome=Outcome.BLOCKED, block_reason="; ".join(parts))
    cause = error or "request failed"
    if evidence is not None:
        server_err = (evidence.actual.error if evidence.actual else None) or (
            evidence.preflight.error if evidence.preflight else None
        )
        if server_err:
            cause = f"{cause} (server: {server_err})"
    return Observation(**common, outcome=Outcome.ERROR, error=cause)


REDIRECTS = frozenset({301, 302, 303, 307, 308})


def _server_answered(evidence: Evidence, preflighted: bool) -> bool:
    if preflighted and evidence.preflight is not None:
        return evidence.preflight.status is not None
    return evidence.actual is not None and evidence.actual.status is not None


def _clip(value: Any, limit: int = 300) -> str | None:
    if value is None:
        return None
    text = str(value).replace("\r", " ").replace("\n", " ")
    return text[:limit]


def _str_or_none(value: Any) -> str | None:
    return None if value is None else str(value)[:512]


def _int_or_none(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _float_or_none(value: Any) -> float | None:
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None
