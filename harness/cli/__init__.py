"""The command line: ``python -m harness verify`` and ``python -m harness lab``.

Argument parsing lives here (not in the noxfile) so that it is tested. Every
failure of the tool itself ends in one line on stderr and exit code 2; findings
at or above ``--fail-on`` give exit code 1; Ctrl-C gives 130 after the partial
report is written.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import signal
import sys
import tempfile
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, NoReturn, TextIO
from urllib.parse import urlsplit

from harness import __version__
from harness.cli.handlers import Handlers, ProbesJsonl, TerminalProgress
from harness.config import (
    RunConfig,
    combine_remotes,
    load_storage_state,
    parse_bind,
    parse_browser_source,
    parse_connect_to,
    parse_cookie_policy,
    parse_engines,
    parse_origin,
    parse_remote,
    parse_sarif_category,
    parse_sarif_location,
    parse_target,
)
from harness.judge.assemble import assemble
from harness.model.errors import (
    EXIT_CLEAN,
    EXIT_FINDINGS,
    EXIT_INTERRUPTED,
    EXIT_TOOL_ERROR,
    ConfigError,
    CorsproofError,
)
from harness.model.results import Origin, RunReport, Severity
from harness.report.writers import parse_formats, write_reports

DESCRIPTION = """\
corsproof asks real browsers what page JavaScript on each origin can read from your API.

It serves generated pages on legitimate and attacker origins (all on loopback, through
a local proxy), loads them in Chromium, Firefox and WebKit, calls the target with fetch
and XMLHttpRequest (simple, preflighted, with and without credentials) and reports what
the browser really let the page read, next to what a header-only scanner would conclude.

With no --target it runs against the built-in lab API, whose policies cover every
misconfiguration class."""

EPILOG = """\
exit codes:
  0    no finding at or above --fail-on
  1    findings at or above --fail-on
  2    corsproof itself failed (bad input, a named browser did not start, target
       unreachable, or no target answered any probe); with --fail-on-error also
       when probes ended without a verdict, a target answered none, an engine did
       not run or --budget ran out (2 then wins over 1; findings are still reported)
  130  interrupted; the partial report is still written

