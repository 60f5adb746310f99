"""An honest small model of header-only CORS scanners, to compare with what browsers did.

Tools such as Corsy, CORScanner, ZAP's CORS rule and nuclei's CORS templates send
one GET with a crafted ``Origin`` header and judge the response headers alone:

* ``Access-Control-Allow-Origin`` grants (echoes) the crafted origin -> vulnerable
  (critical with ``Access-Control-Allow-Credentials: true``, medium without);
* ``Access-Control-Allow-Origin: null`` for ``Origin: null`` -> the same;
* ``Access-Control-Allow-Origin: *`` with credentials -> reported as critical,
  although browsers refuse that combination (the classic false positive);
* ``Access-Control-Allow-Origin: *`` alone -> low.

They send no preflight, no cookies, know nothing about engine quirks or cookie
policies, and never ask whether a browser can produce the origin at all. This
module reproduces that view from corsproof's own :class:`~harness.model.results.Evidence`
so a report can show where header-only scanning and real browsers disagree.

Header parsing here is deliberately *loose*, like the scanners': duplicate
headers are joined, values are compared case-insensitively after stripping, and
a comma list is searched for the origin. Browsers are strict: they require
exactly one ``Access-Control-Allow-Origin`` value that byte-matches the origin
(or ``*``), and ``Access-Control-Allow-Credentials`` must be exactly ``true``.
That gap is one source of the disagreements this module reports.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass

from harness.judge.exploit import is_same_site
from harness.judge.rules import FUNCTIONAL, RULES, VULNERABILITY
from harness.judge.story import OriginStory, Read, first_reason, says, standing_reason, stories
from harness.model.results import (
    CookiePolicy,
    Credentials,
    Evidence,
    Finding,
    HeaderVerdict,
    HttpExchange,
    Observation,
    Outcome,
    Severity,
)

ACAO = "access-control-allow-origin"
ACAC = "access-control-allow-credentials"

SCANNER_SHAPE = "simple-get"
"""The request shape scanners send: a GET with only an ``Origin`` header."""


@dataclass(frozen=True)
class HeaderFinding:
    """What a header-only scanner would report for one (target, origin)."""

    target: str
    origin: str
    severity: Severity
    reason: str
    evidence: str = ""
    """Key of the :class:`Evidence` the verdict was read from."""


@dataclass(frozen=True)
class Disagreement:
    """A place where header-only scanning and real browsers reach different answers.

    ``kind`` is one of:

    * ``header-false-positive``: the scanner reports a vulnerability no engine confirmed;
    * ``header-overstated`` / ``header-understated``: both agree it is readable but not
      on how bad it is (typically cookies a default browser does not send);
    * ``header-miss``: browsers found a problem the scanner cannot see (a read that
      needs cookies or a preflight, a legitimate origin blocked by its preflight).
    """

    kind: str
    target: str
    origin: str | None
    rule: str | None
    browser_severity: Severity | None
    header_severity: Severity | None
    explanation: str


def _values(exchange: HttpExchange, name: str) -> list[str]:
    """Loose split of a header: all occurrences, comma-separated, stripped, lower-cased."""
    joined = exchange.header(name)
    if joined is None:
        return []
    return [v.strip().lower() for v in joined.split(",") if v.strip()]


def loose_credentials(exchange: HttpExchange) -> bool:
    """True when ACAC contains ``true`` in any case or spacing, as scanners read it."""
    return "true" in _values(exchange, ACAC)


def header_verdict(evidence: Evidence) -> HeaderVerdict:
    """Judge one exchange the way a header-only scanner would (from ``evidence.actual``).

    The comparison is loose on purpose (see the module docstring); a verdict of
    ``vulnerable`` says nothing about whether a browser would expose the response.
    """
    actual = evidence.actual
    if actual is None or actual.status is None:
        return HeaderVerdict(False, None, "no response to inspect")
    acao = _values(actual, ACAO)
    creds = loose_credentials(actual)
    origin = evidence.origin.strip().lower()
    if not acao:
        return HeaderVerdict(False, None, "no Access-Control-Allow-Origin")
    if origin and origin in acao:
        # "Granted", not "reflected": an allowlist names its own origins too; whether
        # the server echoes every origin is for the browsers' stories to tell.
        what = "the null origin" if origin == "null" else "this origin"
        if creds:
            return HeaderVerdict(
                True,
                Severity.CRITICAL,
                f"Access-Control-Allow-Origin grants {what}, with credentials",
            )
        return HeaderVerdict(True, Severity.MEDIUM, f"Access-Control-Allow-Origin grants {what}")
    if "*" in acao:
        if creds:
            return HeaderVerdict(
                True, Severity.CRITICAL, "wildcard Access-Control-Allow-Origin with credentials"
            )
        return HeaderVerdict(True, Severity.LOW, "wildcard Access-Control-Allow-Origin")
    return HeaderVerdict(False, None, "Access-Control-Allow-Origin names a different origin")


def _scanner_pick(candidates: Sequence[Evidence]) -> Evidence | None:
    """The exchange closest to what a scanner sends: simple GET without cookies first."""

    def rank(e: Evidence) -> tuple[int, int, str]:
        return (
            0 if e.shape == SCANNER_SHAPE else 1,
            0 if e.credentials is Credentials.OMIT else 1,
            e.key,
        )

    usable = [e for e in candidates if e.actual is not None]
    return min(usable, key=rank) if usable else None


def _by_target_origin(evidence: Sequence[Evidence]) -> dict[tuple[str, str], list[Evidence]]:
    groups: dict[tuple[str, str], list[Evidence]] = {}
    for e in evidence:
        groups.setdefault((e.target, e.origin), []).append(e)
    return groups


def header_scan(
    evidence: Sequence[Evidence], *, legit_origins: Collection[str]
) -> list[HeaderFinding]:
    """What a header-only scanner would report, one entry per vulnerable (target, origin).

    Legitimate origins are skipped: scanners only send crafted attacker origins.
    Sorted by severity (worst first), then target and origin.
    """
    legit = {o.strip().lower() for o in legit_origins}
    out: list[HeaderFinding] = []
    for (target, origin), group in _by_target_origin(evidence).items():
        if origin.strip().lower() in legit:
            continue
        picked = _scanner_pick(group)
        if picked is None:
            continue
        verdict = header_verdict(picked)
        if verdict.vulnerable and verdict.severity is not None:
            out.append(HeaderFinding(target, origin, verdict.severity, verdict.reason, picked.key))
    out.sort(key=lambda h: (-h.severity.rank, h.target, h.origin, h.reason))
    return out


NOT_CHECKED = {
    "legit-origin-blocked": "scanners never check that legitimate origins work and send no "
    "preflight, so a refused preflight or a missing grant for the app's own origin is invisible",
    "errors-without-cors": "scanners do not look at whether error responses to the "
    "legitimate origin carry CORS headers",
    "credentials-unneeded": "scanners do not compare responses with and without credentials",
    "max-age-missing": "scanners send no preflight, so Access-Control-Max-Age is never seen",
    "max-age-excessive": "scanners send no preflight, so Access-Control-Max-Age is never seen",
    "vary-origin-missing": "scanners do not compare answers across origins or check Vary",
    "allow-methods-overbroad": "scanners send no preflight and do not judge allowed methods",
    "allow-headers-overbroad": "scanners send no preflight and do not judge allowed headers",
    "expose-headers-overbroad": "scanners do not judge Access-Control-Expose-Headers",
}


def evidence_index(
    evidence_by_key: Mapping[str, Evidence],
) -> dict[tuple[str, str], list[Evidence]]:
    """``evidence_by_key``'s values by (target, origin), in their order, for :func:`compare`."""
    index: dict[tuple[str, str], list[Evidence]] = {}
    for e in evidence_by_key.values():
        index.setdefault((e.target, e.origin), []).append(e)
    return index


