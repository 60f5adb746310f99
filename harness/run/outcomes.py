"""Observations for probes without a page result, and the ids a probe is known by."""

from __future__ import annotations

from urllib.parse import urlsplit

from harness.model.results import CookiePolicy, Engine, Observation, Outcome, ProbeSpec
from harness.run.replay import evidence_key


def origin_mismatch(expected: str, got: str) -> tuple[Outcome, str]:
    """The verdict for a page that did not get the origin asked for, and why."""
    exp, seen = urlsplit(expected), urlsplit(got)
    if exp.scheme == "http" and seen.scheme == "https":
        return Outcome.NOT_PRODUCIBLE, f"the engine upgraded the page to https ({got})"
    if got and got != "null" and exp.scheme == seen.scheme and exp.hostname != seen.hostname:
        return Outcome.NOT_PRODUCIBLE, f"the engine rewrote the host: the page got {got}"
    return Outcome.ERROR, f"page had origin {got!r}, not {expected!r}"


def ev_key(spec: ProbeSpec) -> str:
    """The evidence record key of a probe (target, origin, shape, credentials)."""
    return evidence_key(
        spec.target, spec.variant.origin.serialize(), spec.shape.name, spec.credentials
    )


def probe_id(spec: ProbeSpec, engine: Engine, policy: CookiePolicy) -> str:
    """A probe's id in one engine and cookie profile (stable across runs of one plan)."""
    return f"{spec.id}-{engine.value[:2]}{policy.value[0]}"


def unjudged(
    spec: ProbeSpec,
    engine: Engine,
    policy: CookiePolicy,
    outcome: Outcome,
    why: str,
    page_origin: str | None,
) -> Observation:
    """A probe that has no page result: not producible, or an error, and why."""
    return Observation(
        id=probe_id(spec, engine, policy),
        engine=engine,
        cookie_policy=policy,
        target=spec.target,
        origin=spec.variant.origin.serialize(),
        origin_class=spec.variant.klass,
        role=spec.variant.role,
        via=spec.variant.via,
        page_origin=page_origin,
        shape=spec.shape.name,
        method=spec.shape.method,
        api=spec.api,
        credentials=spec.credentials,
        outcome=outcome,
        error=why[:300] if outcome is not Outcome.NOT_PRODUCIBLE else None,
        block_reason=why[:300] if outcome is Outcome.NOT_PRODUCIBLE else None,
        preflighted=spec.shape.preflighted,
    )


def lost(spec: ProbeSpec, engine: Engine, policy: CookiePolicy, why: str) -> Observation:
    """A probe lost to a browser or page that failed: an error, never a verdict."""
    return unjudged(spec, engine, policy, Outcome.ERROR, why, None)
