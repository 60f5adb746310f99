"""An offline checker of GitHub code scanning's documented SARIF ingestion rules.

The OASIS schema (tests/schemas/sarif-2.1.0.json) says whether a log is SARIF;
GitHub accepts only part of what the schema allows, and rejects a whole upload for
some of it. The rules below are the ones GitHub documents, each with its source:

- "SARIF support for code scanning" (docs.github.com, code-security/reference/
  code-scanning/sarif-files/sarif-support): version 2.1.0; the required properties
  of the log, run, tool, rule and result objects (``$schema``, ``runs``,
  ``tool.driver.name``, ``results``, rule ``id``, ``message.text``, ``locations``,
  ``partialFingerprints``); ``security-severity``
  a score from 0.0 to 10.0; locations as paths relative to the repository root, or
  absolute URIs with the scheme of the source root (``file``): "If there is a
  mismatch between the URI scheme for the source root and one or more of the
  absolute URIs, the upload is rejected" (seen as "SARIF URI scheme "https" did
  not match the checkout URI scheme "file"", github/codeql-action#754).
- "SARIF results exceed one or more limits" (troubleshooting-sarif-uploads/
  results-exceed-limit): hard limits per file and run: runs per file 20, results per
  run 25,000, rules per run 25,000, tool extensions per run 100, thread flow
  locations per result 10,000, locations per result 1,000, tags per rule 20.
- "SARIF file is too large" (troubleshooting-sarif-uploads/file-too-large): at most
  10 MB gzip-compressed.
- "Code scanning will stop combining runs from a single upload" (GitHub changelog,
  2024-05-06; enforced from June 2025): runs of one upload must differ in tool or
  category (``automationDetails.id`` up to its last ``/``).
- ``region.startLine`` on every location: code scanning shows a location only with
  a line (SARIF SDK rule GH1003, written for GitHub's ingestion).

:func:`problems` returns one line per violation; an empty list means GitHub would
take the file. It checks; it does not repair.
"""

from __future__ import annotations

import gzip
import json
import re
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

MAX_RUNS = 20
MAX_RESULTS = 25_000
MAX_RULES = 25_000
MAX_EXTENSIONS = 100
MAX_THREAD_FLOW_LOCATIONS = 10_000
MAX_LOCATIONS = 1_000
MAX_TAGS = 20
MAX_GZIP_BYTES = 10 * 1024 * 1024

LEVELS = frozenset({"none", "note", "warning", "error"})
_SCHEME = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]*):")
# What a URI reference may hold unescaped (RFC 3986 reserved + unreserved + "%").
_URI_CHARS = re.compile(r"^[A-Za-z0-9\-._~:/?#\[\]@!$&'()*+,;=%]*$")


def problems(log: Mapping[str, Any], raw: bytes | None = None) -> list[str]:
    """Every way ``log`` breaks GitHub's ingestion rules; ``raw`` is the file as uploaded."""
    found: list[str] = []
    if raw is None:
        raw = json.dumps(log).encode("utf-8")
    size = len(gzip.compress(raw))
    if size > MAX_GZIP_BYTES:
        found.append(f"file: {size} bytes gzip-compressed, over the {MAX_GZIP_BYTES} limit")
    if log.get("version") != "2.1.0":
        found.append(f"version: {log.get('version')!r}, code scanning takes 2.1.0 only")
    if not log.get("$schema"):
        found.append("$schema: required")
    runs = log.get("runs")
    if not isinstance(runs, list) or not runs:
        return [*found, "runs: required, at least one run"]
    if len(runs) > MAX_RUNS:
        found.append(f"runs: {len(runs)} runs, over the limit of {MAX_RUNS} per file")
    seen: dict[tuple[str, str], int] = {}
    for i, run in enumerate(runs):
        where = f"runs[{i}]"
        found += _run(run, where)
        key = (_tool_name(run), category(run))
        if key in seen:
            found.append(
                f"{where}: same tool and category as runs[{seen[key]}] ({key[0]!r}, "
                f"{key[1]!r}); code scanning rejects several runs per category in one upload"
            )
        seen.setdefault(key, i)
    return found


def category(run: Mapping[str, Any]) -> str:
    """The run's code scanning category: ``automationDetails.id`` up to its last ``/``."""
    ident = str((run.get("automationDetails") or {}).get("id") or "")
    return ident.rsplit("/", 1)[0] + "/" if "/" in ident else ident


def _tool_name(run: Mapping[str, Any]) -> str:
    return str(((run.get("tool") or {}).get("driver") or {}).get("name") or "")


def _run(run: Mapping[str, Any], where: str) -> list[str]:
    found: list[str] = []
    tool = run.get("tool") or {}
    driver = tool.get("driver")
    if not isinstance(driver, Mapping) or not str(driver.get("name") or "").strip():
        found.append(f"{where}.tool.driver.name: required")
        driver = {}
    extensions = tool.get("extensions") or []
    if len(extensions) > MAX_EXTENSIONS:
        found.append(f"{where}.tool.extensions: {len(extensions)}, over {MAX_EXTENSIONS}")
    rules = list(driver.get("rules") or [])
    if len(rules) > MAX_RULES:
        found.append(f"{where}: {len(rules)} rules, over the limit of {MAX_RULES}")
    ids = [str(r.get("id") or "") for r in rules]
    for j, rule in enumerate(rules):
        found += _rule(rule, f"{where}.tool.driver.rules[{j}]")
    if len(set(ids)) != len(ids):
        found.append(f"{where}.tool.driver.rules: duplicate rule ids")
    results = run.get("results")
    if not isinstance(results, list):
        return [*found, f"{where}.results: required (an empty list when nothing was found)"]
    if len(results) > MAX_RESULTS:
        found.append(f"{where}: {len(results)} results, over the limit of {MAX_RESULTS}")
    bases = [
        str((inv.get("workingDirectory") or {}).get("uri") or "")
        for inv in run.get("invocations") or []
    ]
    for k, result in enumerate(results):
        found += _result(result, f"{where}.results[{k}]", ids, [b for b in bases if b])
    return found