def compare(
    finding: Finding,
    evidence_by_key: Mapping[str, Evidence],
    *,
    index: Mapping[tuple[str, str], Sequence[Evidence]] | None = None,
) -> HeaderVerdict:
    """The scanner's view of the responses behind ``finding``.

    For each origin of the finding the scanner-like exchange (simple GET,
    no credentials) for the same target is judged with :func:`header_verdict`,
    and the worst verdict wins. Rules scanners have no notion of (most
    functional and hygiene rules) get a non-vulnerable verdict saying why.
    ``index`` is :func:`evidence_index` of ``evidence_by_key``, when comparing many
    findings against the same evidence.
    """
    if index is None:
        index = evidence_index(evidence_by_key)
    rule = RULES.get(finding.rule)
    category = rule.category if rule is not None else finding.category
    if finding.rule in NOT_CHECKED:
        base = _worst_for(finding, evidence_by_key, index)
        seen = f"; its GET shows: {base.reason}" if base is not None else ""
        return HeaderVerdict(False, None, NOT_CHECKED[finding.rule] + seen)
    verdict = _worst_for(finding, evidence_by_key, index)
    if verdict is None:
        return HeaderVerdict(False, None, "no server evidence for this finding")
    if category == VULNERABILITY and not verdict.vulnerable:
        return HeaderVerdict(False, None, f"a scanner's GET without cookies sees: {verdict.reason}")
    if category == FUNCTIONAL and verdict.vulnerable:
        return HeaderVerdict(
            True, verdict.severity, f"{verdict.reason} (reported as a vulnerability)"
        )
    return verdict


