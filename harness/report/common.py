"""The judgements every reporter shares, and the helpers that show target data safely.

Every reporter renders from the one dict :meth:`harness.model.results.RunReport.to_dict`
returns (or the same dict read back from ``report.json``). The derivations a
reader needs on the first screen -- the verdict, which engines are exploitable,
the header-check comparison -- live here so the HTML, Markdown and SARIF views
can never disagree with each other.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from harness.judge.caveats import Caveat, caveats, judged_probes, nothing_answered, planned_probes
from harness.judge.headercheck import HEADER_BLIND, NOT_CHECKED, HeaderFinding, assess
from harness.judge.story import OriginStory, Standing, says, standing_reason, stories
from harness.model.results import (
    Engine,
    Role,
    Severity,
    evidence_from_dict,
    observation_from_dict,
)
from harness.report.document import ProbeRow, RecordRow

SEVERITIES: tuple[str, ...] = tuple(s.value for s in Severity)
"""Severity names, worst first."""

ENGINE_ORDER: tuple[str, ...] = tuple(e.value for e in Engine)

ENGINE_LABELS = {"chromium": "Chromium", "firefox": "Firefox", "webkit": "WebKit"}

DEFAULT_POLICY = "default"

WILDCARD_RULE = "wildcard-with-credentials"

# C0 controls (but tab, LF, CR), DEL and C1 controls: invisible or terminal-active,
# and some are illegal in XML 1.0. Target data is shown with them made visible.
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")


# --------------------------------------------------------------------------- helpers


def clean(value: Any) -> str:
    """``value`` as text with control characters made visible as ``\\xNN``.

    Target-controlled strings pass through here before any reporter shows them, so
    a header value cannot smuggle terminal escapes or XML-illegal bytes.
    """
    text = "" if value is None else str(value)
    return _CONTROL.sub(lambda m: f"\\x{ord(m.group()):02x}", text)


def severity_rank(name: Any) -> int:
    """Rank of a severity name (critical 4 .. info 0); unknown names rank below info."""
    try:
        return Severity(str(name)).rank
    except ValueError:
        return -1


def engine_label(name: Any) -> str:
    """Display name of an engine (``chromium`` -> ``Chromium``)."""
    text = clean(name)
    return ENGINE_LABELS.get(text, text)


def join_engines(names: Iterable[str]) -> str:
    """``Chromium``, ``Chromium and Firefox``, ``Chromium, Firefox and WebKit``."""
    labels = [engine_label(n) for n in names]
    if len(labels) <= 1:
        return "".join(labels)
    return ", ".join(labels[:-1]) + " and " + labels[-1]


def sorted_findings(report: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    """Findings worst first, then by target, rule and origins, for a stable order."""
    findings: list[Mapping[str, Any]] = list(report.get("findings") or [])
    return sorted(
        findings,
        key=lambda f: (
            -severity_rank(f.get("severity")),
            str(f.get("target", "")),
            str(f.get("rule", "")),
            [str(o) for o in f.get("origins") or []],
        ),
    )


def severity_counts(report: Mapping[str, Any]) -> dict[str, int]:
    """Number of findings per severity, every severity present, worst first."""
    counts = dict.fromkeys(SEVERITIES, 0)
    for f in report.get("findings") or []:
        sev = str(f.get("severity", ""))
        if sev in counts:
            counts[sev] += 1
    return counts


def run_engines(report: Mapping[str, Any]) -> list[str]:
    """Engines that took part in the run (browsers, probes, findings), in canonical order."""
    seen: set[str] = set()
    for b in report.get("browsers") or []:
        seen.add(str(b.get("engine", "")))
    for p in report.get("probes") or []:
        seen.add(str(p.get("engine", "")))
    for f in report.get("findings") or []:
        seen.update(str(e) for e in f.get("engines") or [])
    seen.discard("")
    known = [e for e in ENGINE_ORDER if e in seen]
    return known + sorted(seen - set(ENGINE_ORDER))


def is_vulnerability(finding: Mapping[str, Any]) -> bool:
    """A finding that lets an attacker read something (not functional or hygiene)."""
    return str(finding.get("category", "vulnerability")) == "vulnerability"


def _applies_by_default(finding: Mapping[str, Any]) -> bool:
    # No cookie policy recorded means the run only used the default profile.
    policies = [str(p) for p in finding.get("cookie_policies") or []]
    return not policies or DEFAULT_POLICY in policies


def finding_state(finding: Mapping[str, Any], engine: str) -> str:
    """How a vulnerability finding applies in one engine: ``yes`` (any website can read
    the victim's data in a default browser), ``same-site`` (only same-site origins can),
    ``cookies`` (only with third-party cookies allowed), ``unknown`` or ``no``.

    Read from the finding's measured ``exposure``; a finding without one (a report
    from before the wire witness) falls back to its engines and cookie profiles.
    """
    measured = list(finding.get("exposure") or [])
    if not measured:
        if engine not in [str(e) for e in finding.get("engines") or []]:
            return "no"
        return "yes" if _applies_by_default(finding) else "cookies"
    exposure = [e for e in measured if str(e.get("engine")) == engine]
    default = {str(e.get("reach")) for e in exposure if e.get("cookie_policy") == DEFAULT_POLICY}
    other = {str(e.get("reach")) for e in exposure if e.get("cookie_policy") != DEFAULT_POLICY}
    if "cross-site" in default:
        return "yes"
    if "same-site" in default:
        return "same-site"
    if other & {"cross-site", "same-site"}:
        return "cookies"
    if "unknown" in default | other:
        return "unknown"
    return "no"


_STATE_ORDER = ("yes", "same-site", "cookies", "unknown", "no")
"""Engine states, most exposed first."""


def worst_state(states: Iterable[str]) -> str:
    """The most exposed of these states (``no`` for none)."""
    found = set(states)
    return next((s for s in _STATE_ORDER if s in found), "no")


@dataclass(frozen=True)
class EngineExposure:
    """Whether one engine is exploitable, derived from vulnerability findings."""

    engine: str
    default: bool
    """Exploitable in the engine as shipped (default cookie policy)."""
    permissive_only: bool
    """Exploitable only when third-party cookies are allowed."""
    worst: str | None
    """Worst severity of the vulnerability findings in this engine."""
    rules: tuple[str, ...] = ()
    state: str = "no"
    """:func:`finding_state`'s answer, worst over the findings."""


