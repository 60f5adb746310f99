"""Turn browser observations and server evidence into findings.

:func:`judge` is a pure function: the same observations and evidence, in any
order, give the same findings. Browser observations answer "could page
JavaScript read it?"; :class:`~harness.model.results.Evidence` (the server's real
headers, replayed from Python) explains *why*, so that a blocked legitimate
request can be blamed on the right mistake and a read of a response the server
declared public (``Access-Control-Allow-Origin: *``) is not called a leak.

Two questions are kept apart throughout, per engine:

* **what the server allows**: reads under the ``permissive`` cookie profile
  (third-party cookies allowed), i.e. what the server's policy lets through;
* **what is exploitable in a default browser**: reads under the ``default``
  profile, where for instance Firefox's Total Cookie Protection sends no
  cross-site cookie and so turns a credentialed read into an anonymous one.
"""

from __future__ import annotations

import dataclasses
import re
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from harness.judge import exploit, story
from harness.judge.basis import with_basis
from harness.judge.headercheck import (
    ACAC,
    ACAO,
    compare,
    evidence_index,
    loose_credentials,
)
from harness.judge.rules import MAX_AGE_CAPS, RULES
from harness.judge.story import EvidenceIndex
from harness.model.cors import (
    SAFELISTED_HEADERS,
    SAFELISTED_METHODS,
    preflight_check,
    strict_allow_origin,
    strict_credentials,
)
from harness.model.results import (
    CookiePolicy,
    Credentials,
    Engine,
    Evidence,
    Exposure,
    Finding,
    HttpExchange,
    Observation,
    Outcome,
    Reach,
    Role,
    Severity,
)
from scenarios.shapes import CALL_PREFIX

LOCALHOST = "localhost-trusted"

SENSITIVE_EXPOSE = re.compile(
    r"^(set-cookie|set-cookie2|authorization)$|token|secret|session|internal"
)
"""Response header names that should never be exposed to cross-origin JavaScript."""

_ENGINE_ORDER = {e: i for i, e in enumerate(Engine)}
_POLICY_ORDER = {p: i for i, p in enumerate(CookiePolicy)}

JoinKey = tuple[str, str, str, Credentials]


def _join_key(item: Observation | Evidence) -> JoinKey:
    return (item.target, item.origin, item.shape, item.credentials)


def _ok(status: int | None) -> bool:
    return status is not None and 200 <= status < 300


def _engines(items: Iterable[Engine]) -> tuple[Engine, ...]:
    return tuple(sorted(set(items), key=_ENGINE_ORDER.__getitem__))


def _policies(items: Iterable[CookiePolicy]) -> tuple[CookiePolicy, ...]:
    return tuple(sorted(set(items), key=_POLICY_ORDER.__getitem__))


def _sorted_observations(observations: Sequence[Observation]) -> list[Observation]:
    """By target and id; repr() breaks ties between records that share an id (merged runs)."""
    return story.sorted_records(observations, lambda o: (o.target, o.id))


class _Context:
    """Indexes shared by all rules for one run."""

    def __init__(
        self,
        observations: Sequence[Observation],
        evidence: Sequence[Evidence],
        told: Mapping[tuple[str, str], story.OriginStory] | None = None,
    ):
        self.observations = _sorted_observations(observations)
        self.evidence = story.sorted_records(evidence, lambda e: (e.target, e.key))
        self.obs_by_target: dict[str, list[Observation]] = defaultdict(list)
        for o in self.observations:
            self.obs_by_target[o.target].append(o)
        self.ev_by_target: dict[str, list[Evidence]] = defaultdict(list)
        for e in self.evidence:
            self.ev_by_target[e.target].append(e)
        self.index = EvidenceIndex(self.evidence)
        self.by_key = self.index.by_key
        self.by_id = {o.id: o for o in self.observations}
        self.stories = story.stories(self.observations, self.index) if told is None else told

    def evidence_for(self, o: Observation) -> Evidence | None:
        """This probe's own exchanges, else the evidence for the same request, else any
        for the same target and origin."""
        return self.index.evidence_for(o)


