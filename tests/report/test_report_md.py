"""summary.md: the CI step summary, escaped so target data cannot break it."""

from __future__ import annotations

import io
import re
from typing import Any

from conftest_report import PIPE, clean_run, hostile, realistic

from harness.report import markdown as report_md
from harness.report.markdown import md_escape


def md(report: dict[str, Any]) -> str:
    buf = io.StringIO()
    report_md.write(report, buf)
    return buf.getvalue()


def unescaped_pipes(line: str) -> int:
    return len(re.findall(r"(?<!\\)\|", line))


def test_realistic_summary() -> None:
    text = md(realistic())
    assert text.startswith(
        "## \u274c corsproof: Exploitable: attacker origins can read the victim's data in Chromium"
    )
    assert "critical **1**" in text and "low **1**" in text and "info **1**" in text
    assert "| Chromium | \u274c **yes** (critical) |" in text
    assert "### Findings" in text
    assert "### Browser truth vs header inspection" in text
    assert "vulnerable (critical): ACAO \\* + ACAC" in text
    assert "finding(s); a page" in text  # no needless escapes in prose
    assert "PARTIAL" not in text


def test_partial_and_errors_are_called_out() -> None:
    text = md(realistic(partial=True, errors=True))
    assert text.startswith("> [!WARNING]\n> **PARTIAL RUN**")
    assert "### Tool errors (1)" in text


def test_clean_summary() -> None:
    text = md(clean_run())
    assert "\u2705 corsproof: No exploitable CORS issue found" in text
    assert "### Findings" not in text


def test_escaping() -> None:
    assert md_escape(PIPE) == "a\\|b\\`c\\`\\*d\\*\\_e\\_\\[f\\](g)&lt;h&gt;&amp;amp;"
    assert md_escape("# h") == "\\# h"
    assert md_escape("1. x") == "1\\. x"
    assert md_escape("- y") == "\\- y"
    assert md_escape("x.y-z (a)!") == "x.y-z (a)!"
    assert md_escape("line1\nline2\r\n") == "line1 line2 "
    assert md_escape("\x1b[31m") == "\\\\x1b\\[31m"


def test_hostile_tables_keep_their_shape() -> None:
    text = md(hostile())
    assert "<script" not in text and "<img" not in text
    assert "`" not in text.replace("\\`", "")
    for line in text.splitlines():
        if line.startswith("| ") and not line.startswith("| ---"):
            header_cols = 7 if "Severity" in line or line.count("|") > 6 else None
            assert unescaped_pipes(line) in (3, 5, 7), line
            del header_cols
    assert not re.search(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]", text)


def test_summary_fits_a_github_step_summary() -> None:
    from harness.report.markdown import MAX_BYTES, TRUNCATED

    small = report_md.render(realistic())
    assert TRUNCATED not in small
    huge = realistic()
    for i, f in enumerate(huge["findings"]):
        f["title"] = f"title {i} " + "\u00e9" * 400_000  # two bytes each in UTF-8
    text = report_md.render(huge)
    assert len(text.encode("utf-8")) <= MAX_BYTES < 1024 * 1024
    assert text.rstrip().endswith(TRUNCATED)
    assert text.startswith(small.split("\n", 1)[0])  # the verdict line always stays