def engine_exposure(report: Mapping[str, Any]) -> list[EngineExposure]:
    """Per engine of the run: is any vulnerability finding exploitable there, and how badly."""
    out: list[EngineExposure] = []
    for engine in run_engines(report):
        states: list[str] = []
        worst: str | None = None
        rules: list[str] = []
        for f in report.get("findings") or []:
            if not is_vulnerability(f):
                continue
            state = finding_state(f, engine)
            if state == "no" and engine not in [str(e) for e in f.get("engines") or []]:
                continue
            states.append(state)
            sev = str(f.get("severity", ""))
            if worst is None or severity_rank(sev) > severity_rank(worst):
                worst = sev
            rule = str(f.get("rule", ""))
            if rule not in rules:
                rules.append(rule)
        state = worst_state(states)
        out.append(
            EngineExposure(
                engine,
                state in ("yes", "same-site"),
                state == "cookies",
                worst,
                tuple(rules),
                state,
            )
        )
    return out


@dataclass(frozen=True)
class TargetExposure:
    """One target: its worst finding and, per engine, whether it is exploitable there."""

    target: str
    worst: str | None
    """Worst severity of any finding on the target (None: no finding)."""
    engines: tuple[tuple[str, str], ...]
    """(engine, state) per run engine, as :func:`finding_state` says."""
    rules: tuple[str, ...]
    """Rules of the vulnerability findings on the target."""
    other_rules: tuple[str, ...]
    """Rules of the functional and hygiene findings on the target."""

    @property
    def exploitable(self) -> bool:
        return any(state in ("yes", "same-site") for _, state in self.engines)


