"""What a finished run prints: the human summary, and the ``--json`` summary object.

Both render from the report dict (secrets already redacted), like every reporter.
With ``--json`` the object is the only thing on stdout; the human summary and the
progress lines go to stderr, so ``corsproof verify --json | jq`` works.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, TextIO

from harness.judge.caveats import judged_probes, planned_probes
from harness.model.results import SCHEMA_VERSION
from harness.report.common import clean, severity_counts, sorted_findings, verdict
from harness.report.writers import FILENAMES

MAX_LISTED = 15
"""Findings the terminal lists; it says how many more the report holds."""


def print_summary(data: Mapping[str, Any], paths: Sequence[Path], out: TextIO) -> None:
    """The terminal summary: probes, verdict, caveats, worst findings, baseline, files."""
    v = verdict(data)
    engines = ", ".join(
        f"{clean(b.get('engine'))} {clean(b.get('version'))}" for b in data.get("browsers") or []
    )
    out.write(f"\ncorsproof: {len(data.get('probes') or [])} probes in {engines or 'no browser'}\n")
    out.write(f"verdict: {clean(v.headline)}\n")
    for c in v.caveats:
        out.write(f"caveat: {clean(c.text)}\n")
    findings = sorted_findings(data)
    if findings:
        counts = severity_counts(data)
        out.write("findings: " + ", ".join(f"{n} {s}" for s, n in counts.items() if n) + "\n")
        for f in findings[:MAX_LISTED]:
            accepted = f.get("accepted")
            note = ""
            if isinstance(accepted, Mapping):
                until = f" until {clean(accepted.get('until'))}" if accepted.get("until") else ""
                note = f" [accepted{until}: {clean(accepted.get('reason'))}]"
            out.write(
                f"  [{clean(f.get('severity')):8}] {clean(f.get('rule'))}: "
                f"{clean(f.get('title'))} ({clean(f.get('target'))}){note}\n"
            )
        if len(findings) > MAX_LISTED:
            out.write(f"  ... and {len(findings) - MAX_LISTED} more finding(s) in the report\n")
    else:
        out.write("no findings\n")
    drift = data.get("baseline")
    if isinstance(drift, Mapping):
        out.write(
            f"since baseline {clean(drift.get('baseline_run'))}: "
            f"{len(drift.get('changes') or [])} probe outcome(s) changed, "
            f"{len(drift.get('new_findings') or [])} new finding(s), "
            f"{len(drift.get('resolved_findings') or [])} resolved\n"
        )
    for p in paths:
        out.write(f"wrote {p}\n")


def _finding(f: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "rule": f.get("rule"),
        "severity": f.get("severity"),
        "category": f.get("category", "vulnerability"),
        "title": f.get("title"),
        "target": f.get("target"),
        "origins": list(f.get("origins") or []),
        "engines": list(f.get("engines") or []),
        "cookie_policies": list(f.get("cookie_policies") or []),
        "accepted": dict(f["accepted"]) if isinstance(f.get("accepted"), Mapping) else None,
    }


def json_summary(
    command: str,
    data: Mapping[str, Any] | None,
    exit_code: int,
    *,
    paths: Sequence[Path] = (),
    errors: Sequence[str] = (),
    interrupted: bool = False,
) -> dict[str, Any]:
    """The ``--json`` object: verdict, caveats, counts, findings, files, exit code.

    ``data`` is None when corsproof stopped before there was a report (bad input);
    the object then holds the exit code and the error.
    """
    out: dict[str, Any] = {
        "schema_version": SCHEMA_VERSION,
        "tool": "corsproof",
        "command": command,
        "exit_code": exit_code,
        "interrupted": interrupted,
        "errors": list(errors),
    }
    if data is None:
        return out
    v = verdict(data)
    probes = data.get("probes") or []
    findings = sorted_findings(data)
    drift = data.get("baseline")
    by_file = {name: fmt for fmt, name in FILENAMES.items()}
    out.update(
        {
            "run_id": data.get("run_id"),
            "partial": bool(data.get("partial")),
            "targets": list(data.get("targets") or []),
            "browsers": [
                {"engine": b.get("engine"), "version": b.get("version"), "source": b.get("source")}
                for b in data.get("browsers") or []
            ],
            "verdict": {"level": v.level, "headline": v.headline, "detail": v.detail},
            "caveats": [
                {"kind": c.kind, "count": c.count, "text": c.text, "error": c.error}
                for c in v.caveats
            ],
            "probes": {
                "planned": planned_probes(data),
                "measured": len(probes),
                "judged": judged_probes(data),
                "by_outcome": dict(Counter(str(p.get("outcome")) for p in probes)),
            },
            "findings": {
                "total": len(findings),
                "by_severity": severity_counts(data),
                "items": [_finding(f) for f in findings],
            },
            "baseline": None
            if not isinstance(drift, Mapping)
            else {
                "run_id": drift.get("baseline_run"),
                "changes": len(drift.get("changes") or []),
                "new_findings": [_finding(f) for f in drift.get("new_findings") or []],
                "resolved_findings": [_finding(f) for f in drift.get("resolved_findings") or []],
            },
            "reports": {by_file.get(p.name, p.name): str(p) for p in paths},
        }
    )
    return out


def write_json(obj: Mapping[str, Any], out: TextIO) -> None:
    """One line of JSON on ``out``."""
    out.write(json.dumps(obj, ensure_ascii=False, sort_keys=False) + "\n")
    out.flush()
