"""The isolation cross-check: the same run with shared contexts and with ``--isolate-origins``.

``python -m harness.tools.differential [verify args...]`` runs ``harness verify`` twice in
this process, one run after the other and with the same arguments: once the default
way (one browser context per engine and cookie profile, pages navigating from origin
to origin) and once with ``--isolate-origins`` (one fresh context per origin). Without
``--target`` that is the lab. It then compares the two ``report.json`` files probe by
probe id on ``outcome`` and ``cookie_sent``, the verdict a shared context could change,
and prints the probes compared, counts per engine and every difference.

A probe only one run has is a difference. A probe whose outcome is ``error`` in either
run (a timeout on a loaded machine) has no verdict to compare: it is counted and listed
as *not comparable*, never as agreement. Exit codes:

- 0: every probe both runs measured has the same verdict, and at most
  :data:`NOT_COMPARABLE_LIMIT` of them are not comparable;
- 1: any difference, or more than :data:`NOT_COMPARABLE_LIMIT` not comparable (so
  much unknown would hide a difference);
- 2: a tool error (bad arguments, a run that failed as a tool, a report that cannot be
  read, no probes at all); 130: interrupted.

The reports stay in ``--out`` (default: a new temporary folder) as ``differential-default``
and ``differential-isolated``. Without ``--budget`` both runs get 7200 s, because a run cut
short by the budget would show up as missing probes, not as a verdict.
"""

from __future__ import annotations

import sys
import tempfile
import time
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

from harness.cli import build_parser
from harness.cli import main as verify_main
from harness.model.errors import (
    EXIT_CLEAN,
    EXIT_FINDINGS,
    EXIT_INTERRUPTED,
    EXIT_TOOL_ERROR,
    ConfigError,
)
from harness.model.results import Outcome
from harness.tools.compare import load, probes_by_id, verdicts

COMPARED = ("outcome", "cookie_sent")
"""The verdict of one probe that must not depend on how contexts are shared."""

NOT_COMPARABLE_LIMIT = 0.01
"""Largest share of probes (measured by both runs) that may be not comparable."""

MODES = ("default", "isolated")
"""The two runs, in the order they are made and printed."""

_OWNED = ("--isolate-origins", "--run-id", "--resume")
"""Verify arguments this tool sets itself (or that make no sense for a pair of runs)."""

Verdict = tuple[Any, ...]
"""(outcome, cookie_sent) of one probe in one run."""


@dataclass(frozen=True)
class Probe:
    """One probe's verdict in both runs; None where that run has no such probe."""

    id: str
    engine: str
    label: str
    default: Verdict | None
    isolated: Verdict | None

    def line(self) -> str:
        """The probe, readable: id, both outcomes and both cookie_sent, then what it is."""
        return (
            f"{self.id}  {self.engine}  default: {_verdict(self.default)}  |  "
            f"isolated: {_verdict(self.isolated)}  ({self.label})"
        )


@dataclass(frozen=True)
class EngineCounts:
    """Per engine: probes in both runs, how many agreed, differed, or had no verdict."""

    compared: int = 0
    identical: int = 0
    differ: int = 0
    only_one_run: int = 0
    not_comparable: int = 0


