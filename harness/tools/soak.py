"""Determinism check: the same lab run, repeated, must give identical verdicts.

``nox -s soak`` (or ``python -m harness.tools.soak [RUNS] [-- verify args]``) runs the lab
RUNS times (default 10), compares every probe outcome and every finding across runs,
and prints each difference. Exit code 1 when any run differed or was incomplete.
"""

from __future__ import annotations

import json
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import Iterable

from harness.cli import build_parser, config_from_args
from harness.model.results import Finding, Observation, observation_to_dict, probe_identity
from harness.pipeline import run_sync
from harness.serve.lab import Lab

ProbeKey = tuple[str, ...]

SHOWN_PER_RUN = 50
"""New differences printed after each run; the rest are listed at the end."""


def probe_key(p: Observation) -> ProbeKey:
    """What identifies a probe across runs (:func:`harness.model.results.probe_identity`)."""
    return probe_identity(observation_to_dict(p))


class Tally:
    """Verdicts and findings of the runs so far; pure, so it is tested without a browser."""

    def __init__(self) -> None:
        self.runs = 0
        self.incomplete = 0
        self.verdicts: dict[ProbeKey, set[str]] = defaultdict(set)
        # What each run said about a probe beyond its verdict (error, block reason,
        # time), so a difference comes with its cause instead of "readable, error".
        self.details: dict[ProbeKey, list[str]] = defaultdict(list)
        self.findings: list[frozenset[tuple[str, str, str]]] = []
        self._seen_in: dict[ProbeKey, int] = defaultdict(int)
        self._reported: set[ProbeKey] = set()

    def add(
        self, probes: Iterable[Observation], findings: Iterable[Finding], *, complete: bool
    ) -> None:
        """One run's results."""
        self.runs += 1
        if not complete:
            self.incomplete += 1
        for p in probes:
            key = probe_key(p)
            self._seen_in[key] += 1
            # The witness is part of the verdict: a credentialed read with the cookie
            # and the victim's data is a different finding from one without them.
            verdict = f"{p.outcome.value} cookie={p.cookie_sent} victim={p.victim_data}"
            self.verdicts[key].add(verdict)
            why = p.error or p.block_reason or ""
            self.details[key].append(f"run {self.runs}: {verdict} {p.elapsed_ms}ms {why[:160]}")
        # A probe one run measured and another did not is a difference too.
        for key, n in self._seen_in.items():
            if n < self.runs:
                self.verdicts[key].add("missing")
        self.findings.append(frozenset((f.rule, f.target, f.severity.value) for f in findings))

    def differing(self) -> dict[ProbeKey, set[str]]:
        """Probes whose verdict was not the same in every run."""
        return {k: v for k, v in self.verdicts.items() if len(v) > 1}

    def new_differences(self, limit: int = SHOWN_PER_RUN) -> list[ProbeKey]:
        """Differences not returned before (at most ``limit``)."""
        fresh = [k for k in self.differing() if k not in self._reported][:limit]
        self._reported.update(fresh)
        return fresh

    def findings_identical(self) -> bool:
        """Every run found the same (rule, target, severity) set."""
        return len(set(self.findings)) <= 1

    def unstable_findings(self) -> list[tuple[str, str, str]]:
        """Findings some runs made and others did not."""
        if not self.findings:
            return []
        union = frozenset().union(*self.findings)
        return sorted(union - frozenset.intersection(*self.findings))

    def clean(self) -> bool:
        """Every run complete, and identical verdicts and findings."""
        return not self.differing() and self.findings_identical() and not self.incomplete


def _show(tally: Tally, key: ProbeKey) -> None:
    print("differs:", " | ".join(key), "->", ", ".join(sorted(tally.verdicts[key])))
    for line in tally.details[key]:
        print("   ", line)


def main(argv: list[str]) -> int:
    """Run the soak; returns 1 when verdicts differ between runs."""
    runs = int(argv[0]) if argv and argv[0].isdigit() else 10
    extra = argv[argv.index("--") + 1 :] if "--" in argv else []
    out = tempfile.mkdtemp(prefix="corsproof-soak-")
    print(f"soak: each run's probes go to {out}/soakN.jsonl", flush=True)
    tally = Tally()
    # The soak is about determinism, not speed: a run cut short by the budget on a
    # busy machine would look like missing verdicts.
    budget = [] if "--budget" in extra else ["--budget", "7200"]
    for i in range(runs):
        t0 = time.monotonic()
        ns = build_parser().parse_args(
            ["verify", "--out", out, "--run-id", f"soak{i}", "--quiet", *budget, *extra]
        )
        report = run_sync(config_from_args(ns), lab=Lab())
        for err in report.errors:
            print(f"run {i + 1}: tool error: {err.kind}: {err.message}", flush=True)
        with open(f"{out}/soak{i}.jsonl", "w", encoding="utf-8") as fh:
            for p in report.probes:
                fh.write(json.dumps(observation_to_dict(p)) + "\n")
        tally.add(report.probes, report.findings, complete=not (report.partial or report.errors))
        # Said after every run, so a soak stopped early still reports what it saw.
        for key in tally.new_differences():
            _show(tally, key)
        print(
            f"run {i + 1}/{runs}: {len(report.probes)} probes, {len(report.findings)} findings, "
            f"{time.monotonic() - t0:.1f}s; so far {len(tally.differing())} probe verdicts "
            f"differ, findings {'identical' if tally.findings_identical() else 'differ'}",
            flush=True,
        )
    for key in sorted(tally.differing()):
        _show(tally, key)
    for item in tally.unstable_findings():
        print("finding not in every run:", " | ".join(item))
    print(
        f"soak: {runs} runs ({tally.incomplete} incomplete), {len(tally.verdicts)} probe "
        f"verdicts, {len(tally.differing())} differed, findings "
        f"{'identical' if tally.findings_identical() else 'differ'}"
    )
    return 0 if tally.clean() else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
