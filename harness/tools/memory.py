"""Memory of the report path: what the CLI does after the browsers finish, at N endpoints.

Run with ``python -m harness.tools.memory [N ...] [--path copied|document] [--no-trace]
[--top K]``. No browser starts: a synthetic :class:`~harness.model.run.RunResult`
stands in for the run, shaped like ``nox -s bench -- N`` (the same plan over
:func:`harness.tools.bench.endpoints`, the bench's five engine and cookie-profile
pairs, the permissive profiles running only credentialed probes). Its answers are the
lab's own CORS policies held against the Fetch standard's checks
(:mod:`harness.model.cors`), so the vulnerable policies yield findings as in a real
run. The same N always gives the same result.

The steps are ``cmd_verify``'s after ``Runner.run``: assemble, the redacted report
dict, report.json, report.html (with probes.html), the exit code and the summary. The
report dict is made two ways (:data:`PATHS`): as the CLI made it before, a redacted
copy of ``report.to_dict()``, and as it makes it now, with
:func:`harness.report.document.document`.

Each N and way runs twice, each time in a fresh process so one size's peak does not
hide the next: once plain, for resident memory (``ru_maxrss``, the figure the bench
prints) and time per step, once under :mod:`tracemalloc`, for the Python heap's peak
per step (tracemalloc slows the run and adds its own bookkeeping, so its times and
RSS are not used; ``--no-trace`` skips it). This is a measurement, not a test:
nothing here asserts a size.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
import tracemalloc
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from harness.cli import _redact_dict, build_parser, config_from_args, exit_status
from harness.cli.terminal import print_summary
from harness.config import RunConfig
from harness.judge.assemble import assemble
from harness.model.cors import cors_check, preflight_check
from harness.model.redact import Redactor
from harness.model.results import (
    BrowserInfo,
    CookiePolicy,
    Credentials,
    Engine,
    Evidence,
    HttpExchange,
    Observation,
    Origin,
    Outcome,
    ProbeSpec,
    RunReport,
    Via,
)
from harness.model.run import RunResult
from harness.report.document import document
from harness.report.writers import write_reports
from harness.serve import lab
from harness.serve.pages import render_probe_page
from harness.tools.bench import endpoints
from scenarios.plan import make_plan
from scenarios.site import same_site

PAIRS: tuple[tuple[Engine, CookiePolicy], ...] = (
    (Engine.CHROMIUM, CookiePolicy.DEFAULT),
    (Engine.FIREFOX, CookiePolicy.DEFAULT),
    (Engine.FIREFOX, CookiePolicy.PERMISSIVE),
    (Engine.WEBKIT, CookiePolicy.DEFAULT),
    (Engine.WEBKIT, CookiePolicy.PERMISSIVE),
)
"""The bench's engine and cookie-profile pairs (Chromium's permissive one is not run)."""

BROWSERS = (
    BrowserInfo(Engine.CHROMIUM, "156.0.8078.114", "system", "/usr/bin/chromium"),
    BrowserInfo(Engine.WEBKIT, "2.50.6", "system", "/usr/lib/webkit2gtk-4.1/MiniBrowser"),
    BrowserInfo(Engine.FIREFOX, "153.8.0", "system", "/usr/bin/firefox-esr"),
)

NOT_RECORDED = "[not recorded]"
"""What the wire witness keeps of a header value that does not decide CORS."""

# Request headers each engine sends, as the wire records them (a real N=1 bench run).
_SENT: dict[Engine, tuple[str, ...]] = {
    Engine.CHROMIUM: (
        "Connection",
        "Pragma",
        "Cache-Control",
        "sec-ch-ua-platform",
        "User-Agent",
        "sec-ch-ua",
        "sec-ch-ua-mobile",
        "Accept",
    ),
    Engine.FIREFOX: ("User-Agent", "Accept", "Accept-Language", "Connection", "Pragma"),
    Engine.WEBKIT: (
        "Accept",
        "User-Agent",
        "Accept-Language",
        "Connection",
        "Pragma",
        "Cache-Control",
    ),
}
_ANSWER = ("date", "server", "content-length", "content-type", "x-request-id")
_READABLE = ("content-length", "content-type", "x-request-id")
_CHROMIUM_CODES = {"no Access-Control-Allow-Origin header": "MissingAllowOriginHeader"}
_COOKIE_WHY = {
    Engine.FIREFOX: "Firefox's Total Cookie Protection keeps cookies from going to a "
    "third-party site",
    Engine.WEBKIT: "WebKit's Intelligent Tracking Prevention (on, as Safari ships) blocks "
    "third-party cookies",
}


def _parsed(name: str) -> str:
    """A header name as the relay has it: a new string per exchange, parsed from bytes."""
    return name.encode().decode()


def _h(*parts: str) -> int:
    return int.from_bytes(hashlib.sha256("\0".join(parts).encode()).digest()[:8], "big")


def config_for(n: int, out: Path) -> RunConfig:
    """The configuration ``nox -s bench -- n`` runs with."""
    argv = ["verify", "--out", str(out), "--run-id", f"n{n}"]
    for url in endpoints(n):
        argv += ["--target", url]
    ns = build_parser().parse_args([*argv, "--allow-origin", "https://app.example.com"])
    return config_from_args(ns)


@dataclass
class _Server:
    """One lab endpoint's answers, from the lab's policy table."""

    target: str
    path: str = ""
    cors: Any = None
    needs_auth: bool = True
    overbroad: bool = False

    def __post_init__(self) -> None:
        self.path = urlsplit(self.target).path
        policy = self.path.strip("/").split("/")[0]
        # The lab's private table: the tool wants the policies' real headers without a server.
        behaviour = lab._BEHAVIOURS[policy]
        self.cors = behaviour.cors
        self.needs_auth = behaviour.private_needs_auth
        self.overbroad = policy == "overbroad"

    def answer(
        self, method: str, origin: str, status: int, *, preflight: bool
    ) -> tuple[tuple[str, str], ...]:
        exchange = lab._Exchange(method, self.path, status, (lab.LEGIT_ORIGIN,))
        base = [(_parsed(name), NOT_RECORDED) for name in _ANSWER]
        if self.overbroad and not preflight:
            base.append(("x-internal-token", NOT_RECORDED))
        cors = self.cors(origin, preflight, exchange)
        return (*base, *((_parsed(k), _parsed(v)) for k, v in cors))


@dataclass
class Synthetic:
    """Builds the observations and evidence one synthetic run holds."""

    config: RunConfig
    observations: list[Observation] = field(default_factory=list)
    evidence: dict[str, Evidence] = field(default_factory=dict)

    def run(self) -> RunResult:
        plan = make_plan(self.config, self.config.targets)
        servers = {t: _Server(t) for t in plan.targets}
        for engine, policy in PAIRS:
            for spec in plan.specs:
                if policy is CookiePolicy.PERMISSIVE and spec.credentials is Credentials.OMIT:
                    continue
                self.observations.append(self.probe(spec, engine, policy, servers[spec.target]))
        return RunResult(
            run_id=self.config.run_id,
            started="2025-12-01T12:00:00+00:00",
            finished="2025-12-01T12:28:00+00:00",
            targets=plan.targets,
            browsers=BROWSERS,
            observations=tuple(self.observations),
            evidence=tuple(self.evidence.values()),
            notes=plan.notes,
            config=self.config.summary(),
            env=self.config.env,
            legit_origins=tuple(o.serialize() for o in self.config.legit_origins),
            planned_probes=len(self.observations),
            timings={"context": 83.2, "page-load": 882.4, "probing": 649.5},
            witness={"wire": True, "probes": len(self.observations)},
            pages={
                "attacker page (https://corsproof-attacker.test)": render_probe_page(
                    "https://corsproof-attacker.test", role="attacker", klass="unrelated"
                )
            },
        )

    def probe(
        self, spec: ProbeSpec, engine: Engine, policy: CookiePolicy, server: _Server
    ) -> Observation:
        """One probe as the runner would have recorded it (victim data left to assemble)."""
        origin = spec.variant.origin.serialize()
        common: dict[str, Any] = {
            "id": f"{spec.id}-{engine.value[:2]}{policy.value[0]}",
            "engine": engine,
            "cookie_policy": policy,
            "target": spec.target,
            "origin": origin,
            "origin_class": spec.variant.klass,
            "role": spec.variant.role,
            "via": spec.variant.via,
            "shape": spec.shape.name,
            "method": spec.shape.method,
            "api": spec.api,
            "credentials": spec.credentials,
            "preflighted": spec.shape.preflighted,
        }
        # Firefox refuses every special-character host; the others a few of them.
        if spec.variant.klass == "special-char" and (
            engine is Engine.FIREFOX or _h(origin) % 17 == 0
        ):
            return Observation(
                **common,
                page_origin=None,
                outcome=Outcome.NOT_PRODUCIBLE,
                block_reason=f"{engine.value} refuses to load a page on this origin "
                "(it never connected)",
            )
        include = spec.credentials is Credentials.INCLUDE
        sent = include and (
            engine is Engine.CHROMIUM
            or policy is CookiePolicy.PERMISSIVE
            or same_site(spec.variant.origin, Origin.from_url(spec.target))
        )
        header_origin = origin if spec.variant.via is Via.PAGE else "null"
        pre, actual, reason = self.exchanges(spec, engine, server, header_origin, sent=sent)
        join = f"{spec.target} | {origin} | {spec.shape.name} | {spec.credentials.value}"
        digest = hashlib.sha256(repr((pre, actual and actual.response_headers)).encode())
        key = f"{join} | wire {digest.hexdigest()[:10]}"
        self.evidence.setdefault(
            key, Evidence(key, spec.target, origin, spec.shape.name, spec.credentials, pre, actual)
        )
        cookie_note = None
        if include and not sent and actual is not None:
            cookie_note = (
                "explained from the cookie's attributes, not measured: "
                f"{lab.SESSION_COOKIE}: {_COOKIE_WHY[engine]}"
            )
        elapsed = round(300 + _h(common["id"]) % 3_000_000 / 1000, 1)
        measured: dict[str, Any] = {
            "page_origin": origin if spec.variant.via is Via.PAGE else "null",
            "elapsed_ms": elapsed,
            "cookie_sent": sent,
            "authorization_sent": False,
            "cookie_note": cookie_note,
            # As the runner sets it; whose data every other answer held is assemble's job.
            "victim_data": False if actual is None else None,
            "victim_note": "only the preflight was sent; the request itself was not"
            if actual is None
            else None,
            "wire_status": actual.status if actual else None,
            "wire_body_hash": actual.body_hash if actual else None,
            "evidence": key,
        }
        if reason is None and actual is not None:
            return Observation(
                **common,
                **measured,
                outcome=Outcome.READABLE,
                status=actual.status,
                body_length=actual.body_length,
                body_hash=f"{_h(str(actual.body_hash)) % 16**8:08x}",
                readable_headers=tuple(str(n) for n in _READABLE),
            )
        return Observation(
            **common,
            **measured,
            outcome=Outcome.BLOCKED,
            block_reason=_engine_words(engine, reason),
        )

    def exchanges(
        self, spec: ProbeSpec, engine: Engine, server: _Server, origin: str, *, sent: bool
    ) -> tuple[HttpExchange | None, HttpExchange | None, str | None]:
        """The preflight and actual exchange the wire would hold, and why CORS blocks."""
        include = spec.credentials is Credentials.INCLUDE
        request = [(_parsed("Host"), urlsplit(spec.target).netloc), (_parsed("Origin"), origin)]
        request += [(_parsed(name), NOT_RECORDED) for name in _SENT[engine]]
        request += [(_parsed("Sec-Fetch-Mode"), "cors"), (_parsed("Sec-Fetch-Dest"), "empty")]
        pre = None
        if spec.shape.preflighted:
            asked = ",".join(sorted(n.lower() for n, _ in spec.headers))
            pre = HttpExchange(
                "OPTIONS",
                spec.target,
                (
                    *request,
                    ("Access-Control-Request-Method", spec.shape.method),
                    ("Access-Control-Request-Headers", asked),
                ),
                204,
                server.answer("OPTIONS", origin, 204, preflight=True),
                source="wire",
                protocol="HTTP/1.1",
            )
            why = preflight_check(
                pre, origin, credentials=include, method=spec.shape.method, headers=spec.headers
            )
            if why:
                return pre, None, why
        status = 200 if sent or not server.needs_auth else 401
        body = f"{server.path}:{status}"
        actual = HttpExchange(
            spec.shape.method,
            spec.target,
            (*request, *((("Cookie", lab.SESSION_COOKIE),) if sent else ())),
            status,
            server.answer(spec.shape.method, origin, status, preflight=False),
            source="wire",
            cookies=(lab.SESSION_COOKIE,) if sent else (),
            authorization=spec.shape.preflighted,
            protocol="HTTP/1.1",
            body_length=20 + len(body),
            body_hash=f"sha256:{hashlib.sha256(body.encode()).hexdigest()[:16]}",
        )
        return pre, actual, cors_check(actual, origin, credentials=include)


def _engine_words(engine: Engine, reason: str | None) -> str:
    """A block reason in the words each engine's own channel adds to the Fetch check."""
    why = reason or "blocked"
    if engine is Engine.CHROMIUM:
        bare = why.removeprefix("preflight: ")
        code = _CHROMIUM_CODES.get(bare, "AllowOriginMismatch")
        return f"{'Preflight' if bare != why else ''}{code}; {why}"
    if engine is Engine.FIREFOX:
        return f"firefox: CORS header \u2018Access-Control-Allow-Origin\u2019 missing; {why}"
    return why