def target_exposure(report: Mapping[str, Any]) -> list[TargetExposure]:
    """Per target (declared ones first, then any only findings name), from the findings.

    Sorted most exposed first: exploitable in a default browser, then only with
    third-party cookies, then by worst severity; ties keep the declared order.
    """
    targets = [str(t) for t in report.get("targets") or []]
    for f in report.get("findings") or []:
        t = str(f.get("target", ""))
        if t and t not in targets:
            targets.append(t)
    engines = run_engines(report)
    out: list[TargetExposure] = []
    for target in targets:
        findings = [f for f in report.get("findings") or [] if str(f.get("target", "")) == target]
        worst: str | None = None
        for f in findings:
            sev = str(f.get("severity", ""))
            if worst is None or severity_rank(sev) > severity_rank(worst):
                worst = sev
        states = [
            (engine, worst_state(finding_state(f, engine) for f in findings if is_vulnerability(f)))
            for engine in engines
        ]
        rules = tuple(
            dict.fromkeys(str(f.get("rule", "")) for f in findings if is_vulnerability(f))
        )
        others = tuple(
            dict.fromkeys(str(f.get("rule", "")) for f in findings if not is_vulnerability(f))
        )
        out.append(TargetExposure(target, worst, tuple(states), rules, others))

    def rank(t: TargetExposure) -> tuple[int, int]:
        level = _STATE_ORDER.index(worst_state(s for _, s in t.engines))
        return (level, -severity_rank(t.worst) if t.worst else 1)

    return sorted(out, key=rank)


@dataclass(frozen=True)
class Verdict:
    """The one-line answer to "is this API safe, and where is it exploitable?"."""

    level: str
    """``exploitable``, ``conditional`` (3rd-party cookies only), ``clean``, ``inconclusive``."""
    headline: str
    detail: str
    engines: tuple[str, ...] = ()
    partial: bool = False
    caveats: tuple[Caveat, ...] = ()
    """What the verdict does not cover (:func:`harness.judge.caveats.caveats`), errors first."""

    @property
    def errors(self) -> tuple[Caveat, ...]:
        """The caveats that mean part of the plan has no verdict."""
        return tuple(c for c in self.caveats if c.error)


def _credentialed_read(report: Mapping[str, Any], findings: Sequence[Mapping[str, Any]]) -> bool:
    """True when a probe backing one of ``findings`` read a credentials=include response."""
    ids = {str(p) for f in findings for p in f.get("probes") or []}
    return any(
        str(p.get("id")) in ids
        and bool(p.get("readable", p.get("outcome") == "readable"))
        and str(p.get("credentials")) == "include"
        and p.get("cookie_sent") is True
        and p.get("victim_data") is True
        for p in report.get("probes") or []
    )


def verdict(report: Mapping[str, Any]) -> Verdict:
    """Derive the verdict banner from the vulnerability findings, the run state and caveats.

    A finding is what was measured, caveats or not. Without one, the verdict says how
    much of the plan it rests on ("in N of M planned probes") and is never an
    unconditional "safe".
    """
    partial = bool(report.get("partial"))
    limits = tuple(caveats(report))
    exposure = engine_exposure(report)
    vulns = [f for f in report.get("findings") or [] if is_vulnerability(f)]
    default_engines = tuple(e.engine for e in exposure if e.default)
    permissive_engines = tuple(e.engine for e in exposure if e.permissive_only)
    others = len(report.get("findings") or []) - len(vulns)
    other_note = f" {others} functional or hygiene finding(s) are listed below." if others else ""
    if default_engines:
        backing = [
            f
            for f in vulns
            if any(finding_state(f, e) in ("yes", "same-site") for e in default_engines)
        ]
        what = "the victim's data" if _credentialed_read(report, backing) else "responses"
        return Verdict(
            "exploitable",
            f"Exploitable: attacker origins can read {what} in {join_engines(default_engines)}",
            f"{len(vulns)} vulnerability finding(s); a page on an attacker's origin can read "
            f"what the API returns, in browsers as users run them.{other_note}",
            default_engines,
            partial,
            limits,
        )
    if permissive_engines:
        return Verdict(
            "conditional",
            "Exploitable only where third-party cookies are allowed: "
            + join_engines(permissive_engines),
            "The server's CORS policy lets attacker origins read responses, but default "
            "browser cookie settings currently stop the credentialed read. Fix the policy: "
            f"browser defaults differ and change.{other_note}",
            permissive_engines,
            partial,
            limits,
        )
    judged, planned = judged_probes(report), planned_probes(report)
    coverage = f"{judged:,} of {planned:,} planned probes"
    if nothing_answered(report):
        return Verdict(
            "inconclusive",
            "Inconclusive: the target answered none of the probes",
            "Every probe ended in error before the target answered (down, hanging, or "
            f"unreachable from here); nothing was verified.{other_note}",
            (),
            partial,
            limits,
        )
    if partial:
        budget = any(str(e.get("kind")) == "budget" for e in report.get("errors") or [])
        why = "the run budget ran out" if budget else "the run was interrupted"
        return Verdict(
            "inconclusive",
            f"Inconclusive: {why} before every probe ran",
            f"No exploitable issue was seen in the {coverage} that gave a verdict; that "
            f"proves nothing about the rest.{other_note}",
            (),
            partial,
            limits,
        )
    engines = join_engines(b.get("engine") for b in report.get("browsers") or [])
    where = f" in {engines}" if engines else ""
    gaps = (
        " Part of the plan has no verdict: see the caveats." if any(c.error for c in limits) else ""
    )
    return Verdict(
        "clean",
        f"No exploitable CORS issue found in {coverage}",
        f"No attacker origin could read a response in the probes that gave a verdict"
        f"{where}.{other_note}{gaps}",
        (),
        partial,
        limits,
    )


