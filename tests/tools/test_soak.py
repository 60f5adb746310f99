"""The soak's comparison of runs: what counts as a difference (no browser needed)."""

from __future__ import annotations

from dataclasses import replace

from builders import observation

from harness.model.results import Engine, Finding, Outcome, Severity
from harness.tools.soak import Tally

BASE = observation(
    target="https://api.example.com/allowlist/private",
    outcome=Outcome.BLOCKED,
    cookie_sent=True,
)
OTHER = replace(BASE, id="p2", api="xhr")
FINDING = Finding(
    rule="origin-reflected",
    severity=Severity.CRITICAL,
    title="t",
    target=BASE.target,
    origins=("null",),
    engines=(Engine.CHROMIUM,),
    probes=("p1",),
)


def test_identical_runs_are_clean() -> None:
    tally = Tally()
    for run in range(3):
        # Ids are per run: the comparison must not depend on them.
        tally.add([replace(BASE, id=f"r{run}"), OTHER], [FINDING], complete=True)
    assert tally.clean()
    assert tally.differing() == {}


def test_cookie_witness_is_part_of_the_verdict() -> None:
    tally = Tally()
    tally.add([BASE, OTHER], [FINDING], complete=True)
    tally.add([replace(BASE, cookie_sent=False), OTHER], [FINDING], complete=True)
    assert not tally.clean()
    (key,) = tally.differing()
    assert tally.verdicts[key] == {
        "blocked cookie=True victim=None",
        "blocked cookie=False victim=None",
    }
    assert [line.split(" ")[:3] for line in tally.details[key]] == [
        ["run", "1:", "blocked"],
        ["run", "2:", "blocked"],
    ]
    # Printed once, after the run that showed it.
    assert tally.new_differences() == [key]
    assert tally.new_differences() == []


def test_a_probe_missing_from_a_run_is_a_difference() -> None:
    tally = Tally()
    tally.add([BASE, OTHER], [FINDING], complete=True)
    tally.add([BASE], [FINDING], complete=True)
    (key,) = tally.differing()
    assert tally.verdicts[key] == {"blocked cookie=True victim=None", "missing"}
    assert key[-1] == "xhr"
    # ...also when it first appears in a later run.
    late = Tally()
    late.add([BASE], [FINDING], complete=True)
    late.add([BASE, OTHER], [FINDING], complete=True)
    assert len(late.differing()) == 1


def test_incomplete_runs_and_unstable_findings_fail_the_soak() -> None:
    partial = Tally()
    partial.add([BASE], [FINDING], complete=True)
    partial.add([BASE], [FINDING], complete=False)
    assert partial.differing() == {} and not partial.clean()

    findings = Tally()
    findings.add([BASE], [FINDING], complete=True)
    findings.add([BASE], [], complete=True)
    assert not findings.findings_identical() and not findings.clean()
    assert findings.unstable_findings() == [("origin-reflected", BASE.target, "critical")]


def test_no_runs_is_not_a_difference() -> None:
    assert Tally().findings_identical() and Tally().unstable_findings() == []
