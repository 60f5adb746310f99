"""The runner: from a :class:`RunConfig` to a stream of observations and a :class:`RunReport`.

Order of work for one run:

1. Expand the catalogue into a probe plan (``scenarios``).
2. Start the harness: run CA, page server (http and https), the lab when there is
   no ``--target``, and the forward proxy that maps every impersonated origin.
3. Replay each probe's request from Python as evidence of what the server says.
4. For each engine (in parallel) and cookie profile: one browser; for each origin
   one fresh context and page; all that origin's probes run inside the page in a
   few ``evaluate`` calls. Each result is classified and streamed to the sinks.
5. Judge the observations (pure rules) and build the report.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import datetime as dt
import ssl
import time
from collections import defaultdict
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote, urlsplit

import certifi

from harness.config import RunConfig
from harness.engines import playwright as browsers
from harness.engines.playwright import EngineSession, OriginPage, ResolvedEngine, SessionSetup
from harness.model.cors import needs_preflight
from harness.model.errors import (
    BrowserGone,
    EngineMissing,
    LaunchError,
    NavigationError,
    TargetError,
    first_line,
)
from harness.model.redact import Redactor
from harness.model.results import (
    BrowserInfo,
    CookiePolicy,
    Credentials,
    Engine,
    Evidence,
    Observation,
    Origin,
    OriginVariant,
    Outcome,
    ProbeSpec,
    Role,
    RunReport,
    ToolError,
    Via,
)
from harness.run import witness
from harness.run.classify import classify
from harness.run.replay import RateLimiter, Replayer, evidence_key
from harness.serve import wire
from harness.serve.ca import RunCA
from harness.serve.pages import PROBE_PATH, REDIRECT_PATH, create_app
from harness.serve.relay import Upstream
from harness.serve.servers import BackgroundServer
from harness.serve.wire import WireLog
from scenarios.catalogue import expand_origins
from scenarios.plan import build_plan, context_groups, shard
from scenarios.shapes import default_shapes

OPAQUE_HOST = Origin("https", "opaque-host.corsproof-attacker.test", 443)
"""The page that hosts the ``null``-origin iframes and starts the redirect chain."""
REDIRECTOR = Origin("https", "redirector.corsproof-attacker.test", 443)
"""A second attacker origin whose redirect taints the request origin to ``null``."""

ORIGIN_PARALLELISM = 8
"""Origins probed at once across all engines, each in its own context. Eight pages keep
two cores busy while hiding page-load latency; more only adds contention."""

BATCH = 120
"""Probes per ``evaluate`` call: large enough to amortise the round trip, small
enough that progress and partial results keep flowing."""

MAX_STALLS = 3
"""Under --rate: after this many batches in a row reached the page too late to start
anything, the next one may start its first probe late, so that a very slow machine
still makes progress."""
MIN_LEAD, MAX_LEAD = 0.02, 2.0
"""Under --rate, the bounds of how many seconds before its booking a batch is sent to
the page (it waits there for the booking; one that arrives late loses slots)."""


@dataclass(frozen=True)
class Event:
    """Something the terminal progress line or a sink may want to know."""

    kind: str
    """``plan``, ``browser``, ``origin``, ``observation``, ``warning``, ``error``."""
    message: str = ""
    observation: Observation | None = None
    data: Mapping[str, Any] = field(default_factory=dict)


Sink = Callable[[Event], None]


@dataclass
class Plan:
    """The expanded probe plan for a run."""

    targets: tuple[str, ...]
    variants: tuple[OriginVariant, ...]
    specs: tuple[ProbeSpec, ...]
    notes: tuple[str, ...] = ()

    def by_variant(self) -> dict[str, list[ProbeSpec]]:
        """Probe specs grouped by origin variant key, in plan order."""
        groups: dict[str, list[ProbeSpec]] = defaultdict(list)
        for spec in self.specs:
            groups[spec.variant.key].append(spec)
        return dict(groups)


def make_plan(config: RunConfig, targets: Sequence[str]) -> Plan:
    """Expand the catalogue for these targets. Pure: no servers, no browsers."""
    target_origins = [Origin.from_url(t) for t in targets]
    variants = expand_origins(
        list(config.legit_origins),
        target_origins,
        disabled=config.disabled_classes,
        extra=list(config.extra_origins),
    )
    if config.per_class:
        variants = _cap_per_class(variants, config.per_class)
    shapes = default_shapes(unsafe=config.unsafe, lab=config.lab, token=bool(config.headers))
    specs = build_plan(list(targets), variants, shapes, auth_headers=list(config.headers))
    notes = []
    if config.shard:
        index, count = config.shard
        specs = shard(specs, index, count)
        if not specs:
            notes.append(
                f"Shard {index}/{count} holds no probes: shards divide the plan by origin, "
                f"and this plan has {len(variants)} origins for {count} shards."
            )
    if any(s.safe_substitute for s in shapes):
        notes.append(
            "Preflighted probes used GET with an Authorization header instead of "
            "a JSON POST, because --unsafe was not given: no state-changing method reached "
            "the target."
        )
    return Plan(tuple(targets), tuple(variants), tuple(specs), tuple(notes))


DEFAULT_PROFILES: Mapping[Engine, str] = {
    Engine.CHROMIUM: "Google Chrome as shipped: third-party cookies allowed (a fresh "
    "profile of Debian's Chromium 156 blocks them; measured, docs/engines.md)",
    Engine.FIREFOX: "Firefox as shipped: Total Cookie Protection, no cookie to a third-party site",
    Engine.WEBKIT: "Safari as shipped: Intelligent Tracking Prevention on, no third-party cookies",
}
"""Which browser, as its users run it, each engine's ``default`` cookie profile stands for."""

_ENGINE_NOTES = (
    "Chromium's default profile already sends third-party cookies (as default Chrome does), "
    "so its permissive profile is the same browser configuration and is not run twice.",
    "WebKit here is WebKitGTK (MiniBrowser), and Chromium and Firefox are the Debian builds "
    "or Playwright's; none of them is Safari or branded Chrome. Verdicts describe the engines.",
)


def _cap_per_class(variants: Sequence[OriginVariant], limit: int) -> list[OriginVariant]:
    """Keep the first ``limit`` origins of each class; ``null`` keeps every way of making it."""
    kept: list[OriginVariant] = []
    seen: dict[str, int] = defaultdict(int)
    for variant in variants:
        if variant.role is Role.ATTACKER and variant.klass != "null":
            seen[variant.klass] += 1
            if seen[variant.klass] > limit:
                continue
        kept.append(variant)
    return kept


def run_sync(config: RunConfig, *, lab: Any | None = None, sink: Sink | None = None) -> RunReport:
    """Run verify to completion from synchronous code (tests, scripts)."""
    runner = Runner(config, sink=sink, lab=lab)

    async def go() -> RunReport:
        try:
            return await runner.run()
        finally:
            await runner._close_playwright()

    return asyncio.run(go())


def page_url(variant: OriginVariant) -> str:
    """Where the browser goes to get the variant's origin."""
    host_origin = variant.origin if variant.via is Via.PAGE else OPAQUE_HOST
    query = f"role={variant.role.value}&klass={quote(variant.klass)}"
    return f"{host_origin.serialize()}{PROBE_PATH}?{query}"


def probe_url(spec: ProbeSpec, marker: str | None = None) -> str:
    """The URL page JavaScript requests for this probe, with the wire marker if given.

    The marker (:func:`harness.serve.wire.mark`) is removed by the proxy before the request
    reaches the target; for a redirect variant it rides on the URL the redirector
    sends the browser to, so the hop that reaches the target carries it.
    """
    target = wire.mark(spec.target, marker) if marker else spec.target
    if spec.variant.via is Via.REDIRECT:
        return f"{REDIRECTOR.serialize()}{REDIRECT_PATH}?to={quote(target, safe='')}"
    return target


