"""What the wire witnessed for each probe, and what follows from it. Pure functions.

The proxy (:mod:`harness.wire`) files every exchange a browser had with a target under
the probe that made it. This module turns one probe's exchanges into the facts the
verdicts rest on:

* the preflight and the actual request, as the browser sent them and the target
  answered them, which become the probe's :class:`~harness.model.results.Evidence`;
* ``cookie_sent``: whether the victim's session cookie went with the actual request;
* ``authorization_sent``: whether the user's token (``--header``) went with it;
* ``victim_data`` (:func:`whose_data`, over the whole run): whether the answer was the
  victim's data, an anonymous answer, or cannot be told.

A probe with no exchange keeps every one of those unknown (None), with the reason.
"""

from __future__ import annotations

import dataclasses
import hashlib
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from urllib.parse import urlsplit

from harness.model.redact import Redactor
from harness.model.results import (
    CookiePolicy,
    Credentials,
    Engine,
    Evidence,
    HttpExchange,
    Origin,
)
from harness.serve.wire import WireRecord
from scenarios.site import same_site


@dataclass(frozen=True)
class ProbeWire:
    """One probe's exchanges with the target, in order."""

    preflight: HttpExchange | None
    actual: HttpExchange | None
    """The last request that was not a preflight: after redirects, the final hop."""
    hops: int = 0
    """Exchanges in all (preflight, actual and redirect hops)."""

    @property
    def reached(self) -> bool:
        """Something of this probe reached the target."""
        return self.hops > 0


NOTHING = ProbeWire(None, None, 0)


def is_preflight(exchange: HttpExchange) -> bool:
    """An ``OPTIONS`` request carrying ``Access-Control-Request-Method``."""
    return exchange.method == "OPTIONS" and any(
        k.lower() == "access-control-request-method" for k, _ in exchange.request_headers
    )


def probe_wire(records: Sequence[WireRecord]) -> ProbeWire:
    """The preflight and final actual exchange among one attempt's records."""
    preflight = actual = None
    for record in records:
        if is_preflight(record.exchange):
            preflight = record.exchange
        else:
            actual = record.exchange
    return ProbeWire(preflight, actual, len(records))


def cookie_sent(wire: ProbeWire, session: Collection[str]) -> bool | None:
    """Did a session cookie go with the actual request? None when nothing reached the target.

    A probe whose preflight failed sent no actual request, and preflights never carry
    cookies, so that is a measured False.
    """
    if not wire.reached:
        return None
    if wire.actual is None:
        return False
    return bool(set(wire.actual.cookies) & set(session))


def authorization_sent(wire: ProbeWire, token_probe: bool) -> bool | None:
    """Did the user's token go with the actual request? Only token probes carry it."""
    if not wire.reached:
        return None
    if wire.actual is None:
        return False
    return bool(token_probe and wire.actual.authorization)


def _redacted(exchange: HttpExchange | None, redactor: Redactor) -> HttpExchange | None:
    if exchange is None:
        return None
    return dataclasses.replace(
        exchange,
        url=redactor.text(exchange.url),
        request_headers=tuple((k, redactor.text(v)) for k, v in exchange.request_headers),
        response_headers=tuple((k, redactor.text(v)) for k, v in exchange.response_headers),
        error=redactor.text(exchange.error) if exchange.error else None,
    )


def _answer_digest(wire: ProbeWire) -> str:
    """What distinguishes one server answer from another, for sharing evidence entries.

    The request parts that decide CORS and the whole recorded answer, but not the
    body hash: two probes that got the same headers share one entry even when a
    varying body (a timestamp) differs; each probe keeps its own body hash.
    """
    parts: list[str] = []
    for x in (wire.preflight, wire.actual):
        if x is None:
            parts.append("-")
            continue
        req = [f"{k.lower()}={v}" for k, v in x.request_headers if not v.startswith("[not")]
        parts.append(
            "|".join(
                [
                    x.method,
                    x.url,
                    str(x.status),
                    x.error or "",
                    ",".join(sorted(req)),
                    ",".join(x.cookies),
                    str(x.authorization),
                    ";".join(f"{k.lower()}={v}" for k, v in x.response_headers),
                ]
            )
        )
    return hashlib.sha256("\0".join(parts).encode("utf-8", "replace")).hexdigest()[:10]


