"""``report.sarif``: findings as SARIF 2.1.0 that GitHub code scanning ingests.

One run; ``tool.driver.rules`` holds every rule in the report (plus any rule a
finding names that the rules dict lacks), each result points at its rule by id
and index. Code scanning rejects a whole upload whose locations use a scheme other
than ``file`` ("SARIF URI scheme "https" did not match the checkout URI scheme
"file""), and a CORS finding has no source file, so each result points at a
repository-relative file instead:

- ``--sarif-location FILE`` when given (say, the file that configures your CORS
  middleware): every result points at its first line;
- otherwise a placeholder per target, ``.corsproof/<host>/<path>.cors``, written next
  to the report (:func:`extra_files`), whose ``target:`` line names the URL. Code
  scanning accepts locations of files the repository lacks (it shows them without a
  code view); commit the ``.corsproof`` folder at the repository root to get one.

The URL itself is in each result's message and ``properties.target``.
``automationDetails.id`` is ``<category>/<run id>``: the category (``--sarif-category``,
default ``corsproof`` plus the engines and shard of a partial matrix job) keeps each
matrix job's alerts apart, and stays the same from night to night so a fixed finding
closes. ``partialFingerprints`` hashes (rule, target): corsproof has one finding per
rule and target, and the set of origins behind it may change with the catalogue.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, TextIO
from urllib.parse import unquote, urlsplit

from harness import __version__
from harness.judge.caveats import caveats
from harness.report.common import (
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

FINGERPRINT_KEY = "corsproof/finding/v2"
"""v2: (rule, target); v1 hashed the origins too, so a quick run reopened alerts."""

DEFAULT_CATEGORY = "corsproof"
PLACEHOLDER_DIR = ".corsproof"
"""Where placeholder locations live, relative to the report (and to the repository root)."""
SRCROOT = "%SRCROOT%"
_ALL_ENGINES = ("chromium", "firefox", "webkit")
_PLACEHOLDER_HEAD = (
    "# corsproof: CORS verdicts for the target(s) below are in report.sarif, which points here.",
    "# Code scanning shows them without this file; commit the .corsproof folder at the",
    "# repository root to see this line with each alert.",
)
# Characters kept in a placeholder's path segments; anything else becomes "_".
_SEGMENT_UNSAFE = re.compile(r"[^A-Za-z0-9._-]")


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
    where = locations(report)
    results = [_result(f, index, where) for f in findings]

    errors = list(report.get("errors") or [])
    limits = [c for c in caveats(report) if c.error]
    invocation: dict[str, Any] = {
        # A partial or failed run did not complete the analysis it was asked for;
        # probes without a verdict are a caveat of a run that did (warnings below).
        "executionSuccessful": not report.get("partial") and not errors,
    }
    start, end = parse_time(report.get("started")), parse_time(report.get("finished"))
    if start is not None:
        invocation["startTimeUtc"] = start.strftime("%Y-%m-%dT%H:%M:%SZ")
    if end is not None:
        invocation["endTimeUtc"] = end.strftime("%Y-%m-%dT%H:%M:%SZ")
    notifications = [
        {"level": "warning", "message": {"text": f"{clean(c.kind)}: {clean(c.text)}"}}
        for c in limits
    ]
    notifications += [
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
                "message": {"text": "PARTIAL RUN: stopped before every probe finished."},
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
                "automationDetails": {"id": f"{category(report)}/{clean(report.get('run_id'))}"},
                "invocations": [invocation],
                "results": results,
                "properties": {
                    "caveats": [
                        {"kind": clean(c.kind), "text": clean(c.text), "error": c.error}
                        for c in caveats(report)
                    ],
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


def category(report: Mapping[str, Any]) -> str:
    """The code scanning category: ``--sarif-category``, or one derived from the plan.

    A run of only some engines (a matrix job) or one shard gets its own category, so
    its upload does not close the alerts the other jobs raised.
    """
    config: Mapping[str, Any] = report.get("config") or {}
    given = str(config.get("sarif_category") or "").strip("/")
    if given:
        return clean(given)
    name = DEFAULT_CATEGORY
    engines = [str(e) for e in config.get("engines") or []]
    if engines and sorted(engines) != sorted(_ALL_ENGINES):
        name += "/" + "-".join(clean(e) for e in engines)
    shard = str(config.get("shard") or "")
    if "/" in shard:
        index, count = shard.split("/", 1)
        name += f"/shard-{clean(index)}-of-{clean(count)}"
    return name


def placeholder_path(target: str) -> str:
    """``.corsproof/<host>/<path>.cors`` for a target: a safe, stable relative path.

    A port other than the scheme's default is kept (``host_8443``), a query becomes a
    short hash, and every character outside ``[A-Za-z0-9._-]`` becomes ``_``.
    """
    parts = urlsplit(target)
    try:
        port = parts.port
    except ValueError:
        port = None
    host = _segment(parts.hostname or "target")
    if port is not None and port != {"http": 80, "https": 443}.get(parts.scheme):
        host += f"_{port}"
    segments = [_segment(seg) for seg in unquote(parts.path).split("/") if seg]
    name = segments.pop() if segments else "index"
    if parts.query:
        name += "_q" + hashlib.sha256(parts.query.encode("utf-8")).hexdigest()[:8]
    return "/".join([PLACEHOLDER_DIR, host, *segments, name + ".cors"])


def _segment(text: str) -> str:
    seg = _SEGMENT_UNSAFE.sub("_", text)[:100]
    return "_" if seg in ("", ".", "..") else seg


@dataclass(frozen=True)
class Location:
    """Where a target's results point: a repository-relative file and line."""

    uri: str
    line: int
    end_column: int
    """0 when the line's content is unknown (a user's file): the region is the line."""