class Harness:
    """The servers of one run: CA, page server, optional lab, proxy. Always stop it."""

    def __init__(self, config: RunConfig, plan: Plan, *, lab: Any | None = None) -> None:
        self.config = config
        self.plan = plan
        self.lab = lab
        self.ca: RunCA | None = None
        self._servers: list[Any] = []
        self.proxy: Any = None
        self.lab_port: int | None = None
        self.wire = WireLog()
        """What the browsers sent to the targets and what came back (the wire witness)."""

    def start(self) -> None:
        """Start everything; raises LaunchError with one line when a piece fails."""
        from harness.serve.proxy import ForwardProxy

        hosts = {v.origin.host for v in self.plan.variants if not v.origin.opaque}
        hosts |= {OPAQUE_HOST.host, REDIRECTOR.host}
        hosts |= {urlsplit(t).hostname or "" for t in self.plan.targets}
        self.ca = RunCA(sorted(h for h in hosts if h))
        app = create_app(self.plan.targets)
        # Only the proxy (in this process) connects to the page servers, so they stay
        # on loopback whatever --bind says; --bind exposes the proxy alone.
        local = "127.0.0.1"
        https = BackgroundServer(
            app,
            host=local,
            ssl_certfile=str(self.ca.certfile),
            ssl_keyfile=str(self.ca.keyfile),
            name="page server (https)",
        )
        http = BackgroundServer(app, host=local, name="page server (http)")
        self._servers = [https, http]
        if self.lab is not None:
            lab_server = BackgroundServer(
                self.lab.app,
                ssl_certfile=str(self.ca.certfile),
                ssl_keyfile=str(self.ca.keyfile),
                name="lab",
            )
            self._servers.append(lab_server)
        for server in self._servers:
            server.start()
        if self.lab is not None:
            self.lab_port = self._servers[-1].port
        routes: dict[tuple[str, int], tuple[str, int]] = {}
        for variant in [
            *self.plan.variants,
            OriginVariant(OPAQUE_HOST, "host", Role.ATTACKER, "", ""),
            OriginVariant(REDIRECTOR, "host", Role.ATTACKER, "", ""),
        ]:
            o = variant.origin
            if o.opaque:
                continue
            routes[(o.host, o.port)] = (local, https.port if o.secure else http.port)
        ours = ssl.create_default_context(cafile=str(self.ca.cafile))
        intercept, pages = self._targets(routes, ours, https.port, http.port)
        server_ssl = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        server_ssl.load_cert_chain(str(self.ca.certfile), str(self.ca.keyfile))
        server_ssl.set_alpn_protocols(["http/1.1"])
        self.proxy = ForwardProxy(
            routes,
            bind=self.config.bind,
            fallback={443: (local, https.port), 80: (local, http.port)},
            intercept=intercept,
            pages=pages,
            server_ssl=server_ssl,
            wire=self.wire,
            timeout=self.config.timeout,
        )
        self.proxy.start()

    def _targets(
        self,
        routes: dict[tuple[str, int], tuple[str, int]],
        ours: ssl.SSLContext,
        https_port: int,
        http_port: int,
    ) -> tuple[dict[tuple[str, int], Upstream], dict[tuple[str, int], Upstream]]:
        """Where each target really is: relayed and witnessed, or (no witness) tunnelled.

        Without the witness (``--no-wire-witness``) ``routes`` is changed in place: each
        target becomes a plain route, tunnelled untouched.
        """
        intercept: dict[tuple[str, int], Upstream] = {}
        pages: dict[tuple[str, int], Upstream] = {}
        theirs = target_ssl(self.config.insecure)
        for target in self.plan.targets:
            t = Origin.from_url(target)
            key = (t.host, t.port)
            bare = t.host.strip("[]")
            if self.lab is not None:
                dest, tls = ("127.0.0.1", self.lab_port or 0), ours
            else:
                dest = self.config.connect_to_map().get((bare, t.port), (bare, t.port))
                tls = theirs
            if not self.config.wire:
                routes[key] = dest
                continue
            intercept[key] = Upstream(
                dest[0], dest[1], tls if t.secure else None, bare, record=True
            )
            if key in routes:
                # The target shares a host with an impersonated origin (a same-origin
                # frontend): corsproof's own page paths there still go to the page server.
                pages[key] = Upstream(
                    "127.0.0.1",
                    https_port if t.secure else http_port,
                    ours if t.secure else None,
                    "127.0.0.1",
                )
        return intercept, pages

    def stop(self) -> None:
        """Stop every server; safe in ``finally``."""
        if self.proxy is not None:
            self.proxy.stop()
        for server in reversed(self._servers):
            with contextlib.suppress(Exception):
                server.stop()
        if self.ca is not None:
            self.ca.close()


def target_ssl(insecure: bool) -> ssl.SSLContext:
    """The TLS context for connections to real targets: certifi's roots, or none checked."""
    if insecure:
        ctx = ssl.create_default_context()
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
    else:
        ctx = ssl.create_default_context(cafile=certifi.where())
    ctx.set_alpn_protocols(["http/1.1"])
    return ctx


def _user_session(config: RunConfig) -> bool:
    """True when the user supplied the victim's session; the lab's own is then not added."""
    return bool(config.cookies or config.login_urls or config.storage_state)


def _cookie_header(config: RunConfig, targets: Sequence[str], lab: Any | None) -> dict[str, str]:
    out: dict[str, str] = {}
    for target in targets:
        host = urlsplit(target).hostname or ""
        pairs = [f"{c.name}={c.value}" for c in config.cookies if (c.domain or host) in host]
        if lab is not None and not _user_session(config):
            pairs.append(f"{lab.session_cookie_name}={lab.session_value}")
        if pairs:
            out[host] = "; ".join(pairs)
    return out


def _playwright_cookies(
    config: RunConfig, targets: Sequence[str], lab: Any | None
) -> list[dict[str, Any]]:
    cookies = []
    for target in targets:
        parts = urlsplit(target)
        host = parts.hostname or ""
        secure_target = parts.scheme == "https"
        for c in config.cookies:
            secure = c.secure if c.secure is not None else secure_target
            same_site = c.same_site or ("None" if secure else "Lax")
            cookies.append(
                browsers.cookie_for_playwright(
                    c.name,
                    c.value,
                    host=host,
                    secure=secure,
                    same_site=same_site,
                    path=c.path,
                    domain=c.domain,
                    http_only=c.http_only,
                )
            )
        if lab is not None and not _user_session(config):
            cookies.append(
                browsers.cookie_for_playwright(
                    lab.session_cookie_name,
                    lab.session_value,
                    host=host,
                    secure=True,
                    same_site="None",
                    http_only=True,
                )
            )
    unique = {(c["name"], c["domain"], c["path"]): c for c in cookies}
    return list(unique.values())