def wire_evidence(
    join: str,
    *,
    target: str,
    origin: str,
    shape: str,
    credentials: Credentials,
    wire: ProbeWire,
    redactor: Redactor,
) -> Evidence | None:
    """The probe's exchanges as evidence, keyed so that identical answers share an entry."""
    if not wire.reached:
        return None
    return Evidence(
        key=f"{join} | wire {_answer_digest(wire)}",
        target=target,
        origin=origin,
        shape=shape,
        credentials=credentials,
        preflight=_redacted(wire.preflight, redactor),
        actual=_redacted(wire.actual, redactor),
    )


# --------------------------------------------------------------------------- whose data


# --------------------------------------------------------------------------- cookie notes


def session_cookie_names(
    cookies: Iterable[Mapping[str, object]], hosts: Iterable[str]
) -> tuple[str, ...]:
    """Names of the session cookies that apply to any of the target hosts."""
    wanted = [h.lower().strip("[]") for h in hosts]
    names: list[str] = []
    for c in cookies:
        domain = str(c.get("domain") or "").lower().lstrip(".")
        if not domain or any(h == domain or h.endswith("." + domain) for h in wanted):
            name = str(c.get("name") or "")
            if name and name not in names:
                names.append(name)
    return tuple(names)


# --------------------------------------------------------------------------- explanations

_ENGINE_CROSS_SITE = {
    ("firefox", "default"): "Firefox's Total Cookie Protection keeps cookies from going "
    "to a third-party site",
    ("webkit", "default"): "WebKit's Intelligent Tracking Prevention (on, as Safari "
    "ships) blocks third-party cookies",
}
_UNSPECIFIED_LAX = frozenset({"chromium"})
"""Engines that treat a cookie without SameSite as Lax (Chromium's Lax by default)."""


def _applies(cookie: Mapping[str, object], host: str) -> bool:
    domain = str(cookie.get("domain") or "").lower()
    bare = domain.lstrip(".")
    return host == bare or (domain.startswith(".") and host.endswith("." + bare))


def explain_withheld(
    cookies: Iterable[Mapping[str, object]],
    *,
    page_origin: object,
    target: str,
    engine: Engine,
    policy: CookiePolicy,
) -> str | None:
    """Why the engine most likely did not send the session cookie: an explanation.

    Derived from the cookie's attributes, the page's site and the engine facts in
    docs/engines.md, and labelled as such: the wire record is the measurement.
    Chromium says it itself (CDP ``associatedCookies``), so this serves Firefox
    and WebKit, and Chromium probes the engine gave no reason for.
    """
    parts = urlsplit(target)
    host = (parts.hostname or "").lower()
    try:
        target_origin = Origin.from_url(target)
    except ValueError:
        return None
    page = Origin.null() if not isinstance(page_origin, str) else _origin(page_origin)
    # Measured: only Chromium applies schemeful same-site (docs/engines.md).
    schemeful = engine is Engine.CHROMIUM
    cross = page is None or not same_site(page, target_origin, schemeful=schemeful)
    reasons: list[str] = []
    for c in cookies:
        if not _applies(c, host):
            continue
        name = str(c.get("name") or "?")
        same_site_attr = str(c.get("sameSite") or "").capitalize()
        if c.get("secure") and parts.scheme != "https":
            reasons.append(f"{name}: Secure, and the target is http")
        elif cross and same_site_attr in ("Lax", "Strict"):
            reasons.append(f"{name}: SameSite={same_site_attr}, and the page is cross-site")
        elif cross and not same_site_attr and engine.value in _UNSPECIFIED_LAX:
            reasons.append(f"{name}: no SameSite, which {engine.value} treats as Lax")
        elif cross and (engine.value, policy.value) in _ENGINE_CROSS_SITE:
            reasons.append(f"{name}: {_ENGINE_CROSS_SITE[(engine.value, policy.value)]}")
    if not reasons:
        return None
    return "explained from the cookie's attributes, not measured: " + "; ".join(reasons)


def _origin(text: str) -> Origin | None:
    try:
        return Origin.parse(text)
    except ValueError:
        return None
