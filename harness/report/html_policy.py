"""The HTML report's "Declared policy and what was observed" section.

From report.json's ``policy`` (:func:`harness.judge.policy.apply_policy`): the file and
environment, each environment's origins, the accepted risks with their reasons and
which findings they cover, and per target the declared readers beside the measured
ones. Every value is escaped here, like the rest of the report.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from harness.report.common import clean

MAX_ORIGINS = 12
"""Origins listed per cell before the rest is counted (report.json has them all)."""


def _origins(values: Sequence[Any]) -> dict[str, Any]:
    shown = [clean(v) for v in values[:MAX_ORIGINS]]
    return {"shown": shown, "more": max(0, len(values) - MAX_ORIGINS)}


def _row(row: Mapping[str, Any]) -> dict[str, Any]:
    declared = row.get("readable_by")
    with_session = row.get("readers_with_session") or {}
    return {
        "target": clean(row.get("target")),
        "declared": _origins(list(declared)) if declared is not None else None,
        "public": bool(row.get("public")),
        "observed": [
            {"origin": clean(o), "where": ", ".join(clean(w) for w in where)}
            for o, where in list(with_session.items())[:MAX_ORIGINS]
        ],
        "observed_more": max(0, len(with_session) - MAX_ORIGINS),
        "anonymous": _origins(list(row.get("readers_without_session") or {})),
        "beyond": [
            {
                "origin": clean(b.get("origin")),
                "session": bool(b.get("with_session")),
                "findings": ", ".join(clean(r) for r in b.get("findings") or []),
            }
            for b in (row.get("beyond") or [])[:MAX_ORIGINS]
        ],
        "beyond_more": max(0, len(row.get("beyond") or []) - MAX_ORIGINS),
        "short": [
            {
                "origin": clean(s.get("origin")),
                "where": ", ".join(clean(w) for w in s.get("where") or []),
                "findings": ", ".join(clean(r) for r in s.get("findings") or []),
            }
            for s in row.get("short") or []
        ],
        "unknown": [
            {
                "origin": clean(u.get("origin")),
                "where": clean(u.get("where") or "every engine"),
                "reason": clean(u.get("reason")),
            }
            for u in row.get("unknown") or []
        ],
    }


def _accepted(report: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Every accept entry of the file, with the findings it covers in this run."""
    policy: Mapping[str, Any] = report.get("policy") or {}
    covered: dict[tuple[str, str], list[str]] = {}
    for f in report.get("findings") or []:
        acc = f.get("accepted")
        if isinstance(acc, Mapping):
            key = (str(f.get("rule")), str(acc.get("reason")))
            covered.setdefault(key, []).append(str(f.get("target")))
    out = []
    for exp in policy.get("expectations") or []:
        for a in exp.get("accept") or []:
            targets = covered.get((str(a.get("rule")), str(a.get("reason"))), [])
            out.append(
                {
                    "pattern": clean(exp.get("pattern")),
                    "rule": clean(a.get("rule")),
                    "origin": clean(a.get("origin") or "any origin"),
                    "reason": clean(a.get("reason")),
                    "until": clean(a.get("until") or "no end date"),
                    "covers": [clean(t) for t in targets],
                }
            )
    return out


def policy_model(report: Mapping[str, Any]) -> dict[str, Any] | None:
    """The section's view model, or None when the run had no config file policy."""
    policy = report.get("policy")
    if not isinstance(policy, Mapping):
        return None
    return {
        "source": clean(policy.get("source")),
        "env": clean(policy.get("env")),
        "environments": [
            {
                "name": clean(e.get("name")),
                "origins": [clean(o) for o in e.get("origins") or []],
                "chosen": e.get("name") == policy.get("env"),
            }
            for e in policy.get("environments") or []
        ],
        "accepted": _accepted(report),
        "rows": [_row(r) for r in policy.get("observed") or []],
    }