def judge(
    observations: Sequence[Observation],
    evidence: Sequence[Evidence],
    *,
    env: str = "prod",
    engines_run: Sequence[Engine] = (),
    told: Mapping[tuple[str, str], story.OriginStory] | None = None,
) -> list[Finding]:
    """All findings for a run, sorted by severity (worst first), then rule and target.

    ``env`` is ``prod`` or ``dev``; in ``dev`` trusting localhost is only
    informational. ``engines_run`` lists the engines that took part (used for
    Max-Age caps); when empty, the engines seen in ``observations`` are used.
    ``told`` is :func:`harness.judge.story.stories` of these observations and
    evidence, when the caller has it already (it is worked out otherwise).
    """
    ctx = _Context(observations, evidence, told)
    engines = _engines(engines_run) or _engines(o.engine for o in ctx.observations)
    targets = sorted({o.target for o in ctx.observations} | {e.target for e in ctx.evidence})
    findings: list[Finding] = []
    for target in targets:
        t_obs = ctx.obs_by_target.get(target, [])
        t_ev = ctx.ev_by_target.get(target, [])
        findings.extend(_attacker_findings(ctx, target, t_obs, env))
        findings.extend(_legit_findings(ctx, target, t_obs, t_ev))
        findings.extend(_hygiene_findings(ctx, target, t_obs, t_ev, engines or tuple(Engine)))
    index = evidence_index(ctx.by_key)
    checked = [
        dataclasses.replace(f, header_check=compare(f, ctx.by_key, index=index)) for f in findings
    ]
    checked = with_basis(checked, ctx.observations)
    checked.sort(key=lambda f: (-f.severity.rank, f.rule, f.target, f.origins, f.detail))
    return checked


# --------------------------------------------------------------------------- attacker reads


@dataclass(frozen=True)
class _Read:
    obs: Observation
    level: int
    evidence: Evidence | None
    near: bool
    """The reading origin is on the target's own site."""


def _attacker_findings(
    ctx: _Context, target: str, t_obs: Sequence[Observation], env: str
) -> list[Finding]:
    """One finding per rule the target's counted reads belong to (:mod:`harness.judge.story`)."""
    groups: dict[str, list[_Read]] = {}
    folded: dict[str, set[str]] = {}
    for (t, _), told in ctx.stories.items():
        if t != target:
            continue
        for c in told.counted:
            o = ctx.by_id[c.probe]
            read = _Read(o, c.level, ctx.evidence_for(o), exploit.is_same_site(o.origin, target))
            groups.setdefault(c.rule, []).append(read)
            if c.class_rule != c.rule:
                # A reflecting server would otherwise yield one finding per class, all
                # saying the same thing; they are folded into the one that explains it.
                folded.setdefault(c.rule, set()).add(c.class_rule)
    return [
        _attacker_finding(rule, target, reads, t_obs, env, sorted(folded.get(rule, ())))
        for rule, reads in sorted(groups.items())
    ]


def _attacker_finding(
    rule_id: str,
    target: str,
    reads: Sequence[_Read],
    t_obs: Sequence[Observation],
    env: str,
    folded: Sequence[str],
) -> Finding:
    rule = RULES[rule_id]
    dev = env == "dev"
    # In dev, localhost reads are expected: they neither set nor raise severity.
    rated = [r for r in reads if not (dev and r.obs.origin_class == "localhost")]
    sev = exploit.severity((r.level, r.near) for r in rated) if rated else Severity.INFO
    origins = tuple(sorted({r.obs.origin for r in reads}))
    related = [
        o
        for o in t_obs
        if o.role is Role.ATTACKER and o.origin in origins and o.authorization_sent is not True
    ]
    exposure = exploit.exposures(related, target)
    victim_engines = _engines(r.obs.engine for r in reads if r.level == exploit.VICTIM)
    return Finding(
        rule=rule_id,
        severity=sev,
        title=rule.title,
        target=target,
        origins=origins,
        engines=victim_engines or _engines(r.obs.engine for r in reads),
        probes=tuple(sorted({r.obs.id for r in reads})),
        category=rule.category,
        detail=_attacker_detail(reads, related, exposure, target, folded, dev),
        classes=tuple(sorted({r.obs.origin_class for r in reads})),
        cookie_policies=_policies(r.obs.cookie_policy for r in reads),
        evidence=tuple(sorted({r.evidence.key for r in reads if r.evidence is not None})),
        exposure=exposure,
    )


