"""The run's event consumers, each on its own: terminal progress and probes.jsonl."""

from __future__ import annotations

import io
import json
from pathlib import Path

from builders import observation

from harness.cli.handlers import Handlers, ProbesJsonl, TerminalProgress
from harness.run.events import (
    ErrorKind,
    ObservationMade,
    OriginProbed,
    PlanReady,
    RunWarning,
    ToolFailure,
)


def _events() -> list[object]:
    return [
        PlanReady(4, 1, 2),
        ObservationMade(observation(id="p1")),
        OriginProbed(1, 4, "chromium", "default", "https://evil.test", "1 readable", 0.5),
        RunWarning("the target said s3cret"),
        ToolFailure(ErrorKind.TARGET, "target https://api.test is unreachable"),
        ToolFailure(ErrorKind.TARGET, "target https://api.test is unreachable"),
        ObservationMade(observation(id="p2")),
    ]


def test_probes_jsonl_holds_each_judged_probe_and_nothing_else(tmp_path: Path) -> None:
    path = tmp_path / "probes.jsonl"
    jsonl = ProbesJsonl(path)
    fanout = Handlers([jsonl])
    fanout.start()
    for e in _events():
        fanout(e)  # type: ignore[arg-type]
    fanout.finish()
    rows = [json.loads(line) for line in path.read_text("utf-8").splitlines()]
    assert [r["id"] for r in rows] == ["p1", "p2"] and jsonl.count == 2
    # --resume appends to the interrupted run's file.
    again = ProbesJsonl(path, append=True)
    again.start()
    again.handle(ObservationMade(observation(id="p3")))
    again.finish()
    assert len(path.read_text("utf-8").splitlines()) == 3


def test_terminal_progress_redacts_and_names_each_failure_once() -> None:
    out = io.StringIO()
    term = TerminalProgress(out, lambda s: s.replace("s3cret", "[REDACTED]"), quiet=False)
    term.start()
    for e in _events():
        term.handle(e)  # type: ignore[arg-type]
    term.finish()
    lines = out.getvalue().splitlines()
    assert any(line.endswith("] 4 probes: 1 target(s) x 2 origin(s)") for line in lines)
    assert any(
        line.endswith("] 1/4 probes [chromium/default] https://evil.test: 1 readable (0.5s)")
        for line in lines
    )
    assert any(line.endswith("warning: the target said [REDACTED]") for line in lines)
    assert lines.count("corsproof: error: target https://api.test is unreachable") == 1
    assert not any("p1" in line for line in lines)


def test_quiet_progress_keeps_only_warnings_and_failures() -> None:
    out = io.StringIO()
    term = TerminalProgress(out, str, quiet=True)
    for e in _events():
        term.handle(e)  # type: ignore[arg-type]
    lines = out.getvalue().splitlines()
    assert len(lines) == 2
    assert "warning:" in lines[0] and lines[1].startswith("corsproof: error:")
