"""The isolation cross-check's comparison and its exit codes (no browser needed)."""

from __future__ import annotations

import copy
import io
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any, TextIO

import pytest
from builders import observation

from harness.model.errors import ConfigError
from harness.model.results import CookiePolicy, Engine, Outcome, observation_to_dict
from harness.tools import differential
from harness.tools.differential import (
    EngineCounts,
    check_args,
    compare_runs,
    verify_args,
)


def report(
    n: int = 4, *, engines: Sequence[Engine] = (Engine.CHROMIUM, Engine.FIREFOX)
) -> dict[str, Any]:
    """A report dict with ``n`` probes per engine, half readable with the cookie."""
    probes = []
    for engine in engines:
        for i in range(n):
            readable = i % 2 == 0
            probes.append(
                observation_to_dict(
                    observation(
                        id=f"p{i}-{engine.value[:2]}d",
                        engine=engine,
                        cookie_policy=CookiePolicy.DEFAULT,
                        target=f"https://api.example.com/policy{i}/private",
                        outcome=Outcome.READABLE if readable else Outcome.BLOCKED,
                        cookie_sent=readable,
                        elapsed_ms=10.0 + i,
                    )
                )
            )
    return {"schema_version": 1, "partial": False, "probes": probes, "findings": []}


def probe(data: dict[str, Any], pid: str) -> dict[str, Any]:
    [row] = [p for p in data["probes"] if p["id"] == pid]
    return row


def test_identical_runs_agree_and_are_counted_per_engine() -> None:
    a = report()
    b = copy.deepcopy(a)
    # What a shared context may change without changing the verdict: time, wording.
    probe(b, "p1-chd")["elapsed_ms"] = 999.0
    probe(b, "p1-chd")["block_reason"] = "another engine message"
    result = compare_runs(a, b)
    assert result.differences == () and result.not_comparable == ()
    assert result.per_engine == {
        "chromium": EngineCounts(compared=4, identical=4),
        "firefox": EngineCounts(compared=4, identical=4),
    }
    assert result.exit_code() == 0 and result.failures() == []
    assert result.lines()[0].startswith("differential: 8 probes in both runs, 8 compared, 0 differ")


@pytest.mark.parametrize(
    ("field", "value", "isolated"),
    [
        ("outcome", "blocked", ("blocked", True)),
        ("cookie_sent", False, ("readable", False)),
        # Unknown is not the same answer as "sent".
        ("cookie_sent", None, ("readable", None)),
    ],
)
def test_a_changed_outcome_or_cookie_witness_is_a_difference(
    field: str, value: object, isolated: tuple[object, ...]
) -> None:
    a = report()
    b = copy.deepcopy(a)
    probe(b, "p0-fid")[field] = value
    result = compare_runs(a, b)
    [diff] = result.differences
    assert diff.id == "p0-fid" and diff.engine == "firefox"
    assert diff.default == ("readable", True)
    assert diff.isolated == isolated
    assert result.per_engine["firefox"] == EngineCounts(compared=4, identical=3, differ=1)
    assert result.exit_code() == 1
    text = "\n".join(result.lines())
    # Every difference is listed with its id, both outcomes and both cookie_sent.
    assert "p0-fid  firefox  default: outcome=readable cookie_sent=True  |  isolated: " in text
    assert f"{field}={value}" in text.split("isolated: ", 1)[1]
    assert "FAILED: 1 probe(s) differ" in text


def test_a_probe_only_one_run_has_is_a_difference() -> None:
    a = report()
    b = copy.deepcopy(a)
    b["probes"] = [p for p in b["probes"] if p["id"] != "p3-chd"]
    extra = copy.deepcopy(probe(a, "p3-chd"))
    extra["id"] = "new-chd"
    b["probes"].append(extra)
    result = compare_runs(a, b)
    assert [(d.id, d.default, d.isolated) for d in result.differences] == [
        ("new-chd", None, ("blocked", False)),
        ("p3-chd", ("blocked", False), None),
    ]
    assert result.per_engine["chromium"] == EngineCounts(compared=3, identical=3, only_one_run=2)
    assert result.exit_code() == 1
    assert "isolated: missing" in "\n".join(result.lines())


def test_an_error_is_not_comparable_not_agreement() -> None:
    a = report(100, engines=(Engine.WEBKIT,))
    b = copy.deepcopy(a)
    probe(b, "p7-wed")["outcome"] = "error"
    probe(b, "p7-wed")["cookie_sent"] = None
    result = compare_runs(a, b)
    assert result.differences == ()
    [nc] = result.not_comparable
    assert (nc.id, nc.isolated) == ("p7-wed", ("error", None))
    assert result.per_engine["webkit"] == EngineCounts(compared=99, identical=99, not_comparable=1)
    assert result.in_both == 100 and result.compared == 99
    # One in a hundred is within the limit: printed, but the check passes.
    assert result.exit_code() == 0
    text = "\n".join(result.lines())
    assert "1 not comparable" in text and "p7-wed  webkit" in text
    # Two in a hundred are too much unknown: the check fails, and says why.
    probe(a, "p8-wed")["outcome"] = "error"
    result = compare_runs(a, b)
    assert result.differences == () and len(result.not_comparable) == 2
    assert result.exit_code() == 1
    assert result.failures() == [
        "2 of 100 probes are not comparable (outcome error in a run), more than 1%"
    ]