examples:
  python -m harness verify
  python -m harness verify --target https://api.example.org/me \\
      --allow-origin https://app.example.org --cookie 'session=...; SameSite=Lax'
  python -m harness lab --port 8443"""


STOP_GRACE = 30.0
"""Seconds an interrupted run gets to close browsers and servers before it is abandoned."""


class _Parser(argparse.ArgumentParser):
    """argparse that reports bad input as a ConfigError instead of exiting."""

    def error(self, message: str) -> NoReturn:
        raise ConfigError(message)


def build_parser() -> argparse.ArgumentParser:
    """The full command-line grammar."""
    parser = _Parser(
        prog="corsproof",
        description=DESCRIPTION,
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"corsproof {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)

    v = sub.add_parser(
        "verify",
        help="probe targets in real browsers and write the report",
        description=DESCRIPTION,
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    t = v.add_argument_group("what to test")
    t.add_argument(
        "--target",
        action="append",
        default=[],
        metavar="URL",
        help="API endpoint to verify (repeatable). Default: every policy of the built-in lab.",
    )
    t.add_argument(
        "--allow-origin",
        action="append",
        default=[],
        metavar="ORIGIN",
        help="a legitimate frontend origin that must keep working (repeatable)",
    )
    t.add_argument(
        "--origin",
        action="append",
        default=[],
        metavar="ORIGIN",
        help="an extra attacker origin to try (repeatable)",
    )
    t.add_argument(
        "--disable-class",
        action="append",
        default=[],
        metavar="CLASS",
        help="skip an origin class, e.g. special-char (repeatable)",
    )
    t.add_argument(
        "--env",
        metavar="NAME",
        help="the environment: with a config file, one of its [env.NAME] tables (its origins "
        "are the legitimate ones); dev relaxes findings about trusted localhost origins "
        "(default: the file's default environment, else prod)",
    )
    t.add_argument(
        "--openapi",
        metavar="FILE|URL",
        help="an OpenAPI 3.0 or 3.1 document (JSON or YAML): every operation becomes a "
        "target; without --unsafe a state-changing one is sent as GET with the same headers "
        "(its preflight checks the headers, not the method)",
    )
    t.add_argument(
        "--base-url",
        metavar="URL",
        help="where the --openapi document's paths live (default: its servers[0])",
    )
    t.add_argument(
        "--path-param",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="a value for an OpenAPI path parameter the document gives no example for (repeatable)",
    )
    t.add_argument(
        "--har",
        action="append",
        default=[],
        metavar="FILE",
        help="a HAR recorded while using the real frontend (Playwright record_har_path, or "
        "DevTools 'Save all as HAR'): every fetch or XHR it made to a target becomes a "
        "probe shape; its cookies and tokens are never copied (repeatable)",
    )
    t.add_argument(
        "--lab",
        action="store_true",
        help="serve the built-in lab; --target and --openapi URLs on https://api.example.com "
        "are its endpoints (default without any target: every lab policy)",
    )
    c = v.add_argument_group("the config file")
    c.add_argument(
        "--config",
        metavar="FILE",
        help="the config file (corsproof.toml, or a pyproject.toml with [tool.corsproof]); "
        "default: the first found from the working folder upward. Flags override it",
    )
    c.add_argument(
        "--no-config",
        action="store_true",
        help="ignore any config file",
    )
    t.add_argument("--shard", metavar="I/N", help="run only part I of N of the probe plan")
    t.add_argument(
        "--connect-to",
        action="append",
        default=[],
        metavar="HOST:PORT:ADDR:PORT",
        help="reach HOST:PORT at ADDR:PORT instead (as curl's --connect-to): browsers keep "
        "the target's name, origin and cookies (repeatable)",
    )
    t.add_argument(
        "--per-class",
        type=int,
        metavar="N",
        help="try at most N origins per attacker class (a quick run; default: all)",
    )

    s = v.add_argument_group("the victim's session (never written to reports or logs)")
    s.add_argument(
        "--cookie",
        action="append",
        default=[],
        metavar="'NAME=VALUE[; attrs]'",
        help="session cookie set first-party on the target (repeatable); attributes "
        "SameSite, Secure, Domain, Path, HttpOnly as the app sets them",
    )
    s.add_argument(
        "--header",
        action="append",
        default=[],
        metavar="'NAME: VALUE'",
        help="credential header such as a bearer token (repeatable). Sent the way a token "
        "frontend sends it, on its own probe shape; never counted as exploitable, because "
        "no browser attaches it by itself",
    )
    s.add_argument(
        "--cookie-env",
        action="append",
        default=[],
        metavar="NAME",
        help="like --cookie, from environment variable NAME (repeatable), so the value "
        "is not in argv; CORSPROOF_COOKIE is read too when set (one cookie per line)",
    )
    s.add_argument(
        "--header-env",
        action="append",
        default=[],
        metavar="NAME",
        help="like --header, from environment variable NAME (repeatable); "
        "CORSPROOF_HEADER is read too when set (one header per line)",
    )
    s.add_argument(
        "--secrets-file",
        metavar="FILE",
        help="lines 'cookie: name=value; attrs' and 'header: Name: value' (# comments); "
        "refused when other users may read it (chmod 600)",
    )
    s.add_argument(
        "--login-url",
        action="append",
        default=[],
        metavar="URL",
        help="visited first-party in each browser before probing, so the app sets its own "
        "cookies with their real attributes (repeatable, visited in order)",
    )
    s.add_argument(
        "--storage-state",
        metavar="FILE",
        help="Playwright storage-state JSON with the session cookies",
    )
    s.add_argument(
        "--cookie-policy",
        default="both",
        metavar="default|permissive|both",
        help="default = each engine as shipped; permissive = third-party cookies "
        "allowed everywhere (default: both)",
    )

    b = v.add_argument_group("browsers and safety")
    b.add_argument(
        "--browser",
        metavar="ENGINES",
        help="comma list of chromium, firefox, webkit, optionally =PATH "
        "(default: every engine found)",
    )
    b.add_argument(
        "--browser-source",
        default="auto",
        metavar="auto|system|playwright",
        help="where engines come from: system builds (/usr/bin, Debian packages), "
        "Playwright's own (python -m playwright install --with-deps ENGINE), or auto: "
        "a usable system build, else Playwright's; the report says which and why "
        "(default: auto)",
    )
    b.add_argument(
        "--remote",
        action="append",
        default=[],
        metavar="ENGINE=URL",
        help="run an engine on another machine (repeatable): chromium=ws://HOST:PORT/ or "
        "firefox=ws://HOST:PORT/ for `playwright run-server --unsafe`, webkit=http://HOST:PORT "
        "for a WebDriver endpoint; ?executable=PATH names the browser there. "
        "The browser must reach --bind",
    )
    b.add_argument(
        "--insecure",
        action="store_true",
        help="accept the target's self-signed or invalid TLS certificate",
    )
    b.add_argument(
        "--unsafe",
        action="store_true",
        help="allow state-changing methods (POST, PUT, PATCH, DELETE) against the target",
    )
    b.add_argument(
        "--no-wire-witness",
        dest="wire",
        action="store_false",
        help="tunnel target traffic untouched instead of relaying and recording it; then "
        "whether the session cookie went, and whose data came back, stay unknown "
        "(except against the lab, whose log still tells). For measuring the witness's cost",
    )
    b.add_argument(
        "--isolate-origins",
        action="store_true",
        help="give every origin a fresh browser context, as a cross-check of the default "
        "(one context per engine and cookie profile, pages navigating from origin to "
        "origin); slower, and the verdicts must be the same",
    )
    b.add_argument(
        "--exhaustive",
        action="store_true",
        help="run the whole catalogue against every endpoint; by default endpoints whose "
        "server answers alike are grouped, one runs in full and the others run a witness "
        "set of origins in the browsers (any disagreement runs that endpoint in full)",
    )
    b.add_argument(
        "--timeout",
        type=float,
        default=10.0,
        metavar="SECONDS",
        help="per-probe timeout (default: 10)",
    )
    b.add_argument(
        "--budget",
        type=float,
        default=1800.0,
        metavar="SECONDS",
        help="time budget for the whole run; when it runs out, what was measured is "
        "written as a partial report (default: 1800; the full lab in three engines "
        "takes about 10 minutes on two cores)",
    )
    b.add_argument(
        "--rate",
        type=float,
        default=50.0,
        metavar="REQ/S",
        help="maximum requests per second to the target, shared by the browsers' probes "
        "(a preflighted one counts twice) and the evidence replay "
        "(default: 50; the built-in lab is unlimited)",
    )
    b.add_argument(
        "--concurrency",
        type=int,
        default=6,
        metavar="N",
        help="requests in flight per page (default: 6)",
    )
    b.add_argument(
        "--bind",
        default="127.0.0.1",
        metavar="ADDR",
        help="address the proxy listens on (default: 127.0.0.1); remote browsers need one "
        "they can reach, e.g. 0.0.0.0 or ::. Exposes the proxy, which serves only corsproof's "
        "pages and forwards only to the targets; the page servers stay on loopback",
    )

    o = v.add_argument_group("output")
    o.add_argument(
        "--out",
        default="reports",
        metavar="DIR",
        help="output folder; each run writes DIR/<run-id>/ (default: reports)",
    )
    o.add_argument("--run-id", metavar="ID", help="name of the run folder (default: UTC timestamp)")
    o.add_argument(
        "--format",
        default="html,json",
        metavar="LIST",
        help="comma list of html, json, junit, sarif, md (default: html,json)",
    )
    o.add_argument(
        "--fail-on",
        default="high",
        metavar="SEVERITY",
        help="exit 1 on findings at or above: critical, high, medium, low, info (default: high)",
    )
    o.add_argument(
        "--sarif-category",
        metavar="CATEGORY",
        help="code scanning category of report.sarif (automationDetails.id = "
        "CATEGORY/<run-id>); give each CI job that uploads its own SARIF its own "
        "(default: corsproof, plus the engines and shard of a partial run)",
    )
    o.add_argument(
        "--sarif-location",
        metavar="FILE",
        help="repository-relative file every SARIF result points at, e.g. your CORS "
        "configuration (default: a placeholder .corsproof/<host>/<path>.cors per target, "
        "written next to the report)",
    )
    o.add_argument(
        "--fail-on-error",
        action="store_true",
        help="exit 2 when the verdict has caveats that are errors: probes without a "
        "verdict, engines that did not run, a budget cut-off (for CI; default: they are "
        "reported, and only findings and tool failures set the exit code)",
    )
    o.add_argument("--quiet", action="store_true", help="no progress output")
    o.add_argument(
        "--json",
        action="store_true",
        help="print one JSON summary object on stdout (verdict, caveats, counts, findings, "
        "report paths, exit code); the human summary and progress go to stderr",
    )
    o.add_argument(
        "--baseline",
        metavar="REPORT",
        help="an earlier report.json (or run folder): report what changed since",
    )
    o.add_argument(
        "--fail-on-new",
        action="store_true",
        help="with --baseline: exit 1 only for findings that are new since it",
    )
    o.add_argument(
        "--resume",
        action="store_true",
        help="finish the interrupted run --run-id in --out, keeping its probes",
    )

    m = sub.add_parser(
        "merge",
        help="join report.json files (matrix jobs, shards) into one report",
        description="Join several runs' report.json into one report; findings "
        "are judged again from the joined probes.",
    )
    m.add_argument(
        "reports",
        nargs="+",
        metavar="REPORT",
        help="report.json files or run folders (a folder of runs is expanded)",
    )
    m.add_argument(
        "--out",
        default="reports",
        metavar="DIR",
        help="output folder; the merged run is written to DIR/<run-id>/ (default: reports)",
    )
    m.add_argument(
        "--run-id",
        default="merged",
        metavar="ID",
        help="name of the merged run's folder (default: merged)",
    )
    m.add_argument(
        "--format",
        default="html,json",
        metavar="LIST",
        help="comma list of html, json, junit, sarif, md (default: html,json)",
    )
    m.add_argument(
        "--fail-on",
        default="high",
        metavar="SEVERITY",
        help="exit 1 on findings at or above: critical, high, medium, low, info (default: high)",
    )
    m.add_argument(
        "--baseline",
        metavar="REPORT",
        help="an earlier report.json (or run folder): report what changed since",
    )
    m.add_argument(
        "--fail-on-error",
        action="store_true",
        help="exit 2 when the merged verdict has caveats that are errors (as verify)",
    )
    m.add_argument(
        "--sarif-category",
        metavar="CATEGORY",
        help="code scanning category of report.sarif (default: corsproof)",
    )
    m.add_argument(
        "--sarif-location",
        metavar="FILE",
        help="repository-relative file every SARIF result points at (default: placeholders)",
    )
    m.add_argument(
        "--json",
        action="store_true",
        help="print one JSON summary object on stdout; the human summary goes to stderr",
    )

    from harness.cli.init import add_parser as add_init

    add_init(sub)
    lab = sub.add_parser(
        "lab",
        help="serve the built-in lab API on loopback",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        description="Serve the lab API (every CORS policy, by path prefix) on loopback.",
    )
    lab.add_argument(
        "--port",
        type=int,
        default=8443,
        metavar="PORT",
        help="TCP port on 127.0.0.1, 0 for any free one (default: 8443)",
    )
    lab.add_argument("--http", action="store_true", help="plain http instead of https")
    return parser


def config_from_args(ns: argparse.Namespace, environ: Mapping[str, str] | None = None) -> RunConfig:
    """Validate the verify arguments into a RunConfig; raises ConfigError.

    ``environ`` (default ``os.environ``) is where --cookie-env, --header-env and
    CORSPROOF_COOKIE / CORSPROOF_HEADER are read.
    """
    from harness.credentials import load_session

    targets = tuple(dict.fromkeys(parse_target(t) for t in ns.target))
    lab = bool(getattr(ns, "lab", False)) or not targets
    if lab and targets:
        from harness.serve.lab import LAB_HOST

        for t in targets:
            if urlsplit(t).hostname != LAB_HOST:
                raise ConfigError(f"--lab: {t} is not a lab endpoint (https://{LAB_HOST}/...)")
    policy = getattr(ns, "policy", None)
    env = ns.env or (policy.env if policy is not None else "prod")
    if policy is None and env not in ("prod", "dev"):
        raise ConfigError(f"--env {env}: without a config file, the environment is prod or dev")
    legit = tuple(dict.fromkeys(parse_origin(o, "--allow-origin") for o in ns.allow_origin))
    if lab and not legit:
        from harness.serve.lab import LEGIT_ORIGIN

        legit = (Origin.parse(LEGIT_ORIGIN),)
    extra = tuple(parse_origin(o, "--origin") for o in ns.origin)
    session = load_session(
        ns.cookie,
        ns.header,
        cookie_env=ns.cookie_env,
        header_env=ns.header_env,
        secrets_file=ns.secrets_file,
        environ=environ,
    )
    cookies, headers = session.cookies, session.headers
    secrets: list[str] = session.secrets()
    storage = None
    if ns.storage_state:
        storage, state_secrets = load_storage_state(ns.storage_state)
        secrets.extend(state_secrets)
    for url in ns.login_url:
        parse_target(url, "--login-url")
    try:
        formats = parse_formats(ns.format)
    except ValueError as exc:
        raise ConfigError(f"--format: {exc}") from None
    try:
        fail_on = Severity.parse(ns.fail_on)
    except ValueError as exc:
        raise ConfigError(f"--fail-on: {exc}") from None
    for flag, value, low in (
        ("--timeout", ns.timeout, 0.1),
        ("--budget", ns.budget, 1.0),
        ("--rate", ns.rate, 0.1),
    ):
        if not value >= low or value != value or value == float("inf"):
            raise ConfigError(f"{flag} must be a number >= {low}")
    if not 1 <= ns.concurrency <= 64:
        raise ConfigError("--concurrency must be between 1 and 64")
    shard = None
    if ns.shard:
        from scenarios.plan import parse_shard

        try:
            shard = parse_shard(ns.shard)
        except ValueError as exc:
            raise ConfigError(f"--shard: {exc}") from None
    if ns.disable_class:
        from scenarios.catalogue import CLASSES

        for name in ns.disable_class:
            if name not in CLASSES or name == "legitimate":
                valid = ", ".join(c for c in CLASSES if c != "legitimate")
                raise ConfigError(f"--disable-class: unknown class {name!r} (choose from {valid})")
    if ns.per_class is not None and ns.per_class < 1:
        raise ConfigError("--per-class must be at least 1")
    remotes = [parse_remote(r) for r in ns.remote]
    engines = combine_remotes(
        parse_engines(ns.browser), remotes, browser_given=ns.browser is not None
    )
    for remote in remotes:
        secrets.extend(remote.secrets())
    run_id = ns.run_id or _default_run_id()
    if any(c in run_id for c in "/\\\x00") or run_id in (".", ".."):
        raise ConfigError("--run-id must be a plain folder name")
    return RunConfig(
        targets=targets,
        lab=lab,
        legit_origins=legit,
        extra_origins=extra,
        disabled_classes=tuple(ns.disable_class),
        engines=engines,
        browser_source=parse_browser_source(ns.browser_source),
        cookie_policies=parse_cookie_policy(ns.cookie_policy),
        cookies=cookies,
        headers=headers,
        login_urls=tuple(ns.login_url),
        session_sources=session.sources,
        storage_state=storage,
        insecure=ns.insecure,
        unsafe=ns.unsafe or lab,
        out_dir=Path(ns.out),
        formats=formats,
        fail_on=fail_on,
        env=env,
        policy=policy,
        extra_shapes=tuple(getattr(ns, "extra_shapes", ())),
        timeout=ns.timeout,
        budget=ns.budget,
        rate=ns.rate,
        concurrency=ns.concurrency,
        run_id=run_id,
        shard=shard,
        per_class=ns.per_class,
        bind=parse_bind(ns.bind),
        connect_to=tuple(parse_connect_to(c) for c in ns.connect_to),
        wire=ns.wire,
        isolate_origins=ns.isolate_origins,
        exhaustive=ns.exhaustive,
        quiet=ns.quiet,
        sarif_category=parse_sarif_category(ns.sarif_category),
        sarif_location=parse_sarif_location(ns.sarif_location),
        secrets=tuple(secrets),
    )


def _default_run_id() -> str:
    from harness.run.runner import default_run_id

    return default_run_id()


def prepare_out_dir(config: RunConfig) -> Path:
    """Create and check the run folder before any browser starts."""
    run_dir = config.out_dir / config.run_id
    try:
        run_dir.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=run_dir, prefix=".write-test-"):
            pass
    except OSError as exc:
        raise ConfigError(f"--out: cannot write to {run_dir}: {exc.strerror or exc}") from None
    return run_dir


def cmd_verify(ns: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    """Run verify; returns the exit code."""
    from harness.run.runner import Runner

    config = config_from_args(ns)
    for warning in config.warnings():
        err.write(f"corsproof: warning: {warning}\n")
    if not config.quiet:
        for source in config.session_sources:
            err.write(f"corsproof: using {source}\n")
    baseline = None
    if ns.baseline:
        from harness.report.merge import load

        baseline = load(Path(ns.baseline))
    elif ns.fail_on_new:
        raise ConfigError("--fail-on-new needs --baseline")
    if ns.resume and not ns.run_id:
        # Without it the run id is a new timestamp: a folder with nothing to resume.
        raise ConfigError("--resume needs --run-id, the folder name of the interrupted run")
    run_dir = prepare_out_dir(config)
    resumed: list[dict[str, Any]] = []
    if ns.resume:
        resumed = _read_jsonl(run_dir / "probes.jsonl")
        if not resumed:
            raise ConfigError(f"--resume: no probes.jsonl with results in {run_dir}")
    lab = None
    if config.lab:
        from harness.serve.lab import Lab

        lab = Lab()
    from harness.model.redact import Redactor

    redactor = Redactor(config.secrets)
    if lab is not None:
        redactor.add(lab.session_value)
    progress = TerminalProgress(err, redactor.text, config.quiet)
    handlers = Handlers([progress, ProbesJsonl(run_dir / "probes.jsonl", append=bool(resumed))])
    runner = Runner(config, sink=handlers, lab=lab, redactor=redactor)
    if resumed:
        runner.resume_from(resumed)
        err.write(f"resuming {run_dir}: {len(runner.observations)} probes already measured\n")
    code = EXIT_CLEAN
    report: RunReport | None = None
    tool_error: CorsproofError | None = None
    interrupted = False
    handlers.start()
    try:
        report = _run_async(runner)
    except KeyboardInterrupt:
        interrupted = True
    except CorsproofError as exc:
        tool_error = exc
    finally:
        handlers.finish()
    if report is None:
        from harness.model.results import ToolError

        failure = None
        if tool_error is not None:
            failure = ToolError(tool_error.kind, redactor.text(str(tool_error)))
        report = assemble(runner.result(partial=True, failure=failure))
    from harness.report.document import document

    # The probe and exchange rows are views over the run's own records, not a redacted
    # copy of each (docs/performance.md, Memory): peak RSS follows what is shown.
    data = document(report, redactor.text)
    drift_data = None
    if baseline is not None:
        from harness.report.merge import drift

        drift_data = drift(baseline, data)
        data["baseline"] = drift_data
    paths: list[Path] = []
    # JSON first: whatever else fails, the measured results are on disk.
    for fmt in sorted(config.formats, key=lambda f: f != "json"):
        try:
            paths += write_reports(data, run_dir, [fmt], fail_on=config.fail_on.value)
        except Exception as exc:  # a reporter bug must not lose the other formats
            tool_error = tool_error or CorsproofError(f"writing the {fmt} report failed: {exc}")
    from harness.cli.terminal import json_summary, print_summary, write_json

    failures: list[str] = []
    if interrupted:
        err.write(f"interrupted: partial report written to {run_dir}\n")
        code = EXIT_INTERRUPTED
    elif tool_error is not None:
        progress.error(str(tool_error))
        failures = [redactor.text(str(tool_error))]
        if runner.observations:
            err.write(f"partial results written to {run_dir}\n")
        code = EXIT_TOOL_ERROR
    else:
        # An accepted risk (the config file's accept, in force on the run's day) stays in
        # the report but does not fail the run.
        worst: list[Any] = [
            f
            for f in report.findings
            if f.severity.rank >= config.fail_on.rank and f.accepted is None
        ]
        if drift_data is not None and ns.fail_on_new:
            from harness.report.merge import new_at_or_above

            worst = list(new_at_or_above(drift_data, config.fail_on.rank))
        code, failures = exit_status(data, findings=bool(worst), fail_on_error=ns.fail_on_error)
        # With --json, stdout holds the JSON object alone.
        print_summary(data, paths, err if ns.json else out)
        # Progress.error prints each distinct failure once: the runner already printed
        # most of them as they happened, and an engine that fails under both cookie
        # profiles reports the same reason twice.
        for line in failures:
            progress.error(line)
        failures = [redactor.text(line) for line in dict.fromkeys(failures)]
    if ns.json:
        summary = json_summary(
            "verify", data, code, paths=paths, errors=failures, interrupted=interrupted
        )
        write_json(summary, out)
    return code


def exit_status(
    data: Mapping[str, Any], *, findings: bool, fail_on_error: bool
) -> tuple[int, list[str]]:
    """The exit code for a finished run's report dict, and the error lines that explain it.

    2 when a named engine or a target failed, or no target answered any of its
    probes (nothing was verified: a CI job must not go green on an API that is
    down); with ``fail_on_error`` also when any caveat is an error (probe errors, a
    silent target beside answering ones, engines that did not run, a budget
    cut-off). Otherwise 1 for findings, 0 for none.
    """
    from harness.judge.caveats import nothing_answered
    from harness.report.common import verdict

    v = verdict(data)
    lines = [
        str(e.get("message"))
        for e in data.get("errors") or []
        if str(e.get("kind")) in ("target", "launch")
    ]
    if nothing_answered(data):
        lines += [c.text for c in v.caveats if c.kind == "no-answer"]
    if lines:
        return EXIT_TOOL_ERROR, lines
    if fail_on_error and v.errors:
        kinds = ", ".join(c.kind for c in v.errors)
        return EXIT_TOOL_ERROR, [
            f"--fail-on-error: the verdict has caveats that are errors ({kinds})"
        ]
    return (EXIT_FINDINGS if findings else EXIT_CLEAN), []


def _read_jsonl(path: Path) -> list[dict[str, Any]]:
    """Probes streamed by an earlier run; a line cut short by a crash is skipped."""
    rows: list[dict[str, Any]] = []
    try:
        with path.open(encoding="utf-8") as fp:
            for line in fp:
                try:
                    rows.append(json.loads(line))
                except json.JSONDecodeError:
                    continue
    except FileNotFoundError:
        return []
    return rows


def _redact_dict(data: Any, redact: Any, seen: dict[str, str] | None = None) -> Any:
    # A large run repeats the same strings (targets, origins, reasons) hundreds of
    # thousands of times; each is redacted once.
    if seen is None:
        seen = {}
    if isinstance(data, dict):
        return {k: _redact_dict(v, redact, seen) for k, v in data.items()}
    if isinstance(data, list):
        return [_redact_dict(v, redact, seen) for v in data]
    if isinstance(data, str):
        done = seen.get(data)
        if done is None:
            done = seen[data] = redact(data)
        return done
    return data


def _run_async(runner: Any) -> RunReport:
    """Run the runner. Ctrl-C and SIGTERM cancel it cleanly so the partial report is written.

    The first signal cancels the run; cleanup gets :data:`STOP_GRACE` seconds. A second
    Ctrl-C exits at once (the streamed probes.jsonl is still on disk).
    """
    loop = asyncio.new_event_loop()
    main = loop.create_task(runner.run())
    signalled: list[int] = []

    def cancel(*_: Any) -> None:
        if signalled:
            os._exit(EXIT_INTERRUPTED)
        signalled.append(1)
        runner.stop()
        main.cancel()
        loop.call_later(STOP_GRACE, loop.stop)

    def quiet_after_cancel(loop: asyncio.AbstractEventLoop, context: dict[str, Any]) -> None:
        # Cancelling the run leaves futures that end in CancelledError with no one
        # left to read them; asyncio would print each with a traceback.
        if signalled or isinstance(context.get("exception"), asyncio.CancelledError):
            return
        loop.default_exception_handler(context)

    loop.set_exception_handler(quiet_after_cancel)
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
            loop.add_signal_handler(sig, cancel)
    try:
        return assemble(loop.run_until_complete(main))
    except KeyboardInterrupt:
        runner.stop()
        main.cancel()
        loop.call_later(STOP_GRACE, loop.stop)
        with contextlib.suppress(BaseException):
            loop.run_until_complete(main)
        raise
    except (asyncio.CancelledError, RuntimeError):
        if not signalled and not main.cancelled():
            raise
        raise KeyboardInterrupt from None
    finally:
        with contextlib.suppress(BaseException):
            loop.run_until_complete(asyncio.wait_for(runner.aclose(), 15))
        with contextlib.suppress(BaseException):
            loop.close()


def cmd_merge(ns: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    """Join runs into one report."""
    from harness.cli.terminal import json_summary, print_summary, write_json
    from harness.report.merge import drift, load, merge, paths_of

    try:
        formats = parse_formats(ns.format)
        fail_on = Severity.parse(ns.fail_on)
    except ValueError as exc:
        raise ConfigError(str(exc)) from None
    reports = [load(p) for p in paths_of(ns.reports)]
    if not reports:
        raise ConfigError("merge: no report.json found in the given paths")
    category = parse_sarif_category(ns.sarif_category)
    location = parse_sarif_location(ns.sarif_location)
    report = merge(reports, run_id=ns.run_id)
    data = report.to_dict()
    data["config"].update(sarif_category=category, sarif_location=location)
    if ns.baseline:
        data["baseline"] = drift(load(Path(ns.baseline)), data)
    run_dir = Path(ns.out) / ns.run_id
    try:
        run_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ConfigError(f"--out: cannot write to {run_dir}: {exc.strerror or exc}") from None
    paths = write_reports(data, run_dir, formats, fail_on=fail_on.value)
    worst = [f for f in report.findings if f.severity.rank >= fail_on.rank]
    code, failures = exit_status(data, findings=bool(worst), fail_on_error=ns.fail_on_error)
    print_summary(data, paths, err if ns.json else out)
    failures = list(dict.fromkeys(failures))
    for line in failures:
        err.write(f"corsproof: error: {line}\n")
    if ns.json:
        write_json(json_summary("merge", data, code, paths=paths, errors=failures), out)
    return code


def cmd_lab(ns: argparse.Namespace, out: TextIO) -> int:
    """Serve the lab until interrupted."""
    from harness.serve.ca import RunCA
    from harness.serve.lab import LAB_HOST, Lab
    from harness.serve.servers import BackgroundServer

    if not 0 <= ns.port <= 65535:
        raise ConfigError(f"--port {ns.port}: must be between 0 and 65535")
    lab = Lab()
    ca = None if ns.http else RunCA([LAB_HOST, "localhost"])
    server = BackgroundServer(
        lab.app,
        port=ns.port,
        ssl_certfile=str(ca.certfile) if ca else None,
        ssl_keyfile=str(ca.keyfile) if ca else None,
        name="lab",
    )
    try:
        server.start()
        out.write(
            f"lab listening on {server.url}; policies: {', '.join(lab.target_urls(server.url))}\n"
        )
        out.write(f"session cookie: visit {server.url}/login first-party to get it\n")
        out.flush()
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        return EXIT_INTERRUPTED
    finally:
        server.stop()
        if ca:
            ca.close()


def main(
    argv: Sequence[str] | None = None, *, out: TextIO | None = None, err: TextIO | None = None
) -> int:
    """Entry point of ``python -m harness`` and the ``corsproof`` script."""
    out = out or sys.stdout
    err = err or sys.stderr
    parser = build_parser()
    args = list(argv) if argv is not None else sys.argv[1:]
    try:
        ns = parser.parse_args(args)
        if ns.command == "verify":
            from harness.cli.project import apply_inputs

            apply_inputs(ns, parser, args[args.index("verify") + 1 :], Path.cwd())
            return cmd_verify(ns, out, err)
        if ns.command == "init":
            from harness.cli.init import cmd_init

            return cmd_init(ns, out, Path.cwd())
        if ns.command == "lab":
            return cmd_lab(ns, out)
        if ns.command == "merge":
            return cmd_merge(ns, out, err)
        parser.print_help(out)
        return EXIT_TOOL_ERROR
    except CorsproofError as exc:
        err.write(f"corsproof: error: {exc}\n")
        if "--json" in args and args[:1] in (["verify"], ["merge"]):
            from harness.cli.terminal import json_summary, write_json

            write_json(json_summary(args[0], None, EXIT_TOOL_ERROR, errors=[str(exc)]), out)
        return EXIT_TOOL_ERROR
    except KeyboardInterrupt:
        err.write("interrupted\n")
        return EXIT_INTERRUPTED
    except BrokenPipeError:
        with contextlib.suppress(Exception):
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_TOOL_ERROR
