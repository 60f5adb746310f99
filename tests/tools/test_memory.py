"""harness.tools.memory: the CLI's report path on a synthetic run, both ways, same files.

The measurement itself is run by hand (``python -m harness.tools.memory 10 100``); here
a one-endpoint run checks that the streamed report.json is the JSON text the whole dict
gave before, and that the document way writes the very same files.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from harness.cli import _redact_dict
from harness.judge.assemble import assemble
from harness.model.redact import Redactor
from harness.report import json_doc
from harness.report.json_doc import ordered
from harness.tools import memory


def files(run: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(run.iterdir()) if p.is_file()}


@pytest.mark.parametrize("compact", [False, True])
def test_both_paths_write_the_json_the_whole_dict_gave(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, compact: bool
) -> None:
    if compact:
        monkeypatch.setattr(json_doc, "COMPACT_ABOVE", 100)
    written = {}
    for path in memory.PATHS:
        steps, sizes = memory.measure(1, tmp_path / path, path=path)
        assert [s.name for s in steps] == [
            "build run",
            "assemble",
            "report dict",
            "write json",
            "write html",
            "exit code + summary",
        ]
        assert sizes["probes"] == 1785 and sizes["report.json"] > 0
        written[path] = files(tmp_path / path / "n1")
    assert written["copied"] == written["document"]
    assert set(written["copied"]) == {"report.json", "report.html", "probes.html"}
    # The reference: the redacted dict, dumped whole as before streaming.
    config = memory.config_for(1, tmp_path)
    data = _redact_dict(assemble(memory.Synthetic(config).run()).to_dict(), Redactor().text)
    text = written["copied"]["report.json"].decode()
    assert json.loads(text) == json.loads(json.dumps(data))
    if not compact:
        assert text == json.dumps(ordered(data), indent=2, ensure_ascii=True) + "\n"
    else:
        assert text.count("\n") > len(data["probes"]) and not text.startswith("{\n ")


def test_the_synthetic_run_is_deterministic_and_shaped_like_the_bench(tmp_path: Path) -> None:
    config = memory.config_for(2, tmp_path)
    a, b = memory.Synthetic(config).run(), memory.Synthetic(config).run()
    assert a == b
    pairs = {(o.engine, o.cookie_policy) for o in a.observations}
    assert pairs == set(memory.PAIRS)
    assert len(a.observations) == 2 * 1785 and len(a.targets) == 2
    assert len({o.id for o in a.observations}) == len(a.observations)
    # Judged like the lab: no finding on the allowlist, one on the wildcard endpoint
    # (its * answer cannot be read with credentials).
    report = assemble(a)
    assert {f.target for f in report.findings} == {a.targets[1]}


def test_main_rejects_an_unknown_path(capsys: pytest.CaptureFixture[str]) -> None:
    assert memory.main(["1", "--path", "nope"]) == 2
    assert "--path must be one of copied, document" in capsys.readouterr().err
