"""Drift against a baseline, merging runs, and resuming an interrupted run."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest
from conftest import needs_chromium, only_classes

from harness.cli import build_parser, config_from_args, main
from harness.pipeline import run_sync
from harness.report.merge import drift, merge
from harness.serve.lab import Lab

pytestmark = [pytest.mark.browser]

QUICK = only_classes()
TARGETS = ["https://api.example.com/allowlist/private", "https://api.example.com/reflect/private"]


def quick_run(lab: Lab, out: Path, run_id: str) -> dict:  # type: ignore[type-arg]
    argv = [
        "verify",
        "--browser",
        "chromium",
        "--cookie-policy",
        "default",
        "--out",
        str(out),
        "--run-id",
        run_id,
        "--quiet",
        "--allow-origin",
        "https://app.example.com",
        *QUICK,
    ]
    for t in TARGETS:
        argv += ["--target", t]
    report = run_sync(config_from_args(build_parser().parse_args(argv)), lab=lab)
    data = report.to_dict()
    (out / run_id).mkdir(parents=True, exist_ok=True)
    (out / run_id / "report.json").write_text(json.dumps(data))
    return data


@needs_chromium
def test_drift_after_a_server_change(tmp_path: Path) -> None:
    lab = Lab()
    before = quick_run(lab, tmp_path, "before")
    assert not any(f["target"].endswith("/allowlist/private") for f in before["findings"])
    # The server changes between nightly runs: the allowlist now reflects any origin.
    lab.set_policy("allowlist", "reflect")
    after = quick_run(lab, tmp_path, "after")
    changes = drift(before, after)
    flipped = [
        c
        for c in changes["changes"]
        if c["target"].endswith("/allowlist/private")
        and c["origin"] == "https://corsproof-attacker.test"
    ]
    assert flipped and all((c["before"], c["after"]) == ("blocked", "readable") for c in flipped)
    assert {f["rule"] for f in changes["new_findings"]} == {"any-origin-read"}
    assert changes["resolved_findings"] == []
    # Nothing changed on the policy that did not change.
    assert not [c for c in changes["changes"] if c["target"].endswith("/reflect/private")]

    # The merged view of both runs, and the CLI's merge with a baseline.
    merged = merge([before, after])
    assert len(merged.probes) == len(before["probes"])  # same probe ids: first run wins
    out = io.StringIO()
    code = main(
        [
            "merge",
            str(tmp_path / "after"),
            "--out",
            str(tmp_path),
            "--run-id",
            "m",
            "--baseline",
            str(tmp_path / "before"),
            "--format",
            "json",
        ],
        out=out,
        err=io.StringIO(),
    )
    assert code == 1
    data = json.loads((tmp_path / "m" / "report.json").read_text())
    assert data["baseline"]["new_findings"][0]["rule"] == "any-origin-read"


@needs_chromium
def test_resume_finishes_an_interrupted_run(tmp_path: Path) -> None:
    argv = [
        "verify",
        "--browser",
        "chromium",
        "--cookie-policy",
        "default",
        "--out",
        str(tmp_path),
        "--run-id",
        "r",
        "--format",
        "json",
        "--quiet",
        *QUICK,
        "--target",
        TARGETS[1],
        "--allow-origin",
        "https://app.example.com",
        "--insecure",
    ]
    # A target that is not the lab: verify must reach it, so use the lab's CLI server.
    lab = Lab()
    full = quick_run(lab, tmp_path, "full")
    jsonl = tmp_path / "r" / "probes.jsonl"
    jsonl.parent.mkdir(parents=True)
    half = full["probes"][: len(full["probes"]) // 2]
    # A crash can leave a torn last line; resume skips it.
    jsonl.write_text("".join(json.dumps(p) + "\n" for p in half) + '{"id": "torn')
    ns = build_parser().parse_args([*argv, "--resume"])
    assert ns.resume
    from harness.cli import _read_jsonl
    from harness.run.runner import Runner

    runner = Runner(
        config_from_args(
            build_parser().parse_args(
                [
                    "verify",
                    "--browser",
                    "chromium",
                    "--cookie-policy",
                    "default",
                    "--out",
                    str(tmp_path),
                    "--run-id",
                    "r",
                    "--quiet",
                    *QUICK,
                    "--allow-origin",
                    "https://app.example.com",
                    *[x for t in TARGETS for x in ("--target", t)],
                ]
            )
        ),
        lab=lab,
    )
    runner.resume_from(_read_jsonl(jsonl))
    assert len(runner.observations) == len(half)
    import asyncio

    async def go() -> None:
        try:
            await runner.run()
        finally:
            await runner.aclose()

    before = len(lab.log())
    asyncio.run(go())
    ids = [o.id for o in runner.observations]
    assert len(ids) == len(set(ids)) == len(full["probes"])
    # Only the missing half went to the browser (plus the replay's evidence requests).
    browser_requests = [e for e in lab.log()[before:] if "corsproof (" in e.user_agent]
    full_browser = len(full["probes"])
    assert 0 < len(browser_requests) < full_browser


def test_resume_without_results_is_a_clear_error(tmp_path: Path) -> None:
    err = io.StringIO()
    code = main(
        ["verify", "--out", str(tmp_path), "--run-id", "none", "--resume"],
        out=io.StringIO(),
        err=err,
    )
    assert code == 2 and "--resume" in err.getvalue()