def parse_time(text: Any) -> datetime | None:
    """An ISO 8601 timestamp as an aware UTC datetime (naive means UTC), or None."""
    if not text or not isinstance(text, str):
        return None
    raw = text.strip()
    if raw.endswith(("Z", "z")):
        raw = raw[:-1] + "+00:00"
    try:
        stamp = datetime.fromisoformat(raw)
    except ValueError:
        return None
    if stamp.tzinfo is None:
        stamp = stamp.replace(tzinfo=UTC)
    return stamp.astimezone(UTC)


def duration_seconds(report: Mapping[str, Any]) -> float | None:
    """Seconds between ``started`` and ``finished``, or None when either is missing."""
    start, end = parse_time(report.get("started")), parse_time(report.get("finished"))
    if start is None or end is None:
        return None
    return max(0.0, (end - start).total_seconds())


def format_duration(seconds: float | None) -> str:
    """``1h 02m 03s`` / ``2m 03s`` / ``4.2s``; an em dash when unknown."""
    if seconds is None:
        return "\u2014"
    if seconds < 60:
        return f"{seconds:.1f}s"
    whole = int(seconds)  # truncate: a 59.9s run did not take a minute
    hours, rest = divmod(whole, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours}h {minutes:02d}m {secs:02d}s"
    return f"{minutes}m {secs:02d}s"


def origin_stories(report: Mapping[str, Any]) -> dict[tuple[str, str], OriginStory]:
    """Every (target, origin)'s story (:func:`harness.judge.story.stories`) from the report dict.

    The same function, over the same probes and evidence, that judged the run: the
    findings, this comparison and the HTML matrix therefore tell one story. A probe or
    exchange record too malformed to read back is left out.

    Worked out one target at a time, with the exchange records that target's probes
    can be matched with (its own, and any its probes name by key): the same stories as
    over the whole run at once, without the whole run's records alive together.
    """
    probes: dict[str, list[Mapping[str, Any]]] = {}
    for p in report.get("probes") or []:
        if not isinstance(p, Mapping) or "target" not in p:
            continue  # no Observation without a target
        target = p.get("target")
        if not isinstance(target, str):
            return _stories_of(report.get("probes") or [], report.get("evidence") or [])
        probes.setdefault(target, []).append(p)
    by_target: dict[str, list[Mapping[str, Any]]] = {}
    by_key: dict[str, list[Mapping[str, Any]]] = {}
    for e in report.get("evidence") or []:
        if not isinstance(e, Mapping):
            continue  # evidence_from_dict would raise TypeError
        by_target.setdefault(str(e.get("target")), []).append(e)
        by_key.setdefault(str(e.get("key")), []).append(e)
    out: dict[tuple[str, str], OriginStory] = {}
    for target in sorted(probes):
        rows = by_target.get(target, [])
        named = {p.get("evidence") for p in probes[target]}
        # An exchange record of another target that a probe names: kept, as the
        # whole-run index keeps it (only the matching by key can reach it).
        seen = {id(e) for e in rows}
        extra = [
            e for k in named if isinstance(k, str) for e in by_key.get(k, []) if id(e) not in seen
        ]
        out.update(_stories_of(probes[target], [*rows, *extra]))
    return out


