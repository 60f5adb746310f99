"""``report.sarif``: findings as SARIF 2.1.0 for code-scanning dashboards.

One run; ``tool.driver.rules`` holds every rule in the report (plus any rule a
finding names that the rules dict lacks), each result points at its rule by id
and index. Code scanning wants a location, and a CORS finding has no source file,
so the target URL is the artifact URI. ``partialFingerprints`` is a hash of
(rule, target, origins), so the same finding keeps its identity across runs and a
fixed one closes.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping
from typing import Any, TextIO
from urllib.parse import quote

from harness import __version__
from harness.reporting import (
    clean,
    engine_label,
    is_vulnerability,
    parse_time,
    severity_rank,
    sorted_findings,
)

SCHEMA_URI = "https://json.schemastore.org/sarif-2.1.0.json"
INFORMATION_URI = "https://pypi.org/project/corsproof/"
"""Where the tool is described; SARIF viewers link the tool name here."""

SECURITY_SEVERITY = {"critical": "9.5", "high": "8.0", "medium": "5.5", "low": "3.0", "info": "0.0"}
"""GitHub's ``security-severity`` scale (a number as a string) per corsproof severity."""

LEVELS = {"critical": "error", "high": "error", "medium": "warning", "low": "note", "info": "note"}

FINGERPRINT_KEY = "corsproof/finding/v1"

# Characters kept as they are in the artifact URI: RFC 3986 reserved and
# unreserved characters, and "%" so existing escapes are not doubled.
_URI_SAFE = ":/?#[]@!$&'()*+,;=-._~%"


def write(report: Mapping[str, Any], fp: TextIO) -> None:
    """Write ``report`` as a SARIF 2.1.0 log into ``fp``."""
    fp.write(json.dumps(build(report), indent=2, ensure_ascii=True) + "\n")


def build(report: Mapping[str, Any]) -> dict[str, Any]:
    """The SARIF log for ``report`` as a JSON-ready dict."""
    rules_meta: Mapping[str, Any] = report.get("rules") or {}
    findings = sorted_findings(report)
    rule_ids = [str(r) for r in rules_meta]
    for f in findings:
        rid = str(f.get("rule", ""))
        if rid not in rule_ids:
            rule_ids.append(rid)
    index = {rid: i for i, rid in enumerate(rule_ids)}
    descriptors = [_rule(rid, rules_meta.get(rid) or {}, findings) for rid in rule_ids]
    results = [_result(f, index) for f in findings]

    errors = list(report.get("errors") or [])
    invocation: dict[str, Any] = {
        # A partial or failed run did not complete the analysis it was asked for.
        "executionSuccessful": not report.get("partial") and not errors,
    }
    start, end = parse_time(report.get("started")), parse_time(report.get("finished"))
    if start is not None:
        invocation["startTimeUtc"] = start.strftime("%Y-%m-%dT%H:%M:%SZ")
    if end is not None:
        invocation["endTimeUtc"] = end.strftime("%Y-%m-%dT%H:%M:%SZ")
    notifications = [
        {
            "level": "error",
            "message": {"text": f"{clean(e.get('kind'))}: {clean(e.get('message'))}"},
        }
        for e in errors
    ]
    if report.get("partial"):
        notifications.insert(
            0,
            {
                "level": "error",
                "message": {"text": "PARTIAL RUN: interrupted before every probe finished."},
            },
        )
    if notifications:
        invocation["toolExecutionNotifications"] = notifications

    version = clean(report.get("tool_version") or __version__)
    return {
        "$schema": SCHEMA_URI,
        "version": "2.1.0",
        "runs": [
            {
                "tool": {
                    "driver": {
                        "name": "corsproof",
                        "informationUri": INFORMATION_URI,
                        "version": version,
                        "rules": descriptors,
                    }
                },
                "invocations": [invocation],
                "results": results,
                "properties": {
                    "run_id": clean(report.get("run_id")),
                    "partial": bool(report.get("partial")),
                    "targets": [clean(t) for t in report.get("targets") or []],
                    "browsers": [
                        {
                            "engine": clean(b.get("engine")),
                            "version": clean(b.get("version")),
                            "source": clean(b.get("source")),
                        }
                        for b in report.get("browsers") or []
                    ],
                },
            }
        ],
    }