def _worst_for(
    finding: Finding,
    evidence_by_key: Mapping[str, Evidence],
    index: Mapping[tuple[str, str], Sequence[Evidence]],
) -> HeaderVerdict | None:
    origins = set(finding.origins)
    for key in finding.evidence:
        e = evidence_by_key.get(key)
        if e is not None:
            origins.add(e.origin)
    best: HeaderVerdict | None = None
    for origin in sorted(origins):
        candidates = index.get((finding.target, origin))
        if not candidates:
            continue
        picked = _scanner_pick(list(candidates))
        if picked is None:
            continue
        verdict = header_verdict(picked)
        if best is None or _verdict_rank(verdict) > _verdict_rank(best):
            best = verdict
    return best


def _verdict_rank(v: HeaderVerdict) -> tuple[int, int]:
    return (1 if v.vulnerable else 0, v.severity.rank if v.severity is not None else -1)


HEADER_BLIND = ("legit-origin-blocked", "errors-without-cors")
"""Functional rules a header-only scanner cannot see: each such finding is a header miss."""

_MISS = (
    "browsers could read this, but a scanner's GET without cookies sees no grant: the "
    "server only answers this origin for another shape (a preflighted request), with "
    "cookies, or in a way the headers hide"
)


def assess(
    header: HeaderFinding | None,
    browser: tuple[str, Severity] | None,
    told: OriginStory | None,
    *,
    wildcard_target: bool = False,
) -> tuple[str | None, str]:
    """The comparison of one (target, origin): (disagreement kind or None, explanation).

    ``header`` is the scanner's conclusion (None: it reports nothing), ``browser`` the
    rule and severity of the worst vulnerability finding naming the origin, ``told`` the
    origin's story (None: no browser probed it). Every view of the comparison -- the
    ``disagreements`` of report.json and the HTML table -- is this function's answer.
    """
    if header is None:
        if browser is None:
            return None, "neither calls it a vulnerability"
        return "header-miss", _MISS
    if browser is None:
        if header.severity.rank < Severity.MEDIUM.rank:
            return None, "a low 'wildcard' note is not a claim of exploitability"
        return "header-false-positive", _fp_explanation(header, told, wildcard_target)
    if browser[1].rank == header.severity.rank:
        return None, "both call it a vulnerability of the same severity"
    over = header.severity.rank > browser[1].rank
    kind = "header-overstated" if over else "header-understated"
    return kind, _severity_explanation(browser[1], header, over, told)


def disagreements(
    findings: Sequence[Finding],
    header_findings: Sequence[HeaderFinding],
    *,
    observations: Sequence[Observation] = (),
    evidence: Sequence[Evidence] = (),
    told: Mapping[tuple[str, str], OriginStory] | None = None,
) -> list[Disagreement]:
    """Where browsers and header-only scanning disagree, sorted deterministically.

    ``observations`` (and the ``evidence`` they were judged with) give each origin's
    story (:func:`harness.judge.story.stories`), which the explanations state: what the
    browsers really did with an origin the scanner flags. ``told`` is those stories,
    when the caller has them already.
    """
    if told is None:
        told = stories(observations, evidence) if observations else {}
    vulns = worst_vulnerabilities(findings)
    wildcard_targets = {f.target for f in findings if f.rule == "wildcard-with-credentials"}
    out: list[Disagreement] = []
    flagged: set[tuple[str, str]] = set()
    for h in header_findings:
        key = (h.target, h.origin)
        flagged.add(key)
        browser = vulns.get(key)
        kind, why = assess(h, browser, told.get(key), wildcard_target=h.target in wildcard_targets)
        if kind is not None:
            out.append(
                Disagreement(
                    kind,
                    h.target,
                    h.origin,
                    browser[0] if browser else None,
                    browser[1] if browser else None,
                    h.severity,
                    why,
                )
            )
    for (target, origin), (rule, sev) in vulns.items():
        if (target, origin) not in flagged:
            kind, why = assess(None, (rule, sev), told.get((target, origin)))
            out.append(Disagreement(str(kind), target, origin, rule, sev, None, why))
    for f in findings:
        if f.rule in HEADER_BLIND:
            out.append(
                Disagreement(
                    "header-miss",
                    f.target,
                    ", ".join(f.origins) or None,
                    f.rule,
                    f.severity,
                    None,
                    NOT_CHECKED[f.rule],
                )
            )
    out.sort(key=lambda d: (d.kind, d.target, d.origin or "", d.rule or "", d.explanation))
    return out