def _attacker_detail(
    reads: Sequence[_Read],
    related: Sequence[Observation],
    exposure: Sequence[Exposure],
    target: str,
    folded: Sequence[str],
    dev: bool,
) -> str:
    """Short labelled lines (one per line): who read, what each engine and profile let
    through, who can exploit."""
    lines = [
        "Origins that could read: "
        + ", ".join(
            f"{o} ({c})" for o, c in sorted({(r.obs.origin, r.obs.origin_class) for r in reads})
        )
        + "."
    ]
    for policy, label in (
        (CookiePolicy.DEFAULT, "In a default browser"),
        (CookiePolicy.PERMISSIVE, "What the server allows (third-party cookies permitted)"),
    ):
        said = []
        for engine in _engines(o.engine for o in related):
            mine = [o for o in related if o.engine is engine and o.cookie_policy is policy]
            if mine:
                said.append(f"{engine.value}: {exploit.describe(mine, target)}")
        if said:
            lines.append(f"{label}: " + "; ".join(said) + ".")
    by_default = [e for e in exposure if e.cookie_policy is CookiePolicy.DEFAULT]
    far = [e.engine.value for e in by_default if e.reach is Reach.CROSS_SITE]
    near = [e for e in by_default if e.reach is Reach.SAME_SITE]
    unknown = [e.engine.value for e in by_default if e.reach is Reach.UNKNOWN]
    verdict = []
    if far:
        verdict.append(f"from any website in {', '.join(far)}")
    if near:
        origins = sorted({o for e in near for o in e.origins})
        verdict.append(
            f"only from same-site origins in {', '.join(e.engine.value for e in near)} "
            f"({', '.join(origins)}): the attacker needs one of them, such as a sibling "
            "subdomain, or a network position for an http origin"
        )
    lines.append(
        "Exploitable in a default browser: " + ("; ".join(verdict) if verdict else "no") + "."
    )
    if unknown:
        lines.append(
            "Unknown in: "
            + ", ".join(unknown)
            + " (a credentialed read whose data cannot be told)."
        )
    for origin in sorted({r.obs.origin for r in reads}):
        read_in = _engines(r.obs.engine for r in reads if r.obs.origin == origin)
        per_engine: dict[Engine, set[Outcome]] = {}
        for o in related:
            if o.origin == origin:
                per_engine.setdefault(o.engine, set()).add(o.outcome)
        unproducible = _engines(
            e for e, outs in per_engine.items() if outs == {Outcome.NOT_PRODUCIBLE}
        )
        if unproducible:
            lines.append(
                f"{origin} is readable in {', '.join(e.value for e in read_in)} but not "
                f"producible in {', '.join(e.value for e in unproducible)}."
            )
    if folded:
        lines.append("Folded in (same root cause): " + ", ".join(folded) + ".")
    if dev and any(r.obs.origin_class == "localhost" for r in reads):
        lines.append("env=dev: localhost access is expected in development.")
    return "\n".join(lines)


# --------------------------------------------------------------------------- legitimate origin


def _request_header(exchange: HttpExchange, name: str) -> str | None:
    values = [v for k, v in exchange.request_headers if k.lower() == name.lower()]
    return ", ".join(values) if values else None


def _tokens(value: str | None) -> list[str]:
    if value is None:
        return []
    return [t.strip() for t in value.split(",") if t.strip()]