# --------------------------------------------------------------------------- measuring


@dataclass
class Step:
    """One step's cost: wall and CPU time, RSS after it, and the peaks reached during it.

    CPU time is this process's own: on a machine that other jobs load, it is the
    steadier of the two.
    """

    name: str
    seconds: float = 0.0
    cpu_seconds: float = 0.0
    rss_mib: float = 0.0
    maxrss_mib: float = 0.0
    traced_peak_mib: float | None = None
    traced_after_mib: float | None = None


def _rss_mib() -> float:
    try:
        pages = int(Path("/proc/self/statm").read_text().split()[1])
    except (OSError, IndexError, ValueError):
        return 0.0
    return pages * os.sysconf("SC_PAGE_SIZE") / 2**20


def _maxrss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


@contextmanager
def _step(steps: list[Step], name: str) -> Iterator[None]:
    if tracemalloc.is_tracing():
        tracemalloc.reset_peak()
    t0, c0 = time.perf_counter(), time.process_time()
    yield
    step = Step(name, time.perf_counter() - t0, time.process_time() - c0, _rss_mib(), _maxrss_mib())
    if tracemalloc.is_tracing():
        now, peak = tracemalloc.get_traced_memory()
        step.traced_after_mib, step.traced_peak_mib = now / 2**20, peak / 2**20
    steps.append(step)


