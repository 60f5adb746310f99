"""What one probe's page result means, held against what the wire saw of it.

:class:`WireReader` reads the run's wire log for a batch (its records once the proxy
has relayed them, requests without a marker, whether the engine asked for a host);
:class:`ProbeJudge` turns one page result and its wire records into an
:class:`~harness.model.results.Observation` (cookie sent, whose data, evidence).
:func:`js_spec` is the probe as the page runs it; :func:`engine_says` gathers the
engine's own reasons for a batch.
"""

from __future__ import annotations

import asyncio
import dataclasses
import time
from collections.abc import Awaitable, Callable, Collection, Mapping, Sequence
from typing import Any
from urllib.parse import urlsplit

from harness.engines import playwright as browsers
from harness.engines.playwright import EngineSession, OriginPage
from harness.model.redact import Redactor
from harness.model.results import (
    CookiePolicy,
    Credentials,
    Engine,
    Evidence,
    Observation,
    OriginVariant,
    ProbeSpec,
)
from harness.run import witness
from harness.run.classify import classify
from harness.run.outcomes import ev_key
from harness.serve import wire
from harness.serve.stack import Harness, probe_url


def target_url(spec: ProbeSpec, marker: str, *, wire: bool) -> str:
    """What the page fetches: the target (marked when witnessed) plus the probe fragment."""
    marked = probe_url(spec, marker if wire else None)
    return marked + browsers.PROBE_FRAGMENT + spec.id


def js_spec(spec: ProbeSpec, timeout_ms: int, marker: str, *, wire: bool) -> dict[str, Any]:
    """The probe as probe.js runs it in the page."""
    # Only token probes carry the user's --header credentials (the plan decides).
    headers = dict(spec.headers)
    return {
        "id": spec.id,
        "url": target_url(spec, marker, wire=wire),
        "method": spec.shape.method,
        "headers": headers,
        "body": spec.shape.body,
        "credentials": spec.credentials.value,
        "api": spec.api,
        "timeout_ms": timeout_ms,
    }


async def engine_says(
    page: OriginPage, chunk: Sequence[ProbeSpec], ran: Sequence[Mapping[str, Any]]
) -> tuple[Mapping[str, str], Mapping[str, str], Mapping[str, str]]:
    """The engine's own reasons for the batch: CORS blocks, network errors, cookies.

    The engine reports over its own channel (CDP, BiDi), which can lag the page's
    answer; a probe that failed without any reason yet gets a moment to catch up.
    """
    net_errors_of = getattr(page, "net_errors", None)
    cookie_reasons_of = getattr(page, "cookie_reasons", None)
    for wait in (0.0, 0.05, 0.2):
        if wait:
            await asyncio.sleep(wait)
        reasons = await page.cors_reasons()
        net_errors = await net_errors_of() if net_errors_of is not None else {}
        silent = [
            s
            for s, raw in zip(chunk, ran, strict=False)
            if not raw.get("resolved")
            and not raw.get("timed_out")
            and s.id not in reasons
            and s.id not in net_errors
        ]
        if not silent or net_errors_of is None:
            break
    cookie_reasons = await cookie_reasons_of() if cookie_reasons_of is not None else {}
    return reasons, net_errors, cookie_reasons


class WireReader:
    """The run's wire log as one batch of probes sees it."""

    def __init__(self, harness: Harness | None, *, timeout: float) -> None:
        self.harness = harness
        self.timeout = timeout

    def proxy_saw(self, session: EngineSession, variant: OriginVariant) -> bool | None:
        """Whether the engine asked the proxy for the variant's host at all (None: no proxy)."""
        if self.harness is None or self.harness.proxy is None:
            return None
        o = variant.origin
        return bool(self.harness.proxy.saw(session.user_agent_tag, f"{o.host}:{o.port}"))

    def stray(self, seq: int, label: str) -> set[tuple[str, str]]:
        """(method, URL) of requests without a marker that came through ``label`` since ``seq``."""
        if self.harness is None:
            return set()
        return {
            (r.exchange.method, r.exchange.url)
            for r in self.harness.wire.unattributed_since(seq, label)
        }

    async def settled(self, ids: Sequence[str]) -> dict[str, list[wire.WireRecord]]:
        """The batch's wire records, once the proxy has finished relaying them.

        A page can see a blocked response (or its own abort) before the proxy has
        relayed the rest of the body, so the record may come a moment later.
        """
        if self.harness is None:
            return {}
        log = self.harness.wire
        deadline = time.monotonic() + min(5.0, self.timeout)
        while log.open_count(ids) and time.monotonic() < deadline:
            await asyncio.sleep(0.01)
        return log.take(ids)