def _needs_credentials(
    t_ev: Sequence[Evidence], t_obs: Sequence[Observation], origin: str, shape: str
) -> bool:
    """True when the frontend really needs credentials: the session measurably changed
    the legitimate origin's answer, or an anonymous request got an error where a
    credentialed one succeeded."""
    if any(
        o.origin == origin
        and o.shape == shape
        and o.credentials is Credentials.INCLUDE
        and o.cookie_sent is True
        and o.victim_data is True
        for o in t_obs
    ):
        return True
    omit = [
        e
        for e in t_ev
        if e.origin == origin
        and e.shape == shape
        and e.credentials is Credentials.OMIT
        and e.actual is not None
    ]
    incl = [
        e
        for e in t_ev
        if e.origin == origin
        and e.shape == shape
        and e.credentials is Credentials.INCLUDE
        and e.actual is not None
    ]
    for e in omit:
        if (
            e.actual is not None
            and e.actual.status in (401, 403)
            and any(
                i.actual is not None and i.actual.status is not None and i.actual.status < 400
                for i in incl
            )
        ):
            return True
    return any(
        o.origin == origin
        and o.shape == shape
        and o.credentials is Credentials.OMIT
        and o.readable
        and o.status in (401, 403)
        for o in t_obs
    )


def _preflight_problem(
    o: Observation, pf: HttpExchange, credentials: bool | None = None
) -> str | None:
    """Why the browser would refuse this preflight, or None when it passes.

    ``credentials`` overrides the probe's own mode, to ask what fails without them."""
    method = (_request_header(pf, "access-control-request-method") or o.method).upper()
    # The preflight names the request headers; their values only matter for
    # Content-Type, which the replay asks for only when it is not safelisted.
    asked = [(h, "") for h in _tokens(_request_header(pf, "access-control-request-headers"))]
    return preflight_check(
        pf,
        o.origin,
        credentials=o.credentials is Credentials.INCLUDE if credentials is None else credentials,
        method=method,
        headers=asked,
    )


def _attribute(
    o: Observation, ev: Evidence | None, t_ev: Sequence[Evidence], t_obs: Sequence[Observation]
) -> tuple[str | None, str]:
    """Which rule explains a blocked legitimate probe (None: expected), and why."""
    fallback = o.block_reason or "blocked by the browser"
    if ev is None:
        return "legit-origin-blocked", f"{fallback} (no server evidence)"
    include = o.credentials is Credentials.INCLUDE
    needed = _needs_credentials(t_ev, t_obs, o.origin, o.shape)
    if ev.preflight is not None:
        # "*" refuses every credentialed request, whatever else the preflight says.
        if include and _ok(ev.preflight.status) and strict_allow_origin(ev.preflight) == "*":
            return _wildcard(ev.preflight, needed)
        problem = _preflight_problem(o, ev.preflight)
        if problem is not None and include and _preflight_problem(o, ev.preflight, False) is None:
            # Only the credentials part failed: by design when the API does not need them.
            raw = ev.preflight.header(ACAC)
            if raw is None and not needed:
                return None, "credentials not granted and not needed"
        if problem is not None:
            return "legit-origin-blocked", problem
    actual = ev.actual
    if actual is None or actual.status is None:
        return "legit-origin-blocked", fallback
    if actual.status >= 400 and actual.header(ACAO) is None:
        return "errors-without-cors", f"HTTP {actual.status} without Access-Control-Allow-Origin"
    acao = strict_allow_origin(actual)
    if include and acao == "*":
        return _wildcard(actual, needed)
    if acao is None:
        raw = actual.header(ACAO)
        if raw is None:
            return "legit-origin-blocked", "response lacks Access-Control-Allow-Origin"
        return (
            "legit-origin-blocked",
            f"Access-Control-Allow-Origin {raw!r} is not a single value (browsers reject it)",
        )
    if acao not in ("*", o.origin):
        return "legit-origin-blocked", f"Access-Control-Allow-Origin is {acao!r}, not {o.origin!r}"
    if include and not strict_credentials(actual):
        raw = actual.header(ACAC)
        if raw is not None:
            return (
                "legit-origin-blocked",
                f"Access-Control-Allow-Credentials is {raw!r}; browsers require exactly 'true'",
            )
        if needed:
            return "legit-origin-blocked", "response lacks Access-Control-Allow-Credentials: true"
        # The server grants the origin without credentials and the resource does
        # not need them: a credentialed probe failing there is by design.
        return None, "credentials not granted and not needed"
    return "legit-origin-blocked", f"{fallback} (the server's headers look right: engine-specific)"