PATHS = ("copied", "document")
"""``copied``: what ``cmd_verify`` did until 2026-12-01, ``_redact_dict(report.to_dict(),
...)``; ``document``: :func:`harness.report.document.document`, what it does now."""


def report_data(report: RunReport, redactor: Redactor, path: str) -> dict[str, Any]:
    """The redacted report dict every writer renders from, made the ``path`` way."""
    if path == "document":
        return document(report, redactor.text)
    return dict(_redact_dict(report.to_dict(), redactor.text))


def measure(
    n: int, out: Path, *, path: str = "document", top: int = 0
) -> tuple[list[Step], dict[str, int]]:
    """Build the synthetic run for ``n`` endpoints and run the CLI's report path on it.

    The steps are those of ``cmd_verify`` after ``Runner.run``: assemble, the redacted
    report dict (made the ``path`` way, :data:`PATHS`), report.json then report.html
    (with probes.html), the exit code and the terminal summary. ``result`` stays alive
    throughout, as the runner's own lists do in the CLI. With ``top``, prints the
    largest allocation sites (tracemalloc must be on) after each step.
    """
    steps: list[Step] = []
    config = config_for(n, out)
    redactor = Redactor(config.secrets)
    redactor.add(lab.Lab().session_value)
    shown: Callable[[str], None] = _top_sites(top) if top else (lambda _name: None)
    with _step(steps, "build run"):
        result = Synthetic(config).run()
    shown("build run")
    with _step(steps, "assemble"):
        report = assemble(result)
    shown("assemble")
    with _step(steps, "report dict"):
        data = report_data(report, redactor, path)
    shown("report dict")
    run_dir = out / config.run_id
    # JSON first, then the rest, as cmd_verify writes them (default formats).
    paths: list[Path] = []
    for fmt in sorted(config.formats, key=lambda f: f != "json"):
        with _step(steps, f"write {fmt}"):
            paths += write_reports(data, run_dir, [fmt], fail_on=config.fail_on.value)
        shown(f"write {fmt}")
    with _step(steps, "exit code + summary"):
        worst = [f for f in report.findings if f.severity.rank >= config.fail_on.rank]
        exit_status(data, findings=bool(worst), fail_on_error=False)
        print_summary(data, paths, io.StringIO())
    sizes = {
        "probes": len(result.observations),
        "evidence": len(result.evidence),
        "findings": len(report.findings),
        **{p.name: p.stat().st_size for p in sorted(run_dir.iterdir()) if p.is_file()},
    }
    return steps, sizes