class Runner:
    """Runs one verify: probes in every engine, streaming observations to ``sink``."""

    def __init__(
        self, config: RunConfig, *, sink: Sink | None = None, lab: Any | None = None
    ) -> None:
        self.config = config
        self.sink = sink or (lambda _e: None)
        self.lab = lab
        self.observations: list[Observation] = []
        self.evidence: dict[str, Evidence] = {}
        self.browsers: list[BrowserInfo] = []
        self.errors: list[ToolError] = []
        self.partial = False
        self.started = _now()
        self.redactor = Redactor(config.secrets)
        self.timings: dict[str, float] = defaultdict(float)
        self._log_seen = 0
        self._done: set[str] = set()
        self._parallelism = 4
        self._pages_done = 0
        self._probes_total = 0
        self.session_notes: list[str] = []
        self._harness: Harness | None = None
        self._ev_tasks: dict[str, asyncio.Future[Evidence]] = {}
        # Lab log entries of browser probes, per (user-agent tag, Origin header):
        # (entry number, path, method, carried the session cookie).
        self._cookie_log: dict[tuple[str, str], list[tuple[int, str, str, bool]]] = defaultdict(
            list
        )
        # Variants that send the same Origin (the three ``null`` ones) must not probe at
        # the same time in one browser profile, or the lab cannot tell whose request
        # carried the cookie.
        self._witness_locks: dict[tuple[str, str], asyncio.Lock] = defaultdict(asyncio.Lock)
        self.witness_checked = 0
        self.witness_disagreements: list[dict[str, Any]] = []
        """Lab runs: probes where the wire and the lab's log disagreed on the cookie."""
        self._targets_run: tuple[str, ...] = ()
        self._refused: dict[tuple[Engine, str], str] = {}
        """(engine, origin variant key) -> why the engine would not load a page there."""

    def resume_from(self, rows: Sequence[Mapping[str, Any]]) -> None:
        """Keep an interrupted run's judged probes; only the rest will run again."""
        from harness.model.results import observation_from_dict

        for row in rows:
            try:
                obs = observation_from_dict(row)
            except (KeyError, ValueError, TypeError):
                continue
            # Errors (lost probes, timeouts) are measured again.
            if obs.outcome is not Outcome.ERROR and obs.id not in self._done:
                self._done.add(obs.id)
                self.observations.append(obs)

    def _explicit(self, engine: Engine) -> bool:
        return any(c.engine is engine and c.explicit for c in self.config.engines)

    def _engine_notes(self) -> list[str]:
        ran = [e for e in Engine if any(b.engine is e for b in self.browsers)]
        notes = [_ENGINE_NOTES[1]]
        if ran and CookiePolicy.DEFAULT in self.config.cookie_policies:
            notes.append(
                "What the 'default' profile stands for: "
                + "; ".join(f"{e.value}: {DEFAULT_PROFILES[e]}" for e in ran)
                + "."
            )
        if CookiePolicy.PERMISSIVE in self.config.cookie_policies and any(
            b.engine is Engine.CHROMIUM for b in self.browsers
        ):
            notes.insert(0, _ENGINE_NOTES[0])
        return notes

    def stop(self) -> None:
        """Ctrl-C or SIGTERM: from now on, what fails is the shutdown, not the run.

        Probes cut short and pages whose browser closes under them would otherwise
        be recorded as errors and crashes; they are left out of the report (so
        ``--resume`` measures them again), and so is what the shutdown prints.
        """
        if self._stopped_at is None:
            self._stopped_at = len(self.errors)

    _stopped_at: int | None = None
    """Tool errors recorded before :meth:`stop`; None while the run goes on."""

    def _emit(self, event: Event) -> None:
        if self._stopped_at is not None and event.kind in ("error", "warning"):
            return
        try:
            self.sink(event)
        except Exception as exc:  # a broken sink must not lose the run
            self.errors.append(ToolError("sink", f"progress output failed: {exc}"))

    def targets(self) -> tuple[str, ...]:
        """The run's targets: the user's, or one URL per lab policy."""
        if self.config.targets:
            return self.config.targets
        if self.lab is None:
            raise TargetError("no --target given and the lab is not running")
        return tuple(self.lab.target_urls())

    async def run(self) -> RunReport:
        """Do the whole run. Partial results survive errors, the budget and cancellation."""
        targets = self.targets()
        self._targets_run = tuple(targets)
        plan = make_plan(self.config, targets)
        self._emit(
            Event(
                "plan",
                f"{len(plan.specs)} probes: {len(targets)} target(s) x "
                f"{len(plan.variants)} origin(s)",
                data={"probes": len(plan.specs)},
            )
        )
        harness = Harness(self.config, plan, lab=self.lab)
        self._harness = harness
        t0 = time.monotonic()
        try:
            await asyncio.to_thread(harness.start)
            self.timings["harness"] = time.monotonic() - t0
            await self._run_all(plan, harness)
        except asyncio.CancelledError:
            self.partial = True
            raise
        finally:
            await asyncio.to_thread(harness.stop)
        return self.report(plan)

    async def _run_all(self, plan: Plan, harness: Harness) -> None:
        verify: ssl.SSLContext | bool
        rewrite = {}
        if self.lab is not None and harness.ca is not None:
            verify = ssl.create_default_context(cafile=str(harness.ca.cafile))
            for target in plan.targets:
                t = Origin.from_url(target)
                rewrite[(t.host, t.port)] = ("127.0.0.1", harness.lab_port or 0)
        else:
            verify = not self.config.insecure
            rewrite = self.config.connect_to_map()
        # One --rate limiter for the whole run: the replay and every page of every
        # engine book their requests on it. The lab is ours and on loopback: unlimited.
        self._limiter = RateLimiter(0 if self.lab is not None else self.config.rate)
        replayer = Replayer(
            proxy_url=None,
            verify=verify,
            cookie_header=_cookie_header(self.config, plan.targets, self.lab),
            redactor=self.redactor,
            timeout=self.config.timeout,
            limiter=self._limiter,
            concurrency=8 if self.lab is not None else max(2, self.config.concurrency),
            rewrite=rewrite,
        )
        try:
            await self._check_targets(plan, replayer)
            engines = await self._resolve_engines()
            self._parallelism = max(1, min(4, ORIGIN_PARALLELISM // max(1, len(engines))))
            # The whole plan: probes kept from an interrupted run (--resume) are part
            # of it, and are already counted in len(self.observations).
            self._probes_total = sum(
                len(plan.specs)
                if p is CookiePolicy.DEFAULT or len(self._profiles_for(r.engine)) == 1
                else sum(1 for s in plan.specs if s.credentials is Credentials.INCLUDE)
                for r in engines
                for p in self._profiles_for(r.engine)
            )
            if not engines:
                raise LaunchError(
                    "no browser engine is available; see the lines above for how to install one"
                )
            if not self.config.wire:
                # Without the wire witness the replay is the only server-side record:
                # it is gathered while the browsers probe; each origin waits for its own.
                for spec in plan.specs:
                    key = _ev_key(spec)
                    if key not in self.evidence and key not in self._ev_tasks:
                        self._ev_tasks[key] = asyncio.ensure_future(replayer.evidence_for(spec))
            t_run = time.monotonic()
            setup = SessionSetup(
                cookies=_playwright_cookies(self.config, plan.targets, self.lab),
                storage_state=str(self.config.storage_state) if self.config.storage_state else None,
                login_urls=self.config.login_urls,
                proxy_url=harness.proxy.url,
            )
            try:
                await asyncio.wait_for(
                    asyncio.gather(*(self._run_engine(r, plan, setup) for r in engines)),
                    self.config.budget,
                )
            except TimeoutError:
                self.partial = True
                self.errors.append(
                    ToolError(
                        "budget",
                        f"the run budget of {self.config.budget:.0f}s ran out; "
                        "the report holds what was measured",
                    )
                )
                self._emit(
                    Event(
                        "error",
                        f"budget of {self.config.budget:.0f}s exhausted; writing partial report",
                    )
                )
            if self.config.wire and not self.partial:
                await self._replay_unwitnessed(plan, replayer, time.monotonic() - t_run)
            for key, task in list(self._ev_tasks.items()):
                if task.done() and not task.cancelled() and task.exception() is None:
                    self.evidence[key] = task.result()
        finally:
            for task in self._ev_tasks.values():
                task.cancel()
            await asyncio.gather(*self._ev_tasks.values(), return_exceptions=True)
            await replayer.close()

    async def _replay_unwitnessed(self, plan: Plan, replayer: Replayer, spent: float) -> None:
        """Replay from Python what no browser sent, so the report still has evidence.

        Only requests no engine made reach here, e.g. from an origin no engine could
        produce; everything a browser sent is already on the wire record.
        """
        covered = {
            (o.target, o.origin, o.shape, o.credentials)
            for o in self.observations
            if o.evidence is not None
        }
        todo: dict[str, ProbeSpec] = {}
        for spec in plan.specs:
            join = (spec.target, spec.variant.origin.serialize(), spec.shape.name, spec.credentials)
            if join not in covered:
                todo.setdefault(_ev_key(spec), spec)
        if not todo:
            return
        left = max(5.0, self.config.budget - spent)
        tasks = [asyncio.ensure_future(replayer.evidence_for(s)) for s in todo.values()]
        done, pending = await asyncio.wait(tasks, timeout=left)
        for task in pending:
            task.cancel()
        for task in done:
            if not task.cancelled() and task.exception() is None:
                ev = task.result()
                self.evidence.setdefault(ev.key, ev)

    async def _evidence(self, spec: ProbeSpec) -> Evidence | None:
        key = _ev_key(spec)
        if key in self.evidence:
            return self.evidence[key]
        task = self._ev_tasks.get(key)
        if task is None:
            return None
        try:
            ev = await asyncio.wait_for(asyncio.shield(task), self.config.timeout * 3 + 5)
        except (TimeoutError, Exception):
            return None
        self.evidence[key] = ev
        return ev

    async def _check_targets(self, plan: Plan, replayer: Replayer) -> None:
        """Fail early, with one line, when a target cannot be reached at all.

        A refused connection or an untrusted certificate is a tool error. A target
        that answers badly (resets, closes early, hangs) is judged probe by probe.
        When some targets are unreachable and others are not, the others still run
        and the report lists the unreachable ones as tool errors.
        """
        unreachable: list[str] = []
        for target in plan.targets:
            spec = next((s for s in plan.specs if s.target == target), None)
            if spec is None:
                continue
            ev = await replayer.evidence_for(spec)
            if not self.config.wire:
                self.evidence[ev.key] = ev
            if ev.actual is not None and ev.actual.status is None:
                err = ev.actual.error or "no response"
                if "certificate" in err.lower() or "ssl" in err.lower():
                    raise TargetError(
                        f"target {target}: TLS certificate not trusted ({err}); "
                        "pass --insecure to accept a self-signed certificate"
                    )
                if not err.startswith(("connect:", "proxy:")):
                    # Answers badly: judged per probe, not refused outright. A target
                    # that never answers makes every probe wait out --timeout.
                    self._emit(
                        Event(
                            "warning",
                            f"target {target} did not answer the first request ({err[:120]}); "
                            "probing it anyway",
                        )
                    )
                    continue
                unreachable.append(target)
                self.errors.append(ToolError("target", f"target {target} is unreachable: {err}"))
                self._emit(Event("error", f"target {target} is unreachable: {err}"))
        if unreachable and len(unreachable) == len(plan.targets):
            raise TargetError(
                self.errors[-1].message
                if len(unreachable) == 1
                else f"no target is reachable ({len(unreachable)} tried); first: "
                f"{self.errors[-len(unreachable)].message}"
            )
        if unreachable:
            plan.specs = tuple(s for s in plan.specs if s.target not in unreachable)

    async def _resolve_engines(self) -> list[ResolvedEngine]:
        found = []
        for choice in self.config.engines:
            try:
                # In a thread: finding Playwright's own build asks its (sync) driver,
                # which refuses to run inside this event loop.
                resolved = await asyncio.to_thread(
                    browsers.resolve, choice, self.config.browser_source
                )
            except EngineMissing as exc:
                if choice.explicit:
                    raise
                self._emit(Event("warning", str(exc)))
                self.errors.append(ToolError("browser-missing", str(exc)))
                continue
            found.append(resolved)
            if resolved.why:
                line = f"{resolved.engine.value}: {resolved.why}"
                self.session_notes.append(f"Browser source: {line}.")
                self._emit(Event("browser", line))
        return found

    async def _open_session(
        self, resolved: ResolvedEngine, policy: CookiePolicy, setup: SessionSetup
    ) -> EngineSession:
        tag = f"corsproof ({resolved.engine.value}-{policy.value})"
        if self._harness is not None and self._harness.proxy is not None:
            setup = dataclasses.replace(setup, proxy_url=self._harness.proxy.listener(tag))
        if resolved.engine is Engine.WEBKIT and resolved.source != "playwright":
            from harness.engines.webkit import webkit_session

            targets = self._harness.plan.targets if self._harness is not None else ()
            # With --remote webkit=URL: a session on that endpoint, without local Xvfb.
            wk = webkit_session(resolved, policy, setup, reset_hosts=_target_pages(targets))
            await wk.start()
            session: EngineSession = wk
            return session
        from playwright.async_api import async_playwright

        pw = await self._playwright()
        pws = browsers.PlaywrightSession(pw, resolved, policy, setup)
        await pws.start()
        _ = async_playwright
        return pws

    _pw_cm: Any = None
    _pw: Any = None
    _pw_lock: asyncio.Lock | None = None

    async def _playwright(self) -> Any:
        if self._pw_lock is None:
            self._pw_lock = asyncio.Lock()
        async with self._pw_lock:
            if self._pw is None:
                self._pw_cm, self._pw = await browsers.start_playwright()
        return self._pw

    async def _close_playwright(self) -> None:
        if self._pw_cm is not None:
            with contextlib.suppress(Exception):
                await self._pw_cm.__aexit__(None, None, None)
            self._pw_cm = None
            self._pw = None

    def _profiles_for(self, engine: Engine) -> list[CookiePolicy]:
        policies = list(self.config.cookie_policies)
        if engine is Engine.CHROMIUM and CookiePolicy.DEFAULT in policies:
            # Default Chromium already sends third-party cookies: its permissive
            # profile would be the very same browser configuration, run twice.
            policies = [p for p in policies if p is not CookiePolicy.PERMISSIVE]
        return policies

    async def _run_engine(self, resolved: ResolvedEngine, plan: Plan, setup: SessionSetup) -> None:
        groups = plan.by_variant()
        for policy in self._profiles_for(resolved.engine):
            if (
                policy is CookiePolicy.PERMISSIVE
                and CookiePolicy.DEFAULT in self.config.cookie_policies
            ):
                # The cookie profile only changes what credentialed requests carry;
                # anonymous probes were already measured under the default profile.
                work = {
                    k: [s for s in v if s.credentials is Credentials.INCLUDE]
                    for k, v in groups.items()
                }
                work = {k: v for k, v in work.items() if v}
            else:
                work = groups
            if self._done:
                work = {
                    k: [s for s in v if _probe_id(s, resolved.engine, policy) not in self._done]
                    for k, v in work.items()
                }
                work = {k: v for k, v in work.items() if v}
                if not work:
                    continue
            t0 = time.monotonic()
            try:
                session = await self._open_session(resolved, policy, setup)
            except LaunchError as exc:
                # Exit code 2 when the user asked for this engine by name; otherwise the
                # run goes on with the engines that did start, and says so.
                kind = "launch" if self._explicit(resolved.engine) else "browser-failed"
                self.errors.append(ToolError(kind, str(exc)))
                self._emit(Event("error", str(exc)))
                self._lose(work, resolved.engine, policy, f"browser did not start: {exc}")
                continue
            self.timings[f"launch:{resolved.engine.value}"] += time.monotonic() - t0
            if not any(b.engine is session.info.engine for b in self.browsers):
                self.browsers.append(session.info)
            note = getattr(session, "note", "")
            if note and note not in self.session_notes:
                self.session_notes.append(note)
            self._emit(
                Event(
                    "browser",
                    f"{session.info.engine.value} {session.info.version} "
                    f"({session.info.source}) cookie profile {policy.value}",
                )
            )
            holder = [session]
            # Probes the cookie profile cannot change are not run twice: an origin the
            # engine refused to load under the default profile is refused again.
            if policy is CookiePolicy.PERMISSIVE:
                work = self._carry_refusals(work, resolved.engine, policy)
            queue = [g for specs in work.values() for g in context_groups(specs)]
            try:
                # A few origins at once hide page-load and context latency; each
                # still has its own context.
                await asyncio.gather(
                    *(
                        self._drain(queue, holder, resolved, policy, setup)
                        for _ in range(self._parallelism)
                    )
                )
            finally:
                await holder[0].close()

    async def _drain(
        self,
        queue: list[list[ProbeSpec]],
        holder: list[EngineSession],
        resolved: ResolvedEngine,
        policy: CookiePolicy,
        setup: SessionSetup,
    ) -> None:
        """Take origins off the shared queue until it is empty.

        While one origin probes, the next fresh context is already being created
        (``open_origin`` gives a blank page, so it suits whichever origin comes next);
        that hides context latency, which matters most with remote browsers.
        """
        ready: tuple[EngineSession, asyncio.Future[OriginPage]] | None = None
        try:
            while queue:
                specs = queue.pop(0)
                before = holder[0]
                opened: asyncio.Future[OriginPage] | None = None
                if ready is not None and ready[0] is before:
                    opened = ready[1]
                elif ready is not None:
                    _discard(ready[1])  # made by a browser that has since been replaced
                ready = None
                if queue:
                    ready = (before, asyncio.ensure_future(before.open_origin()))
                if not await self._drain_one(queue, holder, resolved, policy, setup, specs, opened):
                    return
        finally:
            if ready is not None:
                _discard(ready[1])

    async def _drain_one(
        self,
        queue: list[list[ProbeSpec]],
        holder: list[EngineSession],
        resolved: ResolvedEngine,
        policy: CookiePolicy,
        setup: SessionSetup,
        specs: list[ProbeSpec],
        opened: asyncio.Future[OriginPage] | None,
    ) -> bool:
        """Run one origin; False when the browser is gone for good."""
        before = holder[0]
        try:
            after = await self._run_origin(before, resolved, policy, setup, specs, opened)
        except LaunchError as exc:
            # The browser could not be restarted: what is left for it is lost.
            self.errors.append(ToolError("browser-lost", str(exc)))
            self._emit(Event("error", str(exc)))
            # This origin's probes were marked when the browser died.
            rest = list(queue)
            queue.clear()
            for group in rest:
                for spec in group:
                    self._record(
                        _lost(
                            spec,
                            resolved.engine,
                            policy,
                            f"lost: browser could not be restarted ({exc})",
                        )
                    )
            return False
        # Only the first worker to notice a dead browser replaces it.
        if after is not before and holder[0] is before:
            holder[0] = after
        elif after is not before:
            await after.close()
        return True

    def _carry_refusals(
        self, work: Mapping[str, list[ProbeSpec]], engine: Engine, policy: CookiePolicy
    ) -> dict[str, list[ProbeSpec]]:
        """Record origins this engine refused under the default profile; return the rest.

        Whether an engine loads a page on an origin is decided by its URL parser and
        host checks before any cookie is involved, so the permissive profile (which
        differs only in cookie settings) gives the same answer. Those origins cost
        a context each and would prove nothing new.
        """
        rest: dict[str, list[ProbeSpec]] = {}
        for key, specs in work.items():
            why = self._refused.get((engine, key))
            if why is None:
                rest[key] = specs
                continue
            note = f"{why} (measured under the default cookie profile; cookies do not change it)"
            for spec in specs:
                self._record(_unjudged(spec, engine, policy, Outcome.NOT_PRODUCIBLE, note, None))
        return rest

    def _lose(
        self, groups: Mapping[str, list[ProbeSpec]], engine: Engine, policy: CookiePolicy, why: str
    ) -> None:
        for specs in groups.values():
            for spec in specs:
                self._record(_lost(spec, engine, policy, why))

    async def _run_origin(
        self,
        session: EngineSession,
        resolved: ResolvedEngine,
        policy: CookiePolicy,
        setup: SessionSetup,
        specs: list[ProbeSpec],
        opened: asyncio.Future[OriginPage] | None = None,
    ) -> EngineSession:
        variant = specs[0].variant
        engine = resolved.engine
        t0 = time.monotonic()
        page: OriginPage | None = None
        try:
            page = await asyncio.wait_for(opened or session.open_origin(), 30)
            self.timings["context"] += time.monotonic() - t0
            results = await self._probe_in_page(session, page, engine, policy, specs)
        except (TimeoutError, LaunchError, BrowserGone) as exc:
            # The browser hung or died: restart it, and mark this origin's probes lost.
            why = f"lost: browser stopped answering ({first_line(exc, named=True)})"
            for spec in specs:
                self._record(_lost(spec, engine, policy, why))
            self._emit(
                Event("warning", f"{engine.value}: restarting browser after {type(exc).__name__}")
            )
            with contextlib.suppress(Exception):
                await session.close()
            session = await self._open_session(resolved, policy, setup)
            return session
        except Exception as exc:  # ProbeError, or a fault of ours: never ends the run
            why = f"probe failed: {first_line(exc)}"
            for spec in specs:
                self._record(_lost(spec, engine, policy, why))
            return session
        finally:
            if page is not None:
                await page.close()
        counts: dict[str, int] = defaultdict(int)
        for obs in results:
            counts[obs.outcome.value] += 1
        summary = ", ".join(f"{n} {k}" for k, n in sorted(counts.items()))
        self._pages_done += 1
        self._emit(
            Event(
                "origin",
                f"{len(self.observations)}/{self._probes_total} probes "
                f"[{engine.value}/{policy.value}] {variant.key}: {summary} "
                f"({time.monotonic() - t0:.1f}s)",
            )
        )
        return session

    async def _probe_in_page(
        self,
        session: EngineSession,
        page: OriginPage,
        engine: Engine,
        policy: CookiePolicy,
        specs: list[ProbeSpec],
    ) -> list[Observation]:
        variant = specs[0].variant
        timeout_ms = int(self.config.timeout * 1000)
        url = page_url(variant)
        t0 = time.monotonic()
        try:
            origin = await page.navigate(url, self.config.timeout + 5)
        except NavigationError as exc:
            # An engine that will not even connect to the host has refused the origin
            # itself (its URL parser or host validation); that is not an error.
            asked = self._proxy_saw(session, variant)
            invalid = exc.invalid or (variant.via is Via.PAGE and asked is False)
            outcome = Outcome.NOT_PRODUCIBLE if invalid else Outcome.ERROR
            why = (
                f"{engine.value} refuses to load a page on this origin: {exc}"
                if invalid
                else f"probe page did not load: {exc}"
            )
            if invalid:
                self._refused[(engine, variant.key)] = why
            return [self._record(_unjudged(s, engine, policy, outcome, why, None)) for s in specs]
        self.timings["page-load"] += time.monotonic() - t0
        expected = (variant.origin if variant.via is Via.PAGE else OPAQUE_HOST).serialize()
        if origin != expected:
            outcome, why = _origin_mismatch(expected, origin)
            if outcome is Outcome.NOT_PRODUCIBLE:
                self._refused[(engine, variant.key)] = why
            return [self._record(_unjudged(s, engine, policy, outcome, why, origin)) for s in specs]
        loaded = await page.evaluate("() => typeof __corsproof", None, self.config.timeout + 5)
        if loaded != "object":
            # An engine error page can sit at the requested URL: the origin matches but
            # our page never ran. If the engine never even asked the proxy for the host,
            # it refused the origin; otherwise the page failed to load.
            asked = self._proxy_saw(session, variant) if variant.via is Via.PAGE else True
            if asked is False:
                outcome = Outcome.NOT_PRODUCIBLE
                why = f"{engine.value} refuses to load a page on this origin (it never connected)"
                self._refused[(engine, variant.key)] = why
            else:
                outcome, why = Outcome.ERROR, "the probe page did not run in the browser"
            return [self._record(_unjudged(s, engine, policy, outcome, why, origin)) for s in specs]
        out: list[Observation] = []
        t1 = time.monotonic()
        frame = variant.via.value if variant.via in (Via.SANDBOX_SRCDOC, Via.DATA_IFRAME) else None
        clock = session.user_agent_tag  # pages of one browser share its clock
        witness_key = (f"corsproof ({engine.value}-{policy.value})", variant.origin.serialize())
        expected_page = "null" if variant.via in (Via.SANDBOX_SRCDOC, Via.DATA_IFRAME) else expected
        for chunk in self._chunks(specs):
            ids = [_probe_id(s, engine, policy) for s in chunk]
            batch = [
                {**self._js_spec(s, timeout_ms, pid), "slots": _slots_of(s)}
                for s, pid in zip(chunk, ids, strict=True)
            ]
            retry = [
                self._probe_target_url(s, f"{pid}.2") for s, pid in zip(chunk, ids, strict=True)
            ]
            seq = self._harness.wire.seq if self._harness is not None else 0
            async with self._witness_locks[witness_key]:
                mark = self._read_lab_log()
                ran = await self._run_chunk(page, frame, batch, clock, retry)
                lab_cookies = self._cookie_witness(witness_key, mark)
            records = await self._settled(ids)
            stray = self._stray(seq, session.user_agent_tag)
            if isinstance(ran, str):
                why = f"opaque-origin frame did not run: {ran}"
                out += [
                    self._record(_unjudged(s, engine, policy, Outcome.NOT_PRODUCIBLE, why, None))
                    for s in chunk
                ]
                continue
            reasons, net_errors, cookie_reasons = await self._engine_says(page, chunk, ran)
            for spec, pid, raw in zip(chunk, ids, ran, strict=False):
                if raw.get("page_origin") != expected_page:
                    why = f"page had origin {raw.get('page_origin')!r}, not {expected_page!r}"
                    out.append(
                        self._record(
                            _unjudged(
                                spec, engine, policy, Outcome.ERROR, why, raw.get("page_origin")
                            )
                        )
                    )
                    continue
                attempt = int(raw.get("attempt") or 1)
                seen = [r for r in records.get(pid, []) if r.attempt == attempt]
                obs = await self._judge_probe(
                    spec,
                    pid,
                    raw,
                    engine=engine,
                    policy=policy,
                    session=session,
                    wire_seen=witness.probe_wire(seen),
                    lab_cookies=lab_cookies,
                    stray=stray,
                    engine_reason=reasons.get(spec.id),
                    engine_error=net_errors.get(spec.id),
                    cookie_reason=cookie_reasons.get(spec.id),
                    timeout_ms=timeout_ms,
                )
                self._check_lab_witness(obs, spec, lab_cookies)
                out.append(self._record(obs))
        self.timings["probing"] += time.monotonic() - t1
        return out

    _limiter: RateLimiter = RateLimiter(0)
    """The run's --rate limiter (made by ``_run_all``): the replay and every page share it."""
    _clocks: dict[str, tuple[float, float, float]] | None = None
    """Per browser: the narrowest range measured for its clock minus ours (ms), and
    how long before its booking a batch is sent (s)."""

    def _chunks(self, specs: list[ProbeSpec]) -> list[list[ProbeSpec]]:
        """The ``evaluate`` batches of one page.

        Unlimited: :data:`BATCH` probes each. Under --rate, also at most about one
        second of request slots, so a booking never holds the target's budget for
        long, progress keeps flowing and cancellation stays prompt.
        """
        if not self._limiter.interval:
            return [specs[i : i + BATCH] for i in range(0, len(specs), BATCH)]
        cap = max(2, int(self._limiter.rate))
        chunks: list[list[ProbeSpec]] = []
        current: list[ProbeSpec] = []
        used = 0
        for spec in specs:
            need = _slots_of(spec)
            if current and (used + need > cap or len(current) >= BATCH):
                chunks.append(current)
                current, used = [], 0
            current.append(spec)
            used += need
        if current:
            chunks.append(current)
        return chunks

    async def _run_paced(
        self,
        page: OriginPage,
        frame: str | None,
        batch: list[dict[str, Any]],
        limit: int,
        clock: str = "",
    ) -> list[dict[str, Any]] | str:
        """Run ``batch`` in the page (in an opaque ``frame`` of that kind if given) under --rate.

        Each round books one run of consecutive slots on the run's limiter for the
        requests the batch will send (``slots`` per probe, from :func:`_slots_of`) and
        sends the batch just before the booking starts (by the page's round trip).
        The page spaces its request starts inside the booking, on its own clock, so
        time lost on the way counts against the batch, not against the next booking.
        Probes the page could not start inside the booking (its workers were busy
        with a slow target, or the batch came late) come back ``not_started`` and are
        booked again. With no limit this is exactly one ``evaluate``. Returns the
        page's results in batch order, or why the opaque-origin frame did not run.
        """
        if frame is not None and self._limiter.interval:
            # Load the frame before booking: its load time would eat the booking.
            wait = self.config.timeout + 5
            opened = await page.evaluate(
                "([kind, t]) => __corsproof.openFrame(kind, t)", [frame, int(wait * 1000)], wait + 5
            )
            if not isinstance(opened, dict) or not opened.get("ready"):
                return str(opened.get("error") if isinstance(opened, dict) else opened)
        skew = lead = 0.0
        if self._limiter.interval:
            skew, lead = await self._page_clock(page, clock)
        results: list[dict[str, Any] | None] = [None] * len(batch)
        pending = list(range(len(batch)))
        stalls = 0
        while pending:
            part = [batch[i] for i in pending]
            slots = sum(int(b.get("slots", 1)) for b in part)
            delay, interval = self._limiter.reserve(slots, not_before=lead)
            booked = (time.time() + delay) * 1000
            if delay > lead:
                await asyncio.sleep(delay - lead)
            pace = (
                # The page waits for its booking, or loses what is already past (this
                # loop woke late, the trip to the page took longer).
                {
                    "interval_ms": interval * 1000,
                    "booked_ms": booked + skew,
                    "window_ms": slots * interval * 1000,
                    "force": stalls >= MAX_STALLS,
                }
                if interval
                else None
            )
            budget = (
                self.config.timeout * (len(part) / max(1, limit) + 2) + 10 + slots * interval + lead
            )
            if frame is not None:
                reply = await page.evaluate(
                    "([kind, b, n, t, p]) => __corsproof.runInFrame(kind, b, n, t, p)",
                    [frame, part, limit, int(budget * 1000), pace],
                    budget + 5,
                )
                if not isinstance(reply, dict) or "results" not in reply:
                    return str(reply.get("error") if isinstance(reply, dict) else reply)
                raws = reply["results"]
            else:
                raws = await page.evaluate(
                    "([b, n, p]) => __corsproof.run(b, n, p)", [part, limit, pace], budget
                )
            left = []
            for i, raw in zip(pending, raws, strict=False):
                if raw.get("not_started"):
                    left.append(i)
                else:
                    results[i] = raw
            if left and len(left) == len(pending):
                # The batch reached the page after its booking had passed: send the
                # next one earlier, and after a few misses let the first probe go.
                if stalls >= MAX_STALLS:
                    raise RuntimeError("the probe page started none of its probes")
                stalls += 1
                lead = self._set_lead(clock, 2 * lead + interval)
            else:
                stalls = 0
                lead = self._set_lead(clock, 0.8 * lead)
            pending = left
        # A page that returned fewer results than it was given loses the rest, as
        # before: they are cut at the first missing one so the order holds.
        out: list[dict[str, Any]] = []
        for raw in results:
            if raw is None:
                break
            out.append(raw)
        return out

    async def _page_clock(self, page: OriginPage, clock: str) -> tuple[float, float]:
        """The page's clock minus ours (ms), and how early to send it a batch (s).

        The offset is the middle of the narrowest range read so far for this browser:
        a few milliseconds wide, and zero unless the browser runs on another machine.
        The lead starts at twice the round trip and learns from batches that came late.
        """
        asked = time.time()
        now_ms = float(await page.evaluate("() => Date.now()", None, self.config.timeout + 5))
        answered = time.time()
        if self._clocks is None:
            self._clocks = {}
        low, high = now_ms - answered * 1000, now_ms + 1 - asked * 1000  # Date.now() floors
        lead = 2 * (answered - asked)
        seen = self._clocks.get(clock)
        if seen is not None:
            if seen[1] - seen[0] < high - low:
                low, high = seen[0], seen[1]
            lead = max(lead, seen[2])
        self._clocks[clock] = (low, high, lead)
        return (low + high) / 2, self._set_lead(clock, lead)

    def _set_lead(self, clock: str, lead: float) -> float:
        lead = min(MAX_LEAD, max(MIN_LEAD, lead))
        if self._clocks is not None and clock in self._clocks:
            low, high, _ = self._clocks[clock]
            self._clocks[clock] = (low, high, lead)
        return lead

    def _proxy_saw(self, session: EngineSession, variant: OriginVariant) -> bool | None:
        if self._harness is None or self._harness.proxy is None:
            return None
        o = variant.origin
        return bool(self._harness.proxy.saw(session.user_agent_tag, f"{o.host}:{o.port}"))

    async def _run_chunk(
        self,
        page: OriginPage,
        frame: str | None,
        batch: list[dict[str, Any]],
        clock: str,
        retry_urls: Sequence[str] = (),
    ) -> list[dict[str, Any]] | str:
        """One batch in the page; probes that timed out are run once more, alone.

        A retried probe goes to ``retry_urls[i]`` (its second wire marker), so the wire
        record of each attempt stays apart; its result says ``attempt: 2``.
        """
        ran = await self._run_paced(page, frame, batch, self.config.concurrency, clock)
        if frame is None and isinstance(ran, list):
            # A timeout on a busy machine is not a verdict: retry those probes
            # once, one at a time, before calling them errors.
            again = [i for i, raw in enumerate(ran) if raw.get("timed_out")]
            if again:
                second = [
                    {**batch[i], "url": retry_urls[i]} if i < len(retry_urls) else batch[i]
                    for i in again
                ]
                retried = await self._run_paced(page, None, second, 1, clock)
                if isinstance(retried, list):  # always: only a frame answers with a str
                    for i, raw in zip(again, retried, strict=False):
                        ran[i] = {**raw, "attempt": 2}
        return ran

    def _read_lab_log(self) -> int:
        """File the lab's new log entries by (user-agent tag, Origin); the log position."""
        if self.lab is None:
            return 0
        entries, end = self.lab.log_since(self._log_seen)
        end = int(end)
        self._log_seen = end
        name = self.lab.session_cookie_name
        for n, entry in enumerate(entries, start=end - len(entries)):
            if entry.method == "OPTIONS" or entry.origin is None:
                continue
            ua = entry.user_agent or ""
            start = ua.find("corsproof (")
            if start < 0:
                continue
            self._cookie_log[(ua[start:], entry.origin)].append(
                (n, entry.path, entry.method, name in entry.cookies)
            )
        return end

    def _cookie_witness(
        self, key: tuple[str, str], mark: int
    ) -> dict[tuple[str, str], bool] | None:
        """Did the session cookie reach the lab? Server-side truth, from the lab's log.

        Only requests logged since ``mark`` (the start of this batch) count, and the
        caller holds the lock of ``key``, so no other page with the same Origin in this
        browser profile sent them: the answer does not depend on scheduling.
        """
        if self.lab is None:
            return None
        self._read_lab_log()
        seen: dict[tuple[str, str], bool] = {}
        for n, path, method, had in self._cookie_log.pop(key, []):
            if n >= mark:
                seen[(path, method)] = seen.get((path, method), False) or had
        return seen

    async def _engine_says(
        self, page: OriginPage, chunk: Sequence[ProbeSpec], ran: Sequence[Mapping[str, Any]]
    ) -> tuple[Mapping[str, str], Mapping[str, str], Mapping[str, str]]:
        """The engine's own reasons for the batch: CORS blocks, network errors, cookies.

        The engine reports over its own channel (CDP, BiDi), which can lag the page's
        answer; a probe that failed without any reason yet gets a moment to catch up.
        """
        net_errors_of = getattr(page, "net_errors", None)
        cookie_reasons_of = getattr(page, "cookie_reasons", None)
        for wait in (0.0, 0.05, 0.2):
            if wait:
                await asyncio.sleep(wait)
            reasons = await page.cors_reasons()
            net_errors = await net_errors_of() if net_errors_of is not None else {}
            silent = [
                s
                for s, raw in zip(chunk, ran, strict=False)
                if not raw.get("resolved")
                and not raw.get("timed_out")
                and s.id not in reasons
                and s.id not in net_errors
            ]
            if not silent or net_errors_of is None:
                break
        cookie_reasons = await cookie_reasons_of() if cookie_reasons_of is not None else {}
        return reasons, net_errors, cookie_reasons

    def _probe_target_url(self, spec: ProbeSpec, marker: str) -> str:
        """What the page fetches: the target (marked when witnessed) plus the probe fragment."""
        marked = probe_url(spec, marker if self.config.wire else None)
        return marked + browsers.PROBE_FRAGMENT + spec.id

    def _js_spec(self, spec: ProbeSpec, timeout_ms: int, marker: str) -> dict[str, Any]:
        # Only token probes carry the user's --header credentials (the plan decides).
        headers = dict(spec.headers)
        return {
            "id": spec.id,
            "url": self._probe_target_url(spec, marker),
            "method": spec.shape.method,
            "headers": headers,
            "body": spec.shape.body,
            "credentials": spec.credentials.value,
            "api": spec.api,
            "timeout_ms": timeout_ms,
        }

    def _stray(self, seq: int, label: str) -> set[tuple[str, str]]:
        """(method, URL) of requests without a marker that came through ``label`` since ``seq``."""
        if self._harness is None:
            return set()
        return {
            (r.exchange.method, r.exchange.url)
            for r in self._harness.wire.unattributed_since(seq, label)
        }

    async def _settled(self, ids: Sequence[str]) -> dict[str, list[wire.WireRecord]]:
        """The batch's wire records, once the proxy has finished relaying them.

        A page can see a blocked response (or its own abort) before the proxy has
        relayed the rest of the body, so the record may come a moment later.
        """
        if self._harness is None:
            return {}
        log = self._harness.wire
        deadline = time.monotonic() + min(5.0, self.config.timeout)
        while log.open_count(ids) and time.monotonic() < deadline:
            await asyncio.sleep(0.01)
        return log.take(ids)

    def _session_names(self, session: EngineSession) -> tuple[str, ...]:
        """Names of the victim's session cookies for the targets, in this browser."""
        hosts = [urlsplit(t).hostname or "" for t in self._targets_run]
        return witness.session_cookie_names(getattr(session, "session_cookies", ()), hosts)

    async def _judge_probe(
        self,
        spec: ProbeSpec,
        pid: str,
        raw: Mapping[str, Any],
        *,
        engine: Engine,
        policy: CookiePolicy,
        session: EngineSession,
        wire_seen: witness.ProbeWire,
        lab_cookies: Mapping[tuple[str, str], bool] | None,
        stray: Collection[tuple[str, str]] = (),
        engine_reason: str | None,
        engine_error: str | None,
        cookie_reason: str | None,
        timeout_ms: int,
    ) -> Observation:
        """Classify one page result against what the wire saw of the same probe."""
        if not self.config.wire:
            sent = None
            if spec.credentials is Credentials.INCLUDE and lab_cookies is not None:
                sent = lab_cookies.get((urlsplit(spec.target).path, spec.shape.method), False)
            return classify(
                spec,
                raw,
                engine=engine,
                cookie_policy=policy,
                probe_id=pid,
                evidence=await self._evidence(spec),
                engine_reason=engine_reason,
                engine_error=engine_error,
                cookie_sent=sent,
                timeout_ms=timeout_ms,
            )
        origin = spec.variant.origin.serialize()
        ev = witness.wire_evidence(
            _ev_key(spec),
            target=spec.target,
            origin=origin,
            shape=spec.shape.name,
            credentials=spec.credentials,
            wire=wire_seen,
            redactor=self.redactor,
        )
        if ev is not None:
            self.evidence.setdefault(ev.key, ev)
        cookies = getattr(session, "session_cookies", ())
        sent = witness.cookie_sent(wire_seen, self._session_names(session))
        obs = classify(
            spec,
            raw,
            engine=engine,
            cookie_policy=policy,
            probe_id=pid,
            evidence=ev,
            engine_reason=engine_reason,
            engine_error=engine_error,
            cookie_sent=sent,
            timeout_ms=timeout_ms,
            redirects=wire_seen.hops - (wire_seen.preflight is not None) - 1,
        )
        actual = wire_seen.actual
        note = None
        if spec.credentials is Credentials.INCLUDE and sent is False and actual is not None:
            note = cookie_reason or witness.explain_withheld(
                cookies,
                page_origin=raw.get("page_origin"),
                target=spec.target,
                engine=engine,
                policy=policy,
            )
        victim: bool | None = None
        victim_note = None
        if not wire_seen.reached and (spec.shape.method, spec.target) in stray:
            # A request without corsproof's marker reached the same URL meanwhile: it may
            # have been this probe's. The witness does not guess.
            victim_note = (
                "unknown: a request to this URL without corsproof's marker reached the "
                "target during the batch, so whose it was cannot be told"
            )
        elif not wire_seen.reached:
            victim_note = "no request of this probe reached the target"
        elif actual is None:
            victim, victim_note = False, "only the preflight was sent; the request itself was not"
        return dataclasses.replace(
            obs,
            authorization_sent=witness.authorization_sent(wire_seen, bool(spec.auth_headers)),
            victim_data=victim,
            victim_note=victim_note,
            cookie_note=note,
            wire_status=actual.status if actual is not None else None,
            wire_body_hash=actual.body_hash if actual is not None else None,
            evidence=ev.key if ev is not None else None,
        )

    def _check_lab_witness(
        self, obs: Observation, spec: ProbeSpec, lab_cookies: Mapping[tuple[str, str], bool] | None
    ) -> None:
        """Hold the wire's cookie verdict against the lab's own log, a second witness."""
        if lab_cookies is None or not self.config.wire or obs.wire_status is None:
            return
        if spec.credentials is not Credentials.INCLUDE:
            return
        logged = lab_cookies.get((urlsplit(spec.target).path, spec.shape.method), False)
        self.witness_checked += 1
        if logged != obs.cookie_sent:
            if not self.witness_disagreements:
                self._emit(
                    Event(
                        "warning",
                        f"the wire and the lab's log disagree on whether {obs.id} sent the "
                        f"cookie (wire: {obs.cookie_sent}, lab: {logged})",
                    )
                )
            if len(self.witness_disagreements) < 100:
                self.witness_disagreements.append(
                    {"probe": obs.id, "wire": obs.cookie_sent, "lab_log": logged}
                )

    def _record(self, obs: Observation) -> Observation:
        if self._stopped_at is not None and obs.outcome is Outcome.ERROR:
            return obs  # cut short by the shutdown: not a result
        self.observations.append(obs)
        self._emit(Event("observation", observation=obs))
        return obs

    def report(self, plan: Plan | None = None) -> RunReport:
        """The report as it stands: complete, or partial after an interruption."""
        from harness import __version__
        from harness.judge.headercheck import disagreements, header_scan
        from harness.judge.rules import rules_for_report
        from harness.judge.verdicts import judge
        from harness.serve.pages import render_probe_page

        evidence = list(self.evidence.values())
        observations = witness.with_victim_data(self.observations)
        findings = judge(
            observations,
            evidence,
            env=self.config.env,
            engines_run=[b.engine for b in self.browsers],
        )
        legit = [o.serialize() for o in self.config.legit_origins]
        header_only = header_scan(evidence, legit_origins=legit)
        extra: dict[str, Any] = {
            "header_only": header_only,
            "disagreements": disagreements(
                findings, header_only, observations=observations, evidence=evidence
            ),
            "pages": {
                "attacker page (https://corsproof-attacker.test)": render_probe_page(
                    "https://corsproof-attacker.test", role="attacker", klass="unrelated"
                ),
            },
            "timings": {k: round(v, 3) for k, v in self.timings.items()},
            "witness": self._witness_summary(observations),
            # What "N of M planned probes" counts against (harness.judge.caveats).
            "plan": {"probes": self._probes_total},
        }
        return RunReport(
            run_id=self.config.run_id,
            started=self.started,
            finished=None if self.partial else _now(),
            targets=plan.targets if plan else self.config.targets,
            browsers=tuple(self.browsers),
            probes=tuple(observations),
            findings=tuple(findings),
            evidence=tuple(self.evidence.values()),
            partial=self.partial,
            errors=tuple(self.errors[: self._stopped_at]),
            notes=(*(plan.notes if plan else ()), *self.session_notes, *self._engine_notes()),
            config=self.config.summary(),
            rules=rules_for_report({f.rule for f in findings}),
            extra=extra,
            tool_version=__version__,
        )

    def _witness_summary(self, observations: Sequence[Observation]) -> dict[str, Any]:
        """How the run's cookie and data verdicts were established, for the report."""
        reached = sum(1 for o in observations if o.cookie_sent is not None)
        out: dict[str, Any] = {
            "wire": self.config.wire,
            "probes": len(observations),
            "reached_target": reached,
            "cookie_unknown": sum(
                1
                for o in observations
                if o.credentials is Credentials.INCLUDE and o.cookie_sent is None
            ),
            "victim_unknown": sum(
                1 for o in observations if o.wire_status is not None and o.victim_data is None
            ),
        }
        if self._harness is not None:
            out["unattributed_exchanges"] = self._harness.wire.unattributed
            out["dropped_exchanges"] = self._harness.wire.dropped
        if self.lab is not None and self.config.wire:
            out["lab_log"] = {
                "compared": self.witness_checked,
                "disagreements": list(self.witness_disagreements),
            }
        return out


def _target_pages(targets: Iterable[str]) -> list[tuple[str, str]]:
    """(scheme, host) of each target, where its responses could have set cookies."""
    pages = []
    for target in targets:
        parts = urlsplit(target)
        if parts.hostname:
            pages.append((parts.scheme, parts.hostname))
    return pages


def _discard(opening: asyncio.Future[OriginPage]) -> None:
    """Close a context that was opened ahead and is not needed, whenever it is ready."""

    def close(fut: asyncio.Future[OriginPage]) -> None:
        if fut.cancelled() or fut.exception() is not None:
            return
        task = asyncio.ensure_future(fut.result().close())
        _CLOSING.add(task)
        task.add_done_callback(_CLOSING.discard)

    if opening.done():
        close(opening)
    else:
        opening.add_done_callback(close)


_CLOSING: set[asyncio.Future[None]] = set()
"""Closes in flight; held so the event loop does not drop them half-way."""


def _slots_of(spec: ProbeSpec) -> int:
    """Rate-limit slots one probe books: the requests it sends to the target (a
    preflight and the actual, or the actual), and for a redirect variant one more.

    A redirect variant's request goes to the harness's redirector first and reaches
    the target only after that hop, at a time the page does not control; the spare
    slot keeps it from landing on the next probe's slot. What the redirector itself
    receives does not count against --rate.
    """
    sent = 2 if needs_preflight(spec.shape.method, spec.headers) else 1
    return sent + (1 if spec.variant.via is Via.REDIRECT else 0)


def _origin_mismatch(expected: str, got: str) -> tuple[Outcome, str]:
    exp, seen = urlsplit(expected), urlsplit(got)
    if exp.scheme == "http" and seen.scheme == "https":
        return Outcome.NOT_PRODUCIBLE, f"the engine upgraded the page to https ({got})"
    if got and got != "null" and exp.scheme == seen.scheme and exp.hostname != seen.hostname:
        return Outcome.NOT_PRODUCIBLE, f"the engine rewrote the host: the page got {got}"
    return Outcome.ERROR, f"page had origin {got!r}, not {expected!r}"


def _ev_key(spec: ProbeSpec) -> str:
    return evidence_key(
        spec.target, spec.variant.origin.serialize(), spec.shape.name, spec.credentials
    )


def _probe_id(spec: ProbeSpec, engine: Engine, policy: CookiePolicy) -> str:
    return f"{spec.id}-{engine.value[:2]}{policy.value[0]}"


def _unjudged(
    spec: ProbeSpec,
    engine: Engine,
    policy: CookiePolicy,
    outcome: Outcome,
    why: str,
    page_origin: str | None,
) -> Observation:
    return Observation(
        id=_probe_id(spec, engine, policy),
        engine=engine,
        cookie_policy=policy,
        target=spec.target,
        origin=spec.variant.origin.serialize(),
        origin_class=spec.variant.klass,
        role=spec.variant.role,
        via=spec.variant.via,
        page_origin=page_origin,
        shape=spec.shape.name,
        method=spec.shape.method,
        api=spec.api,
        credentials=spec.credentials,
        outcome=outcome,
        error=why[:300] if outcome is not Outcome.NOT_PRODUCIBLE else None,
        block_reason=why[:300] if outcome is Outcome.NOT_PRODUCIBLE else None,
        preflighted=spec.shape.preflighted,
    )


def _lost(spec: ProbeSpec, engine: Engine, policy: CookiePolicy, why: str) -> Observation:
    return _unjudged(spec, engine, policy, Outcome.ERROR, why, None)


def _now() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="seconds")


def default_run_id() -> str:
    """A sortable, filesystem-safe id for a run."""
    return dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%SZ")


def summarize(observations: Iterable[Observation]) -> dict[str, int]:
    """Counts by outcome."""
    counts: dict[str, int] = defaultdict(int)
    for obs in observations:
        counts[obs.outcome.value] += 1
    return dict(counts)