def _wildcard(exchange: HttpExchange, needed: bool) -> tuple[str | None, str]:
    if loose_credentials(exchange) or needed:
        return (
            "wildcard-with-credentials",
            "Access-Control-Allow-Origin: * refused for a credentialed request",
        )
    # A public "*" API: credentialed requests are not part of its contract.
    return None, "public wildcard API; credentialed requests are not expected"


def _legit_findings(
    ctx: _Context, target: str, t_obs: Sequence[Observation], t_ev: Sequence[Evidence]
) -> list[Finding]:
    legit = [o for o in t_obs if o.role is Role.LEGITIMATE]
    legit_origins = {o.origin for o in legit}
    buckets: dict[str, list[tuple[Observation, str, Evidence | None]]] = {}
    for o in legit:
        if o.outcome is not Outcome.BLOCKED:
            continue
        ev = ctx.evidence_for(o)
        rule, reason = _attribute(o, ev, t_ev, t_obs)
        if rule is not None:
            buckets.setdefault(rule, []).append((o, reason, ev))

    # Server-side facts fire even without a matching blocked probe (an engine
    # may not have run): "*" with credentials, and errors without CORS.
    wildcard_ev = [
        e
        for e in t_ev
        if e.actual is not None
        and strict_allow_origin(e.actual) == "*"
        and loose_credentials(e.actual)
    ]
    # The legitimate origin's own answers tell the story; attacker ones only
    # stand in when no legitimate origin was probed.
    wildcard_ev = [e for e in wildcard_ev if e.origin in legit_origins] or wildcard_ev
    error_ev = [
        e
        for e in t_ev
        if e.origin in legit_origins
        and e.actual is not None
        and e.actual.status is not None
        and e.actual.status >= 400
        and e.actual.header(ACAO) is None
    ]
    findings: list[Finding] = []
    blocked = buckets.get("legit-origin-blocked", [])
    if blocked:
        findings.append(_blocked_finding("legit-origin-blocked", target, blocked, legit))
    wild = buckets.get("wildcard-with-credentials", [])
    if wild or wildcard_ev:
        f = _blocked_finding("wildcard-with-credentials", target, wild, legit, extra=wildcard_ev)
        findings.append(f)
    errs = buckets.get("errors-without-cors", [])
    if errs or error_ev:
        findings.append(
            _blocked_finding("errors-without-cors", target, errs, legit, extra=error_ev)
        )
    return findings


