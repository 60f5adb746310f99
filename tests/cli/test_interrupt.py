"""Ctrl-C and SIGTERM: the run stops, exits 130, and leaves a partial report that says so."""

from __future__ import annotations

import io
import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import needs_chromium

pytestmark = [pytest.mark.browser]
ROOT = Path(__file__).resolve().parents[2]


@needs_chromium
@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_interrupt_writes_a_partial_report(tmp_path: Path, sig: signal.Signals) -> None:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "harness",
            "verify",
            "--browser",
            "chromium",
            "--cookie-policy",
            "default",
            "--out",
            str(tmp_path),
            "--run-id",
            "cut",
            "--format",
            "json,html",
        ],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    jsonl = tmp_path / "cut" / "probes.jsonl"
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            if jsonl.exists() and jsonl.stat().st_size > 2000:
                break
            time.sleep(0.2)
        assert jsonl.exists(), "no probe was streamed"
        proc.send_signal(sig)
        _out, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 130, err
    assert "partial report" in err
    data = json.loads((tmp_path / "cut" / "report.json").read_text())
    assert data["partial"] is True
    assert data["probes"], "the probes measured before the interrupt are kept"
    html = (tmp_path / "cut" / "report.html").read_text()
    assert "PARTIAL" in html.upper()


@needs_chromium
def test_ctrl_c_in_a_terminal_stops_cleanly(tmp_path: Path) -> None:
    """Ctrl-C signals the terminal's whole process group, the browsers included.

    It used to kill Playwright's driver along with corsproof: the run recorded a
    browser that "failed to start" and asyncio printed a 35-line traceback before
    "interrupted". The run must stop by itself, with one line and a clean report.
    """
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "harness",
            "verify",
            "--browser",
            "chromium",
            "--cookie-policy",
            "default",
            "--per-class",
            "1",
            "--out",
            str(tmp_path),
            "--run-id",
            "cut",
            "--format",
            "json",
        ],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,  # its own process group, as a shell gives a foreground job
    )
    jsonl = tmp_path / "cut" / "probes.jsonl"
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            if jsonl.exists() and jsonl.stat().st_size > 2000:
                break
            time.sleep(0.2)
        assert jsonl.exists(), "no probe was streamed"
        os.killpg(proc.pid, signal.SIGINT)  # what the terminal does on Ctrl-C
        _out, err = proc.communicate(timeout=90)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    assert proc.returncode == 130, err
    assert "Traceback" not in err and "never retrieved" not in err, err
    assert "error:" not in err, err
    assert err.rstrip().splitlines()[-1].startswith("interrupted: partial report written to")
    data = json.loads((tmp_path / "cut" / "report.json").read_text())
    assert data["partial"] is True and data["errors"] == []
    errors = [(p["origin"], p["error"]) for p in data["probes"] if p["outcome"] == "error"]
    assert data["probes"] and not errors, errors[:3]


@needs_chromium
def test_resume_counts_the_whole_plan(tmp_path: Path) -> None:
    """Progress during --resume counts against the plan, not plan + kept probes."""
    from conftest import only_classes

    from harness.cli import main

    args = [
        "verify",
        "--browser",
        "chromium",
        "--cookie-policy",
        "default",
        "--per-class",
        "1",
        *only_classes(),
        "--out",
        str(tmp_path),
        "--run-id",
        "r",
        "--format",
        "json",
    ]
    err = io.StringIO()
    assert main([*args, "--quiet"], out=io.StringIO(), err=err) == 1, err.getvalue()
    jsonl = tmp_path / "r" / "probes.jsonl"
    rows = jsonl.read_text().splitlines()
    planned = len(rows)
    jsonl.write_text("\n".join(rows[:100]) + "\n")  # as if Ctrl-C came after 100 probes
    err = io.StringIO()
    assert main([*args, "--resume"], out=io.StringIO(), err=err) == 1, err.getvalue()
    text = err.getvalue()
    assert "100 probes already measured" in text, text
    totals = [tuple(map(int, m)) for m in re.findall(r"\] (\d+)/(\d+) probes", text)]
    assert totals, text
    assert {total for _, total in totals} == {planned}, text
    assert totals[-1] == (planned, planned), text
    data = json.loads((tmp_path / "r" / "report.json").read_text())
    assert len(data["probes"]) == planned