class ProbeJudge:
    """Judges each probe of a run from its page result and its wire records."""

    def __init__(
        self,
        *,
        wire: bool,
        redactor: Redactor,
        evidence: dict[str, Evidence],
        replayed: Callable[[ProbeSpec], Awaitable[Evidence | None]],
        targets: Sequence[str] = (),
    ) -> None:
        self.wire = wire
        """Whether the wire witness ran (without it, the replay is the evidence)."""
        self.redactor = redactor
        self.evidence = evidence
        """The run's evidence records, by key: wire records are added as they come."""
        self.replayed = replayed
        """The replay's evidence for a probe, when there is no wire witness."""
        self.targets = tuple(targets)

    def session_names(self, session: EngineSession) -> tuple[str, ...]:
        """Names of the victim's session cookies for the targets, in this browser."""
        hosts = [urlsplit(t).hostname or "" for t in self.targets]
        return witness.session_cookie_names(getattr(session, "session_cookies", ()), hosts)

    async def judge(
        self,
        spec: ProbeSpec,
        pid: str,
        raw: Mapping[str, Any],
        *,
        engine: Engine,
        policy: CookiePolicy,
        session: EngineSession,
        wire_seen: witness.ProbeWire,
        lab_cookies: Mapping[tuple[str, str], bool] | None,
        stray: Collection[tuple[str, str]] = (),
        engine_reason: str | None,
        engine_error: str | None,
        cookie_reason: str | None,
        timeout_ms: int,
    ) -> Observation:
        """Classify one page result against what the wire saw of the same probe."""
        if not self.wire:
            sent = None
            if spec.credentials is Credentials.INCLUDE and lab_cookies is not None:
                sent = lab_cookies.get((urlsplit(spec.target).path, spec.shape.method), False)
            return classify(
                spec,
                raw,
                engine=engine,
                cookie_policy=policy,
                probe_id=pid,
                evidence=await self.replayed(spec),
                engine_reason=engine_reason,
                engine_error=engine_error,
                cookie_sent=sent,
                timeout_ms=timeout_ms,
            )
        origin = spec.variant.origin.serialize()
        ev = witness.wire_evidence(
            ev_key(spec),
            target=spec.target,
            origin=origin,
            shape=spec.shape.name,
            credentials=spec.credentials,
            wire=wire_seen,
            redactor=self.redactor,
        )
        if ev is not None:
            self.evidence.setdefault(ev.key, ev)
        cookies = getattr(session, "session_cookies", ())
        sent = witness.cookie_sent(wire_seen, self.session_names(session))
        obs = classify(
            spec,
            raw,
            engine=engine,
            cookie_policy=policy,
            probe_id=pid,
            evidence=ev,
            engine_reason=engine_reason,
            engine_error=engine_error,
            cookie_sent=sent,
            timeout_ms=timeout_ms,
            redirects=wire_seen.hops - (wire_seen.preflight is not None) - 1,
        )
        actual = wire_seen.actual
        note = None
        if spec.credentials is Credentials.INCLUDE and sent is False and actual is not None:
            note = cookie_reason or witness.explain_withheld(
                cookies,
                page_origin=raw.get("page_origin"),
                target=spec.target,
                engine=engine,
                policy=policy,
            )
        victim: bool | None = None
        victim_note = None
        if not wire_seen.reached and (spec.shape.method, spec.target) in stray:
            # A request without corsproof's marker reached the same URL meanwhile: it may
            # have been this probe's. The witness does not guess.
            victim_note = (
                "unknown: a request to this URL without corsproof's marker reached the "
                "target during the batch, so whose it was cannot be told"
            )
        elif not wire_seen.reached:
            victim_note = "no request of this probe reached the target"
        elif actual is None:
            victim, victim_note = False, "only the preflight was sent; the request itself was not"
        return dataclasses.replace(
            obs,
            authorization_sent=witness.authorization_sent(wire_seen, bool(spec.auth_headers)),
            victim_data=victim,
            victim_note=victim_note,
            cookie_note=note,
            wire_status=actual.status if actual is not None else None,
            wire_body_hash=actual.body_hash if actual is not None else None,
            evidence=ev.key if ev is not None else None,
        )
