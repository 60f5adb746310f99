"""Join the results of several runs (matrix jobs, shards) and compare against a baseline.

Both work on ``report.json`` files, so they serve runs made on other machines. The
findings of a merged report are judged again from the joined observations: a finding
can need two engines' results to be right.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from harness.model.errors import ConfigError
from harness.model.results import (
    SCHEMA_VERSION,
    Engine,
    Evidence,
    Observation,
    RunReport,
    ToolError,
    browser_from_dict,
    evidence_from_dict,
    observation_from_dict,
    probe_identity,
)


def load(path: Path) -> dict[str, Any]:
    """Read a report.json (or a run folder holding one); ConfigError when it is not one."""
    file = path / "report.json" if path.is_dir() else path
    try:
        data = json.loads(file.read_text("utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"{file} does not exist") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ConfigError(f"{file} is not a readable report.json: {exc}") from None
    if not isinstance(data, dict) or data.get("tool") != "corsproof":
        raise ConfigError(f"{file} is not a corsproof report")
    if data.get("schema_version") != SCHEMA_VERSION:
        raise ConfigError(
            f"{file} has schema_version {data.get('schema_version')}, "
            f"this corsproof reads {SCHEMA_VERSION}"
        )
    return data


def merge(
    reports: Sequence[Mapping[str, Any]], *, run_id: str = "merged", env: str = "prod"
) -> RunReport:
    """One report from several; later duplicates of a probe id are dropped."""
    from harness.judge.headercheck import disagreements, header_scan
    from harness.judge.rules import rules_for_report
    from harness.judge.verdicts import judge
    from harness.judge.victim import with_victim_data

    observations: dict[str, Observation] = {}
    evidence: dict[str, Evidence] = {}
    browsers: dict[Engine, Any] = {}
    targets: list[str] = []
    errors: list[ToolError] = []
    legit: set[str] = set()
    for data in reports:
        for p in data.get("probes", []):
            observations.setdefault(str(p["id"]), observation_from_dict(p))
        for e in data.get("evidence", []):
            evidence.setdefault(str(e["key"]), evidence_from_dict(e))
        for b in data.get("browsers", []):
            info = browser_from_dict(b)
            browsers.setdefault(info.engine, info)
        for t in data.get("targets", []):
            if t not in targets:
                targets.append(t)
        errors += [
            ToolError(str(e.get("kind")), str(e.get("message"))) for e in data.get("errors", [])
        ]
        legit |= set((data.get("config") or {}).get("legit_origins") or [])
    # Whose data each answer was is judged again over the joined runs: more reference
    # answers, and shards that split origins see each other's.
    obs = with_victim_data(list(observations.values()))
    ev = list(evidence.values())
    # What the caveats need from each run's plan: the probes it set out to measure,
    # the engines it was asked for and how much of the catalogue it tried.
    planned = sum(
        int((d.get("plan") or {}).get("probes") or len(d.get("probes", []))) for d in reports
    )
    configs = [d.get("config") or {} for d in reports]
    engines = [e for e in Engine if any(e.value in (c.get("engines") or []) for c in configs)]
    per_class = [c["per_class"] for c in configs if isinstance(c.get("per_class"), int)]
    disabled = sorted({str(k) for c in configs for k in c.get("disabled_classes") or []})
    findings = judge(obs, ev, env=env, engines_run=list(browsers))
    header_only = header_scan(ev, legit_origins=sorted(legit))
    return RunReport(
        run_id=run_id,
        started=min((str(d.get("started")) for d in reports), default=""),
        finished=max((str(d.get("finished") or "") for d in reports), default=None),
        targets=tuple(targets),
        browsers=tuple(browsers[e] for e in Engine if e in browsers),
        probes=tuple(obs),
        findings=tuple(findings),
        evidence=tuple(ev),
        partial=any(bool(d.get("partial")) for d in reports),
        errors=tuple(errors),
        notes=(f"Merged from {len(reports)} runs.",),
        config={
            "legit_origins": sorted(legit),
            "merged_runs": [d.get("run_id") for d in reports],
            "engines": [e.value for e in engines],
            "per_class": max(per_class) if per_class else None,
            "disabled_classes": disabled,
        },
        rules=rules_for_report({f.rule for f in findings}),
        extra={
            "header_only": header_only,
            "disagreements": disagreements(findings, header_only, observations=obs, evidence=ev),
            "plan": {"probes": planned},
        },
    )


def drift(baseline: Mapping[str, Any], current: Mapping[str, Any]) -> dict[str, Any]:
    """What changed since the baseline: probe outcomes per origin x engine, and findings.

    A change in outcome can come from a browser upgrade (the report lists both runs'
    browser versions) or from a server change; the two are told apart by which
    engines changed.
    """
    before = {probe_identity(p): p for p in baseline.get("probes", [])}
    changes = []
    for p in current.get("probes", []):
        old = before.get(probe_identity(p))
        if old is not None and old.get("outcome") != p.get("outcome"):
            changes.append(
                {
                    "target": p["target"],
                    "origin": p["origin"],
                    "engine": p["engine"],
                    "cookie_policy": p["cookie_policy"],
                    "shape": p["shape"],
                    "credentials": p["credentials"],
                    "api": p["api"],
                    "before": old.get("outcome"),
                    "after": p.get("outcome"),
                }
            )

    def fkeys(data: Mapping[str, Any]) -> dict[tuple[str, str], Mapping[str, Any]]:
        return {(str(f["rule"]), str(f["target"])): f for f in data.get("findings", [])}

    old_f, new_f = fkeys(baseline), fkeys(current)
    versions = {
        "baseline": {b["engine"]: b["version"] for b in baseline.get("browsers", [])},
        "current": {b["engine"]: b["version"] for b in current.get("browsers", [])},
    }
    return {
        "baseline_run": baseline.get("run_id"),
        "browsers": versions,
        "changes": changes,
        "new_findings": [dict(new_f[k]) for k in new_f if k not in old_f],
        "resolved_findings": [dict(old_f[k]) for k in old_f if k not in new_f],
    }


def new_at_or_above(drift_data: Mapping[str, Any], rank: int) -> list[Mapping[str, Any]]:
    """New findings at or above a severity rank."""
    from harness.model.results import Severity

    return [
        f
        for f in drift_data.get("new_findings", [])
        if Severity(f["severity"]).rank >= rank and not f.get("accepted")
    ]


def paths_of(args: Iterable[str]) -> list[Path]:
    """Turn arguments into report paths, expanding folders of runs."""
    out: list[Path] = []
    for arg in args:
        p = Path(arg)
        if p.is_dir() and not (p / "report.json").exists():
            out += sorted(q.parent for q in p.glob("*/report.json"))
        else:
            out.append(p)
    return out