def worst_vulnerabilities(
    findings: Sequence[Finding],
) -> dict[tuple[str, str], tuple[str, Severity]]:
    """(target, origin) -> (rule, severity) of the worst vulnerability finding naming it."""
    vulns: dict[tuple[str, str], tuple[str, Severity]] = {}
    for f in findings:
        if f.category != VULNERABILITY:
            continue
        for origin in f.origins:
            current = vulns.get((f.target, origin))
            if current is None or f.severity.rank > current[1].rank:
                vulns[(f.target, origin)] = (f.rule, f.severity)
    return vulns


def _fp_explanation(h: HeaderFinding, told: OriginStory | None, wildcard: bool) -> str:
    if "wildcard" in h.reason:
        return (
            "Access-Control-Allow-Origin: * with credentials: browsers refuse to expose a "
            "credentialed response under '*', and a non-credentialed one is public by declaration"
        )
    if told is None:
        prefix = "browsers refuse '*' with credentials; " if wildcard else ""
        return prefix + "no browser probed this origin"
    if told.readable:
        # The browsers did read: say so, and why the read is no vulnerability.
        why = standing_reason(told.standing)
        return "browsers could read it" + (f", but it is no vulnerability: {why}" if why else "")
    outcomes = {f.outcome for f in told.facts}
    if outcomes <= {Outcome.NOT_PRODUCIBLE, Outcome.ERROR}:
        if Outcome.NOT_PRODUCIBLE in outcomes:
            return (
                "the server reflects this origin, but no engine that ran can give a page this "
                "origin, so no browser attacker can use it"
            )
        return "every probe from this origin ended in an error: not verified in a browser"
    reason = first_reason(told)
    if outcomes == {Outcome.BLOCKED}:
        text = "the headers look permissive, but every engine blocked the read"
        return text + (f" (the browser said: {reason})" if reason else "")
    if wildcard:
        return "browsers refuse '*' with credentials; no engine could read: " + says(told)
    return "no engine could read: " + says(told)


def _severity_explanation(
    browser: Severity, h: HeaderFinding, over: bool, told: OriginStory | None
) -> str:
    said = f"scanner says {h.severity.value}; browsers show {browser.value}: "
    if not over:
        return said + (
            "with cookies or another request shape the server grants more than the "
            "scanner's bare GET reveals"
        )
    return said + _why_lower(told)


def _why_lower(told: OriginStory | None) -> str:
    """Why the browsers rate an origin's reads lower than the scanner, from its story."""
    if told is not None:
        default = [f for f in told.facts if f.cookie_policy is CookiePolicy.DEFAULT]
        if any(f.read is Read.VICTIM for f in default) and is_same_site(told.origin, told.target):
            return (
                "only a same-site origin read the victim's data (the attacker needs a sibling "
                "subdomain, or a network position for an http origin)"
            )
        if any(f.read is Read.VICTIM for f in told.facts):
            return (
                "the victim's data came back only with third-party cookies allowed; a default "
                "browser withholds the cookie (e.g. Firefox's Total Cookie Protection)"
            )
        withheld = next((f.withheld for f in told.facts if f.read is Read.CREDENTIALED), "")
        if withheld:
            return f"the credentialed read carried no victim's data: {withheld}"
        if told.read is Read.ANONYMOUS:
            return "browsers could read it only without credentials"
    return (
        "the credentialed read does not work in a default browser (e.g. Firefox Total "
        "Cookie Protection sends no third-party cookie) or carried no secret"
    )