@dataclass(frozen=True)
class Comparison:
    """The outcome of comparing two runs' probes; pure, so it is tested without a browser."""

    differences: tuple[Probe, ...]
    """Probes whose verdicts differ, or that only one run has."""
    not_comparable: tuple[Probe, ...]
    """Probes in both runs with outcome ``error`` in at least one."""
    per_engine: Mapping[str, EngineCounts]
    partial: tuple[str, ...] = ()
    """Modes whose report says the run was cut short."""
    duplicate_ids: tuple[str, ...] = ()
    """Probe ids a report holds more than once (which of its verdicts counts is unknown)."""
    repeated: Mapping[str, int] = field(default_factory=dict)
    """Mode -> probes that repeat another endpoint's measurement (``equivalent_to``):
    compared, but measured in neither run's browsers as themselves."""

    @property
    def in_both(self) -> int:
        """Probes both runs have (compared or not comparable)."""
        return sum(c.compared + c.not_comparable for c in self.per_engine.values())

    @property
    def compared(self) -> int:
        """Probes both runs measured with a verdict."""
        return sum(c.compared for c in self.per_engine.values())

    def too_many_not_comparable(self) -> bool:
        """More than :data:`NOT_COMPARABLE_LIMIT` of the probes in both runs had no verdict."""
        return len(self.not_comparable) > NOT_COMPARABLE_LIMIT * self.in_both

    def failures(self) -> list[str]:
        """Why the cross-check fails, one line each; empty when it passes."""
        out = []
        if self.differences:
            out.append(f"{len(self.differences)} probe(s) differ between the two runs")
        if self.duplicate_ids:
            out.append(
                f"{len(self.duplicate_ids)} probe id(s) occur twice in one report: "
                + ", ".join(self.duplicate_ids[:10])
            )
        if self.too_many_not_comparable():
            out.append(
                f"{len(self.not_comparable)} of {self.in_both} probes are not comparable "
                f"(outcome error in a run), more than {NOT_COMPARABLE_LIMIT:.0%}"
            )
        return out

    def exit_code(self) -> int:
        """0 identical, 1 different (or too much unknown), 2 nothing to compare."""
        if not self.per_engine:
            return EXIT_TOOL_ERROR
        return EXIT_FINDINGS if self.failures() else EXIT_CLEAN

    def lines(self) -> list[str]:
        """The printed summary: counts, every difference, every probe not comparable."""
        out = [
            f"differential: {self.in_both} probes in both runs, {self.compared} compared, "
            f"{len(self.differences)} differ, {len(self.not_comparable)} not comparable"
        ]
        for engine, c in sorted(self.per_engine.items()):
            out.append(
                f"  {engine}: {c.compared} compared, {c.identical} identical, {c.differ} differ, "
                f"{c.only_one_run} in one run only, {c.not_comparable} not comparable"
            )
        out += [f"run cut short (partial report): {mode}" for mode in self.partial]
        out += [
            f"{mode} run: {n} probes repeat another endpoint's measurement "
            "(grouped endpoints; --exhaustive measures every one)"
            for mode, n in self.repeated.items()
        ]
        if self.differences:
            out.append("differences (outcome, cookie_sent):")
            out += ["  " + p.line() for p in self.differences]
        if self.not_comparable:
            out.append("not comparable (outcome error in a run; no verdict to compare):")
            out += ["  " + p.line() for p in self.not_comparable]
        if not self.per_engine:
            out.append("differential: neither run has any probe: nothing was compared")
        out += [f"differential: FAILED: {why}" for why in self.failures()]
        return out


def _verdict(v: Verdict | None) -> str:
    if v is None:
        return "missing"
    return " ".join(f"{name}={value}" for name, value in zip(COMPARED, v, strict=True))


def _twice(report: Mapping[str, Any]) -> set[str]:
    return {pid for pid, n in Counter(str(p["id"]) for p in report["probes"]).items() if n > 1}


def _label(p: Mapping[str, Any]) -> str:
    return (
        f"{p.get('cookie_policy')} profile, {p.get('origin')} via {p.get('via', 'page')} -> "
        f"{p.get('target')} {p.get('shape')} {p.get('api')} credentials={p.get('credentials')}"
    )


def compare_runs(default: Mapping[str, Any], isolated: Mapping[str, Any]) -> Comparison:
    """Compare two report dicts (as in ``report.json``) probe id by probe id."""
    rows = {"default": probes_by_id(default), "isolated": probes_by_id(isolated)}
    found = {"default": verdicts(default, COMPARED), "isolated": verdicts(isolated, COMPARED)}
    counts: dict[str, Counter[str]] = {}
    differences: list[Probe] = []
    not_comparable: list[Probe] = []
    error = Outcome.ERROR.value
    for pid in sorted(rows["default"].keys() | rows["isolated"].keys()):
        row = rows["default"].get(pid) or rows["isolated"][pid]
        probe = Probe(
            pid,
            str(row.get("engine")),
            _label(row),
            found["default"].get(pid),
            found["isolated"].get(pid),
        )
        tally = counts.setdefault(probe.engine, Counter())
        if probe.default is None or probe.isolated is None:
            tally["only_one_run"] += 1
            differences.append(probe)
        elif error in (probe.default[0], probe.isolated[0]):
            tally["not_comparable"] += 1
            not_comparable.append(probe)
        else:
            tally["compared"] += 1
            if probe.default == probe.isolated:
                tally["identical"] += 1
            else:
                tally["differ"] += 1
                differences.append(probe)
    partial = tuple(
        mode
        for mode, report in zip(MODES, (default, isolated), strict=True)
        if report.get("partial")
    )
    return Comparison(
        differences=tuple(differences),
        not_comparable=tuple(not_comparable),
        per_engine={engine: EngineCounts(**c) for engine, c in counts.items()},
        partial=partial,
        duplicate_ids=tuple(sorted(_twice(default) | _twice(isolated))),
        repeated={
            mode: n
            for mode, report in zip(MODES, (default, isolated), strict=True)
            if (n := sum(1 for p in report["probes"] if p.get("equivalent_to")))
        },
    )