def _stories_of(
    probes: Iterable[Mapping[str, Any]], evidence: Iterable[Mapping[str, Any]]
) -> dict[tuple[str, str], OriginStory]:
    observations = []
    for p in probes:
        try:
            # A document's row is its observation already, unless redaction changed it.
            observations.append(
                p.observation() if isinstance(p, ProbeRow) else observation_from_dict(p)
            )
        except (KeyError, ValueError, TypeError):
            continue
    records = []
    for e in evidence:
        try:
            records.append(e.evidence() if isinstance(e, RecordRow) else evidence_from_dict(e))
        except (KeyError, ValueError, TypeError):
            continue
    return stories(observations, records)


def vulnerability_origins(report: Mapping[str, Any]) -> dict[tuple[str, str], tuple[str, str, str]]:
    """(target, origin) -> (rule, severity, anchor) of the worst vulnerability finding
    naming the origin (the first such in :func:`sorted_findings` order)."""
    out: dict[tuple[str, str], tuple[str, str, str]] = {}
    for i, f in enumerate(sorted_findings(report)):
        if not is_vulnerability(f):
            continue
        for origin in f.get("origins") or []:
            out.setdefault(
                (str(f.get("target", "")), str(origin)),
                (str(f.get("rule", "")), str(f.get("severity", "")), finding_anchor(i)),
            )
    return out


@dataclass(frozen=True)
class Comparison:
    """One row of "browser truth vs header inspection": one (target, origin), or one
    functional finding a header-only scanner cannot see."""

    target: str
    origin: str
    source: str
    """``origin`` (an origin the scanner flags, a finding names, or the browsers read) or
    ``finding`` (a functional finding invisible to header inspection)."""
    header_says: str
    browsers_say: str
    disagree: bool
    kind: str | None = None
    """The :class:`harness.judge.headercheck.Disagreement` kind, when they disagree."""
    why: str = ""
    """Why they disagree (:func:`harness.judge.headercheck.assess`)."""
    severity: str | None = None
    rule: str | None = None
    anchor: str | None = None
    """Id of the finding section this row refers to, when there is one."""
    origins: tuple[str, ...] = ()
    """The origins of the row one by one (``origin`` joins them for display)."""
    standing: str = ""
    """The origin's :class:`harness.judge.story.Standing`."""


def finding_anchor(index: int) -> str:
    """The HTML id of the ``index``-th finding in :func:`sorted_findings` order."""
    return f"finding-{index + 1}"


def _header_findings(report: Mapping[str, Any]) -> dict[tuple[str, str], HeaderFinding]:
    out: dict[tuple[str, str], HeaderFinding] = {}
    for h in report.get("header_only") or []:
        try:
            sev = Severity.parse(str(h.get("severity")))
        except ValueError:
            continue
        key = (str(h.get("target", "")), str(h.get("origin", "")))
        out[key] = HeaderFinding(key[0], key[1], sev, str(h.get("reason") or ""))
    return out


