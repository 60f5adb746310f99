"""``summary.md``: a short Markdown verdict for a CI step summary or PR comment.

Verdict line, severity counts, per-engine exploitability, a findings table and the
top header-check disagreements; the HTML report has the rest. Target data is
escaped for Markdown *and* inline HTML (step summaries render both), so a header
value cannot break a table, open a code span, or inject a tag.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any, TextIO

from harness.report.common import (
    clean,
    comparisons,
    engine_exposure,
    engine_label,
    severity_counts,
    sorted_findings,
    verdict,
)

MAX_FINDINGS = 25
"""Rows of the findings table before it is cut (the HTML report has them all)."""
MAX_BYTES = 1024 * 1024 - 8 * 1024
"""GitHub takes at most 1 MiB of step summary per step; summary.md stays below that
(with room for a line the workflow adds), cut at a line with a notice."""
TRUNCATED = (
    "_summary.md was cut here to fit GitHub's 1 MiB step-summary limit; "
    "the HTML report and report.json have everything._"
)
MAX_DISAGREEMENTS = 10

_ICONS = {
    "exploitable": "\u274c",
    "conditional": "\u26a0\ufe0f",
    "clean": "\u2705",
    "inconclusive": "\u2754",
}
# Characters that open inline syntax anywhere in a line (emphasis, code, links,
# strikethrough, table cells). Backslash-escaping ASCII punctuation is always
# allowed and renders it literally; "(" and "!" are harmless once "[" is escaped.
_MD_SPECIAL = re.compile(r"([\\`*_\[\]|~])")
# Block syntax only counts at the start of a line: headings, lists, rules (">" is
# already an entity).
_MD_LINE_START = re.compile(r"^(\s*)([#+\-=])")
_MD_ORDERED = re.compile(r"^(\s*\d+)([.)])")


def md_escape(value: Any) -> str:
    """``value`` as inline Markdown text that renders literally, one line, no HTML."""
    text = (
        clean(value).replace("\r\n", " ").replace("\n", " ").replace("\r", " ").replace("\t", " ")
    )
    # Entities first (so "&" in the data is not read as an entity), then "<" so no
    # tag or autolink can open, then Markdown punctuation.
    text = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    text = _MD_SPECIAL.sub(r"\\\1", text)
    text = _MD_LINE_START.sub(r"\1\\\2", text)
    return _MD_ORDERED.sub(r"\1\\\2", text)


def write(report: Mapping[str, Any], fp: TextIO) -> None:
    """Write the Markdown summary of ``report`` into ``fp``."""
    fp.write(render(report))


def render(report: Mapping[str, Any]) -> str:
    """The Markdown summary as a string."""
    v = verdict(report)
    lines: list[str] = []
    if v.partial:
        lines += [
            "> [!WARNING]",
            "> **PARTIAL RUN**: corsproof was interrupted before every probe finished. "
            "Missing results are not passes.",
            "",
        ]
    # A clean verdict resting on a plan with gaps is not shown with a green tick.
    icon = _ICONS["inconclusive"] if v.level == "clean" and v.errors else _ICONS.get(v.level, "")
    lines += [f"## {icon} corsproof: {md_escape(v.headline)}", ""]
    lines += [md_escape(v.detail), ""]
    if v.caveats:
        lines += ["**What this verdict does not cover:**", ""]
        lines += [
            f"- {'**Not verified:**' if c.error else 'Scope:'} {md_escape(c.text)}"
            for c in v.caveats
        ]
        lines.append("")

    counts = severity_counts(report)
    lines.append("**Findings:** " + " \u00b7 ".join(f"{sev} **{n}**" for sev, n in counts.items()))
    lines.append("")

    exposure = engine_exposure(report)
    if exposure:
        lines += ["| Engine | Exploitable in a default browser |", "| --- | --- |"]
        for e in exposure:
            if e.default:
                state = f"\u274c **yes** ({md_escape(e.worst)})"
            elif e.permissive_only:
                state = "\u26a0\ufe0f only with third-party cookies allowed"
            else:
                state = "\u2705 no"
            lines.append(f"| {md_escape(engine_label(e.engine))} | {state} |")
        lines.append("")

    findings = sorted_findings(report)
    if findings:
        lines += [
            "### Findings",
            "",
            "| Severity | Rule | Target | Origins | Engines | Title |",
            "| --- | --- | --- | --- | --- | --- |",
        ]
        for f in findings[:MAX_FINDINGS]:
            lines.append(
                "| "
                + " | ".join(
                    [
                        f"**{md_escape(f.get('severity'))}**",
                        md_escape(f.get("rule")),
                        md_escape(f.get("target")),
                        md_escape(", ".join(str(o) for o in f.get("origins") or [])),
                        md_escape(", ".join(engine_label(e) for e in f.get("engines") or [])),
                        md_escape(f.get("title")) + _accepted_note(f),
                    ]
                )
                + " |"
            )
        if len(findings) > MAX_FINDINGS:
            lines.append("")
            lines.append(f"_{len(findings) - MAX_FINDINGS} more in the HTML report._")
        lines.append("")

    disagreements = [c for c in comparisons(report) if c.disagree]
    if disagreements:
        lines += [
            "### Browser truth vs header inspection",
            "",
            "| Target | Origin | Header-only check says | Browsers did |",
            "| --- | --- | --- | --- |",
        ]
        for c in disagreements[:MAX_DISAGREEMENTS]:
            lines.append(
                f"| {md_escape(c.target)} | {md_escape(c.origin)} | "
                f"{md_escape(c.header_says)} | {md_escape(c.browsers_say)} |"
            )
        if len(disagreements) > MAX_DISAGREEMENTS:
            lines.append("")
            lines.append(f"_{len(disagreements) - MAX_DISAGREEMENTS} more in the HTML report._")
        lines.append("")

    lines += _baseline(report.get("baseline"))

    errors = list(report.get("errors") or [])
    if errors:
        lines += [f"### Tool errors ({len(errors)})", ""]
        lines += [
            f"- **{md_escape(e.get('kind'))}**: {md_escape(e.get('message'))}" for e in errors
        ]
        lines.append("")

    browsers = ", ".join(
        f"{engine_label(b.get('engine'))} {b.get('version', '')}".strip()
        for b in report.get("browsers") or []
    )
    footer = (
        f"<sub>run {md_escape(report.get('run_id'))} \u00b7 browsers: "
        f"{md_escape(browsers) or 'none'}</sub>"
    )
    return _fit([*lines, footer])


def _accepted_note(f: Mapping[str, Any]) -> str:
    """ " (accepted until DAY: reason)" for a reviewed risk, else nothing."""
    accepted = f.get("accepted")
    if not isinstance(accepted, Mapping):
        return ""
    until = f" until {md_escape(accepted.get('until'))}" if accepted.get("until") else ""
    return f" _(accepted{until}: {md_escape(accepted.get('reason'))})_"


def _fit(lines: list[str]) -> str:
    """The lines as text, cut at a line boundary to stay within :data:`MAX_BYTES`."""
    text = "\n".join(lines) + "\n"
    if len(text.encode("utf-8")) <= MAX_BYTES:
        return text
    room = MAX_BYTES - len(TRUNCATED.encode("utf-8")) - 4
    kept: list[str] = []
    used = 0
    for line in lines:
        size = len(line.encode("utf-8")) + 1
        if used + size > room:
            break
        kept.append(line)
        used += size
    return "\n".join([*kept, "", TRUNCATED]) + "\n"


def _baseline(drift: Any) -> list[str]:
    """The "since baseline" section: counts, new and resolved findings, engine versions."""
    if not isinstance(drift, Mapping):
        return []
    new = list(drift.get("new_findings") or [])
    resolved = list(drift.get("resolved_findings") or [])
    changes = list(drift.get("changes") or [])
    lines = [
        f"### Since baseline {md_escape(drift.get('baseline_run'))}",
        "",
        f"**{len(new)}** new finding(s), **{len(resolved)}** resolved, "
        f"**{len(changes)}** probe outcome(s) changed.",
        "",
    ]
    versions = drift.get("browsers") or {}
    before, after = versions.get("baseline") or {}, versions.get("current") or {}
    upgraded = [
        f"{md_escape(engine_label(e))} {md_escape(before.get(e) or '-')} \u2192 "
        f"{md_escape(after.get(e) or '-')}"
        for e in sorted({*before, *after})
        if before.get(e) != after.get(e)
    ]
    if upgraded:
        lines += ["Engine versions changed: " + "; ".join(upgraded) + ".", ""]
    for title, rows in (("New", new), ("Resolved", resolved)):
        if not rows:
            continue
        lines += [f"| {title} | Rule | Target |", "| --- | --- | --- |"]
        for f in rows[:MAX_FINDINGS]:
            lines.append(
                f"| **{md_escape(f.get('severity'))}** | {md_escape(f.get('rule'))} | "
                f"{md_escape(f.get('target'))} |"
            )
        if len(rows) > MAX_FINDINGS:
            lines += ["", f"_{len(rows) - MAX_FINDINGS} more in the HTML report._"]
        lines.append("")
    return lines
