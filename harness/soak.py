"""Determinism check: the same lab run, repeated, must give identical verdicts.

``nox -s soak`` (or ``python -m harness.soak [RUNS] [-- verify args]``) runs the lab
RUNS times (default 10), compares every probe outcome and every finding across runs,
and prints each difference. Exit code 1 when any run differed.
"""

from __future__ import annotations

import json
import sys
import tempfile
import time
from collections import defaultdict

from harness.cli import build_parser, config_from_args
from harness.lab import Lab
from harness.models import observation_to_dict
from harness.runner import run_sync


def main(argv: list[str]) -> int:
    """Run the soak; returns 1 when verdicts differ between runs."""
    runs = int(argv[0]) if argv and argv[0].isdigit() else 10
    extra = argv[argv.index("--") + 1 :] if "--" in argv else []
    outcomes: dict[tuple[str, ...], set[str]] = defaultdict(set)
    # What each run said about a probe beyond its verdict (error, block reason, time),
    # so a difference comes with its cause instead of only "readable, error".
    details: dict[tuple[str, ...], list[str]] = defaultdict(list)
    findings: list[frozenset[tuple[str, str, str]]] = []
    out = tempfile.mkdtemp(prefix="corsproof-soak-")
    print(f"soak: each run's probes go to {out}/soakN.jsonl", flush=True)
    reported: set[tuple[str, ...]] = set()
    incomplete = 0
    runs_of: dict[tuple[str, ...], int] = defaultdict(int)
    for i in range(runs):
        t0 = time.monotonic()
        # The soak is about determinism, not speed: a run cut short by the budget on a
        # busy machine would look like missing verdicts.
        budget = [] if "--budget" in extra else ["--budget", "7200"]
        ns = build_parser().parse_args(
            ["verify", "--out", out, "--run-id", f"soak{i}", "--quiet", *budget, *extra]
        )
        report = run_sync(config_from_args(ns), lab=Lab())
        if report.partial or report.errors:
            incomplete += 1
            for err in report.errors:
                print(f"run {i + 1}: tool error: {err.kind}: {err.message}", flush=True)
        for p in report.probes:
            key = (
                p.target,
                p.origin,
                p.via.value,
                p.engine.value,
                p.cookie_policy.value,
                p.shape,
                p.credentials.value,
                p.api,
            )
            # The cookie witness is part of the verdict: a credentialed read with the
            # cookie is a different finding from one without it.
            runs_of[key] += 1
            verdict = f"{p.outcome.value} cookie={p.cookie_sent}"
            outcomes[key].add(verdict)
            why = p.error or p.block_reason or ""
            details[key].append(f"run {i + 1}: {verdict} {p.elapsed_ms}ms {why[:160]}")
        with open(f"{out}/soak{i}.jsonl", "w", encoding="utf-8") as fh:
            for p in report.probes:
                fh.write(json.dumps(observation_to_dict(p)) + "\n")
        findings.append(frozenset((f.rule, f.target, f.severity.value) for f in report.findings))
        # Said after every run, so a soak stopped early still reports what it saw.
        # A probe one run measured and another did not is a difference too.
        for seen_key, n in runs_of.items():
            if n < i + 1:
                outcomes[seen_key].add("missing")
        differing = sum(1 for v in outcomes.values() if len(v) > 1)
        shown = 0
        for diff_key, seen_now in outcomes.items():
            if len(seen_now) > 1 and diff_key not in reported and shown < 50:
                reported.add(diff_key)
                shown += 1
                print("differs:", " | ".join(diff_key), "->", ", ".join(sorted(seen_now)))
                for line in details[diff_key]:
                    print("   ", line)
        print(
            f"run {i + 1}/{runs}: {len(report.probes)} probes, {len(report.findings)} findings, "
            f"{time.monotonic() - t0:.1f}s; so far {differing} probe verdicts differ, findings "
            f"{'identical' if len(set(findings)) == 1 else 'differ'}",
            flush=True,
        )
    flaky = {k: v for k, v in outcomes.items() if len(v) > 1}
    for flaky_key, seen in sorted(flaky.items()):
        print("differs:", " | ".join(flaky_key), "->", ", ".join(sorted(seen)))
    finding_sets = set(findings)
    if len(finding_sets) > 1:
        union = frozenset().union(*finding_sets)
        common = frozenset.intersection(*finding_sets)
        for item in sorted(union - common):
            print("finding not in every run:", " | ".join(item))
    ok = not flaky and len(finding_sets) == 1 and not incomplete
    print(
        f"soak: {runs} runs ({incomplete} incomplete), {len(outcomes)} probe verdicts, "
        f"{len(flaky)} differed, findings {'identical' if len(finding_sets) == 1 else 'differ'}"
    )
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