def test_an_error_against_a_missing_probe_is_a_difference() -> None:
    a = report()
    b = copy.deepcopy(a)
    probe(a, "p2-chd")["outcome"] = "error"
    b["probes"] = [p for p in b["probes"] if p["id"] != "p2-chd"]
    result = compare_runs(a, b)
    assert [d.id for d in result.differences] == ["p2-chd"] and result.not_comparable == ()


def test_a_probe_id_twice_in_one_report_fails_the_check() -> None:
    # Keyed by id, the second row would silently hide the first one's verdict.
    a = report()
    b = copy.deepcopy(a)
    twin = copy.deepcopy(probe(b, "p0-chd"))
    twin["outcome"] = "blocked"
    b["probes"].append(twin)
    result = compare_runs(a, b)
    assert result.duplicate_ids == ("p0-chd",) and result.exit_code() == 1
    assert "1 probe id(s) occur twice in one report: p0-chd" in result.failures()


def test_probes_that_repeat_another_endpoint_are_said() -> None:
    a = report()
    b = copy.deepcopy(a)
    probe(b, "p1-fid")["equivalent_to"] = "https://api.example.com/policy0/private"
    result = compare_runs(a, b)
    assert result.repeated == {"isolated": 1} and result.exit_code() == 0
    assert "isolated run: 1 probes repeat another endpoint's measurement" in "\n".join(
        result.lines()
    )


def test_no_probes_at_all_is_a_tool_error_and_partial_runs_are_said() -> None:
    empty = {"partial": True, "probes": []}
    result = compare_runs(empty, {"partial": False, "probes": []})
    assert result.exit_code() == 2
    assert "run cut short (partial report): default" in result.lines()
    assert "nothing was compared" in result.lines()[-1]


def test_the_tool_owns_isolation_and_the_run_folders() -> None:
    for bad in (["--isolate-origins"], ["--isolate"], ["--run-id", "x"], ["--resume"]):
        with pytest.raises(ConfigError, match="the differential sets"):
            check_args(bad)
    with pytest.raises(ConfigError):
        check_args(["--per-class", "two"])
    assert check_args(["--per-class", "2"]) is None
    assert check_args(["--out", "/tmp/x"]) == Path("/tmp/x")
    out = Path("/r")
    shared = verify_args(["--per-class", "2", "--format", "html"], out, "default")
    isolated = verify_args(["--per-class", "2", "--format", "html"], out, "isolated")
    # The same arguments both times; only --isolate-origins and the run folder differ.
    assert [a for a in isolated if a != "--isolate-origins"] == [
        "differential-isolated" if a == "differential-default" else a for a in shared
    ]
    assert "--isolate-origins" in isolated and "--isolate-origins" not in shared
    assert shared[-2:] == ["--format", "html,json"] and shared[shared.index("--run-id") + 1] == (
        "differential-default"
    )
    assert shared[shared.index("--budget") + 1] == "7200"
    assert "7200" not in verify_args(["--budget", "60"], out, "default")


class FakeVerify:
    """Stands in for ``harness verify``: writes the given report (or exits with a code)."""

    def __init__(self, reports: dict[str, dict[str, Any] | int]) -> None:
        self.reports = reports
        self.calls: list[list[str]] = []

    def __call__(self, argv: Sequence[str], *, out: TextIO, err: TextIO) -> int:
        self.calls.append(list(argv))
        mode = "isolated" if "--isolate-origins" in argv else "default"
        got = self.reports[mode]
        if isinstance(got, int):
            return got
        folder = Path(argv[argv.index("--out") + 1]) / argv[argv.index("--run-id") + 1]
        folder.mkdir(parents=True)
        (folder / "report.json").write_text(json.dumps(got))
        return 1


def run_main(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, reports: dict[str, dict[str, Any] | int]
) -> tuple[int, str, FakeVerify]:
    fake = FakeVerify(reports)
    monkeypatch.setattr(differential, "verify_main", fake)
    out, err = io.StringIO(), io.StringIO()
    code = differential.main(["--out", str(tmp_path), "--per-class", "2"], out=out, err=err)
    return code, out.getvalue(), fake


def test_main_runs_default_then_isolated_and_compares(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    a = report()
    code, text, fake = run_main(monkeypatch, tmp_path / "same", {"default": a, "isolated": a})
    assert code == 0 and "8 compared, 0 differ" in text
    assert ["--isolate-origins" in call for call in fake.calls] == [False, True]
    b = copy.deepcopy(a)
    probe(b, "p1-chd")["outcome"] = "readable"
    code, text, _ = run_main(monkeypatch, tmp_path / "differ", {"default": a, "isolated": b})
    assert code == 1 and "p1-chd  chromium  default: outcome=blocked" in text


@pytest.mark.parametrize(("failed", "expected", "calls"), [(2, 2, 1), (130, 130, 1)])
def test_a_run_that_fails_as_a_tool_stops_the_check(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, failed: int, expected: int, calls: int
) -> None:
    code, text, fake = run_main(monkeypatch, tmp_path, {"default": failed, "isolated": report()})
    assert code == expected and len(fake.calls) == calls and text == ""


def test_bad_arguments_are_a_tool_error(monkeypatch: pytest.MonkeyPatch) -> None:
    err = io.StringIO()
    assert differential.main(["--isolate-origins"], out=io.StringIO(), err=err) == 2
    assert err.getvalue().startswith("differential: error: the differential sets --isolate-origins")
