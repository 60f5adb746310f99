"""``junit.xml``: findings as test results, so any CI shows and gates on them.

Layout: one ``<testsuite>`` per target, one ``<testcase>`` per target x rule
(``classname`` = target, ``name`` = rule id) for every rule in the report, plus a
passing ``no CORS findings`` case for a target without findings. Each finding at
or above ``fail_on`` is a ``<failure>``; milder ones go to ``<system-out>`` so the
case passes but the text is kept. Each caveat of the verdict
(:mod:`harness.judge.caveats`) is a case of a ``corsproof`` suite: one that leaves part of
the plan unverified (probe errors, an engine that did not run, a partial run, tool
errors) carries an ``<error>`` and counts in ``errors=``, so such a run never looks
green; a quick run is ``<skipped>``.

The output validates against the Jenkins xUnit ``junit-10.xsd``. It is built with
:mod:`xml.etree.ElementTree`, which escapes markup; characters XML 1.0 forbids
are removed from target data first, since no escaping can carry them.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from collections.abc import Mapping
from typing import Any, TextIO

from harness.judge.caveats import caveats
from harness.model.results import Severity
from harness.report.common import clean, duration_seconds, severity_rank, sorted_findings

NO_FINDINGS = "no CORS findings"
"""Name of the passing test case for a target without findings."""

RUN_SUITE = "corsproof"

# Everything outside XML 1.0's Char production (plus the discouraged C1 range).
_ILLEGAL_XML = re.compile("[^\t\n\r\u0020-\u007e\u00a0-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def xml_text(value: Any) -> str:
    """``value`` as text that XML 1.0 can carry: control characters shown as ``\\xNN``.

    :func:`harness.report.common.clean` makes C0/C1 controls visible; whatever else XML
    forbids (lone surrogates, U+FFFE/U+FFFF) is dropped.
    """
    return _ILLEGAL_XML.sub("", clean(value))


def write(report: Mapping[str, Any], fp: TextIO, *, fail_on: str = "high") -> None:
    """Write ``report`` as JUnit XML into ``fp``; findings at or above ``fail_on`` fail."""
    threshold = Severity.parse(fail_on).rank
    root = build(report, threshold)
    ET.indent(root)
    fp.write('<?xml version="1.0" encoding="UTF-8"?>\n')
    fp.write(ET.tostring(root, encoding="unicode"))
    fp.write("\n")


def build(report: Mapping[str, Any], threshold: int) -> ET.Element:
    """The ``<testsuites>`` element for ``report``; ``threshold`` is a severity rank."""
    findings = sorted_findings(report)
    rules = [str(r) for r in (report.get("rules") or {})]
    for f in findings:
        rule = str(f.get("rule", ""))
        if rule not in rules:
            rules.append(rule)
    targets = [str(t) for t in report.get("targets") or []]
    for f in findings:
        target = str(f.get("target", ""))
        if target not in targets:
            targets.append(target)

    seconds = duration_seconds(report)
    timestamp = xml_text(report.get("started") or "")
    root = ET.Element("testsuites", {"name": "corsproof"})
    total_tests = total_failures = total_errors = 0

    for target in targets:
        mine = [f for f in findings if str(f.get("target", "")) == target]
        suite = ET.SubElement(root, "testsuite", {"name": xml_text(target)})
        _properties(suite, report)
        tests = failures = 0
        for rule in rules:
            hits = [f for f in mine if str(f.get("rule", "")) == rule]
            case = ET.SubElement(
                suite,
                "testcase",
                {"classname": xml_text(target), "name": xml_text(rule), "time": "0"},
            )
            tests += 1
            failed = False
            out_lines: list[str] = []
            for f in hits:
                accepted = f.get("accepted")
                if isinstance(accepted, Mapping):
                    # A reviewed risk stays visible but does not fail the job (the exit
                    # code agrees).
                    out_lines.append(
                        f"[{xml_text(f.get('severity'))}] accepted"
                        + (
                            f" until {xml_text(accepted.get('until'))}"
                            if accepted.get("until")
                            else ""
                        )
                        + f": {xml_text(accepted.get('reason'))}\n{_describe(f)}"
                    )
                elif severity_rank(f.get("severity")) >= threshold:
                    failed = True
                    failure = ET.SubElement(
                        case,
                        "failure",
                        {
                            "message": xml_text(f"[{f.get('severity')}] {f.get('title', '')}"),
                            "type": xml_text(f.get("severity")),
                        },
                    )
                    failure.text = _describe(f)
                else:
                    out_lines.append(f"[{xml_text(f.get('severity'))}] {_describe(f)}")
            if out_lines:
                ET.SubElement(case, "system-out").text = "\n\n".join(out_lines)
            failures += failed
        if not mine:
            ET.SubElement(
                suite,
                "testcase",
                {"classname": xml_text(target), "name": NO_FINDINGS, "time": "0"},
            )
            tests += 1
        suite.set("tests", str(tests))
        suite.set("failures", str(failures))
        suite.set("errors", "0")
        suite.set("skipped", "0")
        suite.set("time", _seconds(seconds))
        if timestamp:
            suite.set("timestamp", timestamp)
        total_tests += tests
        total_failures += failures

    limits = caveats(report)
    if limits:
        # One case per caveat: what could not be measured is an <error>, so CI
        # counts it; a limit the user chose (a quick run) is <skipped>.
        suite = ET.SubElement(root, "testsuite", {"name": RUN_SUITE})
        errors = skipped = 0
        for c in limits:
            case = ET.SubElement(
                suite, "testcase", {"classname": RUN_SUITE, "name": xml_text(c.kind), "time": "0"}
            )
            if c.error:
                errors += 1
                element = ET.SubElement(
                    case, "error", {"message": xml_text(c.text), "type": xml_text(c.kind)}
                )
                element.text = _caveat_detail(report, c.kind, c.text)
            else:
                skipped += 1
                ET.SubElement(case, "skipped", {"message": xml_text(c.text)})
        suite.set("tests", str(len(limits)))
        suite.set("failures", "0")
        suite.set("errors", str(errors))
        suite.set("skipped", str(skipped))
        suite.set("time", _seconds(seconds))
        total_tests += len(limits)
        total_errors += errors

    root.set("tests", str(total_tests))
    root.set("failures", str(total_failures))
    root.set("errors", str(total_errors))
    # <testsuites> has no "skipped" attribute in junit-10.xsd; each suite counts its own.
    root.set("time", _seconds(seconds))
    return root


def _caveat_detail(report: Mapping[str, Any], kind: str, text: str) -> str:
    lines = [text]
    if kind == "partial":
        lines.insert(0, "PARTIAL RUN: stopped before every probe finished; results are incomplete.")
    if kind == "tool-errors":
        lines += [f"{e.get('kind')}: {e.get('message')}" for e in report.get("errors") or []]
    return xml_text("\n".join(lines))


def _properties(suite: ET.Element, report: Mapping[str, Any]) -> None:
    props = ET.SubElement(suite, "properties")
    values = {
        "run_id": report.get("run_id"),
        "partial": "true" if report.get("partial") else "false",
        "browsers": ", ".join(
            f"{b.get('engine')} {b.get('version')}" for b in report.get("browsers") or []
        ),
    }
    for name, value in values.items():
        ET.SubElement(props, "property", {"name": name, "value": xml_text(value)})


def _describe(f: Mapping[str, Any]) -> str:
    hc = f.get("header_check")
    lines = [
        f"{f.get('title', '')}",
        f"rule: {f.get('rule', '')}  severity: {f.get('severity', '')}  "
        f"category: {f.get('category', 'vulnerability')}",
        f"target: {f.get('target', '')}",
        f"origins: {', '.join(str(o) for o in f.get('origins') or []) or '-'}",
        f"engines: {', '.join(str(e) for e in f.get('engines') or []) or '-'}",
    ]
    if f.get("cookie_policies"):
        lines.append(f"cookie policies: {', '.join(str(c) for c in f['cookie_policies'])}")
    if f.get("detail"):
        lines.append(str(f["detail"]))
    if isinstance(hc, Mapping):
        lines.append(
            "header-only check: "
            + ("vulnerable" if hc.get("vulnerable") else "not vulnerable")
            + (f" ({hc.get('severity')})" if hc.get("severity") else "")
            + (f": {hc.get('reason')}" if hc.get("reason") else "")
        )
    return xml_text("\n".join(lines))


def _seconds(value: float | None) -> str:
    return f"{value:.3f}" if value is not None else "0"