def comparisons(
    report: Mapping[str, Any],
    told: Mapping[tuple[str, str], OriginStory] | None = None,
) -> list[Comparison]:
    """Rows comparing a header-only check with what the browsers did.

    One row per (target, origin) that the scanner flags, a vulnerability finding names or
    an attacker page could read, judged by :func:`harness.judge.headercheck.assess` from the
    origin's story -- the same function that wrote report.json's ``disagreements`` -- and
    one per functional finding header inspection cannot see. ``told`` is
    :func:`origin_stories` of ``report``, when the caller has it.
    """
    told = origin_stories(report) if told is None else told
    vulns = vulnerability_origins(report)
    header = _header_findings(report)
    findings = sorted_findings(report)
    checks = {
        (str(f.get("target", "")), str(o)): f.get("header_check")
        for f in findings
        if is_vulnerability(f)
        for o in f.get("origins") or []
    }
    wildcard = {str(f.get("target")) for f in findings if f.get("rule") == WILDCARD_RULE}
    keys = set(header) | set(vulns)
    keys |= {k for k, s in told.items() if s.role is Role.ATTACKER and s.readable}
    rows: list[Comparison] = []
    for key in sorted(keys):
        h, v, s = header.get(key), vulns.get(key), told.get(key)
        browser = None
        if v is not None:
            try:
                browser = (v[0], Severity.parse(v[1]))
            except ValueError:
                browser = (v[0], Severity.INFO)
        kind, why = assess(h, browser, s, wildcard_target=key[0] in wildcard)
        rows.append(
            Comparison(
                target=key[0],
                origin=key[1],
                source="origin",
                header_says=_header_words(h, checks.get(key)),
                browsers_say=says(s) if s is not None else "not probed in a browser",
                disagree=kind is not None,
                kind=kind,
                why=why if kind is not None else _no_finding(s),
                severity=v[1] if v else None,
                rule=v[0] if v else None,
                anchor=v[2] if v else None,
                origins=(key[1],),
                standing=s.standing.value if s is not None else "",
            )
        )
    for i, f in enumerate(findings):
        rule = str(f.get("rule", ""))
        if rule not in HEADER_BLIND:
            continue
        target = str(f.get("target", ""))
        origins = tuple(str(o) for o in f.get("origins") or [])
        said = _refused(report, f)
        rows.append(
            Comparison(
                target=target,
                origin=", ".join(origins),
                source="finding",
                header_says="nothing to report",
                browsers_say=said or "not probed in a browser",
                disagree=True,
                kind="header-miss",
                why=clean(NOT_CHECKED[rule]),
                severity=str(f.get("severity", "")),
                rule=rule,
                anchor=finding_anchor(i),
                origins=origins,
                standing=Standing.LEGITIMATE.value,
            )
        )
    return rows


def _refused(report: Mapping[str, Any], f: Mapping[str, Any]) -> str:
    """What the browsers did with a functional finding's own probes, each case once:
    ``blocked in Chromium for preflight-json: <the engine's reason>``."""
    ids = {str(p) for p in f.get("probes") or []}
    cases: dict[tuple[str, str, str], list[str]] = {}
    for p in report.get("probes") or []:
        if str(p.get("id")) not in ids or p.get("outcome") == "readable":
            continue
        key = (str(p.get("outcome")), str(p.get("shape")), clean(p.get("block_reason") or ""))
        engine = engine_label(p.get("engine"))
        if engine not in cases.setdefault(key, []):
            cases[key].append(engine)
    parts = [
        f"{outcome} in {join_engines(engines)} for {shape}" + (f": {reason}" if reason else "")
        for (outcome, shape, reason), engines in sorted(cases.items())
    ]
    return "; ".join(parts)


def _no_finding(told: OriginStory | None) -> str:
    """For an agreeing row: why a read the browsers made is no finding, if it is none."""
    if told is None or not told.readable or told.standing is Standing.FINDING:
        return ""
    why = standing_reason(told.standing)
    return f"not a finding: {why}" if why else ""


def _header_words(h: HeaderFinding | None, check: Any) -> str:
    if h is not None:
        return (
            f"vulnerable ({h.severity.value}): {h.reason}"
            if h.reason
            else (f"vulnerable ({h.severity.value})")
        )
    if isinstance(check, Mapping) and check.get("reason") and not check.get("vulnerable"):
        return f"nothing to report: {clean(check.get('reason'))}"
    return "nothing to report"


def declared_policy(report: Mapping[str, Any], target: str) -> str | None:
    """The CORS policy the user declared for ``target``, to stand beside the measured one.

    Read from ``report["declared_policies"]`` (target -> text). Nothing writes that
    section yet: this is where a declared policy (e.g. from a corsproof config file)
    enters the report, and report.html already shows it next to what was measured.
    """
    declared = report.get("declared_policies")
    if not isinstance(declared, Mapping):
        return None
    text = declared.get(target)
    return str(text) if text else None
