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
from collections.abc import Mapping, Sequence
from typing import Any

from harness.config import RunConfig
from harness.engines import playwright as browsers
from harness.engines.playwright import EngineSession, OriginPage, ResolvedEngine, SessionSetup
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
    Outcome,
    ProbeSpec,
    ToolError,
    Via,
    user_agent_tag,
)
from harness.model.run import RunResult
from harness.run import witness
from harness.run.events import (
    BrowserChosen,
    BrowserStarted,
    ErrorKind,
    Event,
    ObservationMade,
    OriginProbed,
    PlanReady,
    RunFinished,
    RunWarning,
    Sink,
    ToolFailure,
)
from harness.run.grouping import compared, grouping_note, run_grouped, usable
from harness.run.lablog import LabLog
from harness.run.outcomes import ev_key, lost, origin_mismatch, probe_id, unjudged
from harness.run.pacing import Pacer, slots_of
from harness.run.probe import ProbeJudge, WireReader, engine_says, js_spec, target_url
from harness.run.replay import RateLimiter, Replayer
from harness.run.session import cookie_header, playwright_cookies, target_pages
from harness.serve.stack import OPAQUE_HOST, Harness, SharedServers, page_url
from scenarios.plan import Plan, context_groups, context_slots, make_plan

ORIGIN_PARALLELISM = 8
"""Origins probed at once across all engines, each in its own context. Eight pages keep
two cores busy while hiding page-load latency; more only adds contention."""


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


