"""Ctrl-C and SIGTERM: the run stops, exits 130, and leaves a partial report that says so."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import needs_chromium

pytestmark = [pytest.mark.browser]
ROOT = Path(__file__).resolve().parent.parent


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
