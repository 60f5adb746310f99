"""Compare two runs' verdicts: the same probes, the same outcomes, the same findings.

``python -m harness.tools.compare BEFORE AFTER`` (each a ``report.json`` or its run
folder) prints every probe whose verdict differs (outcome, whether the cookie went,
whose data came back), every probe only one side has, and every finding only one side
has (by rule, target, severity and origins). It exits 0 when the two agree, 1 when they
do not, 2 when a report cannot be read. Used to show that a change kept behaviour
identical (a refactoring, a faster scheduler): a measurement, never a test of speed.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from harness.model.errors import EXIT_CLEAN, EXIT_FINDINGS, EXIT_TOOL_ERROR

VERDICT_FIELDS = ("outcome", "cookie_sent", "victim_data")
"""What makes a probe's verdict: a change in any of them is a difference."""


def load(path: Path) -> dict[str, Any]:
    """A report.json, given the file or its run folder."""
    file = path / "report.json" if path.is_dir() else path
    data = json.loads(file.read_text("utf-8"))
    if not isinstance(data, dict) or "probes" not in data:
        raise ValueError(f"{file} is not a corsproof report.json")
    return data


def probes_by_id(report: Mapping[str, Any]) -> dict[str, Mapping[str, Any]]:
    """Probe id -> its report.json row."""
    return {str(p["id"]): p for p in report["probes"]}


def verdicts(
    report: Mapping[str, Any], fields: Sequence[str] = VERDICT_FIELDS
) -> dict[str, tuple[Any, ...]]:
    """Probe id -> the values of ``fields`` (by default its verdict fields)."""
    return {pid: tuple(p.get(f) for f in fields) for pid, p in probes_by_id(report).items()}


def findings(report: Mapping[str, Any]) -> set[tuple[str, str, str, tuple[str, ...]]]:
    """(rule, target, severity, origins) of every finding."""
    return {
        (str(f["rule"]), str(f["target"]), str(f["severity"]), tuple(f.get("origins") or ()))
        for f in report.get("findings") or []
    }


def differences(before: Mapping[str, Any], after: Mapping[str, Any]) -> list[str]:
    """One line per difference, empty when the two runs agree."""
    old, new = verdicts(before), verdicts(after)
    out = [
        f"probe {pid}: {dict(zip(VERDICT_FIELDS, old[pid], strict=True))} -> "
        f"{dict(zip(VERDICT_FIELDS, new[pid], strict=True))}"
        for pid in sorted(old.keys() & new.keys())
        if old[pid] != new[pid]
    ]
    out += [f"probe {pid}: only before" for pid in sorted(old.keys() - new.keys())]
    out += [f"probe {pid}: only after" for pid in sorted(new.keys() - old.keys())]
    fa, fb = findings(before), findings(after)
    out += [f"finding only before: {f}" for f in sorted(fa - fb)]
    out += [f"finding only after: {f}" for f in sorted(fb - fa)]
    return out


def main(argv: Sequence[str]) -> int:
    """Entry point; see the module docstring."""
    if len(argv) != 2:
        sys.stderr.write("usage: python -m harness.tools.compare BEFORE AFTER\n")
        return EXIT_TOOL_ERROR
    try:
        before, after = load(Path(argv[0])), load(Path(argv[1]))
    except (OSError, ValueError) as exc:
        sys.stderr.write(f"compare: {exc}\n")
        return EXIT_TOOL_ERROR
    diff = differences(before, after)
    for line in diff:
        print(line)
    print(
        f"compare: {len(verdicts(before))} / {len(verdicts(after))} probes, "
        f"{len(findings(before))} / {len(findings(after))} findings, {len(diff)} difference(s)"
    )
    return EXIT_FINDINGS if diff else EXIT_CLEAN


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