class Runner:
    """Runs one verify: probes in every engine, streaming observations to ``sink``."""

    def __init__(
        self,
        config: RunConfig,
        *,
        sink: Sink | None = None,
        lab: Any | None = None,
        redactor: Redactor | None = None,
        servers: SharedServers | None = None,
    ) -> None:
        self.config = config
        self.sink = sink or (lambda _e: None)
        self.lab = lab
        self.servers = servers
        """Servers kept across runs (the pytest plugin's session); None: this run's own."""
        self.observations: list[Observation] = []
        self.evidence: dict[str, Evidence] = {}
        self.browsers: list[BrowserInfo] = []
        self.errors: list[ToolError] = []
        self.partial = False
        self.started = _now()
        self.redactor = redactor or Redactor(config.secrets)
        self.timings: dict[str, float] = defaultdict(float)
        self._done: set[str] = set()
        self._parallelism = 4
        self._probes_total = 0
        self.session_notes: list[str] = []
        self._harness: Harness | None = None
        self._wire = WireReader(None, timeout=config.timeout)
        """The run's wire log as each batch sees it (given the harness by ``run``)."""
        self._judge = ProbeJudge(
            wire=config.wire,
            redactor=self.redactor,
            evidence=self.evidence,
            replayed=self._evidence,
        )
        self._ev_tasks: dict[str, asyncio.Future[Evidence]] = {}
        self._replays: dict[str, asyncio.Future[Evidence | None]] = {}
        """Grouping's replays by evidence key, shared by every engine and profile."""
        # Variants that send the same Origin (the three ``null`` ones) must not probe at
        # the same time in one browser profile, or the lab cannot tell whose request
        # carried the cookie.
        self._witness_locks: dict[tuple[str, str], asyncio.Lock] = defaultdict(asyncio.Lock)
        self._lab_log = LabLog(lab) if lab is not None else None
        """The lab's log, a second witness of the cookie (lab runs only)."""
        self._pacer = Pacer(RateLimiter(0), timeout=config.timeout, concurrency=config.concurrency)
        """Batches and --rate pacing (remade with the run's limiter by ``_run_all``)."""
        self._targets_run: tuple[str, ...] = ()
        self._leader_over: dict[Engine, asyncio.Event] = {}
        """Engines whose profiles run at once: set when the first profile is done."""
        self._origin_measured: dict[tuple[Engine, str], asyncio.Event] = defaultdict(asyncio.Event)
        """(engine, origin variant key): the first profile has measured this origin."""
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
        if self._stopped_at is not None and isinstance(event, (ToolFailure, RunWarning)):
            return
        try:
            self.sink(event)
        except Exception as exc:  # a broken sink must not lose the run
            self.errors.append(ToolError(ErrorKind.SINK.value, f"progress output failed: {exc}"))

    def _fail(self, kind: ErrorKind, message: str, shown: str | None = None) -> None:
        """Record one of the tool's own failures and say so (``shown``, if it differs)."""
        self.errors.append(ToolError(kind.value, message))
        self._emit(ToolFailure(kind, shown or message))

    def targets(self) -> tuple[str, ...]:
        """The run's targets: the user's, or one URL per lab policy."""
        if self.config.targets:
            return self.config.targets
        if self.lab is None:
            raise TargetError("no --target given and the lab is not running")
        return tuple(self.lab.target_urls())

    async def run(self) -> RunResult:
        """Do the whole run. Partial results survive errors, the budget and cancellation."""
        targets = self.targets()
        self._targets_run = tuple(targets)
        self._judge.targets = self._targets_run
        plan = make_plan(self.config, targets)
        self._emit(PlanReady(len(plan.specs), len(targets), len(plan.variants)))
        t0 = time.monotonic()
        shared = self.servers
        if shared is not None:
            harness = await asyncio.to_thread(shared.acquire, self.config, plan, self.lab)
        else:
            harness = Harness(self.config, plan, lab=self.lab)
        self._harness = harness
        self._wire.harness = harness
        try:
            if shared is None:
                await asyncio.to_thread(harness.start)
            self.timings["harness"] = time.monotonic() - t0
            await self._run_all(plan, harness)
        except asyncio.CancelledError:
            self.partial = True
            raise
        finally:
            if shared is None:
                await asyncio.to_thread(harness.stop)
        self._emit(RunFinished(len(self.observations), self.partial))
        return self.result(plan)

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
        limiter = RateLimiter(0 if self.lab is not None else self.config.rate)
        self._pacer = Pacer(
            limiter, timeout=self.config.timeout, concurrency=self.config.concurrency
        )
        replayer = Replayer(
            proxy_url=None,
            verify=verify,
            cookie_header=cookie_header(self.config, plan.targets, self.lab),
            redactor=self.redactor,
            timeout=self.config.timeout,
            limiter=limiter,
            concurrency=8 if self.lab is not None else max(2, self.config.concurrency),
            rewrite=rewrite,
        )
        self._replayer = replayer
        try:
            plan = await self._check_targets(plan, replayer)
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
                    key = ev_key(spec)
                    if key not in self.evidence and key not in self._ev_tasks:
                        self._ev_tasks[key] = asyncio.ensure_future(replayer.evidence_for(spec))
            t_run = time.monotonic()
            setup = SessionSetup(
                cookies=playwright_cookies(self.config, plan.targets, self.lab),
                storage_state=str(self.config.storage_state) if self.config.storage_state else None,
                login_urls=self.config.login_urls,
                proxy_url=harness.proxy.url,
                isolate_origins=self.config.isolate_origins,
            )
            try:
                await asyncio.wait_for(
                    asyncio.gather(*(self._run_engine(r, plan, setup) for r in engines)),
                    self.config.budget,
                )
            except TimeoutError:
                self.partial = True
                self._fail(
                    ErrorKind.BUDGET,
                    f"the run budget of {self.config.budget:.0f}s ran out; "
                    "the report holds what was measured",
                    f"budget of {self.config.budget:.0f}s exhausted; writing partial report",
                )
            if self.config.wire and not self.partial:
                await self._replay_unwitnessed(plan, replayer, time.monotonic() - t_run)
            for key, task in list(self._ev_tasks.items()):
                if task.done() and not task.cancelled() and task.exception() is None:
                    self.evidence[key] = task.result()
        finally:
            pending: list[asyncio.Future[Any]] = [*self._ev_tasks.values()]
            pending += self._replays.values()
            for future in pending:
                future.cancel()
            await asyncio.gather(*pending, return_exceptions=True)
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
                todo.setdefault(ev_key(spec), spec)
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
        key = ev_key(spec)
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

    async def _check_targets(self, plan: Plan, replayer: Replayer) -> Plan:
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
                        RunWarning(
                            f"target {target} did not answer the first request ({err[:120]}); "
                            "probing it anyway"
                        )
                    )
                    continue
                unreachable.append(target)
                self._fail(ErrorKind.TARGET, f"target {target} is unreachable: {err}")
        if unreachable and len(unreachable) == len(plan.targets):
            raise TargetError(
                self.errors[-1].message
                if len(unreachable) == 1
                else f"no target is reachable ({len(unreachable)} tried); first: "
                f"{self.errors[-len(unreachable)].message}"
            )
        if unreachable:
            kept = tuple(s for s in plan.specs if s.target not in unreachable)
            return dataclasses.replace(plan, specs=kept)
        return plan

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
                self._emit(RunWarning(str(exc)))
                self.errors.append(ToolError(ErrorKind.BROWSER_MISSING.value, str(exc)))
                continue
            found.append(resolved)
            if resolved.why:
                line = f"{resolved.engine.value}: {resolved.why}"
                self.session_notes.append(f"Browser source: {line}.")
                self._emit(BrowserChosen(resolved.engine.value, resolved.why))
        return found

    async def _open_session(
        self, resolved: ResolvedEngine, policy: CookiePolicy, setup: SessionSetup
    ) -> EngineSession:
        tag = user_agent_tag(resolved.engine, policy)
        if self._harness is not None and self._harness.proxy is not None:
            setup = dataclasses.replace(setup, proxy_url=self._harness.proxy.listener(tag))
        if resolved.engine is Engine.WEBKIT and resolved.source != "playwright":
            from harness.engines.webkit import webkit_session

            targets = self._harness.plan.targets if self._harness is not None else ()
            # With --remote webkit=URL: a session on that endpoint, without local Xvfb.
            wk = webkit_session(resolved, policy, setup, reset_hosts=target_pages(targets))
            await wk.start()
            session: EngineSession = wk
            return session
        from playwright.async_api import async_playwright

        pw = await self._playwright()
        pws = browsers.PlaywrightSession(pw, resolved, policy, setup)
        await pws.start()
        _ = async_playwright
        return pws

    _replayer: Replayer | None = None
    """The run's replay, for grouping's check of what members would repeat."""
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

    async def aclose(self) -> None:
        """Stop Playwright, if this runner started it."""
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
        """Every cookie profile of one engine: a local engine runs them at once.

        The second profile takes each origin after the first has measured it, so an
        origin the engine refused under the first is carried over, never loaded again.
        A remote engine runs them one after the other (its machine may have one slot),
        and so does WebKitGTK.
        """
        groups = plan.by_variant()
        # The default profile leads: what it measures is what the others carry over.
        profiles = sorted(
            self._profiles_for(resolved.engine), key=lambda p: p is not CookiePolicy.DEFAULT
        )
        # WebKitGTK profiles stay one after the other: each starts an Xvfb of its own,
        # and two at once lost MiniBrowsers when the first display stopped (measured:
        # 30 WebKit permissive probes lost in tests/e2e/test_wire_targets.py).
        webkit = resolved.engine is Engine.WEBKIT and resolved.source != "playwright"
        if (
            len(profiles) < 2
            or resolved.remote is not None
            or webkit
            or profiles[0] is not CookiePolicy.DEFAULT
        ):
            for policy in profiles:
                await self._run_profile(resolved, groups, policy, setup)
            return
        leader_over = asyncio.Event()
        self._leader_over[resolved.engine] = leader_over

        async def lead() -> None:
            try:
                await self._run_profile(resolved, groups, profiles[0], setup)
            finally:
                leader_over.set()

        await asyncio.gather(
            lead(), *(self._run_profile(resolved, groups, p, setup) for p in profiles[1:])
        )

    async def _after_leader(self, engine: Engine, policy: CookiePolicy, key: str) -> str | None:
        """A following profile: wait until the first has measured this origin; returns
        why the engine refused it there, if it did."""
        over = self._leader_over.get(engine)
        if over is None or policy is not CookiePolicy.PERMISSIVE:
            return None
        done = self._origin_measured[(engine, key)]
        if not (done.is_set() or over.is_set()):
            waits = [asyncio.ensure_future(done.wait()), asyncio.ensure_future(over.wait())]
            try:
                await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
            finally:
                for w in waits:
                    w.cancel()
        return self._refused.get((engine, key))

    async def _run_profile(
        self,
        resolved: ResolvedEngine,
        groups: dict[str, list[ProbeSpec]],
        policy: CookiePolicy,
        setup: SessionSetup,
    ) -> None:
        """One browser for one cookie profile, and all its probes."""
        if (
            policy is CookiePolicy.PERMISSIVE
            and CookiePolicy.DEFAULT in self.config.cookie_policies
        ):
            # The cookie profile only changes what credentialed requests carry;
            # anonymous probes were already measured under the default profile.
            work = {
                k: [s for s in v if s.credentials is Credentials.INCLUDE] for k, v in groups.items()
            }
            work = {k: v for k, v in work.items() if v}
        else:
            work = groups
        if self._done:
            work = {
                k: [s for s in v if probe_id(s, resolved.engine, policy) not in self._done]
                for k, v in work.items()
            }
            work = {k: v for k, v in work.items() if v}
            if not work:
                return
        t0 = time.monotonic()
        try:
            session = await self._open_session(resolved, policy, setup)
        except LaunchError as exc:
            # Exit code 2 when the user asked for this engine by name; otherwise the
            # run goes on with the engines that did start, and says so.
            explicit = self._explicit(resolved.engine)
            self._fail(ErrorKind.LAUNCH if explicit else ErrorKind.BROWSER_FAILED, str(exc))
            self._lose(work, resolved.engine, policy, f"browser did not start: {exc}")
            return
        self.timings[f"launch:{resolved.engine.value}"] += time.monotonic() - t0
        if not any(b.engine is session.info.engine for b in self.browsers):
            self.browsers.append(session.info)
        note = getattr(session, "note", "")
        if note and note not in self.session_notes:
            self.session_notes.append(note)
        info = session.info
        self._emit(BrowserStarted(info.engine.value, info.version, info.source, policy.value))
        holder = [session]
        # Probes the cookie profile cannot change are not run twice: an origin the
        # engine refused to load under the default profile is refused again.
        if policy is CookiePolicy.PERMISSIVE:
            work = self._carry_refusals(work, resolved.engine, policy)
        specs = [s for group in work.values() for s in group]
        try:
            if self._grouping(specs):
                await self._run_grouped(specs, holder, resolved, policy, setup)
            else:
                await self._probe_specs(specs, holder, resolved, policy, setup)
        finally:
            restores = getattr(holder[0], "jar_restores", 0)
            if restores:
                self.session_notes.append(
                    f"{resolved.engine.value} ({policy.value}): a target changed the "
                    f"victim's cookies in the shared context; the jar was put back "
                    f"{restores} time(s), after the origin that saw it. Probes of other "
                    "origins in flight at that moment ran with the changed jar (the wire "
                    "recorded what they sent); --isolate-origins gives each origin its own."
                )
            await holder[0].close()

    def _grouping(self, specs: Sequence[ProbeSpec]) -> bool:
        """Group endpoints that answer alike, unless told not to or resuming."""
        return not self.config.exhaustive and not self._done and usable(specs)

    async def _run_grouped(
        self,
        specs: list[ProbeSpec],
        holder: list[EngineSession],
        resolved: ResolvedEngine,
        policy: CookiePolicy,
        setup: SessionSetup,
    ) -> None:
        """Endpoints that answer alike: one in full, the others a witness set."""
        engine = resolved.engine
        summary = await run_grouped(
            specs,
            probe=lambda part: self._probe_specs(part, holder, resolved, policy, setup),
            observed=lambda: self._observed(engine, policy),
            record=self._record,
            probe_id=lambda s: probe_id(s, engine, policy),
            evidence=self.evidence,
            stopped=lambda: self._stopped_at is not None or self.partial,
            replay=self._replay_answers,
        )
        if summary is not None:
            self.session_notes.append(grouping_note(engine, policy, summary))

    async def _replay_answers(self, specs: list[ProbeSpec]) -> dict[str, Evidence | None]:
        """What the server answers ``specs`` sent from Python, by spec id (grouping's
        check of the probes members would repeat).

        Each distinct request goes once a run: Python sends the same request for every
        engine and profile, so they share one answer (:func:`compared`, what grouping
        compares, to keep it small).
        """
        by_key: dict[str, list[ProbeSpec]] = defaultdict(list)
        for spec in specs:
            by_key[ev_key(spec)].append(spec)
        keys = list(by_key)

        async def fetch(spec: ProbeSpec) -> Evidence | None:
            if not self.config.wire:
                ev: Evidence | None = await self._evidence(spec)  # the replay under way
                return None if ev is None else compared(ev)
            if self._replayer is None:
                return None
            with contextlib.suppress(Exception):
                return compared(await self._replayer.evidence_for(spec))
            return None

        async def one(key: str) -> Evidence | None:
            future = self._replays.get(key)
            if future is None:
                future = self._replays[key] = asyncio.ensure_future(fetch(by_key[key][0]))
            # Another engine may be waiting for it too: a cancelled waiter leaves it be.
            return await asyncio.shield(future)

        answers = await asyncio.gather(*(one(k) for k in keys))
        return {s.id: ev for k, ev in zip(keys, answers, strict=True) for s in by_key[k]}

    def _observed(self, engine: Engine, policy: CookiePolicy) -> dict[str, Observation]:
        """This engine and profile's observations so far, by probe id."""
        tag = (engine, policy)
        return {o.id: o for o in self.observations if (o.engine, o.cookie_policy) == tag}

    async def _probe_specs(
        self,
        specs: list[ProbeSpec],
        holder: list[EngineSession],
        resolved: ResolvedEngine,
        policy: CookiePolicy,
        setup: SessionSetup,
    ) -> None:
        """Run ``specs`` in the browser ``holder`` holds, a few origins at once."""
        by_origin: dict[str, list[ProbeSpec]] = defaultdict(list)
        for spec in specs:
            by_origin[spec.variant.key].append(spec)
        origins = [g for group in by_origin.values() for g in context_groups(group)]
        queue: list[tuple[int | None, list[ProbeSpec]]] = (
            [(None, g) for g in origins]
            if self.config.isolate_origins
            else [(slot, g) for slot, g in context_slots(origins, wire=self.config.wire)]
        )
        # A few origins at once hide page-load latency (and, with --isolate-origins,
        # context creation).
        await asyncio.gather(
            *(self._drain(queue, holder, resolved, policy, setup) for _ in range(self._parallelism))
        )

    async def _drain(
        self,
        queue: list[tuple[int | None, list[ProbeSpec]]],
        holder: list[EngineSession],
        resolved: ResolvedEngine,
        policy: CookiePolicy,
        setup: SessionSetup,
    ) -> None:
        """Take origins off the shared queue until it is empty.

        A shared-context page (``slot`` set) is already there for the next origin.
        With ``--isolate-origins``, while one origin probes the next fresh context is
        already being created (``open_origin`` gives a blank page, so it suits
        whichever origin comes next); that hides context latency, which matters most
        with remote browsers.
        """
        ready: tuple[EngineSession, asyncio.Future[OriginPage]] | None = None
        try:
            while queue:
                slot, specs = queue.pop(0)
                before = holder[0]
                opened: asyncio.Future[OriginPage] | None = None
                if ready is not None and ready[0] is before:
                    opened = ready[1]
                elif ready is not None:
                    _discard(ready[1])  # made by a browser that has since been replaced
                ready = None
                if queue and queue[0][0] is None:
                    ready = (before, asyncio.ensure_future(before.open_origin()))
                if not await self._drain_one(
                    queue, holder, resolved, policy, setup, specs, opened, slot
                ):
                    return
        finally:
            if ready is not None:
                _discard(ready[1])

    async def _drain_one(
        self,
        queue: list[tuple[int | None, list[ProbeSpec]]],
        holder: list[EngineSession],
        resolved: ResolvedEngine,
        policy: CookiePolicy,
        setup: SessionSetup,
        specs: list[ProbeSpec],
        opened: asyncio.Future[OriginPage] | None,
        slot: int | None,
    ) -> bool:
        """Run one origin; False when the browser is gone for good."""
        before = holder[0]
        try:
            after = await self._run_origin(before, resolved, policy, setup, specs, opened, slot)
        except LaunchError as exc:
            # The browser could not be restarted: what is left for it is lost.
            self._fail(ErrorKind.BROWSER_LOST, str(exc))
            # This origin's probes were marked when the browser died.
            rest = list(queue)
            queue.clear()
            for _slot, group in rest:
                for spec in group:
                    self._record(
                        lost(
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
            self._carry(specs, engine, policy, why)
        return rest

    def _carry(
        self, specs: Sequence[ProbeSpec], engine: Engine, policy: CookiePolicy, why: str
    ) -> None:
        """Record an origin the engine refused under the default profile as refused here."""
        note = f"{why} (measured under the default cookie profile; cookies do not change it)"
        for spec in specs:
            self._record(unjudged(spec, engine, policy, Outcome.NOT_PRODUCIBLE, note, None))

    def _lose(
        self, groups: Mapping[str, list[ProbeSpec]], engine: Engine, policy: CookiePolicy, why: str
    ) -> None:
        for specs in groups.values():
            for spec in specs:
                self._record(lost(spec, engine, policy, why))

    async def _run_origin(
        self,
        session: EngineSession,
        resolved: ResolvedEngine,
        policy: CookiePolicy,
        setup: SessionSetup,
        specs: list[ProbeSpec],
        opened: asyncio.Future[OriginPage] | None = None,
        slot: int | None = None,
    ) -> EngineSession:
        variant = specs[0].variant
        engine = resolved.engine
        t0 = time.monotonic()
        page: OriginPage | None = None
        refused = await self._after_leader(engine, policy, variant.key)
        # Waiting for the default profile to measure this origin is not context time.
        if (waited := time.monotonic() - t0) > 0.01:
            self.timings[f"waiting:{engine.value}"] += waited
        if refused is not None:
            self._carry(specs, engine, policy, refused)
            return session
        t0 = time.monotonic()
        wire = self._harness.wire if self._harness is not None and self.config.wire else None
        cookies_set = wire.cookies_set if wire is not None else -1
        try:
            page = await asyncio.wait_for(opened or session.open_origin(slot), 30)
            self.timings[f"context:{engine.value}"] += time.monotonic() - t0
            results = await self._probe_in_page(session, page, engine, policy, specs)
        except (TimeoutError, LaunchError, BrowserGone) as exc:
            # The page or the browser hung or died: this origin's probes are lost.
            why = f"lost: browser stopped answering ({first_line(exc, named=True)})"
            for spec in specs:
                self._record(lost(spec, engine, policy, why))
            alive = getattr(session, "alive", None)
            if page is not None and alive is not None and alive():
                # Only the page broke: it is closed below and the next origin gets a
                # new one; the browser and its other pages go on.
                self._emit(
                    RunWarning(f"{engine.value}: replacing a page after {type(exc).__name__}")
                )
                return session
            self._emit(RunWarning(f"{engine.value}: restarting browser after {type(exc).__name__}"))
            with contextlib.suppress(Exception):
                await session.close()
            session = await self._open_session(resolved, policy, setup)
            return session
        except Exception as exc:  # ProbeError, or a fault of ours: never ends the run
            why = f"probe failed: {first_line(exc)}"
            for spec in specs:
                self._record(lost(spec, engine, policy, why))
            return session
        finally:
            if policy is CookiePolicy.DEFAULT:
                self._origin_measured[(engine, variant.key)].set()
            if page is not None:
                # Without the wire nobody saw whether a target set a cookie: reset.
                still = wire is not None and wire.cookies_set == cookies_set
                await page.close(reset_jar=not still)
        counts: dict[str, int] = defaultdict(int)
        for obs in results:
            counts[obs.outcome.value] += 1
        summary = ", ".join(f"{n} {k}" for k, n in sorted(counts.items()))
        self._emit(
            OriginProbed(
                len(self.observations),
                self._probes_total,
                engine.value,
                policy.value,
                variant.key,
                summary,
                time.monotonic() - t0,
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
            asked = self._wire.proxy_saw(session, variant)
            invalid = exc.invalid or (variant.via is Via.PAGE and asked is False)
            outcome = Outcome.NOT_PRODUCIBLE if invalid else Outcome.ERROR
            why = (
                f"{engine.value} refuses to load a page on this origin: {exc}"
                if invalid
                else f"probe page did not load: {exc}"
            )
            if invalid:
                self._refused[(engine, variant.key)] = why
            return [self._record(unjudged(s, engine, policy, outcome, why, None)) for s in specs]
        self.timings[f"page-load:{engine.value}"] += time.monotonic() - t0
        expected = (variant.origin if variant.via is Via.PAGE else OPAQUE_HOST).serialize()
        if origin != expected:
            outcome, why = origin_mismatch(expected, origin)
            if outcome is Outcome.NOT_PRODUCIBLE:
                self._refused[(engine, variant.key)] = why
            return [self._record(unjudged(s, engine, policy, outcome, why, origin)) for s in specs]
        loaded = await page.evaluate("() => typeof __corsproof", None, self.config.timeout + 5)
        if loaded != "object":
            # An engine error page can sit at the requested URL: the origin matches but
            # our page never ran. If the engine never even asked the proxy for the host,
            # it refused the origin; otherwise the page failed to load.
            asked = self._wire.proxy_saw(session, variant) if variant.via is Via.PAGE else True
            if asked is False:
                outcome = Outcome.NOT_PRODUCIBLE
                why = f"{engine.value} refuses to load a page on this origin (it never connected)"
                self._refused[(engine, variant.key)] = why
            else:
                outcome, why = Outcome.ERROR, "the probe page did not run in the browser"
            return [self._record(unjudged(s, engine, policy, outcome, why, origin)) for s in specs]
        out: list[Observation] = []
        t1 = time.monotonic()
        frame = variant.via.value if variant.via in (Via.SANDBOX_SRCDOC, Via.DATA_IFRAME) else None
        clock = session.user_agent_tag  # pages of one browser share its clock
        witness_key = (user_agent_tag(engine, policy), variant.origin.serialize())
        expected_page = "null" if variant.via in (Via.SANDBOX_SRCDOC, Via.DATA_IFRAME) else expected
        for chunk in self._pacer.chunks(specs):
            ids = [probe_id(s, engine, policy) for s in chunk]
            batch = [
                {**js_spec(s, timeout_ms, pid, wire=self.config.wire), "slots": slots_of(s)}
                for s, pid in zip(chunk, ids, strict=True)
            ]
            retry = [
                target_url(s, f"{pid}.2", wire=self.config.wire)
                for s, pid in zip(chunk, ids, strict=True)
            ]
            seq = self._harness.wire.seq if self._harness is not None else 0
            async with self._witness_locks[witness_key]:
                mark = self._lab_log.read() if self._lab_log is not None else 0
                ran = await self._pacer.run_chunk(page, frame, batch, clock, retry)
                lab_cookies = (
                    self._lab_log.cookies_since(witness_key, mark)
                    if self._lab_log is not None
                    else None
                )
            records = await self._wire.settled(ids)
            stray = self._wire.stray(seq, session.user_agent_tag)
            if isinstance(ran, str):
                why = f"opaque-origin frame did not run: {ran}"
                out += [
                    self._record(unjudged(s, engine, policy, Outcome.NOT_PRODUCIBLE, why, None))
                    for s in chunk
                ]
                continue
            reasons, net_errors, cookie_reasons = await engine_says(page, chunk, ran)
            for spec, pid, raw in zip(chunk, ids, ran, strict=False):
                if raw.get("page_origin") != expected_page:
                    why = f"page had origin {raw.get('page_origin')!r}, not {expected_page!r}"
                    out.append(
                        self._record(
                            unjudged(
                                spec, engine, policy, Outcome.ERROR, why, raw.get("page_origin")
                            )
                        )
                    )
                    continue
                attempt = int(raw.get("attempt") or 1)
                seen = [r for r in records.get(pid, []) if r.attempt == attempt]
                obs = await self._judge.judge(
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
                if self._lab_log is not None and lab_cookies is not None and self.config.wire:
                    first = self._lab_log.check(obs, spec, lab_cookies)
                    if first is not None:
                        self._emit(
                            RunWarning(
                                f"the wire and the lab's log disagree on whether {obs.id} sent "
                                f"the cookie (wire: {first['wire']}, lab: {first['lab_log']})"
                            )
                        )
                out.append(self._record(obs))
        self.timings[f"probing:{engine.value}"] += time.monotonic() - t1
        return out

    def _record(self, obs: Observation) -> Observation:
        if self._stopped_at is not None and obs.outcome is Outcome.ERROR:
            return obs  # cut short by the shutdown: not a result
        self.observations.append(obs)
        self._emit(ObservationMade(obs))
        return obs

    def result(
        self,
        plan: Plan | None = None,
        *,
        partial: bool = False,
        failure: ToolError | None = None,
    ) -> RunResult:
        """What the run measured so far: complete, or ``partial`` after an interruption.

        ``failure`` is the tool error that ended the run early, if one did; the
        result is then partial.
        """
        from harness.serve.pages import render_probe_page

        partial = partial or self.partial or failure is not None
        errors = (*self.errors[: self._stopped_at], *((failure,) if failure else ()))
        return RunResult(
            run_id=self.config.run_id,
            started=self.started,
            finished=None if partial else _now(),
            targets=plan.targets if plan else self.config.targets,
            browsers=tuple(self.browsers),
            observations=tuple(self.observations),
            evidence=tuple(self.evidence.values()),
            partial=partial,
            errors=errors,
            notes=(*(plan.notes if plan else ()), *self.session_notes, *self._engine_notes()),
            config=self.config.summary(),
            env=self.config.env,
            legit_origins=tuple(o.serialize() for o in self.config.legit_origins),
            planned_probes=self._probes_total,
            timings=dict(self.timings),
            witness=self._witness_summary(self.observations),
            policy=self.config.policy,
            pages={
                "attacker page (https://corsproof-attacker.test)": render_probe_page(
                    "https://corsproof-attacker.test", role="attacker", klass="unrelated"
                ),
            },
        )

    def _witness_summary(self, observations: Sequence[Observation]) -> dict[str, Any]:
        """How the run's cookie and data verdicts were established, for the report."""
        measured = [o for o in observations if o.equivalent_to is None]
        reached = sum(1 for o in measured if o.cookie_sent is not None)
        out: dict[str, Any] = {
            "wire": self.config.wire,
            "probes": len(observations),
            "repeated_from_equivalent": len(observations) - len(measured),
            "reached_target": reached,
            "cookie_unknown": sum(
                1
                for o in observations
                if o.credentials is Credentials.INCLUDE and o.cookie_sent is None
            ),
        }
        if self._harness is not None:
            out["unattributed_exchanges"] = self._harness.wire.unattributed
            out["dropped_exchanges"] = self._harness.wire.dropped
        if self._lab_log is not None and self.config.wire:
            out["lab_log"] = self._lab_log.summary()
        return out


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


def _now() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="seconds")


def default_run_id() -> str:
    """A sortable, filesystem-safe id for a run."""
    return dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%SZ")