def _blocked_finding(
    rule_id: str,
    target: str,
    blocked: Sequence[tuple[Observation, str, Evidence | None]],
    legit: Sequence[Observation],
    extra: Sequence[Evidence] = (),
) -> Finding:
    rule = RULES[rule_id]
    lines: dict[tuple[str, str, str], set[str]] = {}
    for o, reason, _ in blocked:
        where = f"{o.engine.value}/{o.cookie_policy.value}"
        # The frontend's own call (--har) or an API operation is named as the reader
        # knows it: the request, and the origin that makes it.
        name = (
            f"{o.shape.removeprefix(CALL_PREFIX)} from {o.origin}"
            if o.shape.startswith(CALL_PREFIX)
            else o.shape
        )
        lines.setdefault((name, o.credentials.value, reason), set()).add(where)
    parts = [
        f"{shape} with credentials={creds} fails in {', '.join(sorted(where))}: {reason}"
        for (shape, creds, reason), where in sorted(lines.items())
    ]
    covered = {_join_key(o) for o, _, _ in blocked}
    for e in extra:
        # Server-side facts no blocked probe already explains (e.g. an engine not run).
        if e.actual is not None and _join_key(e) not in covered:
            acao, acac = e.actual.header(ACAO), e.actual.header(ACAC)
            parts.append(
                f"server answered {e.shape} with credentials={e.credentials.value} from "
                f"{e.origin} with HTTP {e.actual.status}, "
                + (
                    f"Access-Control-Allow-Origin {acao!r}"
                    if acao
                    else "no Access-Control-Allow-Origin"
                )
                + (f", Access-Control-Allow-Credentials {acac!r}" if acac else "")
            )
    # Say where the same request worked, so an engine-specific break stands out.
    worked = _engines(
        o.engine
        for o in legit
        if o.readable
        and any(o.shape == b.shape and o.credentials is b.credentials for b, _, _ in blocked)
    )
    detail = "; ".join(sorted(set(parts))) + "."
    if worked:
        detail += " The same request was readable in: " + ", ".join(e.value for e in worked) + "."
    keys = {ev.key for _, _, ev in blocked if ev is not None} | {e.key for e in extra}
    origins = {o.origin for o, _, _ in blocked} | {e.origin for e in extra}
    extra_joins = {_join_key(e) for e in extra}
    probes = {o.id for o, _, _ in blocked} | {
        o.id for o in legit if _join_key(o) in extra_joins and not o.readable
    }
    return Finding(
        rule=rule_id,
        severity=rule.severity,
        title=rule.title,
        target=target,
        origins=tuple(sorted(origins)),
        engines=_engines(o.engine for o, _, _ in blocked),
        probes=tuple(sorted(probes)),
        category=rule.category,
        detail=detail,
        classes=tuple(sorted({o.origin_class for o, _, _ in blocked})),
        cookie_policies=_policies(o.cookie_policy for o, _, _ in blocked),
        evidence=tuple(sorted(keys)),
    )


# --------------------------------------------------------------------------- hygiene


def _hygiene_findings(
    ctx: _Context,
    target: str,
    t_obs: Sequence[Observation],
    t_ev: Sequence[Evidence],
    engines: Sequence[Engine],
) -> list[Finding]:
    out: list[Finding] = []
    legit = [o for o in t_obs if o.role is Role.LEGITIMATE]
    legit_origins = {o.origin for o in legit}
    legit_ev = [e for e in t_ev if e.origin in legit_origins]
    for maker in (_credentials_unneeded,):
        f = maker(target, legit, legit_ev)
        if f is not None:
            out.append(f)
    out.extend(_max_age(target, legit, legit_ev, engines))
    vary = _vary(target, t_obs, t_ev)
    if vary is not None:
        out.append(vary)
    out.extend(_overbroad(target, t_obs, t_ev))
    token = _token_reads(target, t_obs, ctx)
    if token is not None:
        out.append(token)
    return out


def _token_reads(target: str, t_obs: Sequence[Observation], ctx: _Context) -> Finding | None:
    """Attacker pages that sent the user's token (corsproof gave it) and read the answer."""
    reads = [
        o for o in t_obs if o.role is Role.ATTACKER and o.readable and o.authorization_sent is True
    ]
    if not any(o.victim_data is True for o in reads):
        return None  # the token unlocked nothing here: it is no credential of this API
    detail = (
        "With the user's token, these origins could read the answer: "
        + ", ".join(sorted({o.origin for o in reads}))
        + ". The token unlocked data the anonymous request did not get. Not exploitable "
        "through CORS: browsers never attach the token by themselves."
    )
    evs = [e for e in (ctx.evidence_for(o) for o in reads) if e is not None]
    rule = RULES["token-read-cross-origin"]
    return Finding(
        rule=rule.id,
        severity=rule.severity,
        title=rule.title,
        target=target,
        origins=tuple(sorted({o.origin for o in reads})),
        engines=_engines(o.engine for o in reads),
        probes=tuple(sorted({o.id for o in reads})),
        category=rule.category,
        detail=detail,
        classes=tuple(sorted({o.origin_class for o in reads})),
        cookie_policies=_policies(o.cookie_policy for o in reads),
        evidence=tuple(sorted({e.key for e in evs})),
    )


