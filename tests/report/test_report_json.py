"""report.json: the to_dict contract, pretty and stably ordered."""

from __future__ import annotations

import io
import json

from conftest_report import hostile, realistic

from harness.report import json_doc as report_json


def dump(report: dict[str, object]) -> str:
    buf = io.StringIO()
    report_json.write(report, buf)
    return buf.getvalue()


def test_round_trips_and_keeps_canonical_order() -> None:
    report = realistic()
    text = dump(report)
    assert text.endswith("}\n")
    assert text.startswith('{\n  "schema_version": 2,\n  "tool": "corsproof",\n  "tool_version": ')
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


def test_large_report_is_compact_one_record_per_line_and_round_trips() -> None:
    report = realistic()
    probe = report["probes"][0]
    report["probes"] = [{**probe, "id": f"p{i}"} for i in range(report_json.COMPACT_ABOVE + 1)]
    text = dump(report)
    assert json.loads(text) == report
    assert text.isascii() and text.endswith("}\n")
    lines = text.splitlines()
    assert lines[0] == "{" and lines[1] == '"schema_version":2,'
    # One line per probe, no indentation, compact separators.
    probe_lines = [ln for ln in lines if ln.startswith('{"id":"p')]
    assert len(probe_lines) == len(report["probes"])
    assert not any(ln.startswith(" ") for ln in lines)
    assert '": ' not in probe_lines[0] and '","' in probe_lines[0]
    pretty = report_json.dumps(report, compact=False)
    assert len(text) < 0.8 * len(pretty)
    assert json.loads(pretty) == report


def test_compact_handles_empty_lists_and_hostile_text() -> None:
    report = hostile()
    report["notes"] = []
    text = report_json.dumps(report, compact=True)
    assert json.loads(text) == report
    assert text.isascii()
    assert not any(ord(c) < 0x20 and c not in "\n" for c in text)


def _built_whole(report: dict[str, object]) -> str:
    """The compact text as json_doc built it before it streamed: every line, then joined."""
    one = json.JSONEncoder(separators=(",", ":"), ensure_ascii=True).encode
    items = list(report_json.ordered(report).items())
    lines = ["{"]
    for i, (key, value) in enumerate(items):
        comma = "," if i < len(items) - 1 else ""
        if isinstance(value, list) and value:
            lines.append(f"{one(key)}:[")
            lines.extend(one(v) + ("," if j < len(value) - 1 else "") for j, v in enumerate(value))
            lines.append("]" + comma)
        else:
            lines.append(f"{one(key)}:{one(value)}{comma}")
    lines.append("}")
    return "\n".join(lines) + "\n"


class _Chunks(io.StringIO):
    """Remembers the longest single write."""

    longest = 0

    def write(self, s: str) -> int:
        self.longest = max(self.longest, len(s))
        return super().write(s)


def test_large_report_is_streamed_line_by_line_and_the_same_text() -> None:
    report = hostile()
    probe = realistic()["probes"][0]
    report["probes"] = [{**probe, "id": f"p{i}"} for i in range(report_json.COMPACT_ABOVE + 1)]
    out = _Chunks()
    report_json.write(report, out)
    text = out.getvalue()
    assert text == _built_whole(report) == report_json.dumps(report)
    assert json.loads(text) == report
    # No write holds more than one record: the whole text never exists at once.
    assert out.longest < 4 * len(_built_whole({"probes": [probe]}))
    assert out.longest < len(text) / 100