@dataclass(frozen=True)
class Run:
    """One of the two verify runs."""

    mode: str
    code: int
    seconds: float
    folder: Path


def verify_args(args: Sequence[str], out: Path, mode: str) -> list[str]:
    """The ``harness verify`` argv of one mode: the user's arguments, then the tool's own."""
    extra = ["--isolate-origins"] if mode == "isolated" else []
    # Without a budget both runs get a long one (see the module docstring).
    if not any(a.startswith("--budget") for a in args):
        extra += ["--budget", "7200"]
    # Later options win in argparse, so these override a user's --out and --format.
    ns = build_parser().parse_args(["verify", *args])
    formats = ns.format if "json" in ns.format.split(",") else f"{ns.format},json"
    return [
        "verify",
        *args,
        *extra,
        "--out",
        str(out),
        "--run-id",
        f"differential-{mode}",
        "--format",
        formats,
    ]


def check_args(args: Sequence[str]) -> Path | None:
    """Reject the arguments the tool owns; returns the user's ``--out``, if any.

    Raises :class:`ConfigError` (one line, exit 2) for bad verify arguments too.
    """
    ns = build_parser().parse_args(["verify", *args])
    # Checked on the parsed values, so an abbreviation (--isolate) is caught as well.
    owned = {"--isolate-origins": ns.isolate_origins, "--run-id": ns.run_id, "--resume": ns.resume}
    given = [flag for flag in _OWNED if owned[flag]]
    if given:
        raise ConfigError(f"the differential sets {', '.join(given)} itself; leave it out")
    return Path(ns.out) if any(a.startswith("--out") for a in args) else None


def run_both(args: Sequence[str], out: Path, *, err: TextIO) -> list[Run]:
    """Run verify the default way, then isolated (stopping after a run that failed as a tool).

    Runs are one after the other: on two cores, side by side they would time out.
    Verify's own output goes to ``err``, so stdout holds only the comparison.
    """
    runs: list[Run] = []
    for mode in MODES:
        argv = verify_args(args, out, mode)
        err.write(f"differential: {mode} run: python -m harness {' '.join(argv)}\n")
        err.flush()
        t0 = time.monotonic()
        code = verify_main(argv, out=err, err=err)
        run = Run(mode, code, time.monotonic() - t0, out / f"differential-{mode}")
        err.write(f"differential: {mode} run exited {code} after {run.seconds:.1f} s\n")
        runs.append(run)
        if code not in (EXIT_CLEAN, EXIT_FINDINGS):
            break
    return runs


def main(argv: Sequence[str], *, out: TextIO | None = None, err: TextIO | None = None) -> int:
    """Entry point; see the module docstring."""
    out = out or sys.stdout
    err = err or sys.stderr
    try:
        folder = check_args(argv)
    except ConfigError as exc:
        err.write(f"differential: error: {exc}\n")
        return EXIT_TOOL_ERROR
    if folder is None:
        folder = Path(tempfile.mkdtemp(prefix="corsproof-differential-"))
    err.write(f"differential: the two reports go to {folder}\n")
    runs = run_both(argv, folder, err=err)
    for run in runs:
        if run.code == EXIT_INTERRUPTED:
            err.write(f"differential: interrupted during the {run.mode} run\n")
            return EXIT_INTERRUPTED
        if run.code not in (EXIT_CLEAN, EXIT_FINDINGS):
            err.write(
                f"differential: error: the {run.mode} run failed as a tool (exit {run.code}); "
                f"its report: {run.folder}\n"
            )
            return EXIT_TOOL_ERROR
    try:
        default, isolated = (load(run.folder) for run in runs)
    except (OSError, ValueError) as exc:
        err.write(f"differential: error: {exc}\n")
        return EXIT_TOOL_ERROR
    comparison = compare_runs(default, isolated)
    for line in comparison.lines():
        out.write(line + "\n")
    out.write(
        "differential: "
        + ", ".join(f"{run.mode} run {run.seconds:.1f} s" for run in runs)
        + f"; reports in {folder}\n"
    )
    return comparison.exit_code()


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
