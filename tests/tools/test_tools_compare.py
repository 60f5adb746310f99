"""The before/after comparison used to show that a refactoring kept every verdict."""

from __future__ import annotations

import copy
import json
from pathlib import Path

from conftest_report import realistic

from harness.tools.compare import differences, main


def test_identical_runs_agree(tmp_path: Path) -> None:
    report = realistic()
    (tmp_path / "a.json").write_text(json.dumps(report))
    (tmp_path / "b.json").write_text(json.dumps(report))
    assert differences(report, copy.deepcopy(report)) == []
    assert main([str(tmp_path / "a.json"), str(tmp_path / "b.json")]) == 0


def test_every_kind_of_difference_is_reported(tmp_path: Path) -> None:
    before = realistic()
    after = copy.deepcopy(before)
    after["probes"][0]["cookie_sent"] = not after["probes"][0]["cookie_sent"]
    after["probes"][1]["outcome"] = "error"
    gone = after["probes"].pop()
    after["findings"][0]["severity"] = "info"
    diff = differences(before, after)
    assert any(line.startswith(f"probe {before['probes'][0]['id']}:") for line in diff)
    assert any(line.startswith(f"probe {before['probes'][1]['id']}:") for line in diff)
    assert f"probe {gone['id']}: only before" in diff
    assert sum(line.startswith("finding only") for line in diff) == 2
    (tmp_path / "a").mkdir()
    (tmp_path / "a" / "report.json").write_text(json.dumps(before))
    (tmp_path / "b.json").write_text(json.dumps(after))
    assert main([str(tmp_path / "a"), str(tmp_path / "b.json")]) == 1
    assert main([str(tmp_path / "missing"), str(tmp_path / "b.json")]) == 2
