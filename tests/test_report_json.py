"""report.json: the to_dict contract, pretty and stably ordered."""

from __future__ import annotations

import io
import json

from conftest_report import hostile, realistic

from harness import report_json


def dump(report: dict[str, object]) -> str:
    buf = io.StringIO()
    report_json.write(report, buf)
    return buf.getvalue()


def test_round_trips_and_keeps_canonical_order() -> None:
    report = realistic()
    text = dump(report)
    assert text.endswith("}\n")
    assert text.startswith('{\n  "schema_version": 1,\n  "tool": "corsproof",')
    back = json.loads(text)
    assert back == report
    keys = list(back)
    core = keys[: keys.index("rules") + 1]
    assert core[0] == "schema_version" and core[-1] == "rules"
    extras = keys[len(core) :]
    assert extras == sorted(extras) == ["baseline", "disagreements", "header_only", "pages"]


def test_stable_regardless_of_input_key_order() -> None:
    report = realistic()
    shuffled = dict(reversed(list(report.items())))
    assert dump(shuffled) == dump(report)


def test_hostile_is_ascii_and_control_free() -> None:
    text = dump(hostile())
    assert text.isascii()
    assert not any(ord(c) < 0x20 and c not in "\n" for c in text)
    assert json.loads(text) == hostile()