def _top_sites(top: int) -> Callable[[str], None]:
    def show(name: str) -> None:
        if not tracemalloc.is_tracing():
            return
        stats = tracemalloc.take_snapshot().statistics("lineno")
        print(f"  after {name}: largest live allocation sites")
        for stat in stats[:top]:
            frame = stat.traceback[0]
            print(f"    {stat.size / 2**20:8.1f} MiB {stat.count:>9} blocks  {frame}")

    return show


def _child(n: int, path: str, trace: bool, top: int) -> dict[str, Any]:
    """One measurement in this process; the parent runs it in a fresh one."""
    if trace:
        tracemalloc.start()
    base = Step("start", 0.0, 0.0, _rss_mib(), _maxrss_mib())
    with tempfile.TemporaryDirectory(prefix="corsproof-memory-") as tmp:
        steps, sizes = measure(n, Path(tmp), path=path, top=top)
    return {"steps": [vars(s) for s in [base, *steps]], "sizes": sizes}


def _run_child(n: int, path: str, *, trace: bool, top: int) -> dict[str, Any]:
    argv = [sys.executable, "-m", "harness.tools.memory", "--child", str(n), "--path", path]
    if trace:
        argv.append("--trace")
    if top:
        argv += ["--top", str(top)]
    done = subprocess.run(argv, check=True, capture_output=True, text=True)
    *shown, last = done.stdout.rstrip("\n").split("\n")
    for line in shown:
        print(line)
    data: dict[str, Any] = json.loads(last)
    return data