def locations(report: Mapping[str, Any]) -> dict[str, Location]:
    """Target -> location, for every target in the report or its findings."""
    targets = [str(t) for t in report.get("targets") or []]
    targets += [str(f.get("target", "")) for f in report.get("findings") or []]
    targets = list(dict.fromkeys(targets))
    given = str((report.get("config") or {}).get("sarif_location") or "")
    if given:
        return {t: Location(given, 1, 0) for t in targets}
    out: dict[str, Location] = {}
    lines: dict[str, int] = {}
    for target in targets:
        path = placeholder_path(target)
        line = lines[path] = lines.get(path, len(_PLACEHOLDER_HEAD)) + 1
        out[target] = Location(path, line, len(_target_line(target)) + 1)
    return out


def _target_line(target: str) -> str:
    return f"target: {clean(target)}"


def extra_files(report: Mapping[str, Any]) -> dict[str, str]:
    """The placeholder files the results point at (none with ``--sarif-location``)."""
    if (report.get("config") or {}).get("sarif_location"):
        return {}
    files: dict[str, list[str]] = {}
    for target, where in locations(report).items():
        files.setdefault(where.uri, list(_PLACEHOLDER_HEAD)).append(_target_line(target))
    return {path: "\n".join(lines) + "\n" for path, lines in files.items()}


def fingerprint(f: Mapping[str, Any]) -> str:
    """Stable identity of a finding: sha256 of its rule and target."""
    material = json.dumps([str(f.get("rule", "")), str(f.get("target", ""))])
    return hashlib.sha256(material.encode("utf-8")).hexdigest()


def _result(
    f: Mapping[str, Any], index: Mapping[str, int], where: Mapping[str, Location]
) -> dict[str, Any]:
    rid = str(f.get("rule", ""))
    severity = str(f.get("severity", "medium"))
    origins = [clean(o) for o in f.get("origins") or []]
    engines = [engine_label(e) for e in f.get("engines") or []]
    target = str(f.get("target", ""))
    parts = [clean(f.get("title") or rid) + ".", f"Target: {clean(target)}."]
    if origins:
        parts.append(f"Origins: {', '.join(origins)}.")
    if engines:
        verb = "Readable in" if is_vulnerability(f) else "Seen in"
        parts.append(f"{verb}: {', '.join(engines)}.")
    if f.get("detail"):
        parts.append(clean(f.get("detail")))
    hc = f.get("header_check")
    props: dict[str, Any] = {
        "target": clean(target),
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
    result: dict[str, Any] = {
        "ruleId": clean(rid),
        "ruleIndex": index[rid],
        "level": LEVELS.get(severity, "warning"),
        "message": {"text": " ".join(parts)},
        "locations": [_location(where[target])],
        "partialFingerprints": {FINGERPRINT_KEY: fingerprint(f)},
        "properties": props,
    }
    accepted = f.get("accepted")
    if isinstance(accepted, Mapping):
        # SARIF 2.1.0 section 3.35: a reviewed risk recorded outside the code.
        until = f" (until {clean(accepted.get('until'))})" if accepted.get("until") else ""
        result["suppressions"] = [
            {
                "kind": "external",
                "status": "accepted",
                "justification": clean(accepted.get("reason")) + until,
            }
        ]
    return result


def _location(where: Location) -> dict[str, Any]:
    region: dict[str, int] = {"startLine": where.line}
    if where.end_column:
        region.update(startColumn=1, endLine=where.line, endColumn=where.end_column)
    return {
        "physicalLocation": {
            "artifactLocation": {"uri": where.uri, "uriBaseId": SRCROOT},
            "region": region,
        }
    }