def _pascal(text: str) -> str:
    words = re.findall(r"[A-Za-z0-9]+", text)
    return "".join(w[:1].upper() + w[1:] for w in words) or "CorsproofRule"


def _rule(rid: str, meta: Mapping[str, Any], findings: list[Mapping[str, Any]]) -> dict[str, Any]:
    fallback = next((f for f in findings if str(f.get("rule")) == rid), {})
    severity = str(meta.get("severity") or fallback.get("severity") or "medium")
    category = str(meta.get("category") or fallback.get("category") or "vulnerability")
    title = clean(meta.get("title") or fallback.get("title") or rid)
    summary = clean(meta.get("summary") or title)
    remediation = clean(meta.get("remediation"))
    snippets: Mapping[str, Any] = meta.get("snippets") or {}

    text = summary + (f"\n\nRemediation: {remediation}" if remediation else "")
    md = [summary]
    if remediation:
        md += ["", "**Remediation:** " + remediation]
    for stack, code in snippets.items():
        # A fence longer than any backtick run in the code cannot be closed by it.
        longest = max((len(r) for r in re.findall(r"`+", str(code))), default=0)
        fence = "`" * max(3, longest + 1)
        md += ["", f"**{clean(stack)}**", "", fence, clean(code), fence]
    tags = ["security", "cors", clean(category)]
    return {
        "id": clean(rid),
        "name": _pascal(title),
        "shortDescription": {"text": title},
        "fullDescription": {"text": summary},
        "help": {"text": text, "markdown": "\n".join(md)},
        "defaultConfiguration": {"level": LEVELS.get(severity, "warning")},
        "properties": {
            "tags": list(dict.fromkeys(tags)),
            "security-severity": SECURITY_SEVERITY.get(severity, "5.5"),
            "precision": "very-high",
            "problem.severity": "error" if severity_rank(severity) >= 3 else "warning",
        },
    }


def artifact_uri(target: str) -> str:
    """``target`` as a valid URI reference: spaces, controls and non-ASCII percent-encoded."""
    return quote(target, safe=_URI_SAFE)


def fingerprint(f: Mapping[str, Any]) -> str:
    """Stable identity of a finding: sha256 of rule, target and sorted origins."""
    origins = sorted(str(o) for o in f.get("origins") or [])
    material = json.dumps([str(f.get("rule", "")), str(f.get("target", "")), origins])
    return hashlib.sha256(material.encode("utf-8")).hexdigest()


def _result(f: Mapping[str, Any], index: Mapping[str, int]) -> dict[str, Any]:
    rid = str(f.get("rule", ""))
    severity = str(f.get("severity", "medium"))
    origins = [clean(o) for o in f.get("origins") or []]
    engines = [engine_label(e) for e in f.get("engines") or []]
    target = str(f.get("target", ""))
    parts = [clean(f.get("title") or rid) + "."]
    if origins:
        parts.append(f"Origins: {', '.join(origins)}.")
    if engines:
        verb = "Readable in" if is_vulnerability(f) else "Seen in"
        parts.append(f"{verb}: {', '.join(engines)}.")
    if f.get("detail"):
        parts.append(clean(f.get("detail")))
    hc = f.get("header_check")
    props: dict[str, Any] = {
        "severity": clean(severity),
        "category": clean(f.get("category", "vulnerability")),
        "origins": origins,
        "engines": [clean(e) for e in f.get("engines") or []],
        "cookie_policies": [clean(c) for c in f.get("cookie_policies") or []],
        "classes": [clean(c) for c in f.get("classes") or []],
        "probes": [clean(p) for p in f.get("probes") or []],
        "evidence": [clean(e) for e in f.get("evidence") or []],
    }
    if isinstance(hc, Mapping):
        props["header_check"] = {
            "vulnerable": bool(hc.get("vulnerable")),
            "severity": clean(hc.get("severity")) if hc.get("severity") else None,
            "reason": clean(hc.get("reason")),
        }
    return {
        "ruleId": clean(rid),
        "ruleIndex": index[rid],
        "level": LEVELS.get(severity, "warning"),
        "message": {"text": " ".join(parts)},
        "locations": [{"physicalLocation": {"artifactLocation": {"uri": artifact_uri(target)}}}],
        "partialFingerprints": {FINGERPRINT_KEY: fingerprint(f)},
        "properties": props,
    }