def _hygiene(
    rule_id: str,
    target: str,
    detail: str,
    evs: Iterable[Evidence],
    obs: Sequence[Observation],
    *,
    severity: Severity | None = None,
    engines: Iterable[Engine] = (),
) -> Finding:
    rule = RULES[rule_id]
    evs = list(evs)
    joins = {_join_key(e) for e in evs}
    return Finding(
        rule=rule_id,
        severity=severity or rule.severity,
        title=rule.title,
        target=target,
        origins=tuple(sorted({e.origin for e in evs})),
        engines=_engines(engines),
        probes=tuple(sorted({o.id for o in obs if _join_key(o) in joins})),
        category=rule.category,
        detail=detail,
        evidence=tuple(sorted({e.key for e in evs})),
    )


def _credentials_unneeded(
    target: str, legit: Sequence[Observation], legit_ev: Sequence[Evidence]
) -> Finding | None:
    acac = [
        e
        for e in legit_ev
        if any(x is not None and loose_credentials(x) for x in (e.actual, e.preflight))
    ]
    if not acac:
        return None
    pairs: dict[tuple[str, ...], dict[Credentials, list[Observation]]] = {}
    for o in legit:
        k = (o.engine.value, o.cookie_policy.value, o.origin, o.shape, o.method, o.api)
        pairs.setdefault(k, {}).setdefault(o.credentials, []).append(o)
    same = 0
    for group in pairs.values():
        for inc in group.get(Credentials.INCLUDE, []):
            if not (inc.readable and _ok(inc.status)) or inc.cookie_sent is not True:
                # Inconclusive: unless the session measurably went, an equal answer says
                # nothing about whether the API needs credentials.
                continue
            for om in group.get(Credentials.OMIT, []):
                if (
                    om.readable
                    and _ok(om.status)
                    and om.body_hash is not None
                    and om.body_hash == inc.body_hash
                ):
                    same += 1
                else:
                    return None  # credentials changed the answer: they are needed
    if not same:
        return None
    return _hygiene(
        "credentials-unneeded",
        target,
        f"Access-Control-Allow-Credentials: true is sent, yet in {same} comparison(s) the "
        "legitimate origin got the same 2xx body with and without credentials.",
        acac,
        legit,
    )


def _max_age(
    target: str,
    legit: Sequence[Observation],
    legit_ev: Sequence[Evidence],
    engines: Sequence[Engine],
) -> list[Finding]:
    granted = [
        e
        for e in legit_ev
        if e.preflight is not None
        and _ok(e.preflight.status)
        and strict_allow_origin(e.preflight) in ("*", e.origin)
    ]
    missing: list[Evidence] = []
    invalid: list[str] = []
    values: list[tuple[int, Evidence]] = []
    for e in granted:
        if e.preflight is None:  # filtered above; this narrows the type
            continue
        raw = e.preflight.header("access-control-max-age")
        first = _tokens(raw)[0] if _tokens(raw) else None
        if first is None or not re.fullmatch(r"-?\d{1,12}", first):
            missing.append(e)
            if first is not None:
                invalid.append(first)
            continue
        values.append((int(first), e))
    out: list[Finding] = []
    if missing:
        detail = (
            "Preflight responses to the legitimate origin carry no usable "
            "Access-Control-Max-Age, so browsers re-send the preflight after 5 seconds."
        )
        if invalid:
            detail += " Invalid values (ignored by browsers): " + ", ".join(sorted(set(invalid)))
        out.append(_hygiene("max-age-missing", target, detail, missing, legit))
    if values:
        top = max(v for v, _ in values)
        capped = [(e, MAX_AGE_CAPS[e]) for e in engines if top > MAX_AGE_CAPS[e][0]]
        if capped:
            caps = "; ".join(f"{e.value} caps it at {cap}s ({src})" for e, (cap, src) in capped)
            out.append(
                _hygiene(
                    "max-age-excessive",
                    target,
                    f"Access-Control-Max-Age is {top}s: {caps}.",
                    [e for v, e in values if v > min(c for _, (c, _) in capped)],
                    legit,
                    engines=[e for e, _ in capped],
                )
            )
    return out


def _varies_on_origin(exchange: HttpExchange) -> bool:
    return any(t.lower() in ("origin", "*") for t in _tokens(exchange.header("vary")))


