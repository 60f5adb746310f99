"""A browser that dies mid-run is restarted; the probes it took with it are marked lost."""

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
ROOT = Path(__file__).resolve().parents[2]


def chromium_browser_pids(root: int) -> set[int]:
    """Main Chromium processes (not renderers or helpers) descending from ``root``."""
    parent: dict[int, int] = {}
    args: dict[int, list[bytes]] = {}
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            stat = (proc / "stat").read_text()
            args[int(proc.name)] = (proc / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        # The command name may hold spaces or parentheses; the ppid follows the last ')'.
        parent[int(proc.name)] = int(stat.rsplit(")", 1)[1].split()[1])

    def descends(pid: int) -> bool:
        for _ in range(64):
            if pid == root:
                return True
            if pid not in parent or pid <= 1:
                return False
            pid = parent[pid]
        return False

    return {
        pid
        for pid, argv in args.items()
        if any(b"corsproof-chromium-" in a for a in argv)
        and not any(a.startswith(b"--type=") for a in argv)
        and descends(pid)
    }


@needs_chromium
def test_killed_browser_is_restarted_and_lost_probes_marked(tmp_path: Path) -> None:
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
            "2",
            "--out",
            str(tmp_path),
            "--run-id",
            "crash",
            "--format",
            "json",
            "--quiet",
        ],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    jsonl = tmp_path / "crash" / "probes.jsonl"
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and not (jsonl.exists() and jsonl.stat().st_size > 5000):
            time.sleep(0.2)
        pids = chromium_browser_pids(proc.pid)
        assert pids, "this run's chromium is not running"
        for pid in pids:
            os.kill(pid, signal.SIGKILL)
        _out, err = proc.communicate(timeout=300)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode in (0, 1), err
    data = json.loads((tmp_path / "crash" / "report.json").read_text())
    lost = [p for p in data["probes"] if p["outcome"] == "error"]
    assert lost and all(
        "lost" in p["error"] or "crash" in p["error"] or "closed" in p["error"] for p in lost
    ), {p["error"] for p in lost}
    # The restarted browser measured the rest: most probes still got a verdict.
    judged = [p for p in data["probes"] if p["outcome"] in ("readable", "blocked")]
    assert len(judged) > len(lost)
    assert data["partial"] is False
