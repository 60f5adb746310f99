"""The declared policy against the measured one: who reads beyond ``readable_by``, who
falls short of it, and which findings a reviewed ``accept`` entry covers.

Pure: :func:`apply_policy` takes the run's judged findings and observations and the
:class:`~harness.model.policy.Policy` from the config file, and gives the findings
(two more rules, ``accepted`` filled in) and report.json's ``policy`` section. Only
measurements count: an origin reads *with the session* when a credentialed probe was
readable and the wire saw the cookie go or the answer held the victim's data; an
origin that was never measured in an engine is listed as unknown, with the reason,
and is neither a reader nor a refusal.
"""

from __future__ import annotations

import datetime as _dt
import fnmatch
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from harness.judge.rules import RULES
from harness.model.policy import Acceptance, Policy
from harness.model.results import (
    Accepted,
    Credentials,
    Engine,
    Finding,
    Observation,
    Outcome,
    Role,
    Severity,
)

BEYOND = "readable-beyond-policy"
SHORT = "reader-falls-short"


@dataclass
class _Reads:
    """What one origin could do against one target, per engine and cookie profile."""

    session: set[str] = field(default_factory=set)
    """``engine/profile`` where a credentialed probe read the victim's answer."""
    anonymous: set[str] = field(default_factory=set)
    """Where a probe was readable, but not with the session (no cookie, or no victim data)."""
    blocked: set[str] = field(default_factory=set)
    short: set[str] = field(default_factory=set)
    """Where a credentialed probe was refused, or read without the session going."""
    probes: dict[str, list[str]] = field(default_factory=dict)
    """Probe ids per kind (session, anonymous, blocked)."""
    unknown: dict[str, str] = field(default_factory=dict)
    """``engine/profile`` -> why nothing was measured there."""

    def add(self, kind: str, where: str, probe: str) -> None:
        getattr(self, kind).add(where)
        self.probes.setdefault(kind, []).append(probe)


def _where(o: Observation) -> str:
    return f"{o.engine.value}/{o.cookie_policy.value}"


def _session_read(o: Observation) -> bool:
    return (
        o.readable
        and o.credentials is Credentials.INCLUDE
        and (o.cookie_sent is True or o.victim_data is True)
    )


def _reads(observations: Iterable[Observation]) -> dict[tuple[str, str], _Reads]:
    """(target, origin) -> what the origin could read there, from the probes alone."""
    out: dict[tuple[str, str], _Reads] = {}
    for o in observations:
        r = out.setdefault((o.target, o.origin), _Reads())
        where = _where(o)
        if o.readable:
            r.add("session" if _session_read(o) else "anonymous", where, o.id)
        elif o.outcome is Outcome.BLOCKED:
            r.add("blocked", where, o.id)
        else:
            r.unknown.setdefault(where, o.error or o.block_reason or o.outcome.value)
            continue
        if o.credentials is Credentials.INCLUDE and not _session_read(o):
            r.add("short", where, o.id)
    # Unknown only where nothing else was measured in that engine and profile.
    for r in out.values():
        for where in r.session | r.anonymous | r.blocked:
            r.unknown.pop(where, None)
    return out


def _refused(r: _Reads) -> list[str]:
    """Where a declared reader was measured not reading with the session."""
    return sorted(r.short - r.session)


def _covering(findings: Sequence[Finding], target: str, origin: str) -> list[str]:
    """Rules of the run's own findings that already name ``origin`` on ``target``."""
    return sorted({f.rule for f in findings if f.target == target and origin in f.origins})


def _engines(wheres: Iterable[str]) -> tuple[Engine, ...]:
    return tuple(sorted({Engine(w.split("/", 1)[0]) for w in wheres}, key=lambda e: e.value))


def _diff_finding(
    rule_id: str, target: str, origins: Sequence[str], reads: Mapping[str, _Reads], detail: str
) -> Finding:
    rule = RULES[rule_id]
    kinds = ("session", "anonymous") if rule_id == BEYOND else ("short",)
    probes = sorted({p for o in origins for k in kinds for p in reads[o].probes.get(k, ())})
    wheres = [w for o in origins for k in kinds for w in getattr(reads[o], k)]
    severity = rule.severity
    if rule_id == BEYOND and not any(reads[o].session for o in origins):
        severity = Severity.LOW  # readable, but never with the victim's session
    return Finding(
        rule=rule_id,
        severity=severity,
        title=rule.title,
        target=target,
        origins=tuple(sorted(origins)),
        engines=_engines(wheres),
        probes=tuple(probes),
        category=rule.category,
        detail=detail,
    )


