"""Benchmark: corsproof against the lab with N endpoints, next to a header-only baseline.

Run with ``nox -s bench`` (or ``python -m harness.tools.bench 1 10 100``). For each N it
prints the number of probes, wall time, probes per second, time per phase, peak
memory, and the time a header-only scanner takes for the same requests (same
origins, shapes and credential headers) judged by :mod:`harness.judge.headercheck`.
This is a measurement, not a test: nothing here asserts a speed.

Arguments: the endpoint counts (default ``1 10 100``); ``--mode grouped``,
``exhaustive`` or ``both`` (the default: each mode beside its own baseline);
``--policy NAME`` puts every endpoint behind one lab policy (a real API's one CORS
middleware) instead of cycling through them all; after ``--``, arguments for
``verify`` (for example ``-- --browser chromium``).
"""

from __future__ import annotations

import asyncio
import itertools
import resource
import sys
import tempfile
import time
from pathlib import Path

from harness.cli import build_parser, config_from_args
from harness.judge.assemble import assemble
from harness.judge.headercheck import header_verdict
from harness.model.redact import Redactor
from harness.model.results import ProbeSpec
from harness.model.run import RunResult
from harness.report.document import document
from harness.report.writers import write_reports
from harness.run.replay import RateLimiter, Replayer
from harness.run.runner import Runner
from harness.serve.lab import LAB_ORIGIN, POLICIES, Lab
from harness.serve.stack import Harness
from scenarios.plan import make_plan


def endpoints(n: int, policy: str | None = None) -> list[str]:
    """N distinct lab endpoints, cycling through the policies (the worst case for
    grouping: every policy answers differently), or all behind one ``policy`` (a real
    API with one CORS middleware)."""
    names = [policy] if policy else list(POLICIES)
    return [f"{LAB_ORIGIN}/{names[i % len(names)]}/private?item={i}" for i in range(n)]


async def header_baseline(runner: Runner, lab: Lab) -> tuple[int, float]:
    """Send every probe's request from Python and judge it from headers only."""
    plan = make_plan(runner.config, runner.config.targets)
    harness = Harness(runner.config, plan, lab=lab)
    await asyncio.to_thread(harness.start)
    try:
        import ssl

        assert harness.ca is not None
        verify = ssl.create_default_context(cafile=str(harness.ca.cafile))
        rewrite = {("api.example.com", 443): ("127.0.0.1", harness.lab_port or 0)}
        replayer = Replayer(
            proxy_url=None,
            verify=verify,
            cookie_header={},
            redactor=Redactor(),
            timeout=10,
            limiter=RateLimiter(0),
            concurrency=8,
            rewrite=rewrite,
        )
        seen: dict[tuple[object, ...], ProbeSpec] = {}
        for spec in plan.specs:
            seen.setdefault(
                (spec.target, spec.variant.key, spec.shape.name, spec.credentials), spec
            )
        t0 = time.monotonic()
        results = await asyncio.gather(*(replayer.evidence_for(s) for s in seen.values()))
        for ev in results:
            header_verdict(ev)
        elapsed = time.monotonic() - t0
        await replayer.close()
        return len(seen), elapsed
    finally:
        await asyncio.to_thread(harness.stop)