def _vary(target: str, t_obs: Sequence[Observation], t_ev: Sequence[Evidence]) -> Finding | None:
    by_request: dict[tuple[str, Credentials], dict[str, str | None]] = {}
    for e in t_ev:
        if e.actual is not None and e.actual.status is not None:
            by_request.setdefault((e.shape, e.credentials), {})[e.origin] = e.actual.header(ACAO)
    varying = {k for k, answers in by_request.items() if len(set(answers.values())) > 1}
    if not varying:
        return None
    specific: list[Evidence] = []
    bare: list[Evidence] = []
    for e in t_ev:
        if (e.shape, e.credentials) not in varying or e.actual is None:
            continue
        if _varies_on_origin(e.actual):
            continue
        acao = e.actual.header(ACAO)
        if acao is not None and acao.strip() != "*":
            specific.append(e)
        else:
            bare.append(e)
    # Only responses that carry an origin-specific grant are the classic bug;
    # grant-less responses without Vary are mentioned but do not fire alone,
    # since many stacks omit Vary there and the risk is a cached denial.
    if not specific:
        return None
    detail = (
        "Access-Control-Allow-Origin differs between origins, but responses granting "
        + ", ".join(sorted({e.origin for e in specific}))
        + " do not send Vary: Origin; a cache can replay them to other origins."
    )
    if bare:
        detail += (
            " Responses without a grant (for "
            + ", ".join(sorted({e.origin for e in bare}))
            + ") lack it too, so a cached denial can break the legitimate origin."
        )
    return _hygiene("vary-origin-missing", target, detail, specific + bare, t_obs)


def _overbroad(
    target: str, t_obs: Sequence[Observation], t_ev: Sequence[Evidence]
) -> list[Finding]:
    needed_methods = set(SAFELISTED_METHODS) | {o.method.upper() for o in t_obs if o.method}
    needed_headers = set(SAFELISTED_HEADERS)
    if any(o.credentials is Credentials.INCLUDE for o in t_obs):
        # Credentialed probes stand for authenticated use, which commonly sends a
        # bearer token; allowing Authorization is then expected, not overbroad.
        needed_headers.add("authorization")
    for e in t_ev:
        if e.preflight is not None:
            m = _request_header(e.preflight, "access-control-request-method")
            needed_methods.update(t.upper() for t in _tokens(m))
            h = _request_header(e.preflight, "access-control-request-headers")
            needed_headers.update(t.lower() for t in _tokens(h))

    methods: dict[str, list[Evidence]] = {}
    headers: dict[str, list[Evidence]] = {}
    exposed: dict[str, list[Evidence]] = {}
    for e in t_ev:
        pf = e.preflight
        if pf is not None and pf.header(ACAO) is not None:
            for m in _tokens(pf.header("access-control-allow-methods")):
                if m == "*" or m.upper() not in needed_methods:
                    methods.setdefault(m.upper(), []).append(e)
            for h in _tokens(pf.header("access-control-allow-headers")):
                if h == "*" or h.lower() not in needed_headers:
                    headers.setdefault(h.lower(), []).append(e)
        if e.actual is not None and e.actual.header(ACAO) is not None:
            for h in _tokens(e.actual.header("access-control-expose-headers")):
                if h == "*" or SENSITIVE_EXPOSE.search(h.lower()):
                    exposed.setdefault(h.lower(), []).append(e)
    out: list[Finding] = []
    for rule_id, found, what in (
        ("allow-methods-overbroad", methods, "methods"),
        ("allow-headers-overbroad", headers, "request headers"),
        ("expose-headers-overbroad", exposed, "response headers"),
    ):
        if not found:
            continue
        names = sorted(found)
        if rule_id == "expose-headers-overbroad":
            detail = f"Exposed {what} that are '*' or look sensitive: {', '.join(names)}."
        else:
            detail = (
                f"Allowed {what} beyond what the probes needed: {', '.join(names)}. "
                "Keep them only if the frontend really uses them."
            )
        evs = {e.key: e for group in found.values() for e in group}
        out.append(_hygiene(rule_id, target, detail, evs.values(), t_obs))
    return out
