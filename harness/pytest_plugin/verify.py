"""The ``cors`` fixture's object: :class:`Cors`, whose ``verify`` runs corsproof on a target.

The probing browser is the test's pytest-playwright browser: its engine is
``browser_name``, and its launch options are ``browser_type_launch_args`` (with
``--headed`` and ``--browser-channel``) and ``connect_options``, merged into
corsproof's own by :mod:`harness.pytest_plugin.launch`. Everything else is a verify
run as the CLI makes it (:func:`harness.cli.config_from_args`), without a config file.
"""

from __future__ import annotations

import glob
import json
import warnings
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any
from urllib.parse import urlsplit

from harness.config import ENDPOINT_KEYS, EngineChoice, RemoteEndpoint, RunConfig
from harness.model.results import Engine, Shape
from harness.pytest_plugin.launch import SuiteLaunch
from harness.pytest_plugin.result import CorsResult
from harness.pytest_plugin.session import CorsproofHarness

ShapeLike = str | Mapping[str, Any]
"""A frontend call to probe as a shape of its own: ``"PUT X-CSRF-Token"`` (the method,
then header names, optionally a ``type/subtype`` body media type) or a mapping with
``method``, ``headers`` (names) and ``content_type``."""


class CorsproofWarning(UserWarning):
    """Something about a corsproof run a test suite should know (a launch conflict, say)."""


class CorsproofRunError(AssertionError):
    """corsproof could not verify the target at all (a browser did not start, say)."""


@dataclass(frozen=True)
class Settings:
    """The ini settings every run of the session starts from."""

    per_class: int | None = None
    budget: float = 1800.0
    timeout: float = 10.0
    browser_source: str = "auto"
    cookie_policy: str = "both"
    bind: str = "127.0.0.1"
    """Where corsproof's proxy listens: a remote browser (``connect_options``) must reach it."""


@dataclass(frozen=True)
class Suite:
    """The test's browser, as pytest-playwright's fixtures give it."""

    engine: str
    """``browser_name``."""
    launch: Mapping[str, Any] = field(default_factory=dict)
    """``browser_type_launch_args`` (``--headed``, ``--browser-channel`` included)."""
    connect: Mapping[str, Any] | None = None
    """``connect_options``: a Playwright browser server to run the browser on."""

    def key(self) -> str:
        """What tells two suites' browsers apart, for the run cache."""
        return json.dumps([self.engine, self.launch, self.connect], sort_keys=True, default=str)

    def choice(self, adjust: SuiteLaunch) -> EngineChoice:
        """The engine as corsproof takes it, with the suite's options merged at launch."""
        engine = Engine(self.engine)
        given = self.connect or {}
        endpoint = next((given[k] for k in ENDPOINT_KEYS if given.get(k)), None)
        if endpoint:
            # The server's own default browser, unless the launch options name one.
            remote = RemoteEndpoint(engine, str(endpoint), executable="")
            return EngineChoice(engine, None, explicit=True, remote=remote, adjust=adjust)
        path = self.launch.get("executable_path")
        return EngineChoice(engine, str(path) if path else None, explicit=True, adjust=adjust)


def _listed(value: str | Iterable[str] | None) -> list[str]:
    if value is None:
        return []
    return [value] if isinstance(value, str) else list(value)


def call_shapes_for(
    target: str, shapes: Sequence[ShapeLike], *, unsafe: bool
) -> tuple[tuple[str, Shape], ...]:
    """``shapes=`` as probe shapes of ``target`` (:func:`scenarios.shapes.call_shapes`)."""
    from harness.inputs.calls import Call
    from harness.model.errors import ConfigError
    from scenarios.shapes import call_shapes

    calls = []
    for item in shapes:
        if isinstance(item, str):
            words = item.split()
            if not words:
                raise ConfigError("shapes: an empty shape")
            media = [w for w in words[1:] if "/" in w]
            calls.append(
                Call(
                    words[0],
                    target,
                    tuple(w for w in words[1:] if "/" not in w),
                    media[0] if media else None,
                )
            )
        else:
            calls.append(
                Call(
                    str(item.get("method", "GET")),
                    target,
                    tuple(item.get("headers") or ()),
                    item.get("content_type"),
                )
            )
    return call_shapes(calls, unsafe=unsafe)


def verify_config(
    target: str,
    choice: EngineChoice,
    settings: Settings,
    *,
    run_id: str,
    label: str,
    allow: Sequence[str] | None = None,
    cookie: Sequence[str] = (),
    header: Sequence[str] = (),
    shapes: Sequence[ShapeLike] = (),
    origins: Sequence[str] = (),
    per_class: int | None = None,
    unsafe: bool = False,
    env: str | None = None,
    cookie_policy: str | None = None,
) -> tuple[RunConfig, bool]:
    """The RunConfig of one ``cors.verify`` (and whether it is a lab run); ConfigError
    on bad input, as the CLI's flags would give it."""
    from harness.cli import build_parser, config_from_args
    from harness.model.policy import Expectation, Policy
    from harness.serve.lab import LAB_HOST

    lab = urlsplit(target).hostname == LAB_HOST
    argv = ["verify", "--no-config", "--target", target, "--quiet", "--run-id", run_id]
    argv += ["--format", "html,json", "--browser-source", settings.browser_source]
    argv += ["--cookie-policy", cookie_policy or settings.cookie_policy]
    argv += ["--budget", str(settings.budget), "--timeout", str(settings.timeout)]
    argv += ["--bind", settings.bind]
    argv += ["--lab"] if lab else []
    for flag, values in (
        ("--allow-origin", allow or ()),
        ("--cookie", cookie),
        ("--header", header),
        ("--origin", origins),
    ):
        for value in values:
            argv += [flag, value]
    quick = per_class if per_class is not None else settings.per_class
    argv += ["--per-class", str(quick)] if quick else []
    argv += ["--unsafe"] if unsafe else []
    argv += ["--env", env] if env else []
    ns = build_parser().parse_args(argv)
    ns.extra_shapes = call_shapes_for(target, shapes, unsafe=unsafe or lab)
    config = config_from_args(ns, environ={})
    policy = None
    if allow is not None:
        readers = tuple(o.serialize() for o in config.legit_origins)
        policy = Policy(
            source=label,
            env=config.env,
            expectations=(Expectation(glob.escape(target), readable_by=readers),),
        )
    return replace(config, engines=(choice,), policy=policy), lab