def bench(n: int, extra: list[str], policy: str | None = None) -> tuple[int, float, float]:
    """One benchmark row; returns (probes, corsproof seconds, baseline seconds)."""
    lab = Lab()
    out = Path(tempfile.mkdtemp(prefix="corsproof-bench-"))
    argv = [
        "verify",
        "--out",
        str(out),
        "--run-id",
        f"n{n}",
    ]
    for url in endpoints(n, policy):
        argv += ["--target", url]
    # A run cut short by the budget would be timed as if it were complete.
    budget = [] if "--budget" in extra else ["--budget", "7200"]
    ns = build_parser().parse_args(
        [*argv, "--allow-origin", "https://app.example.com", *budget, *extra]
    )
    config = config_from_args(ns)
    runner = Runner(config, lab=lab)

    async def go() -> RunResult:
        try:
            return await runner.run()
        finally:
            await runner.aclose()

    t0 = time.monotonic()
    result = asyncio.run(go())
    wall = time.monotonic() - t0
    t1 = time.monotonic()
    report = assemble(result)
    # As cmd_verify does, so the peak RSS printed is the CLI's.
    write_reports(document(report), out / f"n{n}", ["html", "json"])
    report_time = time.monotonic() - t1
    probes = len(runner.observations)
    if result.partial:
        print(
            f"       PARTIAL: the run stopped early ({', '.join(e.message for e in result.errors)})"
        )
    repeated = sum(1 for o in runner.observations if o.equivalent_to)
    requests, base = asyncio.run(header_baseline(runner, Lab()))
    peak_self = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    peak_kids = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    phases = ", ".join(f"{k} {v:.1f}s" for k, v in sorted(runner.timings.items()))
    engines = ", ".join(f"{b.engine.value} {b.version}" for b in runner.browsers)
    print(
        f"N={n:<4} probes={probes:<6} (in browsers {probes - repeated}, repeated from an "
        f"equivalent endpoint {repeated}) wall={wall:6.1f}s  {probes / wall:6.1f} probes/s  "
        f"report={report_time:.1f}s  peak rss: python {peak_self:.0f} MiB, "
        f"largest child {peak_kids:.0f} MiB"
    )
    print(f"       engines: {engines}")
    print(f"       phases (summed over parallel workers): {phases}")
    print(
        f"       header-only baseline: {requests} requests in {base:.1f}s; "
        f"corsproof/baseline = {wall / base if base else float('inf'):.1f}x"
    )
    sys.stdout.flush()
    return probes, wall, base


def marginal(rows: list[tuple[int, int, float]]) -> list[str]:
    """Cost per extra probe between consecutive sizes: the slope of wall time over probes.

    The intercept is the fixed cost (browser launch, one context per origin and
    cookie profile); the slope is what each further endpoint costs.
    """
    lines = []
    for (n0, p0, w0), (n1, p1, w1) in itertools.pairwise(rows):
        if p1 > p0:
            slope = (w1 - w0) / (p1 - p0)
            fixed = w0 - slope * p0
            lines.append(
                f"N={n0}->{n1}: {slope * 1000:.2f} ms per extra probe "
                f"({1 / slope if slope > 0 else float('inf'):.0f} probes/s), "
                f"fixed cost {fixed:.1f}s"
            )
    return lines


MODES = {"grouped": [], "exhaustive": ["--exhaustive"]}
"""``--mode``: endpoints grouped by shared policy (the default), or every one in full."""


def main(argv: list[str]) -> int:
    """``python -m harness.tools.bench [N ...] [--mode M] [--policy NAME] [-- verify args]``.

    With more than one endpoint both modes run by default, each beside its own
    header-only baseline; one endpoint has nothing to group.
    """
    extra = argv[argv.index("--") + 1 :] if "--" in argv else []
    own = argv[: argv.index("--")] if "--" in argv else argv
    if "-h" in own or "--help" in own:
        print(__doc__)
        return 0
    mode = "both"
    if "--mode" in own:
        mode = own[own.index("--mode") + 1]
        if mode not in (*MODES, "both"):
            print(f"bench: --mode must be grouped, exhaustive or both, not {mode!r}")
            return 2
    policy = None
    if "--policy" in own:
        policy = own[own.index("--policy") + 1]
        if policy not in POLICIES:
            print(f"bench: --policy must be a lab policy ({', '.join(POLICIES)}), not {policy!r}")
            return 2
    sizes = [int(a) for a in own if a.isdigit()] or [1, 10, 100]
    for name in MODES if mode == "both" else (mode,):
        rows = []
        for n in sizes:
            if n == 1 and name == "exhaustive" and mode == "both":
                continue  # the same run as grouped: one endpoint has nothing to group
            print(f"--- mode: {name}" + (" (one endpoint: nothing to group)" if n == 1 else ""))
            probes, wall, _base = bench(n, [*MODES[name], *extra], policy)
            rows.append((n, probes, wall))
        for line in marginal(rows):
            print(f"       {name}: {line}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