def _target_diff(
    policy: Policy, target: str, findings: Sequence[Finding], by: dict[tuple[str, str], _Reads]
) -> tuple[dict[str, Any], list[Finding]]:
    """One target's row of the policy diff, and the findings the diff adds."""
    declared = policy.readers(target)
    public = policy.public(target)
    reads = {origin: r for (t, origin), r in by.items() if t == target}
    observed = sorted(o for o, r in reads.items() if r.session)
    row: dict[str, Any] = {
        "target": target,
        "readable_by": list(declared) if declared is not None else None,
        "public": public,
        "readers_with_session": {o: sorted(reads[o].session) for o in observed},
        "readers_without_session": {
            o: sorted(r.anonymous)
            for o, r in sorted(reads.items())
            if r.anonymous and not r.session
        },
        "beyond": [],
        "short": [],
        "unknown": [],
    }
    if declared is None:
        return row, []
    allowed = set(declared)
    added: list[Finding] = []
    beyond = [
        o for o, r in sorted(reads.items()) if o not in allowed and (r.session or r.anonymous)
    ]
    if public:
        beyond = [o for o in beyond if reads[o].session]  # anonymous reads are intended
    new_beyond = []
    for origin in beyond:
        covered = _covering(findings, target, origin)
        row["beyond"].append(
            {
                "origin": origin,
                "with_session": bool(reads[origin].session),
                "findings": covered or [BEYOND],
            }
        )
        if not covered:
            new_beyond.append(origin)
    if new_beyond:
        session = [o for o in new_beyond if reads[o].session]
        how = (
            f"with the victim's session: {', '.join(session)}"
            if session
            else "never with the victim's session (declare public = true if that is intended)"
        )
        listed = ", ".join(sorted(allowed)) or "none"
        text = (
            f"{len(new_beyond)} origin(s) outside readable_by ({listed}) could read "
            f"{target}, {how}. Declared in {policy.source}."
        )
        added.append(_diff_finding(BEYOND, target, new_beyond, reads, text))
    short = []
    for origin in sorted(allowed):
        r = reads.get(origin)
        if r is None:
            row["unknown"].append({"origin": origin, "reason": "not probed in this run"})
            continue
        refused = _refused(r)
        if r.session and not refused:
            continue
        if refused:
            short.append(origin)
            row["short"].append(
                {
                    "origin": origin,
                    "where": refused,
                    "findings": _covering(findings, target, origin) or [SHORT],
                }
            )
        for where, why in sorted(r.unknown.items()):
            row["unknown"].append({"origin": origin, "where": where, "reason": why})
    uncovered = [o for o in short if not _covering(findings, target, o)]
    if uncovered:
        where = "; ".join(f"{o}: {', '.join(_refused(reads[o]))}" for o in uncovered)
        text = (
            f"{', '.join(uncovered)} must be able to read {target} with the victim's session "
            f"(readable_by in {policy.source}), but could not in: {where}."
        )
        added.append(_diff_finding(SHORT, target, uncovered, reads, text))
    return row, added


def _acceptance(f: Finding, policy: Policy, today: _dt.date) -> tuple[Accepted | None, str]:
    """The acceptance in force for ``f``, if every origin it names is accepted; else a note."""
    entries: list[Acceptance] = [
        a for e in policy.for_target(f.target) for a in e.accept if a.rule == f.rule
    ]
    if not entries:
        return None, ""
    live = [a for a in entries if a.active(today)]
    covered = [
        a
        for a in live
        if a.origin is None or all(fnmatch.fnmatchcase(o, a.origin) for o in f.origins)
    ]
    if covered:
        a = covered[0]
        return Accepted(a.reason, a.until.isoformat() if a.until else None, policy.source), ""
    expired = [a for a in entries if not a.active(today)]
    if expired:
        a = expired[0]
        return (
            None,
            f" The acceptance of this risk in {policy.source} ran out on {a.until}: {a.reason}.",
        )
    return None, f" {policy.source} accepts this rule only for some of these origins."


def apply_policy(
    findings: Sequence[Finding],
    observations: Sequence[Observation],
    policy: Policy | None,
    today: _dt.date,
) -> tuple[list[Finding], dict[str, Any] | None]:
    """The findings with the policy's own added and acceptances applied, and the
    ``policy`` section of report.json (None without a policy)."""
    if policy is None:
        return list(findings), None
    by = _reads(o for o in observations if o.role in (Role.ATTACKER, Role.LEGITIMATE))
    targets = sorted({o.target for o in observations} | {f.target for f in findings})
    rows, out = [], list(findings)
    for target in targets:
        row, added = _target_diff(policy, target, findings, by)
        rows.append(row)
        out.extend(added)
    done = []
    for f in out:
        accepted, note = _acceptance(f, policy, today)
        done.append(
            replace(f, accepted=accepted, detail=f.detail + note) if accepted or note else f
        )
    done.sort(key=lambda f: (-f.severity.rank, f.rule, f.target, f.origins, f.detail))
    section = {**policy.to_dict(), "observed": rows}
    return done, section