class Cors:
    """The ``cors`` fixture: ``cors.verify(target, allow=[...])`` in the test's browser.

    ``defaults`` are the test's ``@pytest.mark.cors(...)`` keyword arguments, which
    ``verify`` takes unless given again.
    """

    def __init__(
        self,
        harness: CorsproofHarness,
        suite: Suite,
        settings: Settings,
        *,
        label: str,
        defaults: Mapping[str, Any] | None = None,
    ) -> None:
        self.harness = harness
        self.suite = suite
        self.settings = settings
        self.label = label
        self.defaults = dict(defaults or {})
        self.adjust = SuiteLaunch(suite.launch, suite.connect)

    @property
    def engine(self) -> str:
        """The engine this test runs in (pytest-playwright's ``browser_name``)."""
        return self.suite.engine

    def verify(
        self,
        target: str,
        *,
        allow: str | Sequence[str] | None = None,
        cookie: str | Sequence[str] | None = None,
        header: str | Sequence[str] | None = None,
        shapes: Sequence[ShapeLike] | None = None,
        origins: str | Sequence[str] | None = None,
        per_class: int | None = None,
        unsafe: bool | None = None,
        env: str | None = None,
        cookie_policy: str | None = None,
        cache: bool = True,
    ) -> CorsResult:
        """Probe ``target`` from every origin of the catalogue in this test's browser.

        ``allow``: the legitimate frontend origins, which must keep working (the lab's
        default: ``https://app.example.com``); given, they are also the declared
        readers of the target. ``cookie``: the victim's session cookies,
        ``'name=value; SameSite=None; Secure'``; ``header``: credential headers,
        ``'Authorization: Bearer ...'`` (both redacted everywhere). ``shapes``: the
        frontend's own calls. ``origins``: extra attacker origins. ``per_class``: at
        most N origins per attacker class (a quick run). The same verify in the same
        browser is run once per session unless ``cache`` is False.
        """
        __tracebackhide__ = True
        from harness.model.errors import ConfigError, CorsproofError

        d = self.defaults

        def pick(given: Any, key: str) -> Any:
            return given if given is not None else d.get(key)

        allowed = pick(allow, "allow")
        args: dict[str, Any] = {
            "allow": None if allowed is None else _listed(allowed),
            "cookie": _listed(pick(cookie, "cookie")),
            "header": _listed(pick(header, "header")),
            "shapes": list(pick(shapes, "shapes") or ()),
            "origins": _listed(pick(origins, "origins")),
            "per_class": pick(per_class, "per_class"),
            "unsafe": bool(pick(unsafe, "unsafe")),
            "env": pick(env, "env"),
            "cookie_policy": pick(cookie_policy, "cookie_policy"),
        }
        unknown = set(d) - set(args)
        if unknown:
            raise ConfigError(
                f"@pytest.mark.cors: unknown argument(s) {', '.join(sorted(unknown))}"
            )
        key = (self.suite.key(), target, json.dumps(args, sort_keys=True, default=str))

        def run() -> CorsResult:
            run_dir = self.harness.run_dir(self.label, self.engine)
            run_id = run_dir.name if run_dir is not None else "pytest"
            config, lab = verify_config(
                target,
                self.suite.choice(self.adjust),
                self.settings,
                run_id=run_id,
                label=self.label,
                **args,
            )
            report, redactor = self._run(config, lab)
            return CorsResult(
                report,
                target,
                self.engine,
                allow=tuple(o.serialize() for o in config.legit_origins),
                report_dir=run_dir,
                redact=redactor.text,
            )

        try:
            if not cache:
                return run()
            return self.harness.cached(key, run)
        except CorsproofError as exc:
            raise CorsproofRunError(
                f"corsproof could not verify {target} in {self.engine}: {exc}"
            ) from None

    def _run(self, config: RunConfig, lab: bool) -> tuple[Any, Any]:
        """One run, then its warnings (launch conflicts first) as pytest warnings."""
        try:
            report, redactor = self.harness.run(config, lab=lab, label=self.label)
        finally:
            lines = [
                *(f"{self.engine}: {c}" for c in self.adjust.conflicts()),
                *config.warnings(),
                *self.harness.pending,
            ]
            self.harness.pending = []
            warn_once(self.harness, lines)
        return report, redactor


def warn_once(harness: CorsproofHarness, lines: Iterable[str], stacklevel: int = 4) -> None:
    """Each line as a :class:`CorsproofWarning`, once per session."""
    for line in lines:
        if line not in harness.warned:
            harness.warned.add(line)
            warnings.warn(CorsproofWarning(f"corsproof: {line}"), stacklevel=stacklevel)


def marker_defaults(markers: Iterable[Any]) -> dict[str, Any]:
    """``@pytest.mark.cors(...)`` keyword arguments, the closest marker winning."""
    out: dict[str, Any] = {}
    for mark in markers:  # closest first
        for key, value in mark.kwargs.items():
            out.setdefault(key, value)
    return out
