"""corsproof for one pytest session: its event loop, the lab, every run and the report.

:class:`CorsproofHarness` is what the session-scoped ``corsproof_harness`` fixture
holds. corsproof drives browsers with Playwright's async API, pytest-playwright with
its sync one, so corsproof's runs happen on an event loop of their own, in a thread
started once per session; a test waits for its run there. Runs are cached by what
they measure and done one at a time. The servers (CA, page server, proxy, lab) are
started once and kept for the session's runs (:class:`harness.serve.stack.SharedServers`),
restarted only when a run needs an origin they do not serve yet. With
``--corsproof-report DIR`` each run's HTML and JSON report goes to ``DIR/<run>/`` and
``DIR/index.html`` lists them all.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import html
import json
import re
import threading
from collections.abc import Callable, Coroutine, Hashable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from harness.config import RunConfig
from harness.model.results import RunReport, Severity

T = TypeVar("T")

STOP_GRACE = 30.0
"""Seconds an interrupted run gets to close its browsers and servers."""


@dataclass(frozen=True)
class RunRecord:
    """One corsproof run of the pytest session, as ``index.json`` lists it."""

    label: str
    """The test (node id) that asked for it."""
    engine: str
    targets: tuple[str, ...]
    findings: int
    worst: str | None
    accepted: int
    report_dir: Path | None


class CorsproofHarness:
    """The session's corsproof: one event loop thread, one lab, the runs and their reports.

    ``report_dir`` is ``--corsproof-report`` (None: no files written).
    """

    def __init__(self, report_dir: Path | None = None) -> None:
        self.report_dir = report_dir
        self.records: list[RunRecord] = []
        self._cache: dict[Hashable, Any] = {}
        self._lab: Any = None
        self._servers: Any = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self._names: set[str] = set()
        self.warned: set[str] = set()
        """Warning lines already given (each is said once per session)."""
        self.project: Any = None
        """The config file's project, with ``--corsproof`` (:mod:`harness.pytest_plugin.items`)."""
        self.pending: list[str] = []
        """What the last run said (warnings, tool failures), for the plugin to warn about."""

    @property
    def lab(self) -> Any:
        """The built-in lab (:class:`harness.serve.lab.Lab`), made once per session.

        Each lab run serves it (behind the run's proxy, as ``https://api.example.com``),
        so its request log and secrets stay the same all session.
        """
        if self._lab is None:
            from harness.serve.lab import Lab

            self._lab = Lab()
        return self._lab

    @property
    def servers(self) -> Any:
        """The session's servers (:class:`harness.serve.stack.SharedServers`), made once."""
        if self._servers is None:
            from harness.serve.stack import SharedServers

            self._servers = SharedServers()
        return self._servers

    def _start(self) -> asyncio.AbstractEventLoop:
        if self._loop is None:
            loop = asyncio.new_event_loop()
            thread = threading.Thread(target=loop.run_forever, name="corsproof", daemon=True)
            thread.start()
            self._loop, self._thread = loop, thread
        return self._loop

    def call(self, make: Callable[[], Coroutine[Any, Any, T]], stop: Callable[[], None]) -> T:
        """Run ``make()`` on corsproof's loop and wait; Ctrl-C calls ``stop`` and cancels it."""
        loop = self._start()
        future = asyncio.run_coroutine_threadsafe(make(), loop)
        try:
            return future.result()
        except KeyboardInterrupt:
            loop.call_soon_threadsafe(stop)
            future.cancel()
            # The interrupted run's own end (cancelled, timed out, failed) matters less
            # than the interrupt.
            with contextlib.suppress(Exception, concurrent.futures.CancelledError):
                future.result(STOP_GRACE)
            raise

    def cached(self, key: Hashable, make: Callable[[], T]) -> T:
        """``make()``'s result, made once per ``key`` (runs happen one at a time)."""
        with self._lock:
            if key not in self._cache:
                self._cache[key] = make()
            value: T = self._cache[key]
            return value

    def run(self, config: RunConfig, *, lab: bool, label: str) -> tuple[RunReport, Any]:
        """One corsproof run to its judged report; returns (report, redactor).

        Raises :class:`~harness.model.errors.CorsproofError` when corsproof itself
        failed before measuring anything (a named browser did not start, say).
        """
        from harness.judge.assemble import assemble
        from harness.model.redact import Redactor
        from harness.run.events import RunWarning, ToolFailure
        from harness.run.runner import Runner

        served = self.lab if lab else None
        redactor = Redactor(config.secrets)
        if served is not None:
            redactor.add(served.session_value)
        said: list[str] = []

        def sink(event: Any) -> None:
            if isinstance(event, (RunWarning, ToolFailure)):
                said.append(redactor.text(event.message))

        holder: list[Any] = []

        async def go() -> RunReport:
            runner = Runner(config, sink=sink, lab=served, redactor=redactor, servers=self.servers)
            holder.append(runner)
            try:
                return assemble(await runner.run())
            finally:
                await runner.aclose()

        def stop() -> None:
            if holder:
                holder[0].stop()

        report = self.call(go, stop)
        self.pending = said
        self._record(report, config, label, redactor)
        return report, redactor

    def run_dir(self, label: str, engine: str) -> Path | None:
        """Where the next run's report goes (a new folder per run), or None."""
        if self.report_dir is None:
            return None
        named = f"[{engine}" in label or f"-{engine}]" in label
        raw = label if named else f"{label}-{engine}"
        base = re.sub(r"[^A-Za-z0-9._-]+", "-", raw).strip("-.")[:120] or "run"
        name, n = base, 1
        while name in self._names:
            n += 1
            name = f"{base}-{n}"
        self._names.add(name)
        return self.report_dir / name

    def _record(self, report: RunReport, config: RunConfig, label: str, redactor: Any) -> None:
        folder = None
        if self.report_dir is not None:
            from harness.report.document import document
            from harness.report.writers import write_reports

            folder = self.report_dir / config.run_id
            data = document(report, redactor.text)
            write_reports(data, folder, ["json", "html"], fail_on=config.fail_on.value)
        open_ = [f for f in report.findings if f.accepted is None]
        worst = max((f.severity for f in open_), key=lambda s: s.rank, default=None)
        self.records.append(
            RunRecord(
                label=label,
                engine=",".join(c.engine.value for c in config.engines),
                targets=report.targets,
                findings=len(open_),
                worst=worst.value if isinstance(worst, Severity) else None,
                accepted=len(report.findings) - len(open_),
                report_dir=folder,
            )
        )

    def write_index(self) -> Path | None:
        """``index.json`` and ``index.html`` in the report folder: every run of the session."""
        if self.report_dir is None or not self.records:
            return None
        self.report_dir.mkdir(parents=True, exist_ok=True)
        # How often the session's servers started: once, unless a run needed new origins.
        starts = self._servers.starts if self._servers is not None else 0
        rows: list[dict[str, Any]] = [
            {
                "test": r.label,
                "engine": r.engine,
                "targets": list(r.targets),
                "findings": r.findings,
                "worst": r.worst,
                "accepted": r.accepted,
                "report": str(r.report_dir.relative_to(self.report_dir) / "report.html")
                if r.report_dir
                else None,
            }
            for r in self.records
        ]
        (self.report_dir / "index.json").write_text(
            json.dumps({"tool": "corsproof", "servers_started": starts, "runs": rows}, indent=2),
            "utf-8",
        )
        cells = "".join(
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>".format(
                html.escape(r["test"]),
                html.escape(r["engine"]),
                "<br>".join(html.escape(t) for t in r["targets"]),
                r["findings"] if not r["worst"] else f"{r['findings']} (worst {r['worst']})",
                r["accepted"],
                f'<a href="{html.escape(r["report"])}">report</a>' if r["report"] else "",
            )
            for r in rows
        )
        page = (
            "<!doctype html><meta charset=utf-8><title>corsproof: pytest run</title>"
            "<style>body{font:14px system-ui;margin:2em}td,th{padding:4px 8px;"
            "border-bottom:1px solid #ddd;text-align:left;vertical-align:top}</style>"
            "<h1>corsproof in this pytest run</h1><table><tr><th>test</th><th>engine</th>"
            "<th>targets</th><th>open findings</th><th>accepted</th><th></th></tr>"
            f"{cells}</table>"
        )
        index = self.report_dir / "index.html"
        index.write_text(page, "utf-8")
        return index

    def close(self) -> None:
        """Stop the session's servers and the loop thread (each run closed its browsers)."""
        if self._servers is not None:
            self._servers.close()
        loop, thread = self._loop, self._thread
        self._loop = self._thread = None
        if loop is None or thread is None:
            return
        loop.call_soon_threadsafe(loop.stop)
        thread.join(10)
        if not thread.is_alive():
            loop.close()