def table(n: int, path: str, plain: dict[str, Any], traced: dict[str, Any] | None) -> list[str]:
    """The printed rows for one size and path: RSS and time, traced heap peak, per step."""
    sizes = plain["sizes"]
    files = ", ".join(f"{k} {v / 2**20:.1f} MiB" for k, v in sizes.items() if "." in k)
    lines = [
        f"N={n} ({path} path): {sizes['probes']} probes, {sizes['evidence']} evidence "
        f"records, {sizes['findings']} findings; files: {files}",
        f"  {'step':<20} {'time s':>7} {'cpu s':>7} {'rss MiB':>8} {'peak rss':>9} "
        f"{'py peak':>8} {'py after':>9}",
    ]
    traced_steps = traced["steps"] if traced else [{}] * len(plain["steps"])
    for step, t in zip(plain["steps"], traced_steps, strict=True):
        peak, after = t.get("traced_peak_mib"), t.get("traced_after_mib")
        lines.append(
            f"  {step['name']:<20} {step['seconds']:7.2f} {step['cpu_seconds']:7.2f} "
            f"{step['rss_mib']:8.0f} "
            f"{step['maxrss_mib']:9.0f} {'' if peak is None else f'{peak:8.0f}':>8} "
            f"{'' if after is None else f'{after:9.0f}':>9}"
        )
    total = sum(s["seconds"] for s in plain["steps"][2:])
    cpu = sum(s["cpu_seconds"] for s in plain["steps"][2:])
    summary = (
        f"  peak python rss {plain['steps'][-1]['maxrss_mib']:.0f} MiB (ru_maxrss); "
        f"report path {total:.1f}s ({cpu:.1f}s CPU) after the run was built"
    )
    if traced:
        peak = max(s["traced_peak_mib"] or 0 for s in traced["steps"])
        summary += f"; traced heap peak {peak:.0f} MiB"
    return [*lines, summary]


def main(argv: list[str]) -> int:
    """``python -m harness.tools.memory [N ...] [--path P] [--no-trace] [--top K]``."""

    def option(name: str) -> str | None:
        return argv[argv.index(name) + 1] if name in argv[:-1] else None

    top = int(option("--top") or 0)
    paths = [option("--path")] if option("--path") else list(PATHS)
    values = {option("--top"), option("--path")}
    sizes = [int(a) for a in argv if a.isdigit() and a not in values] or [10, 100]
    for p in paths:
        if p not in PATHS:
            print(f"memory: --path must be one of {', '.join(PATHS)}", file=sys.stderr)
            return 2
    if "--child" in argv:
        print(json.dumps(_child(sizes[0], str(paths[0]), "--trace" in argv, top)))
        return 0
    for n in sizes:
        for p in paths:
            plain = _run_child(n, str(p), trace=False, top=0)
            traced = None if "--no-trace" in argv else _run_child(n, str(p), trace=True, top=top)
            print("\n".join(table(n, str(p), plain, traced)))
            sys.stdout.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