def _rule(rule: Mapping[str, Any], where: str) -> list[str]:
    found: list[str] = []
    if not str(rule.get("id") or "").strip():
        found.append(f"{where}.id: required")
    props = rule.get("properties") or {}
    tags = props.get("tags") or []
    if len(tags) > MAX_TAGS:
        found.append(f"{where}.properties.tags: {len(tags)} tags, over the limit of {MAX_TAGS}")
    if "security-severity" in props:
        score = props["security-severity"]
        try:
            ok = 0.0 <= float(score) <= 10.0 and not isinstance(score, bool)
        except (TypeError, ValueError):
            ok = False
        if not ok:
            found.append(f"{where}.properties.security-severity: {score!r} is not 0.0-10.0")
    level = (rule.get("defaultConfiguration") or {}).get("level")
    if level is not None and level not in LEVELS:
        found.append(f"{where}.defaultConfiguration.level: {level!r}")
    return found


def _result(
    result: Mapping[str, Any], where: str, rule_ids: Sequence[str], bases: Sequence[str]
) -> list[str]:
    found: list[str] = []
    if not str((result.get("message") or {}).get("text") or "").strip():
        found.append(f"{where}.message.text: required")
    rule_id = result.get("ruleId")
    index = result.get("ruleIndex")
    if rule_id is None and index is None:
        found.append(f"{where}.ruleId: required")
    if rule_ids and rule_id is not None and str(rule_id) not in rule_ids:
        found.append(f"{where}.ruleId: {rule_id!r} is not among the run's rules")
    if index is not None and not (
        isinstance(index, int) and 0 <= index < len(rule_ids) and rule_ids[index] == rule_id
    ):
        found.append(f"{where}.ruleIndex: {index!r} does not point at rule {rule_id!r}")
    level = result.get("level")
    if level is not None and level not in LEVELS:
        found.append(f"{where}.level: {level!r}")
    fingerprints = result.get("partialFingerprints")
    if not isinstance(fingerprints, Mapping) or not fingerprints:
        found.append(f"{where}.partialFingerprints: required")
    elif not all(isinstance(k, str) and isinstance(v, str) for k, v in fingerprints.items()):
        found.append(f"{where}.partialFingerprints: keys and values must be strings")
    locations = result.get("locations")
    if not isinstance(locations, list) or not locations:
        found.append(f"{where}.locations: at least one is required to show the result")
        locations = []
    if len(locations) > MAX_LOCATIONS:
        found.append(f"{where}.locations: {len(locations)}, over the limit of {MAX_LOCATIONS}")
    for n, loc in enumerate([*locations, *(result.get("relatedLocations") or [])]):
        found += _location(loc, f"{where}.locations[{n}]", bases)
    for flow in result.get("codeFlows") or []:
        for thread in flow.get("threadFlows") or []:
            steps = len(thread.get("locations") or [])
            if steps > MAX_THREAD_FLOW_LOCATIONS:
                found.append(f"{where}: a thread flow with {steps} locations")
    return found


def _location(loc: Mapping[str, Any], where: str, bases: Sequence[str]) -> list[str]:
    physical = loc.get("physicalLocation")
    if not isinstance(physical, Mapping):
        return [f"{where}.physicalLocation: required"]
    uri = (physical.get("artifactLocation") or {}).get("uri")
    found = _uri(uri, f"{where}.physicalLocation.artifactLocation.uri", bases)
    line = (physical.get("region") or {}).get("startLine")
    if not isinstance(line, int) or isinstance(line, bool) or line < 1:
        found.append(f"{where}.physicalLocation.region.startLine: required, 1 or more")
    return found


def _uri(uri: Any, where: str, bases: Sequence[str]) -> list[str]:
    if not isinstance(uri, str) or not uri:
        return [f"{where}: required"]
    if not _URI_CHARS.match(uri):
        return [f"{where}: {uri!r} is not a valid URI reference (escape spaces and such)"]
    scheme = _SCHEME.match(uri)
    if scheme:
        if scheme.group(1).lower() == "file" or any(uri.startswith(b) for b in bases):
            return []
        return [
            f"{where}: SARIF URI scheme {scheme.group(1)!r} did not match the checkout URI "
            "scheme 'file'; code scanning rejects the whole upload"
        ]
    path = uri.split("?", 1)[0].split("#", 1)[0]
    if path.startswith("/"):
        return [f"{where}: {uri!r} must be relative to the repository root"]
    if ".." in path.split("/"):
        return [f"{where}: {uri!r} leaves the repository ('..')"]
    return []


def results(log: Mapping[str, Any]) -> Iterator[Mapping[str, Any]]:
    """Every result of every run."""
    for run in log.get("runs") or []:
        yield from run.get("results") or []
